/* The install engine: one engine for every front end (answer file, TUI,
 * PXE). It probes the machine, computes the plan (plan.h), asks the front
 * end for consent, and carries the plan out in ordered steps through the
 * modules' own writers: the partitioner, the image module's slot writer,
 * libpack for the answer file's supplemental packs (fetched and verified
 * before the first write, installed into the configured slot), hypervisor/'s
 * boot writer. It prints nothing itself: the front end hears
 * of progress, warnings and questions through callbacks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "plan.h"

struct install_env {
        const char *media_root;  /* mounted install media, or NULL */
        const char *image;       /* host image; NULL: the one on the media */
        const char *manifest;    /* its manifest; NULL: next to the image */
        const char *keyring;     /* require a manifest signature by this keyring; NULL: the
                                  * media's xenhost/keyring.gpg when there is one (a release's
                                  * media carry it), else none. The keyring verified with is
                                  * written to the host's /etc/xenhost/keyring.gpg */
        bool insecure_unsigned;  /* with a keyring, install an unsigned image anyway (a warning
                                  * says so); a bad signature is refused all the same */
        const char *log_path;    /* the full log, copied to the host at the end */
        const char *work_dir;    /* mount points live here (default /run/xenhost-install) */
        bool serial;             /* the install runs on the serial console */
        bool efi;                /* booted in UEFI mode */
        bool probe_all_disks;    /* list every disk of the machine, not only the named ones */
        uint64_t memory_bytes;   /* host memory; 0: from /proc/meminfo */
};

enum install_step {
        INSTALL_STEP_CHECKS,
        INSTALL_STEP_VERIFY,
        INSTALL_STEP_PARTITION,
        INSTALL_STEP_SLOT,
        INSTALL_STEP_CONFIGURE,
        INSTALL_STEP_PACKS,      /* the answer file's supplemental packs, into the new slot */
        INSTALL_STEP_BOOTLOADER,
        INSTALL_STEP_FINISH,
        _INSTALL_STEP_MAX,
};

const char *install_step_to_string(enum install_step s);  /* "partition" */
const char *install_step_title(enum install_step s);      /* "Partitioning the disk, ..." */

struct install_progress {
        enum install_step step;  /* fresh and reinstall */
        unsigned percent;        /* of the whole install */
        uint64_t done, total;    /* bytes within the step, when it counts bytes (else 0, 0) */
        /* The step in words, for every mode: an upgrade and a restore run
         * the upgrade module's steps (upgrade.h: verify, prepare, write-slot,
         * carry-over, packs, boot-entry, flip; restore), which
         * XENHOST_TEST_FAIL_STEP names too. */
        unsigned index, n_steps; /* 1-based: step INDEX of N_STEPS */
        const char *name;        /* "partition", "write-slot" */
        const char *title;       /* "Partitioning the disk, ..." */
};

/* How the engine reaches the operator. Every callback may be NULL. */
struct install_frontend {
        /* Consent to erase: called once with the plan (its disks say what is
         * on them and what is erased), after planning and before the first
         * write. Returns > 0 to go on, 0 to stop with nothing written. An
         * upgrade or a restore erases nothing (install_mode_keeps_host()):
         * the plan says which slot it writes or boots next. */
        int (*confirm)(const struct install_plan *plan, void *userdata);
        /* A step starts, or a step that counts bytes moved on. */
        void (*progress)(const struct install_progress *p, void *userdata);
        /* A line the operator should read (a setting without effect, a
         * compact layout, an SR about to be erased). */
        void (*warning)(const char *line, void *userdata);
        void *userdata;
};

/* Probes the machine. Reads only, but for a network source (the config's
 * first <source type="url">) whose manifest, and its signature when there
 * is one, it downloads into ENV's work directory (source/): the image
 * itself is downloaded by the install, before its first write. */
int install_facts_probe(const struct install_config *cfg, const struct install_env *env,
                        struct install_facts **ret, char **ret_reason);
/* The host image facts of F again, for CFG's source: for a front end that
 * probed before the source was chosen. */
int install_facts_probe_image(struct install_facts *f, const struct install_config *cfg,
                              const struct install_env *env, char **ret_reason);

/* The installer's own version (VERSION of /etc/xenhost-release, or of the
 * file $XENHOST_RELEASE_FILE names), which a tree URL's manifest must
 * have: TREE/xenhost/xenhost-VERSION.manifest. -ENOENT when unknown. */
int install_own_version(char **ret);

/* Carries out PLAN (which has no errors) for CFG (the root password and the
 * scripts come from it). Consent must have been given: this writes. On
 * failure returns < 0 and *RET_REASON names the step and what went wrong, in
 * one line; *RET_STEP says which step failed (fresh and reinstall).
 * mode="upgrade" and mode="restore" mount the installed host's ESP and its
 * default slot (read-only) under ENV's work directory and call
 * upgrade_apply() with the media's manifest, or upgrade_rollback(), with
 * the default slot as the running one; everything is unmounted again, also
 * on failure. */
int install_plan_apply(const struct install_plan *plan, const struct install_config *cfg,
                       const struct install_env *env, const struct install_frontend *fe, enum install_step *ret_step,
                       char **ret_reason);

/* Probe, plan, warnings, consent, apply: the whole install. Refuses a plan
 * with errors (every error line is passed to the warning callback, prefixed
 * "error: ", and the first is the reason) and a missing consent (-ECANCELED)
 * before anything is written. */
int install_run(const struct install_config *cfg, const struct install_env *env, const struct install_frontend *fe,
                char **ret_reason);

/* The disk the config names, as a device path: "sda" -> /dev/sda,
 * "disk/by-id/x" -> /dev/disk/by-id/x, absolute paths as they are. */
int install_disk_path(const char *name, char **ret);

/* Where the media carry the public keyring of release builds, beside the
 * host image: MEDIA/xenhost/keyring.gpg. */
#define INSTALL_MEDIA_KEYRING "xenhost/keyring.gpg"
/* The keyring of release builds inside the installer initrd, for installs
 * without media (PXE). */
#define INSTALL_BUILTIN_KEYRING "/usr/share/xenhost/keyring.gpg"
/* The keyring ENV configures: ENV->keyring, else the media's when it
 * exists, else (in the installer environment) INSTALL_BUILTIN_KEYRING when
 * it exists. *RET is NULL when there is none. */
int install_keyring(const struct install_env *env, char **ret);

/* Whether this process runs in the xenhost installer environment (the
 * installer initrd). Outside it, xenhost-install only writes loop devices. */
bool install_in_installer_environment(void);
