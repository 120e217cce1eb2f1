/* The install engine: turns a struct install_config (from an answer file or
 * the TUI) into an installed host. Ordered, logged steps; every check and
 * the image verification come before the first write to a disk. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct install_env {
        const char *media_root;  /* mounted install media, or NULL */
        const char *image;       /* host image; NULL: the one on the media */
        const char *manifest;    /* its manifest; NULL: next to the image */
        const char *keyring;     /* require a manifest signature by this keyring, or NULL */
        const char *log_path;    /* the full log, copied to the host at the end */
        const char *work_dir;    /* mount points live here (default /run/xenhost-install) */
        bool serial;             /* the install runs on the serial console */
        bool efi;                /* booted in UEFI mode */
        uint64_t memory_bytes;   /* host memory; 0: from /proc/meminfo */
};

/* Runs the install. On failure returns < 0 and *RET_REASON names the step
 * and what went wrong, in one line. */
int install_run(const struct install_config *cfg, const struct install_env *env, char **ret_reason);

/* The disk the config names, as a device path: "sda" -> /dev/sda,
 * "disk/by-id/x" -> /dev/disk/by-id/x, absolute paths as they are. */
int install_disk_path(const char *name, char **ret);
