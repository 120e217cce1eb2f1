LIB_SRCS := lib/log.c lib/process.c lib/fileio.c lib/format.c
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
DEPS += $(LIB_OBJS:.o=.d)

$(O)/libxenhost.a: $(LIB_OBJS)
	$(AR) rcs $@ $^
