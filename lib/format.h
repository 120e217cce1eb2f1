/* Human-readable sizes for operator-facing output. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "18.0 GiB", "512 MiB", "1.5 TiB" */
const char *format_iec(char *buf, size_t n, uint64_t bytes);
/* "50.0 GB": what a disk's label says */
const char *format_si(char *buf, size_t n, uint64_t bytes);
