# xenhost: one non-recursive Makefile. Each module adds itself through its
# module.mk. `make`, `make check`, `make SANITIZE=address,undefined check`.

SANITIZE ?=
ifeq ($(SANITIZE),)
O ?= build
else
O ?= build-san
endif

CC ?= cc
AR ?= ar
PKG_CONFIG ?= pkg-config

CPPFLAGS += -D_GNU_SOURCE -Ilib -Ipartitioner -Iinstaller -Iimage -Ihypervisor -Iupgrade $(shell $(PKG_CONFIG) --cflags json-c)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -ffile-prefix-map=$(CURDIR)=. -Wall -Wextra -Werror -Wno-missing-field-initializers -fno-strict-aliasing -MMD -MP
LDFLAGS ?=
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

BINS :=
# Module libraries and their link flags, for the unit tests (each module.mk adds its own).
MODULE_LIBS :=
MODULE_LDLIBS :=
UNIT_TESTS :=
DEPS :=

all: build-all

include lib/module.mk
include partitioner/module.mk
include hypervisor/module.mk
include image/module.mk
include upgrade/module.mk
include supplemental-packs/module.mk
include installer/module.mk
include tests/module.mk
include tests/fuzz/module.mk

build-all: $(BINS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MOD_CFLAGS) -c -o $@ $<

unit-tests: $(UNIT_TESTS)

check: $(BINS) $(UNIT_TESTS)
	tests/run-tests --build $(O) $(if $(T),--filter $(T))

clean:
	rm -rf build build-san build-fuzz

.PHONY: all build-all unit-tests check clean
# Lay-down benchmark of the slot writer (not part of check): BENCH_ARGS="--runs 5 ..."
# The slot writer on a loop device and inside the installer under QEMU,
# each against `zstd -dc | dd` of the same bytes, then a whole install's
# steps under QEMU. Needs the media (xenhost-build all --out $(O)/media).
bench: $(O)/bin/xenhost-build
	tests/bench/slot-bench.sh --build $(O) $(BENCH_ARGS)
	tests/bench/qemu-bench.sh --build $(O)
	tests/bench/install-bench.sh --build $(O)
	tests/bench/boot-bench.sh $(BOOT_BENCH_ARGS)
.PHONY: bench
# Keep objects of test programs between runs.
.SECONDARY:
-include $(DEPS)
