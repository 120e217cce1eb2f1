/* Shared inside upgrade/ only. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "partitioner.h"
#include "upgrade.h"

/* ESP/xenhost/upgrade.state (upgrade.h). */
struct ustate {
        char *kind, *result, *step, *time, *version, *reason;
        char slot;
        char *slot_version[2];  /* a, b */
        bool incomplete[2];
        char *health[2];        /* the last failed health check of the slot */
};
void ustate_done(struct ustate *s);
int ustate_path(const char *esp, char **ret);
int ustate_read(const char *esp, struct ustate *ret);   /* no file: all empty */
int ustate_write(const char *esp, const struct ustate *s);
int ustate_begin(struct ustate *s, const char *kind, const char *result);
int set_str(char **field, const char *v);

/* A line for the operator (the note callback) that does not stop anything. */
void upgrade_note(const struct upgrade_callbacks *cb, const char *fmt, ...) _printf_(2, 3);
void upgrade_warning(const struct upgrade_callbacks *cb, const char *fmt, ...) _printf_(2, 3);

/* The host as found: the running slot, the disk, both slots, the boot state. */
struct host_ctx {
        const struct upgrade_host *h;
        char *inventory;          /* the running slot's /etc/xenhost/inventory */
        char *running_version;
        char running, other;
        char *disk_node;
        char *slot_dev[2];        /* a, b */
        uint64_t slot_size[2];
        char *slot_fs_uuid[2];
        char *work_dir;
        struct boot_state boot;   /* grubenv; default_slot always set */
        struct ustate st;
};
int host_ctx_open(const struct upgrade_host *h, struct host_ctx *c, char **ret_reason);
void host_ctx_done(struct host_ctx *c);
int host_status(struct host_ctx *c, struct upgrade_status *ret);
/* Takes the work directory's lock (waiting for it with WAIT, else failing
 * with BUSY as the reason), then opens the host as host_ctx_open(). */
int host_ctx_open_locked(const struct upgrade_host *h, struct host_ctx *c, bool wait, const char *busy,
                         int *ret_lock_fd, char **ret_reason);
/* 1 when an operation holds the lock now, 0 when none does. */
int host_lock_held(const struct host_ctx *c);
/* Writes C's state file, with a one-line reason on failure. */
int host_state_write(struct host_ctx *c, char **ret_reason);

/* carry.c: the preserved configuration from ROOT into the new slot mounted
 * at TARGET (slot NEW_SLOT, version NEW_VERSION, build NEW_BUILD); WORK is
 * for scratch files. The accounts (/etc/passwd ...) are merged: the running
 * slot's entries, then those of the new image whose names the running slot
 * lacks (system accounts that a new version's packages bring). */
int carry_over(const char *root, const char *target, const char *work, char running_slot, char new_slot,
               const char *new_version, const char *new_build, const struct upgrade_callbacks *cb,
               char **ret_reason);

