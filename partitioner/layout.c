/* Layout planning: pure arithmetic from a disk's size to exact partitions. */
#include "layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define GUID_BIOS_BOOT "21686148-6449-6E6F-744E-656564454649"
#define GUID_ESP "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define GUID_ROOT_X86_64 "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
#define GUID_LINUX_DATA "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define GUID_SWAP "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
#define GUID_LVM "E6D6D379-F507-44C2-A23C-238F2A3DF928"

/* In disk order; partition numbers as DESIGN.md fixes them. The SR is
 * partition 7 in both layouts so that it can be found and kept by number. */
const struct part_spec part_specs[_PART_ROLE_MAX] = {
        [PART_BIOS] = {PART_BIOS, 1, "xh-bios", GUID_BIOS_BOOT, FS_NONE, NULL, {1, 1}},
        [PART_ESP] = {PART_ESP, 2, "xh-esp", GUID_ESP, FS_VFAT, "XH-ESP", {512, 512}},
        [PART_DOM0_A] = {PART_DOM0_A, 3, "xh-dom0-a", GUID_ROOT_X86_64, FS_EXT4, "xh-dom0-a", {18432, 4096}},
        [PART_DOM0_B] = {PART_DOM0_B, 4, "xh-dom0-b", GUID_ROOT_X86_64, FS_EXT4, "xh-dom0-b", {18432, 4096}},
        [PART_LOGS] = {PART_LOGS, 5, "xh-logs", GUID_LINUX_DATA, FS_EXT4, "xh-logs", {4096, 0}},
        [PART_SWAP] = {PART_SWAP, 6, "xh-swap", GUID_SWAP, FS_SWAP, "xh-swap", {1024, 0}},
        [PART_SR] = {PART_SR, 7, "xh-sr", GUID_LVM, FS_LVM, NULL, {UINT64_MAX, UINT64_MAX}},
};

static const char *const layout_names[_LAYOUT_MAX] = {
        [LAYOUT_STANDARD] = "standard",
        [LAYOUT_COMPACT] = "compact",
};

static const char *const fs_names[_FS_MAX] = {
        [FS_NONE] = "none",
        [FS_VFAT] = "vfat",
        [FS_EXT4] = "ext4",
        [FS_SWAP] = "swap",
        [FS_LVM] = "lvm",
};

static const char *const sr_type_names[_SR_TYPE_MAX] = {
        [SR_LVM] = "lvm",
        [SR_EXT] = "ext",
};

const char *layout_kind_to_string(enum layout_kind k) {
        return k >= 0 && k < _LAYOUT_MAX ? layout_names[k] : "auto";
}

enum layout_kind layout_kind_from_string(const char *s) {
        for (int i = 0; i < _LAYOUT_MAX; i++)
                if (streq(s, layout_names[i]))
                        return (enum layout_kind) i;
        if (streq(s, "auto"))
                return LAYOUT_AUTO;
        return _LAYOUT_MAX;
}

const char *fs_kind_to_string(enum fs_kind k) {
        return k < _FS_MAX ? fs_names[k] : "?";
}

const char *sr_type_to_string(enum sr_type t) {
        return t < _SR_TYPE_MAX ? sr_type_names[t] : "?";
}

enum sr_type sr_type_from_string(const char *s) {
        for (int i = 0; i < _SR_TYPE_MAX; i++)
                if (streq(s, sr_type_names[i]))
                        return (enum sr_type) i;
        return _SR_TYPE_MAX;
}

const struct part_spec *part_spec_by_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(part_specs); i++)
                if (streq_ptr(part_specs[i].name, name))
                        return &part_specs[i];
        return NULL;
}

int layout_for_size(uint64_t size_bytes, enum layout_kind *ret) {
        if (size_bytes < LAYOUT_COMPACT_MIN_BYTES)
                return -ENOSPC;
        *ret = size_bytes >= LAYOUT_STANDARD_MIN_BYTES ? LAYOUT_STANDARD : LAYOUT_COMPACT;
        return 0;
}

void gpt_usable_range(uint64_t size_bytes, uint32_t sector_size, uint64_t *ret_first, uint64_t *ret_last) {
        uint64_t total = size_bytes / sector_size;
        uint64_t entries = DIV_ROUND_UP(GPT_ENTRIES_BYTES, sector_size);
        /* LBA 0 protective MBR, LBA 1 header, then the entries; the backup
         * entries and header sit at the very end. */
        *ret_first = 2 + entries;
        *ret_last = total - 2 - entries;
}

int disk_plan_compute(uint64_t size_bytes, uint32_t sector_size, uint32_t physical_sector_size,
                      enum layout_kind requested, const struct kept_partition *keep_sr,
                      struct disk_plan *ret) {
        struct disk_plan plan = {};
        enum layout_kind layout;
        uint64_t first, last;
        int r;

        if (sector_size < 512 || sector_size > 65536 || (sector_size & (sector_size - 1)) != 0)
                return -EINVAL;
        if (physical_sector_size < sector_size)
                physical_sector_size = sector_size;

        r = layout_for_size(size_bytes, &layout);
        if (r < 0)
                return r;
        if (requested == LAYOUT_STANDARD && layout != LAYOUT_STANDARD)
                return -ENOSPC;
        if (requested != LAYOUT_AUTO)
                layout = requested;

        uint64_t align = PART_ALIGN_BYTES / sector_size;
        gpt_usable_range(size_bytes, sector_size, &first, &last);

        uint64_t pos = ROUND_UP(first, align);
        for (size_t i = 0; i < ELEMENTSOF(part_specs); i++) {
                const struct part_spec *s = &part_specs[i];
                uint64_t mib = s->size_mib[layout];
                struct part_plan *p;

                if (mib == 0)
                        continue;
                p = &plan.parts[plan.n_parts++];
                p->spec = s;
                if (s->role == PART_SR && keep_sr) {
                        if (pos > keep_sr->start)
                                return -E2BIG;
                        p->start = keep_sr->start;
                        p->size = keep_sr->size;
                        p->keep = true;
                } else if (mib == UINT64_MAX) {
                        /* The rest of the disk, ending on an alignment
                         * boundary so that a later resize is clean. */
                        uint64_t end = ROUND_DOWN(last + 1, align);
                        if (end <= pos)
                                return -ENOSPC;
                        p->start = pos;
                        p->size = end - pos;
                } else {
                        p->start = pos;
                        p->size = mib * MiB / sector_size;
                }
                pos = p->start + p->size;
        }
        if (pos > last + 1)
                return -ENOSPC;

        plan.size_bytes = size_bytes;
        plan.sector_size = sector_size;
        plan.physical_sector_size = physical_sector_size;
        plan.layout = layout;
        plan.layout_automatic = requested == LAYOUT_AUTO;
        *ret = plan;
        return 0;
}

const struct part_plan *disk_plan_find(const struct disk_plan *plan, enum part_role role) {
        for (size_t i = 0; i < plan->n_parts; i++)
                if (plan->parts[i].spec->role == role)
                        return &plan->parts[i];
        return NULL;
}

int partition_node_name(const char *disk, unsigned number, char **ret) {
        size_t l = strlen(disk);
        char *s;

        if (l == 0 || number == 0)
                return -EINVAL;
        bool digit = disk[l - 1] >= '0' && disk[l - 1] <= '9';
        if (asprintf(&s, "%s%s%u", disk, digit ? "p" : "", number) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

const char *format_size_exact(char *buf, size_t n, uint64_t bytes, bool si) {
        const uint64_t unit = si ? GB : GiB;
        /* Rounded down: a disk one byte short of 12 GiB is not "12.00 GiB". */
        uint64_t whole = bytes / unit, hundredths = bytes % unit * 100 / unit;
        if (bytes % unit == 0)
                snprintf(buf, n, "%" PRIu64 " %s (%" PRIu64 " bytes)", whole, si ? "GB" : "GiB", bytes);
        else
                snprintf(buf, n, "%" PRIu64 ".%02" PRIu64 " %s (%" PRIu64 " bytes)", whole, hundredths,
                         si ? "GB" : "GiB", bytes);
        return buf;
}
