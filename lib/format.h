/* Human-readable sizes for operator-facing output. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "18.0 GiB", "512 MiB", "1.5 TiB" */
const char *format_iec(char *buf, size_t n, uint64_t bytes);
/* "50.0 GB": what a disk's label says */
const char *format_si(char *buf, size_t n, uint64_t bytes);

/* Library functions hand a one-line reason for a failure back to the caller,
 * who logs it once: this replaces *RET_REASON (when RET_REASON is not NULL)
 * with the formatted text. Keeps errno; returns 0 so that it reads as
 * "return reason_set(...), -EINVAL". */
int reason_set(char **ret_reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* VALUE (from a file, the network, an operator) made safe for one line of
 * output: control characters (C0, DEL, C1) and bytes that are not UTF-8
 * become '?', and after MAX_CHARS characters the rest becomes "...". A
 * character is never cut in half. Writes at most N bytes into BUF (cutting
 * earlier with "..." when N is too small) and returns BUF; NULL becomes "". */
const char *format_value(char *buf, size_t n, const char *value, size_t max_chars);

/* How much of a value an error message echoes, and the buffer that takes it. */
#define FORMAT_VALUE_MAX 64
#define FORMAT_VALUE_SIZE (FORMAT_VALUE_MAX * 4 + 4)
/* format_value() into a buffer that lives until the end of the enclosing
 * full expression's block: printf("'%s'", FORMAT_VALUE(s)). */
#define FORMAT_VALUE(s) format_value((char[FORMAT_VALUE_SIZE]){}, FORMAT_VALUE_SIZE, (s), FORMAT_VALUE_MAX)

/* The URL (or NFS location) as it may be shown: its userinfo ("user:pass@")
 * replaced by "***@", whatever the scheme, and every value of its query
 * string by "***" ("?token=***&expires=***"). NFS's server:/path may carry
 * a userinfo too ("user:pass@server:/path"). Anything else is copied as it
 * is, so plain paths stay what they are. Every URL or location that reaches
 * a message, a log, a progress line or a plan goes through here. */
int url_redact(const char *url, char **ret);
