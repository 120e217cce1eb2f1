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
