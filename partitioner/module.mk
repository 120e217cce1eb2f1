PARTITIONER_SRCS := partitioner/layout.c partitioner/disk.c partitioner/apply.c partitioner/plan-json.c
PARTITIONER_OBJS := $(PARTITIONER_SRCS:%.c=$(O)/%.o)
PARTITIONER_LIB := $(O)/libpartitioner.a
PARTITIONER_LDLIBS := $(shell $(PKG_CONFIG) --libs libparted blkid fdisk uuid json-c)
DEPS += $(PARTITIONER_OBJS:.o=.d) $(O)/partitioner/main.d
$(PARTITIONER_OBJS) $(O)/partitioner/main.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libparted blkid fdisk uuid json-c)

$(PARTITIONER_LIB): $(PARTITIONER_OBJS)
	$(AR) rcs $@ $^

$(O)/bin/xenhost-partition: $(O)/partitioner/main.o $(PARTITIONER_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PARTITIONER_LDLIBS)

BINS += $(O)/bin/xenhost-partition
MODULE_LIBS += $(PARTITIONER_LIB)
MODULE_LDLIBS += $(PARTITIONER_LDLIBS)
