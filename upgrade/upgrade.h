/* In-place upgrade into the other slot, rollback, and boot health
 * (DESIGN.md section 8). xenhost-upgrade on a running host and the
 * installer's mode="upgrade" and mode="restore" call this; it writes the
 * inactive slot with the shared slot writer (image/slot.h) and the boot
 * state with the shared boot writer (hypervisor/boot.h), and never writes
 * the running slot, the logs partition or the SR.
 *
 * What an upgrade leaves on the ESP, besides grubenv and grub.cfg:
 *   ESP/xenhost/upgrade.state   KEY=value lines, written atomically: the last
 *                               operation (KIND, RESULT, STEP, TIME, VERSION,
 *                               SLOT, REASON), the version in each slot
 *                               (SLOT_A_VERSION, SLOT_B_VERSION), a slot being
 *                               written (SLOT_B_INCOMPLETE=1), and the last
 *                               failed health check of a slot (SLOT_B_HEALTH).
 * The ESP is shared by both slots, so the slot that GRUB falls back to can
 * say why the other one failed. The one commit point of an upgrade is the
 * rename of grubenv that arms the try of the new slot: a power cut before it
 * leaves the running version the default, after it the new slot is tried. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"

/* Where the system to upgrade is. A running host uses the defaults; the
 * installer (offline) and the tests point them elsewhere. */
struct upgrade_host {
        const char *root;     /* the running (or source) slot's tree: "/" */
        const char *esp;      /* where the ESP is mounted: "/boot/efi" */
        const char *disk;     /* the disk with the slots; NULL: PRIMARY_DISK of ROOT's inventory */
        char running_slot;    /* 0: root=PARTLABEL=xh-dom0-X on /proc/cmdline when ROOT is "/",
                               * else ACTIVE_SLOT of ROOT's inventory */
        const char *work_dir; /* mount points and the staged download; NULL: /run/xenhost-upgrade */
};

enum slot_state {
        SLOT_STATE_EMPTY,      /* no system in it */
        SLOT_STATE_GOOD,       /* a version that booted and passed its health check, or runs now */
        SLOT_STATE_TRYING,     /* being tried after an upgrade: tries_left boots before GRUB falls back */
        SLOT_STATE_BAD,        /* its try ran out of boots, or its health check failed */
        SLOT_STATE_INCOMPLETE, /* an upgrade began writing it and has not finished */
        _SLOT_STATE_MAX,
};
const char *slot_state_to_string(enum slot_state s);

struct upgrade_slot_status {
        char slot;
        char *version;          /* NULL when unknown or empty */
        enum slot_state state;
        unsigned tries_left;    /* with SLOT_STATE_TRYING */
        char *reason;           /* with SLOT_STATE_BAD or INCOMPLETE: why, in words */
};

struct upgrade_status {
        char active_slot;       /* the slot running now */
        char default_slot;      /* the slot GRUB boots next */
        struct upgrade_slot_status slots[2]; /* a, b */
        /* The last operation, all NULL when there was none. */
        char *last_kind;        /* install, upgrade, rollback, mark-good, fallback */
        char *last_result;      /* succeeded, failed, running, interrupted */
        char *last_time, *last_step, *last_reason, *last_version;
        char last_slot;
};
void upgrade_status_done(struct upgrade_status *s);
int upgrade_status_read(const struct upgrade_host *h, struct upgrade_status *ret, char **ret_reason);
int upgrade_status_print(const struct upgrade_status *s, FILE *f);
/* One JSON object (DESIGN.md section 8). */
int upgrade_status_print_json(const struct upgrade_status *s, FILE *f);

enum upgrade_step {
        UPGRADE_STEP_VERIFY,     /* fetch the manifest and image, check them; nothing written */
        UPGRADE_STEP_PREPARE,    /* mark the inactive slot incomplete */
        UPGRADE_STEP_WRITE_SLOT, /* the slot writer */
        UPGRADE_STEP_CARRY_OVER, /* the preserved configuration, from the running slot */
        UPGRADE_STEP_PACKS,      /* recorded supplemental packs */
        UPGRADE_STEP_BOOT_ENTRY, /* grub.cfg with both slots */
        UPGRADE_STEP_FLIP,       /* arm the try of the new slot: the commit point */
        _UPGRADE_STEP_MAX,
};
const char *upgrade_step_to_string(enum upgrade_step s);

struct upgrade_callbacks {
        void (*step)(enum upgrade_step s, void *userdata);
        void (*progress)(enum upgrade_step s, uint64_t done, uint64_t total, void *userdata);
        /* A line the operator should read that does not stop the upgrade. */
        void (*note)(const char *line, void *userdata);
        /* A line about trust the operator must not miss (an unsigned image
         * let through by --insecure-unsigned): front ends put it on stderr
         * and in their log. NULL: it goes to note. */
        void (*warning)(const char *line, void *userdata);
        void *userdata;
};

struct upgrade_options {
        bool allow_downgrade;
        const char *keyring;   /* NULL: ROOT/etc/xenhost/keyring.gpg when it exists (then a
                                * signature is required), else none */
        bool insecure_unsigned; /* with a keyring, let an unsigned manifest through (with a
                                 * warning); a bad signature is refused all the same */
        /* Verify the manifest and plan (the slot, the packs carried over
         * and those that are not): nothing is written, neither slot nor the
         * boot or state files; the image itself is checked when applied. */
        bool dry_run;
        const struct upgrade_callbacks *cb;
};

/* A supplemental pack recorded on the running slot, and whether it is (with
 * dry_run: would be) reinstalled into the new slot. */
struct upgrade_pack {
        char *name, *version;
        char *build;            /* may be NULL */
        bool carried;
        char *line;             /* "pack acme-tools 1.0 carried over", or "pack acme-tools
                                 * 1.0 not carried over: requires xenhost < 2.0, the new
                                 * version is 2.1" */
};

struct upgrade_result {
        bool noop;              /* that version is already there: nothing was written */
        bool dry_run;           /* only planned: nothing was written */
        char slot;              /* the slot written (and tried at the next boot) */
        char *from_version, *to_version;
        uint64_t image_bytes;
        double seconds, write_seconds;
        /* The running slot's packs in the order they are reinstalled. */
        struct upgrade_pack *packs;
        size_t n_packs;
};
void upgrade_result_done(struct upgrade_result *r);

/* Upgrades into the slot that is not running from SOURCE: the path or
 * http(s) URL of a manifest (the image is xenhost-VERSION.img beside it).
 * Returns 0 (see RET->noop), or -errno with one line in *RET_REASON; a
 * refusal (-EPERM: downgrade, trying; -EBADMSG: checksum, signature,
 * product; -ENOKEY: unsigned while a keyring is configured; -ENOSPC: does
 * not fit) writes nothing at all.
 * The supplemental packs recorded on the running slot are reinstalled into
 * the new slot from their kept copies when their requirements hold against
 * the new version and they verify with the new slot's keyring; each one
 * that is not gets a warning line and stays out of the new slot (RET->packs
 * lists them all). A pack that verifies but whose RPMs cannot be installed
 * fails the upgrade: the new slot is not made the default.
 * Test hooks: XENHOST_TEST_FAIL_STEP=NAME fails at the start of that step,
 * XENHOST_TEST_HOLD_STEP=NAME calls the step callback and then waits to be
 * killed (a power cut at that moment). */
int upgrade_apply(const struct upgrade_host *h, const char *source, const struct upgrade_options *o,
                  struct upgrade_result *ret, char **ret_reason);

/* Makes the other slot the default again, with the configuration it had.
 * When the running slot is itself being tried, the try is ended and the
 * default (the previous version) stays. Otherwise the other slot, which must
 * hold a good version, is tried with boot counting, so that a previous
 * version that no longer boots falls back to this one. RET_SLOT: the slot
 * booted next. */
int upgrade_rollback(const struct upgrade_host *h, char *ret_slot, char **ret_reason);

/* The running slot passed its health check: a try of it ends and it becomes
 * the default. Records a fallback GRUB did (the other slot's try ran out).
 * *RET_MARKED says whether a try ended. */
int upgrade_mark_good(const struct upgrade_host *h, bool *ret_marked, char **ret_reason);

/* 1 when this boot is a try of the running slot, 0 when not. */
int upgrade_trying(const struct upgrade_host *h, char **ret_reason);

/* Records a failed health check of the running slot (WHY, one line).
 * Returns 1 when this boot is a try (the caller reboots, using up the try),
 * 0 when not. */
int upgrade_health_failed(const struct upgrade_host *h, const char *why, char **ret_reason);

/* The preserved items (DESIGN.md section 8): absolute paths, the list in
 * the code followed by the lines of ROOT/etc/xenhost/preserve.d/ *.list
 * (comments and blank lines skipped). A listed path that is not absolute,
 * holds "..", or lies in /proc, /sys, /dev, /run, /boot or /var/log is an
 * error naming file and line. */
extern const char *const upgrade_preserved_paths[];
int upgrade_preserve_list(const char *root, char ***ret, char **ret_reason);

/* Orders versions the way releases are numbered: dotted numbers compared as
 * numbers, other text as text ("0.10.0" > "0.9.1"). */
int version_compare(const char *a, const char *b);

/* The one-file inventory (/etc/xenhost/inventory, KEY='value'): the value of
 * KEY, or NULL. */
char *inventory_get(const char *text, const char *key);
