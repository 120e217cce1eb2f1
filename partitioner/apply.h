/* Carrying out a disk plan: GPT, filesystems, the SR. */
#pragma once

#include <stdbool.h>

#include "disk.h"
#include "layout.h"

struct apply_options {
        bool wipe;            /* the operator's consent to erase what is there */
        bool keep_sr;         /* keep the existing SR partition byte for byte */
        enum sr_type sr_type;
        const char *sr_uuid;  /* NULL: a new random one */
        unsigned fill_later;  /* bit (1 << enum part_role): partitions the caller fills
                               * itself (a slot the image is written into): their old
                               * signatures are erased, no file system is made */
};

struct apply_result {
        char sr_uuid[37];
        char sr_vg[64];
        bool sr_kept;
        bool sr_complete;     /* false when device-mapper was missing for an LV */
};

/* Refuses (with a one-line reason in *RET_REASON) a plan that must not be
 * applied to the disk as probed: contents without consent, a plan made for
 * another size, --keep-sr without a SR. Returns -EEXIST, -ESTALE, -ENOENT,
 * -E2BIG or 0. Writes nothing. */
int disk_plan_check(const struct disk_info *d, const struct disk_plan *plan, const struct apply_options *o,
                    char **ret_reason);

/* Applies PLAN to the disk at PATH. Probes again under the disk lock and
 * calls disk_plan_check() before the first write. On failure *RET_REASON
 * says what went wrong in one line. */
int disk_plan_apply(const char *path, const struct disk_plan *plan, const struct apply_options *o,
                    struct apply_result *ret, char **ret_reason);

/* Whether this system can create and activate LVs (device-mapper present). */
bool device_mapper_available(void);
