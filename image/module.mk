IMAGE_SRCS := image/manifest.c image/build.c image/slot.c
IMAGE_OBJS := $(IMAGE_SRCS:%.c=$(O)/%.o)
IMAGE_LIB := $(O)/libimage.a
IMAGE_LDLIBS := $(shell $(PKG_CONFIG) --libs libcrypto libzstd uuid) -pthread
DEPS += $(IMAGE_OBJS:.o=.d) $(O)/image/main.d

$(IMAGE_LIB): $(IMAGE_OBJS)
	$(AR) rcs $@ $^

$(O)/bin/xenhost-build: $(O)/image/main.o $(IMAGE_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(IMAGE_LDLIBS)

BINS += $(O)/bin/xenhost-build
MODULE_LIBS += $(IMAGE_LIB)
MODULE_LDLIBS += $(IMAGE_LDLIBS)
