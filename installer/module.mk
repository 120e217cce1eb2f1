INSTALLER_SRCS := installer/config.c installer/answerfile.c installer/plan.c installer/plan-print.c installer/probe.c installer/engine.c installer/fetch.c installer/answerfile-write.c installer/report.c
INSTALLER_OBJS := $(INSTALLER_SRCS:%.c=$(O)/%.o)
INSTALLER_LIB := $(O)/libinstaller.a
INSTALLER_LDLIBS := $(shell $(PKG_CONFIG) --libs libxml-2.0 libcurl json-c uuid) -lresolv
DEPS += $(INSTALLER_OBJS:.o=.d) $(O)/installer/main.d $(O)/installer/tui.d
# The interactive installer (ncursesw) is linked into xenhost-install only.
TUI_LDLIBS := $(shell $(PKG_CONFIG) --libs ncursesw)
$(O)/installer/tui.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags ncursesw)
$(INSTALLER_OBJS) $(O)/installer/main.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libxml-2.0 libcurl)

$(INSTALLER_LIB): $(INSTALLER_OBJS)
	$(AR) rcs $@ $^

# The installer drives the partitioner, the image verifier and the boot
# configuration, upgrades and restores through the upgrade module (the code
# of xenhost-upgrade), and installs the answer file's supplemental packs
# through libpack (the code of xenhost-pack): it links their libraries.
$(O)/bin/xenhost-install: $(O)/installer/main.o $(O)/installer/tui.o $(INSTALLER_LIB) $(UPGRADE_LIB) $(PACK_LIB) $(PARTITIONER_LIB) $(IMAGE_LIB) $(HYPERVISOR_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(INSTALLER_LDLIBS) $(UPGRADE_LDLIBS) $(PACK_LDLIBS) $(PARTITIONER_LDLIBS) $(IMAGE_LDLIBS) $(TUI_LDLIBS) -lcrypt

BINS += $(O)/bin/xenhost-install
MODULE_LIBS += $(INSTALLER_LIB)
MODULE_LDLIBS += $(INSTALLER_LDLIBS) -lcrypt
