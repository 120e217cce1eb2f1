/* Small macros every module uses: cleanup attributes, ownership hand-off,
 * array sizes, string predicates. Modelled on systemd's src/basic/macro.h. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))

/* Hand ownership on: returns the pointer and clears the variable so its
 * cleanup handler does nothing. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) _p_ = (p);     \
                (p) = NULL;                  \
                _p_;                         \
        })
#define TAKE_FD(fd)                          \
        ({                                   \
                int _fd_ = (fd);             \
                (fd) = -1;                   \
                _fd_;                        \
        })

/* DEFINE_CLEANUP(type, fn) makes fnp(type **) for use with _cleanup_(fnp);
 * fn is only called on non-NULL pointers. */
#define DEFINE_CLEANUP(type, fn)                        \
        static inline void fn##p(type **p) {            \
                if (*p)                                 \
                        fn(*p);                         \
        }

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}
static inline void strv_freep(char ***l) {
        strv_free(*l);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}
static inline bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

/* Turn a libc-style "-1 with errno" result into -errno. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define KiB (UINT64_C(1024))
#define MiB (UINT64_C(1024) * KiB)
#define GiB (UINT64_C(1024) * MiB)
#define TiB (UINT64_C(1024) * GiB)
#define GB (UINT64_C(1000000000))

#define DIV_ROUND_UP(x, y) (((x) + (y) - 1) / (y))
#define ROUND_DOWN(x, y) ((x) / (y) * (y))
#define ROUND_UP(x, y) (DIV_ROUND_UP((x), (y)) * (y))
