# libFuzzer harnesses for the parsers that read what comes from outside:
# tests/fuzz/fuzz-*.c, each linked against the module libraries.
#   make fuzz        builds them with clang, ASan and UBSan into $(FUZZ_O)
#   make fuzz-long   builds them and runs each for $(FUZZ_SECONDS) s
# The test suite runs each for a short while (tests/integration/fuzz.sh).
# The libraries and harnesses are compiled with -fsanitize=fuzzer-no-link
# (coverage for the fuzzer), the harnesses linked with -fsanitize=fuzzer.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/fuzz/%)
DEPS += $(FUZZ_SRCS:%.c=$(O)/%.d)

FUZZ_O ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SANITIZE := fuzzer-no-link,address,undefined
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2

# Only meaningful in the fuzz configuration (what `make fuzz` sets up).
$(O)/fuzz/%: $(O)/tests/fuzz/%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< -Wl,--start-group $(TEST_LIBS) -Wl,--end-group \
		$(MODULE_LDLIBS)

fuzz-harnesses: $(FUZZ_BINS)

fuzz:
	$(MAKE) O=$(FUZZ_O) CC=$(FUZZ_CC) SANITIZE=$(FUZZ_SANITIZE) fuzz-harnesses

fuzz-long: fuzz
	tests/fuzz/run.sh --build $(FUZZ_O) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

.PHONY: fuzz fuzz-harnesses fuzz-long
