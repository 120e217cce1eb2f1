/* Size formatting. */
#include "format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *fmt(char *buf, size_t n, uint64_t bytes, unsigned base, const char *const *units) {
        double v = (double) bytes;
        int u = 0;
        while (v >= base && units[u + 1]) {
                v /= base;
                u++;
        }
        if (u == 0)
                snprintf(buf, n, "%" PRIu64 " B", bytes);
        else if (v == (double) (uint64_t) v)
                snprintf(buf, n, "%" PRIu64 " %s", (uint64_t) v, units[u]);
        else
                snprintf(buf, n, "%.1f %s", v, units[u]);
        return buf;
}

const char *format_iec(char *buf, size_t n, uint64_t bytes) {
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", NULL};
        return fmt(buf, n, bytes, 1024, units);
}

const char *format_si(char *buf, size_t n, uint64_t bytes) {
        static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", NULL};
        return fmt(buf, n, bytes, 1000, units);
}

int reason_set(char **ret_reason, const char *fmt, ...) {
        int saved = errno;
        char *s = NULL;
        va_list ap;

        if (!ret_reason)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*ret_reason);
        *ret_reason = s;
        errno = saved;
        return 0;
}
