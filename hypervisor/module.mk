HYPERVISOR_SRCS := hypervisor/bootcfg.c hypervisor/boot.c
HYPERVISOR_OBJS := $(HYPERVISOR_SRCS:%.c=$(O)/%.o)
HYPERVISOR_LIB := $(O)/libhypervisor.a
DEPS += $(HYPERVISOR_OBJS:.o=.d) $(O)/hypervisor/main.d

$(HYPERVISOR_LIB): $(HYPERVISOR_OBJS)
	$(AR) rcs $@ $^

# xenhost-boot: shows and sets the boot state, renders grub.cfg (operators,
# the tests, and the health check before xenhost-upgrade exists).
$(O)/bin/xenhost-boot: $(O)/hypervisor/main.o $(HYPERVISOR_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^

BINS += $(O)/bin/xenhost-boot
MODULE_LIBS += $(HYPERVISOR_LIB)
