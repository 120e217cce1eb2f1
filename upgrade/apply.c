/* apply, rollback, mark-good and the boot-health hooks (upgrade.h). */
#include "upgrade-internal.h"

#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <time.h>

#include "carry.h"
#include "download.h"
#include "pack.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "manifest.h"
#include "process.h"
#include "slot.h"

void upgrade_result_done(struct upgrade_result *r) {
        free(r->from_version);
        free(r->to_version);
        for (size_t i = 0; i < r->n_packs; i++) {
                free(r->packs[i].name);
                free(r->packs[i].version);
                free(r->packs[i].build);
                free(r->packs[i].line);
        }
        free(r->packs);
        *r = (struct upgrade_result) {};
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

struct apply {
        struct host_ctx *c;
        const struct upgrade_options *o;
        bool begun;             /* the state file records this upgrade */
        char *stage;            /* tmpfs with the downloaded files, mounted */
        char *target;           /* the new slot, mounted */
        enum upgrade_step step;
        char image_sha256[65];  /* of a download, taken as it was received ("" otherwise) */
        uint64_t image_size;
};

#define apply_note(a, ...) upgrade_note((a)->o->cb, __VA_ARGS__)

static void test_hold(struct apply *a, const char *name) {
        const char *hold = getenv("XENHOST_TEST_HOLD_STEP");
        if (!hold || !streq(hold, name))
                return;
        apply_note(a, "holding before %s", name);
        for (;;)
                pause();
}

static int step_enter(struct apply *a, enum upgrade_step s, char **ret_reason) {
        const char *name = upgrade_step_to_string(s);
        a->step = s;
        if (a->begun) {
                int r = set_str(&a->c->st.step, name);
                if (r < 0 || (r = ustate_write(a->c->h->esp, &a->c->st)) < 0)
                        return reason_set(ret_reason, "cannot record the step in %s/xenhost/upgrade.state: %s",
                                          a->c->h->esp, strerror(-r)),
                               r;
        }
        log_debug("step %s", name);
        if (a->o->cb && a->o->cb->step)
                a->o->cb->step(s, a->o->cb->userdata);
        const char *fail = getenv("XENHOST_TEST_FAIL_STEP");
        if (fail && streq(fail, name))
                return reason_set(ret_reason, "step %s failed on purpose (XENHOST_TEST_FAIL_STEP)", name), -EIO;
        test_hold(a, name);
        return 0;
}

static void on_write_progress(uint64_t done, uint64_t total, void *userdata) {
        struct apply *a = userdata;
        if (a->o->cb && a->o->cb->progress)
                a->o->cb->progress(a->step, done, total, a->o->cb->userdata);
}

static bool is_url(const char *s) {
        return startswith(s, "http://") || startswith(s, "https://");
}

/* The downloads of an upgrade are held in memory: dom0 keeps this much
 * beside them. */
#define STAGE_RESERVE (256 * MiB)

static int stage_mount(struct apply *a, uint64_t bytes, char **ret_reason) {
        _cleanup_free_ char *dir = NULL;
        int r;
        if (asprintf(&dir, "%s/stage", a->c->work_dir) < 0)
                return -ENOMEM;
        r = download_stage_mount(dir, bytes, STAGE_RESERVE, "download",
                                 "copy the manifest and the image to the host and give the manifest's path", ret_reason);
        if (r < 0)
                return r;
        a->stage = TAKE_PTR(dir);
        return 0;
}

static void apply_cleanup(struct apply *a) {
        if (a->target) {
                if (umount2(a->target, 0) < 0 && errno != EINVAL)
                        umount2(a->target, MNT_DETACH);
                rmdir(a->target);
                free(a->target);
        }
        download_stage_unmount(a->stage);
        free(a->stage);
}

/* ---- where the new version comes from ------------------------------------------------- */

static bool is_iso(const char *path) {
        char magic[5];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd >= 0 && pread(fd, magic, sizeof magic, 32769) == (ssize_t) sizeof magic &&
               memcmp(magic, "CD001", 5) == 0;
}

/* Extracts FILE from the ISO into DST with xorriso: no loop mount. */
static int iso_extract(const char *iso, const char *file, const char *dst, char **ret_reason) {
        int r = spawn_run((const char *[]) {"xorriso", "-osirrox", "on", "-indev", iso, "-extract", file, dst, NULL},
                          NULL);
        if (r == -ENOENT)
                return reason_set(ret_reason, "reading an ISO needs xorriso, which is not installed"), r;
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s from %s: %s", file, iso, spawn_last_error()), r;
        return 0;
}

/* The manifest of an install ISO: the one file /xenhost/ *.manifest. */
static int iso_manifest_name(const char *iso, char **ret, char **ret_reason) {
        _cleanup_free_ char *out = NULL;
        int r = spawn_run((const char *[]) {"xorriso", "-indev", iso, "-find", "/xenhost", "-name", "*.manifest", NULL},
                          &out);
        if (r < 0)
                return reason_set(ret_reason, "%s is not a xenhost install ISO (%s)", iso, spawn_last_error()), r;
        char *q = strchr(out, '\''), *e = q ? strchr(q + 1, '\'') : NULL;
        if (!e || strchr(e + 1, '\''))
                return reason_set(ret_reason, "%s holds %s host image manifest under /xenhost", iso, e ? "more than one" : "no"),
                       -EBADMSG;
        if (!(*ret = strndup(q + 1, e - q - 1)))
                return -ENOMEM;
        return 0;
}

/* The manifest into a file of its own: SOURCE itself, or downloaded or
 * extracted into the staging tmpfs. */
static int fetch_manifest(struct apply *a, const char *source, char **ret_path, char **ret_reason) {
        int r;
        bool iso = !is_url(source) && is_iso(source);
        if (!is_url(source) && !iso)
                return (*ret_path = strdup(source)) ? 0 : -ENOMEM;
        if ((r = stage_mount(a, MANIFEST_SIZE_MAX, ret_reason)) < 0)
                return r;
        if (asprintf(ret_path, "%s/manifest", a->stage) < 0)
                return -ENOMEM;
        _cleanup_free_ char *name = NULL, *sig = NULL, *sig_dst = NULL, *ignored = NULL;
        /* The signature comes with the manifest: it is checked before
         * anything in the manifest is used (none: whether one is required
         * is manifest_load()'s). */
        if (!iso)
                return download_signed_file(source, *ret_path, MANIFEST_SIZE_MAX, ret_reason);
        if ((r = iso_manifest_name(source, &name, ret_reason)) < 0 || (r = iso_extract(source, name, *ret_path, ret_reason)) < 0)
                return r;
        if (asprintf(&sig, "%s.asc", name) < 0 || asprintf(&sig_dst, "%s.asc", *ret_path) < 0)
                return -ENOMEM;
        (void) iso_extract(source, sig, sig_dst, &ignored); /* a signature, when there is one */
        return 0;
}

/* The image the manifest M describes, beside the manifest at SOURCE: the
 * file itself for a path, else downloaded or extracted into the staging
 * tmpfs (remounted with room for it). */
static int fetch_image(struct apply *a, const char *source, const struct manifest *m, const char *manifest_path,
                       char **ret_image, char **ret_reason) {
        _cleanup_free_ char *dir = strdup(source), *keep = NULL, *sig = NULL, *sig_keep = NULL;
        int r;
        if (!dir)
                return -ENOMEM;
        if (!a->stage)
                return asprintf(ret_image, "%s/xenhost-%s.img", dirname(dir), m->version) < 0 ? -ENOMEM : 0;
        /* The manifest's small tmpfs becomes one with room for the image. */
        if ((r = read_full_file(manifest_path, &keep, NULL)) < 0 || asprintf(&sig, "%s.asc", manifest_path) < 0)
                return r < 0 ? r : -ENOMEM;
        (void) read_full_file(sig, &sig_keep, NULL);
        if (umount2(a->stage, 0) < 0) {
                r = -errno;
                return reason_set(ret_reason, "cannot unmount %s: %s", a->stage, strerror(-r)), r;
        }
        a->stage = mfree(a->stage);
        if ((r = stage_mount(a, m->image_size + MANIFEST_SIZE_MAX * 2, ret_reason)) < 0 ||
            (r = write_file_atomic(manifest_path, keep, strlen(keep), 0600)) < 0 ||
            (sig_keep && (r = write_file_atomic(sig, sig_keep, strlen(sig_keep), 0600)) < 0))
                return r;
        if (asprintf(ret_image, "%s/xenhost-%s.img", a->stage, m->version) < 0)
                return -ENOMEM;
        if (!is_url(source)) {
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "/xenhost/xenhost-%s.img", m->version) < 0)
                        return -ENOMEM;
                apply_note(a, "reading xenhost %s from %s", m->version, source);
                return iso_extract(source, name, *ret_image, ret_reason);
        }
        _cleanup_free_ char *url = NULL, *name = NULL;
        if (asprintf(&name, "xenhost-%s.img", m->version) < 0)
                return -ENOMEM;
        if ((r = download_sibling_url(source, name, &url)) < 0)
                return r;
        apply_note(a, "downloading xenhost %s (%" PRIu64 " bytes)", m->version, m->image_size);
        if ((r = download_file(url, *ret_image, m->image_size, on_write_progress, a, a->image_sha256, &a->image_size, ret_reason)) < 0)
                return r;
        return 0;
}

/* The keyring the manifest's signature is checked with: O's, which must
 * exist, else ROOT/etc/xenhost/keyring.gpg when it exists (the installed
 * host's, DESIGN.md section 3). *RET is NULL when none is configured. */
static int resolve_keyring(const struct upgrade_host *h, const struct upgrade_options *o, char **ret,
                           char **ret_reason) {
        _cleanup_free_ char *k = NULL;
        if (o->keyring) {
                if (access(o->keyring, F_OK) < 0)
                        return reason_set(ret_reason, "keyring %s does not exist", o->keyring), -ENOENT;
                return (*ret = strdup(o->keyring)) ? 0 : -ENOMEM;
        }
        if (asprintf(&k, "%s/etc/xenhost/keyring.gpg", h->root) < 0)
                return -ENOMEM;
        *ret = access(k, F_OK) == 0 ? TAKE_PTR(k) : NULL;
        return 0;
}

/* The newest FILE-PREFIX* regular file in DIR/boot: the hypervisor, kernel
 * and initrd a slot's entry loads. */
static int newest_boot_file(const char *dir, const char *prefix, const char *suffix, char **ret) {
        _cleanup_free_ char *boot = NULL;
        struct dirent **names = NULL;
        if (asprintf(&boot, "%s/boot", dir) < 0)
                return -ENOMEM;
        int n = scandir(boot, &names, NULL, alphasort);
        char *best = NULL;
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                struct stat st;
                _cleanup_free_ char *full = NULL;
                if (startswith(name, prefix) && (!suffix || endswith(name, suffix)) &&
                    asprintf(&full, "%s/%s", boot, name) >= 0 && lstat(full, &st) == 0 && S_ISREG(st.st_mode) &&
                    (!best || version_compare(name, best) > 0)) {
                        free(best);
                        best = strdup(name);
                }
                free(names[i]);
        }
        free(names);
        if (!best)
                return -ENOENT;
        *ret = best;
        return 0;
}

struct boot_files {
        char *xen, *kernel, *initrd;
};
static void boot_files_done(struct boot_files *f) {
        free(f->xen), free(f->kernel), free(f->initrd);
}

static int boot_files_find(const char *dir, struct boot_files *f, char **ret_reason) {
        if (newest_boot_file(dir, "xen-", ".gz", &f->xen) < 0 || newest_boot_file(dir, "vmlinuz-", NULL, &f->kernel) < 0 ||
            newest_boot_file(dir, "initrd.img-", NULL, &f->initrd) < 0)
                return reason_set(ret_reason, "%s/boot lacks a hypervisor (xen-*.gz), a kernel or an initrd", dir),
                       -ENOENT;
        return 0;
}

/* How the host boots now: its memory (Xen's count, the dom0's own under
 * Xen is smaller) and whether grub.cfg puts Xen on the serial line. */
static void boot_options_of_host(const char *esp, char default_slot, struct boot_options *o) {
        _cleanup_free_ char *xl = NULL, *cfg = NULL, *path = NULL;
        *o = (struct boot_options) {.serial_speed = 115200, .default_slot = default_slot};
        if (spawn_run((const char *[]) {"xl", "info", NULL}, &xl) >= 0) {
                const char *p = strstr(xl, "total_memory");
                if (p && (p = strchr(p, ':')))
                        o->host_memory_bytes = strtoull(p + 1, NULL, 10) * MiB;
        }
        if (o->host_memory_bytes == 0) {
                _cleanup_free_ char *mi = NULL;
                if (read_full_file("/proc/meminfo", &mi, NULL) >= 0 && strstr(mi, "MemTotal:"))
                        o->host_memory_bytes = strtoull(strstr(mi, "MemTotal:") + 9, NULL, 10) * KiB;
        }
        if (asprintf(&path, "%s/grub/grub.cfg", esp) >= 0 && read_full_file(path, &cfg, NULL) >= 0) {
                const char *s = strstr(cfg, " com1=");
                if (s) {
                        o->serial = true;
                        o->serial_speed = (unsigned) strtoul(s + 6, NULL, 10) ?: 115200;
                }
        }
}

/* ---- supplemental packs ------------------------------------------------------------ */

/* The packs' verdicts into the result, in their order. */
static int packs_to_result(struct pack_carry_list *l, struct upgrade_result *res) {
        struct upgrade_pack *packs = calloc(l->n ?: 1, sizeof *packs);
        if (!packs)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                struct pack_carry *c = &l->packs[i];
                packs[i] = (struct upgrade_pack) {.name = TAKE_PTR(c->name), .version = TAKE_PTR(c->version),
                                                  .build = TAKE_PTR(c->build), .carried = c->carried};
                if (!(packs[i].line = pack_carry_to_string(&(struct pack_carry) {
                              .name = packs[i].name, .version = packs[i].version, .build = packs[i].build,
                              .carried = c->carried, .reason = c->reason}))) {
                        res->packs = packs, res->n_packs = i + 1;
                        return -ENOMEM;
                }
        }
        res->packs = packs;
        res->n_packs = l->n;
        return 0;
}

/* The keyring the new slot will check packs with: /etc/xenhost is carried
 * over, so the running slot's keyring when it has one. Without one the new
 * slot keeps the image's, which only the apply sees (a plan says nothing
 * about a pack's signature then). */
static char *packs_keyring_after_carry_over(const char *root) {
        char *k;
        if (asprintf(&k, "%s%s", root, PACK_KEYRING) < 0)
                return NULL;
        if (access(k, F_OK) < 0)
                return mfree(k);
        return k;
}

/* --dry-run: which packs would be carried over, decided as the apply
 * decides, against a scratch root in the work directory. */
static int plan_packs(struct apply *a, const char *new_version, struct upgrade_result *res, char **ret_reason) {
        _cleanup_free_ char *keyring = packs_keyring_after_carry_over(a->c->h->root);
        struct pack_carry_list l = {};
        const struct pack_carry_options po = {.new_version = new_version, .keyring = keyring,
                                              .work_dir = a->c->work_dir};
        int r = pack_carry_plan(a->c->h->root, &po, &l, ret_reason);
        if (r >= 0)
                r = packs_to_result(&l, res);
        pack_carry_list_done(&l);
        return r;
}

static void on_pack(const struct pack_carry *c, void *userdata) {
        struct apply *a = userdata;
        _cleanup_free_ char *line = pack_carry_to_string(c);
        if (!line)
                return;
        /* A pack left behind is something the operator must not miss: the
         * new version runs without it. */
        if (c->carried)
                apply_note(a, "%s into slot %c", line, a->c->other);
        else
                upgrade_warning(a->o->cb, "%s", line);
}

/* Reinstalls the running slot's packs into the new slot at a->target (its
 * inventory, keyring and the rest of /etc/xenhost carried over already).
 *
 * A pack whose requirements no longer hold (its vendor said which versions
 * it is for) or whose kept copy does not verify is left out with a warning
 * and the upgrade goes on: that is known before the slot is written
 * (apply --dry-run lists it), and refusing would keep every host with such
 * a pack on the old version for good.
 * A pack that verifies and whose RPMs then fail to install (a file conflict
 * with the new image, an rpm dependency the new image no longer provides, a
 * failing scriptlet) fails the upgrade instead, as XenServer refuses an
 * upgrade that cannot carry a pack: its vendor says it works with the new
 * version, so the operator counts on it (a storage or network driver, a
 * monitoring agent), and a new slot booting without it could lose the
 * host's storage or its management network. The new slot is not made the
 * default and the running slot is untouched; the line says which pack and
 * why, and removing the pack (or getting a fixed one) and applying again
 * upgrades. */
static int carry_packs(struct apply *a, const char *new_version, struct upgrade_result *res, char **ret_reason) {
        struct pack_carry_list l = {};
        _cleanup_free_ char *why = NULL;
        const struct pack_carry_options po = {.new_version = new_version, .each = on_pack, .userdata = a};
        int r = pack_carry_apply(a->c->h->root, a->target, &po, &l, &why);
        if (r < 0)
                return reason_set(ret_reason, "%s; slot %c is not made the default and xenhost %s keeps running "
                                              "(remove the pack with xenhost-pack remove, or get one that installs, "
                                              "then apply again)",
                                  why ?: strerror(-r), a->c->other, a->c->running_version),
                       r;
        r = packs_to_result(&l, res);
        pack_carry_list_done(&l);
        return r;
}

static int record_failure(struct apply *a, int r, char **ret_reason) {
        if (!a->begun)
                return r;
        struct ustate *st = &a->c->st;
        if (set_str(&st->result, "failed") >= 0 && set_str(&st->reason, ret_reason ? *ret_reason : NULL) >= 0)
                (void) ustate_write(a->c->h->esp, st);
        return r;
}

int upgrade_apply(const struct upgrade_host *h, const char *source, const struct upgrade_options *o,
                  struct upgrade_result *ret, char **ret_reason) {
        _cleanup_(host_ctx_done) struct host_ctx c = {};
        _cleanup_(manifest_done) struct manifest m = {};
        _cleanup_(boot_files_done) struct boot_files run_files = {}, new_files = {};
        _cleanup_free_ char *manifest_path = NULL, *image = NULL, *keyring = NULL, *why = NULL;
        struct upgrade_result res = {};
        struct apply a = {.c = &c, .o = o};
        double t0 = now_s(), tw;
        char fs_uuid[37] = "";
        char label[16];
        int r, lock;

        r = host_ctx_open_locked(h, &c, false, "another xenhost-upgrade is running", &lock, ret_reason);
        if (r < 0)
                return r;
        _cleanup_close_ _unused_ int lock_fd = lock;
        const char T = c.other, R = c.running;
        const int ti = T - 'a', ri = R - 'a';
        snprintf(label, sizeof label, "xh-dom0-%c", T);

        /* ---- verify: nothing is written before all of it holds ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_VERIFY, ret_reason)) < 0)
                goto out;
        if ((r = fetch_manifest(&a, source, &manifest_path, ret_reason)) < 0)
                goto out;
        /* Read once, the signature checked over the bytes read, then parsed:
         * nothing below uses a manifest that is not trusted. */
        if ((r = resolve_keyring(h, o, &keyring, ret_reason)) < 0)
                goto out;
        r = manifest_load(manifest_path, keyring, o->insecure_unsigned ? MANIFEST_ALLOW_UNSIGNED : 0, &m, &why);
        if (r < 0) {
                reason_set(ret_reason, "%s", why ?: "the manifest does not verify");
                goto out;
        }
        if (r == MANIFEST_UNSIGNED_ALLOWED)
                upgrade_warning(o->cb, "the manifest %s is not signed and a keyring (%s) is configured: going on "
                                       "because of --insecure-unsigned", source, keyring);
        r = 0;
        if (!streq_ptr(m.product, "xenhost")) {
                r = reason_set(ret_reason, "the image is for product '%.40s', this host runs xenhost", m.product ?: "");
                r = -EBADMSG;
                goto out;
        }
        if (!manifest_version_is_valid(m.version)) {
                r = -EBADMSG;
                reason_set(ret_reason, "the manifest's VERSION is not a version");
                goto out;
        }
        {
                /* An operator's preserve.d that names no path stops the upgrade now, not half-way. */
                _cleanup_strv_free_ char **paths = NULL;
                if ((r = upgrade_preserve_list(h->root, &paths, ret_reason)) < 0)
                        goto out;
        }
        res.from_version = strdup(c.running_version);
        res.to_version = strdup(m.version);
        res.slot = T;
        if (!res.from_version || !res.to_version) {
                r = -ENOMEM;
                goto out;
        }
        /* Applying what is already there is a no-op (config management runs
         * apply again and again). */
        if (!c.boot.try_slot && c.boot.default_slot == R && streq(m.version, c.running_version)) {
                res.noop = true;
                res.slot = R;
                r = 0;
                goto out;
        }
        if (c.boot.try_slot == T && streq_ptr(c.st.slot_version[ti], m.version)) {
                res.noop = true;
                r = 0;
                goto out;
        }
        if (c.boot.try_slot) {
                r = reason_set(ret_reason,
                               "slot %c (%s) is still being tried after an upgrade: wait for its health check, or "
                               "run xenhost-upgrade rollback",
                               c.boot.try_slot, c.boot.try_slot == R ? c.running_version : c.st.slot_version[ti] ?: "?");
                r = -EPERM;
                goto out;
        }
        if (m.min_upgrade_from && *m.min_upgrade_from && version_compare(c.running_version, m.min_upgrade_from) < 0) {
                r = reason_set(ret_reason, "xenhost %s upgrades hosts from %s on; this host runs %s", m.version,
                               m.min_upgrade_from, c.running_version);
                r = -EPERM;
                goto out;
        }
        if (version_compare(m.version, c.running_version) < 0 && !o->allow_downgrade) {
                r = reason_set(ret_reason, "%s is older than the running %s: refusing a downgrade (roll back with "
                                           "xenhost-upgrade rollback, or give --allow-downgrade)",
                               m.version, c.running_version);
                r = -EPERM;
                goto out;
        }
        if (m.installed_size > c.slot_size[ti]) {
                char b1[32], b2[32];
                r = reason_set(ret_reason, "xenhost %s needs %s, slot %c has %s", m.version,
                               format_iec(b1, sizeof b1, m.installed_size), T,
                               format_iec(b2, sizeof b2, c.slot_size[ti]));
                r = -ENOSPC;
                goto out;
        }
        if (o->dry_run) {
                /* The plan: what an apply would do, nothing written. */
                res.dry_run = true;
                if ((r = plan_packs(&a, m.version, &res, ret_reason)) < 0)
                        goto out;
                r = 0;
                goto out;
        }
        if ((r = fetch_image(&a, source, &m, manifest_path, &image, ret_reason)) < 0)
                goto out;
        /* A download was hashed as it arrived: no second pass over it. */
        free(why), why = NULL;
        r = a.image_sha256[0] ? image_check_digest(image, a.image_sha256, a.image_size, &m, &why)
                              : image_check(image, &m, &why);
        if (r < 0) {
                reason_set(ret_reason, "%s", why ?: "the image does not verify");
                goto out;
        }
        res.image_bytes = m.image_size;

        /* ---- prepare: from here on the state file tells where we are ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_PREPARE, ret_reason)) < 0)
                goto out;
        /* Slot T must not be what GRUB boots while it is half written. */
        if (c.boot.default_slot != R && (r = boot_set_default(h->esp, R, 0, ret_reason)) < 0)
                goto out;
        {
                struct stat root_st, dev_st;
                if (stat(h->root, &root_st) == 0 && stat(c.slot_dev[ti], &dev_st) == 0 &&
                    S_ISBLK(dev_st.st_mode) && root_st.st_dev == dev_st.st_rdev) {
                        r = reason_set(ret_reason, "%s (slot %c) holds the running system: refusing to write it",
                                       c.slot_dev[ti], T);
                        r = -EBUSY;
                        goto out;
                }
        }
        if ((r = ustate_begin(&c.st, "upgrade", "running")) < 0 || (r = set_str(&c.st.version, m.version)) < 0 ||
            (r = set_str(&c.st.step, "prepare")) < 0 || (r = set_str(&c.st.slot_version[ti], NULL)) < 0 ||
            (r = set_str(&c.st.health[ti], NULL)) < 0 || (r = set_str(&c.st.slot_version[ri], c.running_version)) < 0)
                goto out;
        c.st.slot = T;
        c.st.incomplete[ti] = true;
        if ((r = host_state_write(&c, ret_reason)) < 0)
                goto out;
        a.begun = true;

        /* ---- write-slot ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_WRITE_SLOT, ret_reason)) < 0)
                goto out;
        tw = now_s();
        {
                struct slot_write_options so = {.label = label, .progress = on_write_progress, .userdata = &a};
                free(why), why = NULL;
                if ((r = slot_write_image(image, &m, c.slot_dev[ti], &so, fs_uuid, &why)) < 0) {
                        reason_set(ret_reason, "%s", why ?: "the slot write failed");
                        goto out;
                }
        }
        res.write_seconds = now_s() - tw;
        if (a.stage) { /* the download is written: give the memory back */
                umount2(a.stage, MNT_DETACH);
                rmdir(a.stage);
                a.stage = mfree(a.stage);
        }

        /* ---- carry-over ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_CARRY_OVER, ret_reason)) < 0)
                goto out;
        if (asprintf(&a.target, "%s/target", c.work_dir) < 0) {
                r = -ENOMEM;
                goto out;
        }
        (void) umount2(a.target, MNT_DETACH);
        if ((mkdir(a.target, 0700) < 0 && errno != EEXIST) || mount(c.slot_dev[ti], a.target, "ext4", 0, NULL) < 0) {
                r = -errno;
                reason_set(ret_reason, "cannot mount the new slot %s: %m", c.slot_dev[ti]);
                goto out;
        }
        if ((r = carry_over(h->root, a.target, c.work_dir, R, T, m.version, m.build, o->cb, ret_reason)) < 0)
                goto out;

        /* ---- packs ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_PACKS, ret_reason)) < 0)
                goto out;
        if ((r = carry_packs(&a, m.version, &res, ret_reason)) < 0)
                goto out;

        /* ---- boot-entry ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_BOOT_ENTRY, ret_reason)) < 0)
                goto out;
        if ((r = boot_files_find(h->root, &run_files, ret_reason)) < 0 ||
            (r = boot_files_find(a.target, &new_files, ret_reason)) < 0)
                goto out;
        {
                struct boot_options bo;
                struct slot_boot slots[2];
                boot_options_of_host(h->esp, c.boot.default_slot == T ? R : c.boot.default_slot, &bo);
                slots[ri] = (struct slot_boot) {.slot = R, .fs_uuid = c.slot_fs_uuid[ri], .version = c.running_version,
                                                .xen = run_files.xen, .kernel = run_files.kernel,
                                                .initrd = run_files.initrd};
                slots[ti] = (struct slot_boot) {.slot = T, .fs_uuid = fs_uuid, .version = m.version,
                                                .xen = new_files.xen, .kernel = new_files.kernel,
                                                .initrd = new_files.initrd};
                if (!c.slot_fs_uuid[ri]) {
                        r = reason_set(ret_reason, "the running slot %s has no file system UUID", c.slot_dev[ri]),
                        r = -ENODEV;
                        goto out;
                }
                if ((r = boot_config_write(h->esp, &bo, slots, 2, ret_reason)) < 0)
                        goto out;
        }
        if (umount2(a.target, 0) < 0) {
                r = -errno;
                reason_set(ret_reason, "cannot unmount the new slot: %m");
                goto out;
        }
        rmdir(a.target);
        a.target = mfree(a.target);
        sync();

        /* ---- flip: the commit point ---- */
        if ((r = step_enter(&a, UPGRADE_STEP_FLIP, ret_reason)) < 0)
                goto out;
        if ((r = boot_set_default(h->esp, T, BOOT_TRIES_DEFAULT, ret_reason)) < 0)
                goto out;
        test_hold(&a, "done");
        c.st.incomplete[ti] = false;
        if ((r = set_str(&c.st.slot_version[ti], m.version)) < 0 || (r = set_str(&c.st.result, "succeeded")) < 0 ||
            (r = set_str(&c.st.step, NULL)) < 0)
                goto out;
        if ((r = ustate_write(h->esp, &c.st)) < 0)
                /* The flip happened: the upgrade stands; status reads the boot state. */
                apply_note(&a, "cannot record the result in %s/xenhost/upgrade.state: %s", h->esp, strerror(-r));
        r = 0;
out:
        apply_cleanup(&a);
        if (r < 0) {
                if (ret_reason && !*ret_reason)
                        reason_set(ret_reason, "%s", strerror(-r));
                upgrade_result_done(&res);
                return record_failure(&a, r, ret_reason);
        }
        res.seconds = now_s() - t0;
        *ret = res;
        return 0;
}

/* ---- rollback, mark-good, boot health ---------------------------------------------- */

int upgrade_rollback(const struct upgrade_host *h, char *ret_slot, char **ret_reason) {
        _cleanup_(host_ctx_done) struct host_ctx c = {};
        _cleanup_(upgrade_status_done) struct upgrade_status s = {};
        int lock, r = host_ctx_open_locked(h, &c, false, "an upgrade is running: wait for it to finish", &lock,
                                           ret_reason);
        if (r < 0)
                return r;
        _cleanup_close_ _unused_ int lock_fd = lock;
        const char R = c.running, O = c.other;
        char next;
        if ((r = host_status(&c, &s)) < 0)
                return r;
        if (c.boot.try_slot == R) {
                /* The new version runs on trial: end the trial, the
                 * previous version (the default) boots next. */
                next = c.boot.default_slot;
                r = boot_set_default(h->esp, next, 0, ret_reason);
        } else if (c.boot.try_slot == O) {
                /* An upgrade applied and not yet booted: cancel it. */
                next = R;
                r = boot_set_default(h->esp, R, 0, ret_reason);
        } else {
                const struct upgrade_slot_status *x = &s.slots[O - 'a'];
                if (x->state != SLOT_STATE_GOOD)
                        return reason_set(ret_reason, "slot %c holds no version to roll back to (%s%s%s)", O,
                                          slot_state_to_string(x->state), x->reason ? ": " : "", x->reason ?: ""),
                               -ENOENT;
                next = O;
                /* The previous version is tried like an upgrade: if it no
                 * longer boots, GRUB comes back to this one. */
                r = c.boot.default_slot == O ? boot_set_default(h->esp, O, 0, ret_reason)
                                             : boot_set_default(h->esp, O, BOOT_TRIES_DEFAULT, ret_reason);
        }
        if (r < 0)
                return r;
        if ((r = ustate_begin(&c.st, "rollback", "succeeded")) < 0 ||
            (r = set_str(&c.st.version, s.slots[next - 'a'].version)) < 0)
                return r;
        c.st.slot = next;
        if ((r = host_state_write(&c, ret_reason)) < 0)
                return r;
        *ret_slot = next;
        return 0;
}

int upgrade_mark_good(const struct upgrade_host *h, bool *ret_marked, char **ret_reason) {
        _cleanup_(host_ctx_done) struct host_ctx c = {};
        /* After an apply that is running, never in the middle of it. */
        int lock, r = host_ctx_open_locked(h, &c, true, NULL, &lock, ret_reason);
        if (r < 0)
                return r;
        _cleanup_close_ _unused_ int lock_fd = lock;
        const char R = c.running, O = c.other;
        const int ri = R - 'a', oi = O - 'a';
        *ret_marked = false;
        if (c.boot.try_slot == R) {
                if ((r = boot_mark_good(h->esp, R, ret_reason)) < 0)
                        return r;
                *ret_marked = true;
                if ((r = ustate_begin(&c.st, "mark-good", "succeeded")) < 0 ||
                    (r = set_str(&c.st.version, c.running_version)) < 0 ||
                    (r = set_str(&c.st.slot_version[ri], c.running_version)) < 0 || (r = set_str(&c.st.health[ri], NULL)) < 0)
                        return r;
                c.st.slot = R;
                c.st.incomplete[ri] = false;
        } else if (c.boot.try_failed == O && !(streq_ptr(c.st.kind, "fallback") && c.st.slot == O)) {
                /* GRUB came back here after the other slot's tries ran out. */
                _cleanup_free_ char *version = c.st.slot_version[oi] ? strdup(c.st.slot_version[oi]) : NULL;
                _cleanup_free_ char *why = NULL;
                if (asprintf(&why, "slot %c (%s) did not pass a health check within its boots; GRUB went back to "
                                   "slot %c%s%s",
                             O, version ?: "?", R, c.st.health[oi] ? "; its last health check: " : "",
                             c.st.health[oi] ?: "") < 0)
                        return -ENOMEM;
                if ((r = ustate_begin(&c.st, "fallback", "failed")) < 0 || (r = set_str(&c.st.version, version)) < 0 ||
                    (r = set_str(&c.st.reason, why)) < 0)
                        return r;
                c.st.slot = O;
        } else
                return 0;
        return host_state_write(&c, ret_reason);
}

int upgrade_trying(const struct upgrade_host *h, char **ret_reason) {
        _cleanup_(host_ctx_done) struct host_ctx c = {};
        int r = host_ctx_open(h, &c, ret_reason);
        if (r < 0)
                return r;
        return c.boot.try_slot == c.running;
}

int upgrade_health_failed(const struct upgrade_host *h, const char *why, char **ret_reason) {
        _cleanup_(host_ctx_done) struct host_ctx c = {};
        int lock, r = host_ctx_open_locked(h, &c, true, NULL, &lock, ret_reason);
        if (r < 0)
                return r;
        _cleanup_close_ _unused_ int lock_fd = lock;
        if ((r = set_str(&c.st.health[c.running - 'a'], why && *why ? why : "failed")) < 0 ||
            (r = host_state_write(&c, ret_reason)) < 0)
                return r;
        return c.boot.try_slot == c.running;
}
