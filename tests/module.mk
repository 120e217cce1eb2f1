# Unit tests: each tests/unit/test-*.c is one cmocka program linked against
# every module library.
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
DEPS += $(UNIT_SRCS:%.c=$(O)/%.d)
TEST_LIBS := $(MODULE_LIBS) $(O)/libxenhost.a
TEST_LDLIBS := $(MODULE_LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(O)/tests/%: $(O)/tests/unit/%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(TEST_LIBS) -Wl,--end-group $(TEST_LDLIBS)
