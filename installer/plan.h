/* The install plan: everything an install will do, decided before anything
 * is written. install_plan_compute() is pure: a struct install_config (from
 * the answer file or the TUI) and the facts probed on the machine go in, the
 * plan comes out: which disks are erased and what they hold now, the disk
 * layout, the slot, every file written on the host, the boot entries, the
 * boot state, the UEFI entry, the supplemental packs in install order, the
 * scripts by stage, and what became of every setting (applied, left at its
 * default, warned about or refused).
 * xenhost-install --dry-run prints it; the engine carries it out. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "boot.h"
#include "config.h"
#include "macro.h"
#include "partitioner.h"

/* ---- facts: what probing the machine found ------------------------------ */

struct disk_facts {
        char *path;            /* as the config names it, resolved: /dev/sda */
        char *by_id;           /* /dev/disk/by-id/..., or NULL */
        char *model, *serial;  /* may be NULL */
        uint64_t size_bytes;
        uint32_t sector_size, physical_sector_size;
        bool read_only;        /* a read-only device, or a file that cannot be opened for writing */
        char **loop_devices;   /* loop devices on the same file (NULL-terminated, NULL when none):
                                * they may be mounted, so the disk is not written */
        char *pttype;          /* "gpt", "dos" or NULL */
        char *signature;       /* a filesystem signature on the whole disk, or NULL */
        unsigned n_partitions;
        bool is_xenhost;       /* every partition of the xenhost layout found */
        enum layout_kind layout;          /* with is_xenhost */
        char *installed_version;          /* xenhost version in its default slot (else the first slot
                                           * holding one), or NULL */
        char *slot_versions[2];           /* the version in slot a and in slot b, NULL when none */
        char default_slot;                /* with is_xenhost: the slot grubenv boots ('a', 'b'), 0 when
                                           * the ESP or its grubenv cannot be read */
        char try_slot;                    /* the slot being tried after an upgrade, or 0 */
        char *sr_uuid;                    /* an existing xenhost SR on this disk, or NULL */
        enum sr_type sr_type;
        int sr_volumes;                   /* volumes in that SR; -1 when unknown */
        uint64_t sr_start, sr_size;       /* its partition, in logical sectors */
};

struct nic_facts {
        char *name;     /* as the installer's kernel names it */
        char *mac;      /* lower case aa:bb:cc:dd:ee:ff */
        char *driver;   /* may be NULL */
        bool link;      /* carrier */
};

struct image_facts {
        char *image, *manifest;   /* paths of the host image and its manifest */
        char *source_url;         /* a network source (http, https): the manifest's URL; image is then
                                   * the image's URL and manifest a copy of the manifest (and of its
                                   * signature beside it) in the work directory */
        char *version, *build;
        char *format;             /* IMAGE_FORMAT */
        char *xen_version, *kernel_version;
        uint64_t image_size, installed_size;
};

struct install_facts {
        uint64_t memory_bytes;
        bool efi;               /* booted in UEFI mode */
        bool cpu_virtualization;
        bool serial;            /* the install runs on a serial console */
        struct disk_facts *disks;
        size_t n_disks;
        struct nic_facts *nics;
        size_t n_nics;
        bool has_image;
        struct image_facts image;
        /* Values an install makes up, probed (drawn) once so that the plan
         * is a function of its inputs: UUIDs and the date. */
        char installation_uuid[37], control_domain_uuid[37], sr_uuid[37], slot_fs_uuid[37];
        char date[32];          /* 2026-11-26T08:00:00Z */
};

void install_facts_free(struct install_facts *f);
DEFINE_CLEANUP(struct install_facts, install_facts_free)
const struct disk_facts *install_facts_find_disk(const struct install_facts *f, const char *path);
const struct nic_facts *install_facts_find_nic(const struct install_facts *f, const char *name, const char *mac);

/* ---- the plan ----------------------------------------------------------- */

/* What happened to one setting of struct install_config. */
enum setting_fate {
        SETTING_DEFAULT,   /* not set: the default applies (says which) */
        SETTING_APPLIED,   /* carried out on the host (says where) */
        SETTING_WARNED,    /* accepted, has no effect here: a warning says so */
        SETTING_REFUSED,   /* the install cannot go on: an error says why */
        _SETTING_FATE_MAX,
};

struct plan_setting {
        const char *field; /* the struct install_config field: "keymap", "admin.vlan" */
        enum setting_fate fate;
        char *detail;      /* where it lands, or why not */
};

enum plan_disk_role {
        PLAN_DISK_PRIMARY,
        PLAN_DISK_GUEST,   /* joins the SR whole */
        _PLAN_DISK_ROLE_MAX,
};

struct plan_disk {
        enum plan_disk_role role;
        char *path, *by_id, *model, *serial;
        uint64_t size_bytes;
        char *holds;       /* what is on it now, in words: "xenhost 0.1.0, an SR with 3 volumes" */
        bool erase;        /* its contents are destroyed */
        bool keep_sr;      /* its SR partition is kept byte for byte */
};

enum plan_file_kind {
        PLAN_FILE_REGULAR,
        PLAN_FILE_SYMLINK,   /* content is the target */
        PLAN_FILE_REMOVE,    /* removed from the image's tree */
        _PLAN_FILE_KIND_MAX,
};

struct plan_file {
        char *path;          /* on the host, absolute */
        enum plan_file_kind kind;
        mode_t mode;
        char *content;       /* NULL: made while applying (see why) */
        char *why;
};

/* A command run inside the new slot while applying (systemctl enable ...). */
struct plan_command {
        char **argv;
        char *why;
};

/* A supplemental pack of the answer file (DESIGN.md section 7), in the
 * order the packs are installed. The plan knows where a pack is; what it is
 * (name, version, originator) is known once the engine has fetched it. */
struct plan_pack {
        size_t index;            /* into the config's packs */
        enum location_type type;
        char *location;          /* the address with credentials redacted; NULL for local (every pack
                                  * in PLAN_PACKS_MEDIA_DIR on the install media) */
};

/* Where the install media carry their packs: <pack type="local"> (and
 * XenServer's <driver-source type="local">) installs every pack there. */
#define PLAN_PACKS_MEDIA_DIR "packs"

struct install_plan {
        enum install_mode mode;
        /* mode upgrade and restore: the installed host on the primary disk,
         * written through the upgrade module (upgrade.h); nothing is erased.
         * slot (below) is the slot written (upgrade) or booted next
         * (restore), with tries boots before GRUB falls back to the other. */
        char default_slot;      /* grubenv's default now: the upgrader's running slot */
        char *slot_versions[2]; /* the version in slot a and b now, NULL when empty */
        unsigned tries;
        bool noop;              /* upgrade: that version is the default already */
        /* Disks */
        struct plan_disk *disks;
        size_t n_disks;
        char *disk;             /* the primary disk's device path */
        char *disk_by_id;       /* its stable name (the inventory's PRIMARY_DISK) */
        struct disk_plan layout;
        bool keep_sr;
        char sr_uuid[37];
        enum sr_type sr_type;
        bool sr_on_primary;     /* the SR has a partition on the primary disk */
        /* The slot and the image */
        char slot;              /* 'a' */
        char slot_label[16];    /* xh-dom0-a */
        char slot_fs_uuid[37];
        struct image_facts image;
        /* Files and commands on the host */
        struct plan_file *files;
        size_t n_files;
        struct plan_command *commands;
        size_t n_commands;
        /* Boot */
        struct boot_options boot;
        struct slot_boot boot_slot;   /* the entry of the new slot */
        char *xen_file, *kernel_file, *initrd_file;
        char *grub_cfg;
        bool efi_entry;               /* register the UEFI boot entry */
        unsigned esp_partnum;
        /* Supplemental packs, in install order */
        struct plan_pack *packs;
        size_t n_packs;
        /* Scripts by stage: indexes into the config's scripts */
        size_t *scripts[_SCRIPT_STAGE_MAX];
        size_t n_scripts[_SCRIPT_STAGE_MAX];
        /* Every setting's fate, and the lines the operator must see */
        struct plan_setting *settings;
        size_t n_settings;
        char **warnings;        /* NULL-terminated, may be NULL */
        char **errors;          /* NULL-terminated: the install cannot go on */
        size_t n_errors;
};

/* mode="upgrade" and mode="restore" keep the installed host and go through
 * the upgrade module, as xenhost-upgrade apply and rollback do. */
static inline bool install_mode_keeps_host(enum install_mode m) {
        return m == INSTALL_MODE_UPGRADE || m == INSTALL_MODE_RESTORE;
}

struct install_plan *install_plan_free(struct install_plan *p);
DEFINE_CLEANUP(struct install_plan, install_plan_free)

const char *setting_fate_to_string(enum setting_fate f);
const char *plan_disk_role_to_string(enum plan_disk_role r);

/* Computes the plan. Returns 0 and the plan; a plan with errors (n_errors
 * > 0) must not be applied, but is returned so that it can be shown.
 * Returns -ENOMEM only. Pure: touches no disk, reads no file. */
int install_plan_compute(const struct install_config *cfg, const struct install_facts *facts,
                         struct install_plan **ret);

const struct plan_setting *install_plan_setting(const struct install_plan *p, const char *field);
const struct plan_file *install_plan_file(const struct install_plan *p, const char *path);

/* The plan for people (--dry-run) and machines (--dry-run --json; the facts
 * are included, so that the same machine can be planned for again with
 * --facts). Secrets never appear. */
int install_plan_print(const struct install_plan *p, FILE *f);
int install_plan_print_json(const struct install_plan *p, const struct install_facts *facts, FILE *f);

/* Reads facts from the JSON that install_plan_print_json() wrote (its
 * "facts" member, or the object itself). */
void install_facts_image_done(struct image_facts *i);
int install_facts_from_json(const char *text, struct install_facts **ret, char **ret_reason);
