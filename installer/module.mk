INSTALLER_SRCS := installer/config.c installer/answerfile.c
INSTALLER_OBJS := $(INSTALLER_SRCS:%.c=$(O)/%.o)
INSTALLER_LIB := $(O)/libinstaller.a
INSTALLER_LDLIBS := $(shell $(PKG_CONFIG) --libs libxml-2.0)
DEPS += $(INSTALLER_OBJS:.o=.d) $(O)/installer/main.d
$(INSTALLER_OBJS) $(O)/installer/main.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libxml-2.0)

$(INSTALLER_LIB): $(INSTALLER_OBJS)
	$(AR) rcs $@ $^

# Only partitioner's headers are used (enum sr_type), not its library.
$(O)/bin/xenhost-install: $(O)/installer/main.o $(INSTALLER_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(INSTALLER_LDLIBS)

BINS += $(O)/bin/xenhost-install
MODULE_LIBS += $(INSTALLER_LIB)
MODULE_LDLIBS += $(INSTALLER_LDLIBS)
