/* Size formatting. */
#include "format.h"

#include <inttypes.h>
#include <stdio.h>

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
