UPGRADE_SRCS := upgrade/state.c upgrade/carry.c upgrade/apply.c
UPGRADE_OBJS := $(UPGRADE_SRCS:%.c=$(O)/%.o)
UPGRADE_LIB := $(O)/libupgrade.a
UPGRADE_LDLIBS := $(shell $(PKG_CONFIG) --libs libcurl json-c)
DEPS += $(UPGRADE_OBJS:.o=.d) $(O)/upgrade/main.d
$(UPGRADE_OBJS) $(O)/upgrade/main.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl)

# Made afresh: a member whose source left the module must not stay behind.
$(UPGRADE_LIB): $(UPGRADE_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

# xenhost-upgrade writes the other slot with the image module's slot writer,
# its boot entry with the hypervisor module's boot writer, finds the slots
# with the partitioner's disk probe, and reinstalls the recorded packs with
# libpack (named by its path: supplemental-packs/module.mk comes later, and
# prerequisites are expanded as they are read).
$(O)/bin/xenhost-upgrade: $(O)/upgrade/main.o $(UPGRADE_LIB) $(O)/libpack.a $(IMAGE_LIB) $(HYPERVISOR_LIB) $(PARTITIONER_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(UPGRADE_LDLIBS) $(PACK_LDLIBS) $(IMAGE_LDLIBS) $(PARTITIONER_LDLIBS)

BINS += $(O)/bin/xenhost-upgrade
MODULE_LIBS += $(UPGRADE_LIB)
MODULE_LDLIBS += $(UPGRADE_LDLIBS)
