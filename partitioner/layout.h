/* The on-disk contract of DESIGN.md section 2 as data, and the pure planning
 * step that turns a disk's size and sector size into exact partitions.
 * Nothing here touches a disk. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum layout_kind {
        LAYOUT_STANDARD,
        LAYOUT_COMPACT,
        _LAYOUT_MAX,
        LAYOUT_AUTO = -1,
};

enum part_role {
        PART_BIOS,
        PART_ESP,
        PART_DOM0_A,
        PART_DOM0_B,
        PART_LOGS,
        PART_SWAP,
        PART_SR,
        _PART_ROLE_MAX,
};

enum fs_kind {
        FS_NONE,
        FS_VFAT,
        FS_EXT4,
        FS_SWAP,
        FS_LVM, /* the SR: an LVM PV, VG_XenStorage-<uuid> */
        _FS_MAX,
};

enum sr_type {
        SR_LVM,
        SR_EXT,
        _SR_TYPE_MAX,
};

/* XenServer's rule: the standard layout needs 46 GB (decimal, as the
 * contract says); the compact layout goes down to 12 GiB. */
#define LAYOUT_STANDARD_MIN_BYTES (UINT64_C(46) * 1000 * 1000 * 1000)
#define LAYOUT_COMPACT_MIN_BYTES (UINT64_C(12) * 1024 * 1024 * 1024)
#define PART_ALIGN_BYTES (UINT64_C(1) << 20)
/* GPT reserves 16 KiB of partition entries after each header. */
#define GPT_ENTRIES_BYTES (UINT64_C(16384))

struct part_spec {
        enum part_role role;
        unsigned number;        /* GPT partition number */
        const char *name;       /* GPT name, PARTLABEL */
        const char *type_guid;  /* upper case, as sfdisk prints it */
        enum fs_kind fs;
        const char *fs_label;   /* NULL when the partition has no label */
        uint64_t size_mib[_LAYOUT_MAX]; /* 0: not in this layout; UINT64_MAX: rest of disk */
};

struct part_plan {
        const struct part_spec *spec;
        uint64_t start;  /* first logical sector */
        uint64_t size;   /* in logical sectors */
        bool keep;       /* an existing partition that is kept byte for byte */
};

struct disk_plan {
        uint64_t size_bytes;
        uint32_t sector_size;          /* logical */
        uint32_t physical_sector_size;
        enum layout_kind layout;
        bool layout_automatic;         /* chosen by size, not asked for */
        size_t n_parts;
        struct part_plan parts[_PART_ROLE_MAX];
};

/* The existing SR partition to keep, in logical sectors. */
struct kept_partition {
        uint64_t start;
        uint64_t size;
};

extern const struct part_spec part_specs[_PART_ROLE_MAX];

const char *layout_kind_to_string(enum layout_kind k);
enum layout_kind layout_kind_from_string(const char *s); /* -EINVAL-like: _LAYOUT_MAX on error */
const char *fs_kind_to_string(enum fs_kind k);
const char *sr_type_to_string(enum sr_type t);
enum sr_type sr_type_from_string(const char *s); /* _SR_TYPE_MAX on error */
const struct part_spec *part_spec_by_name(const char *name);

/* The layout a disk of SIZE_BYTES gets by default. Returns -ENOSPC when the
 * disk is below 12 GiB. */
int layout_for_size(uint64_t size_bytes, enum layout_kind *ret);

/* Plans the partitions for a disk. REQUESTED may be LAYOUT_AUTO. With KEEP_SR
 * the SR partition keeps exactly that geometry and everything else must fit
 * before it. Errors: -ENOSPC (disk too small for the layout), -EINVAL (bad
 * sector size), -E2BIG (layout does not fit before the kept SR). */
int disk_plan_compute(uint64_t size_bytes, uint32_t sector_size, uint32_t physical_sector_size,
                      enum layout_kind requested, const struct kept_partition *keep_sr,
                      struct disk_plan *ret);

/* First and last usable logical sectors of a GPT disk of that size. */
void gpt_usable_range(uint64_t size_bytes, uint32_t sector_size, uint64_t *ret_first, uint64_t *ret_last);

const struct part_plan *disk_plan_find(const struct disk_plan *plan, enum part_role role);

/* "11.99 GiB (12884885504 bytes)", "46 GB (46000000000 bytes)": a size set
 * against a minimum, in GiB (or GB with SI) rounded down to two decimals and
 * with its exact byte count, so that a disk just short of the minimum never
 * reads as the minimum. 64 bytes are always enough. */
#define SIZE_EXACT_MAX 64
const char *format_size_exact(char *buf, size_t n, uint64_t bytes, bool si);

/* /dev/sda + 3 -> /dev/sda3; /dev/nvme0n1 + 3 -> /dev/nvme0n1p3 (names that
 * end in a digit take a "p", as the kernel names them). */
int partition_node_name(const char *disk, unsigned number, char **ret);
