/* Probing a disk (image file, loop device or block device): its geometry
 * through libparted, its contents through libblkid, and what it means in
 * the words of DESIGN.md (a xenhost disk, which layout, which SR). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "macro.h"

#define DISK_MAX_PARTS 128

struct disk_part {
        unsigned number;
        uint64_t start, size;  /* logical sectors */
        char *name;            /* GPT name (PARTLABEL) */
        char *type_guid;       /* upper case */
        char *part_uuid;
        char *fs_type;         /* blkid TYPE: ext4, vfat, swap, LVM2_member */
        char *fs_label;
        char *fs_uuid;
        const struct part_spec *spec; /* the xenhost role, when name and number match */
};

struct disk_info {
        char *path;      /* as the operator named it */
        char *node;      /* canonical: symlinks (/dev/disk/by-id) resolved */
        bool is_block;
        /* Nothing can be written to it: a read-only device (BLKROGET: a
         * write-protected disk, a loop device attached with losetup -r) or
         * an image file that cannot be opened for writing. */
        bool read_only;
        int read_only_error;   /* with read_only and an image file: why, as -errno */
        /* Loop devices that write to the same file behind our back: every
         * loop device of an image file, or for a loop device, the other
         * loop devices on its backing file. NULL-terminated, NULL when none. */
        char **loop_devices;
        uint64_t size_bytes;
        uint32_t sector_size, physical_sector_size;
        char *model;
        char *pttype;    /* "gpt", "dos", ... or NULL */
        char *disk_uuid; /* GPT disk GUID */
        char *fs_type;   /* a filesystem signature on the whole disk, or NULL */
        unsigned n_parts;
        struct disk_part parts[DISK_MAX_PARTS];

        bool is_xenhost;
        enum layout_kind layout;     /* when is_xenhost */
        char *sr_vg;                 /* VG_XenStorage-<uuid>, when found */
        char *sr_uuid;
};

int disk_probe(const char *path, struct disk_info **ret);
void disk_info_free(struct disk_info *d);
DEFINE_CLEANUP(struct disk_info, disk_info_free)

/* Refuses, with a one-line reason, a disk that cannot or must not be
 * written at all: read-only, or an image file that loop devices are
 * attached to (they may be mounted). Returns -EROFS, -EBUSY, -ENOMEM or 0. Writes
 * nothing; callers check before they show a plan. */
int disk_check_writable(const struct disk_info *d, char **ret_reason);

/* The loop devices whose backing file is the inode INO on device DEV
 * (compared by LOOP_GET_STATUS64, not by path), but EXCEPT (a node such as
 * /dev/loop3, or NULL). Returns how many were found, with a NULL-terminated
 * list (NULL when none) in *RET. */
int loop_devices_backed_by(dev_t dev, ino_t ino, const char *except, char ***ret);

/* Anything on it (a partition table or a filesystem signature) that an
 * apply without consent must not destroy. */
bool disk_has_contents(const struct disk_info *d);
const struct disk_part *disk_info_find(const struct disk_info *d, unsigned number);
/* The SR partition of a xenhost disk, or NULL. */
const struct disk_part *disk_info_sr(const struct disk_info *d);

/* Install the libparted exception handler (once per process): exceptions go
 * to the log and never to the terminal; the last message is kept here. */
void parted_setup(void);
const char *parted_last_error(void);
