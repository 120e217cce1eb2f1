/* Laying a host image down into a slot: the installer and the upgrader both call this. */
#pragma once
#include <stdint.h>
#include "manifest.h"

typedef void (*slot_progress_fn)(uint64_t done_bytes, uint64_t total_bytes, void *userdata);

struct slot_write_options {
        const char *label;            /* ext4 label of the slot, e.g. "xh-dom0-a" */
        const char *fs_uuid;          /* the file system's UUID (an install plan decides it), or
                                       * NULL for a new random one */
        slot_progress_fn progress;    /* may be NULL; called at most a few times a second */
        void *userdata;
};

/* Writes IMAGE, already verified by the caller against M (M->image_format
 * says how), onto the block device DEVICE (or a regular file, for tests),
 * which ends up as one ext4 file system labelled O->label that fills the
 * device, with O->fs_uuid or a new random UUID, written to RET_FS_UUID. Everything on
 * DEVICE is overwritten; nothing else is touched. Returns 0, or -errno with
 * a one-line *RET_REASON (too small a device, a short or corrupt image,
 * an I/O error, a failed resize). */
int slot_write_image(const char *image, const struct manifest *m, const char *device,
                     const struct slot_write_options *o, char ret_fs_uuid[37], char **ret_reason);
