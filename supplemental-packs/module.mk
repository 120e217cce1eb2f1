# Supplemental packs: libpack.a (build, read, verify, install, list, remove,
# carry across an upgrade) and the xenhost-pack front end.
PACK_SRCS := supplemental-packs/packxml.c supplemental-packs/pack.c supplemental-packs/build.c supplemental-packs/install.c \
	supplemental-packs/carry.c
PACK_OBJS := $(PACK_SRCS:%.c=$(O)/%.o)
PACK_LIB := $(O)/libpack.a
PACK_LDLIBS := $(shell $(PKG_CONFIG) --libs rpm libarchive libxml-2.0 libcrypto json-c)
DEPS += $(PACK_OBJS:.o=.d) $(O)/supplemental-packs/main.d
CPPFLAGS += -Isupplemental-packs
$(PACK_OBJS) $(O)/supplemental-packs/main.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags rpm libarchive libxml-2.0)

$(PACK_LIB): $(PACK_OBJS)
	$(AR) rcs $@ $^

$(O)/bin/xenhost-pack: $(O)/supplemental-packs/main.o $(PACK_LIB) $(O)/libxenhost.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PACK_LDLIBS)

BINS += $(O)/bin/xenhost-pack
MODULE_LIBS += $(PACK_LIB)
MODULE_LDLIBS += $(PACK_LDLIBS)
