/* Size formatting, one-line reasons, values made safe to print. */
#include "format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

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

/* The length of the well-formed UTF-8 sequence at S (shortest form, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_sequence_length(const unsigned char *s) {
        size_t k;
        uint32_t c;
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                k = 2, c = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                k = 3, c = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                k = 4, c = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < k; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        return k;
}

const char *format_value(char *buf, size_t n, const char *value, size_t max_chars) {
        const unsigned char *s = (const unsigned char *) (value ? value : "");
        size_t len = 0, chars = 0;

        if (n == 0)
                return buf;
        while (*s) {
                size_t k = utf8_sequence_length(s);
                /* C1 controls (U+0080..U+009F) move terminals about too. */
                bool control = k <= 1 ? (*s < 0x20 || *s == 0x7f) : (k == 2 && s[0] == 0xc2 && s[1] < 0xa0);
                size_t out = k == 0 || control ? 1 : k;
                /* Room for this character and for "..." after it. */
                if (chars == max_chars || len + out + 4 > n) {
                        if (len + 4 <= n) {
                                memcpy(buf + len, "...", 3);
                                len += 3;
                        }
                        break;
                }
                if (k == 0 || control)
                        buf[len] = '?';
                else
                        memcpy(buf + len, s, k);
                len += out;
                chars++;
                s += k ? k : 1;
        }
        buf[len] = 0;
        return buf;
}

/* Appends QUERY (what follows '?', up to a '#') with every value replaced by
 * "***": "a=1&b=2" becomes "a=***&b=***", a bare "token" becomes "***". */
static void redact_query(FILE *f, const char *query, size_t len) {
        size_t i = 0;
        while (i <= len) {
                size_t part = strcspn(query + i, "&;#");
                if (i + part > len)
                        part = len - i;
                const char *eq = memchr(query + i, '=', part);
                if (eq)
                        fprintf(f, "%.*s=***", (int) (eq - (query + i)), query + i);
                else if (part > 0)
                        fputs("***", f);
                i += part;
                if (i >= len)
                        break;
                fputc(query[i], f);
                i++;
        }
}

int url_redact(const char *url, char **ret) {
        _cleanup_free_ char *r = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&r, &size);
        if (!f)
                return -ENOMEM;

        const char *scheme_end = strstr(url, "://");
        const char *authority = scheme_end ? scheme_end + 3 : url;
        size_t authority_len = strcspn(authority, "/?#");
        /* The last '@' of the authority ends the userinfo: a password may
         * itself contain '@' when the writer did not escape it. Without a
         * scheme, NFS's user:pass@server:/path has one; a file name such as
         * a@b.xml (no ':' before the first '/') is left alone. */
        const char *at = memrchr(authority, '@', authority_len);
        if (at && !scheme_end && !memchr(authority, ':', authority_len))
                at = NULL;
        const char *rest = authority;
        if (at) {
                fprintf(f, "%.*s***", (int) (authority - url), url);
                rest = at;
        } else
                fprintf(f, "%.*s", (int) (authority - url), url);

        /* Query values are tokens as often as not (?token=..., signed URLs). */
        const char *q = scheme_end ? strchr(rest, '?') : NULL;
        if (q) {
                size_t qlen = strcspn(q + 1, "#");
                fprintf(f, "%.*s?", (int) (q - rest), rest);
                redact_query(f, q + 1, qlen);
                fputs(q + 1 + qlen, f);
        } else
                fputs(rest, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(r);
        return 0;
}
