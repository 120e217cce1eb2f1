LIB_SRCS := lib/log.c lib/process.c lib/fileio.c lib/format.c lib/download.c
# download.o (the upgrader's and the installer's downloads) needs libcurl and
# libcrypto: the programs that use it link them, the others never pull it in.
$(O)/lib/download.o: MOD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl libcrypto)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
DEPS += $(LIB_OBJS:.o=.d)

$(O)/libxenhost.a: $(LIB_OBJS)
	$(AR) rcs $@ $^
