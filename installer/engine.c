/* The install engine: carries out an install plan in ordered steps. The
 * deciding is done (plan.c); here every step writes what the plan says,
 * through the partitioner, the image module's slot writer, libpack (the
 * answer file's supplemental packs) and hypervisor/'s boot writer, and
 * reports to the front end through its callbacks. */
#include "engine.h"

#include <crypt.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "boot.h"
#include "download.h"
#include "fetch.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "manifest.h"
#include "pack.h"
#include "partitioner.h"
#include "process.h"
#include "slot.h"
#include "upgrade.h"

static const char *const step_names[_INSTALL_STEP_MAX] = {
        [INSTALL_STEP_CHECKS] = "checks",
        [INSTALL_STEP_VERIFY] = "verify-image",
        [INSTALL_STEP_PARTITION] = "partition",
        [INSTALL_STEP_SLOT] = "write-slot",
        [INSTALL_STEP_CONFIGURE] = "configure",
        [INSTALL_STEP_PACKS] = "packs",
        [INSTALL_STEP_BOOTLOADER] = "bootloader",
        [INSTALL_STEP_FINISH] = "finish",
};

static const char *const step_titles[_INSTALL_STEP_MAX] = {
        [INSTALL_STEP_CHECKS] = "Checking the machine and fetching the answer file's scripts and packs",
        [INSTALL_STEP_VERIFY] = "Verifying the host image and the supplemental packs",
        [INSTALL_STEP_PARTITION] = "Partitioning the disk, creating file systems and the SR",
        [INSTALL_STEP_SLOT] = "Writing the host image into slot a",
        [INSTALL_STEP_CONFIGURE] = "Writing the host's configuration",
        [INSTALL_STEP_PACKS] = "Installing the supplemental packs",
        [INSTALL_STEP_BOOTLOADER] = "Installing the boot loader",
        [INSTALL_STEP_FINISH] = "Finishing",
};

/* Rough share of the whole time each step takes, for the percentage
 * (measured under QEMU: verify and the slot are most of it). */
static const unsigned step_weight[_INSTALL_STEP_MAX] = {2, 15, 15, 35, 5, 3, 20, 3};

const char *install_step_to_string(enum install_step s) {
        return s < _INSTALL_STEP_MAX ? step_names[s] : "?";
}

const char *install_step_title(enum install_step s) {
        return s < _INSTALL_STEP_MAX ? step_titles[s] : "?";
}

struct install {
        const struct install_plan *plan;
        const struct install_config *cfg;
        const struct install_env *env;
        const struct install_frontend *fe;
        char **reason;
        enum install_step step;
        char *disk_node;     /* the primary disk, symlinks resolved */
        char *work;          /* mount points */
        char *target;        /* the slot, mounted */
        char *esp;           /* the ESP, mounted at target/boot/efi */
        struct manifest m;
        char *image;         /* the host image to write: the plan's, or its download */
        char *stage;         /* the tmpfs holding a downloaded image, unmounted once it is written */
        char *keyring;       /* the keyring the manifest was verified with, or NULL */
        char *keyring_data;  /* its bytes, for the host's /etc/xenhost/keyring.gpg */
        size_t keyring_len;
        char **mounts;       /* in mount order */
        size_t n_mounts;
        char **script_paths; /* fetched answer-file scripts, by index of cfg->scripts */
        struct install_pack *packs; /* the answer file's packs, opened, in install order */
        size_t n_packs;
        unsigned n_writes;   /* files written on the host so far (fault injection) */
};

/* Sets the one-line reason, naming the step; keeps errno. Returns 0 so
 * that it reads "return fail(...), -EINVAL". */
_printf_(2, 3) static int fail(struct install *in, const char *fmt, ...) {
        int saved = errno;
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        reason_set(in->reason, "step %s: %s", step_names[in->step], s ?: "out of memory");
        free(s);
        errno = saved;
        return 0;
}

static void report(struct install *in, uint64_t done, uint64_t total) {
        unsigned before = 0, all = 0;
        for (unsigned i = 0; i < _INSTALL_STEP_MAX; i++) {
                all += step_weight[i];
                if (i < in->step)
                        before += step_weight[i];
        }
        uint64_t within = total ? step_weight[in->step] * done / total : 0;
        struct install_progress p = {.step = in->step, .percent = (unsigned) ((before + within) * 100 / all),
                                     .done = done, .total = total, .index = (unsigned) in->step + 1,
                                     .n_steps = _INSTALL_STEP_MAX, .name = step_names[in->step],
                                     .title = step_titles[in->step]};
        if (in->fe && in->fe->progress)
                in->fe->progress(&p, in->fe->userdata);
}

/* Test-only fault injection, read here in the apply layer:
 * XENHOST_TEST_FAIL_STEP=NAME fails that step as it starts;
 * XENHOST_TEST_FAIL_WRITE=N fails the Nth file written on the host. */
static int step_begin(struct install *in, enum install_step s) {
        const char *fail_step = getenv("XENHOST_TEST_FAIL_STEP");
        in->step = s;
        log_info("Step %u/%u: %s", (unsigned) s + 1, _INSTALL_STEP_MAX, step_names[s]);
        report(in, 0, 0);
        if (fail_step && streq(fail_step, step_names[s]))
                return fail(in, "failure injected by XENHOST_TEST_FAIL_STEP"), -EIO;
        return 0;
}

static int run(struct install *in, const char *what, const char *const *argv) {
        int r = spawn_run(argv, NULL);
        if (r < 0)
                fail(in, "%s: %s", what, spawn_last_error());
        return r;
}

static int mount_at(struct install *in, const char *what, const char *src, const char *dst, const char *type,
                    const char *opts) {
        int r = mkdir_all(dst, 0755);
        if (r < 0)
                return fail(in, "cannot create %s: %s", dst, strerror(-r)), r;
        char **nm = reallocarray(in->mounts, in->n_mounts + 1, sizeof(char *));
        char *copy = strdup(dst);
        if (nm)
                in->mounts = nm;
        if (!nm || !copy) {
                free(copy);
                return -ENOMEM;
        }
        r = run(in, what, (const char *[]) {"mount", "-t", type, "-o", opts ?: "defaults", src, dst, NULL});
        if (r < 0) {
                free(copy);
                return r;
        }
        in->mounts[in->n_mounts++] = copy;
        return 0;
}

static void unmount_all(struct install *in) {
        while (in->n_mounts > 0) {
                char *m = in->mounts[--in->n_mounts];
                if (umount2(m, 0) < 0) {
                        log_warning_errno(-errno, "Cannot unmount %s: %m; detaching it", m);
                        umount2(m, MNT_DETACH);
                }
                free(m);
        }
}

int install_disk_path(const char *name, char **ret) {
        char *p;
        if (name[0] == '/')
                p = strdup(name);
        else if (asprintf(&p, "/dev/%s", name) < 0)
                p = NULL;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

bool install_in_installer_environment(void) {
        /* Only the installer initrd has its start script. */
        return access("/usr/sbin/xenhost-installer-run", X_OK) == 0;
}

static bool is_loop_device(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISBLK(st.st_mode) && major(st.st_rdev) == 7;
}

/* ---- step 1: checks --------------------------------------------------------- */

/* Answer-file scripts are fetched during the checks, so that one that cannot
 * be had stops the install before any disk is written. */
static int fetch_scripts(struct install *in) {
        const struct install_config *cfg = in->cfg;
        struct fetch_options o = FETCH_OPTIONS_DEFAULT;
        o.media_root = in->env->media_root;
        if (cfg->n_scripts == 0)
                return 0;
        in->script_paths = calloc(cfg->n_scripts, sizeof(char *));
        if (!in->script_paths)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_scripts; i++) {
                const struct location *l = &cfg->scripts[i].location;
                _cleanup_free_ char *loc = NULL, *text = NULL, *why = NULL;
                size_t len;
                int r;
                if (l->type == LOCATION_NFS) {
                        /* "server:/path/script" -> nfs://server/path/script */
                        const char *colon = strchr(l->address, ':');
                        if (!colon || asprintf(&loc, "nfs://%.*s%s", (int) (colon - l->address), l->address,
                                               colon + 1) < 0)
                                return fail(in, "bad NFS location for a script"), -EINVAL;
                } else if (!(loc = strdup(l->address)))
                        return -ENOMEM;
                r = answerfile_fetch(loc, &o, &text, &len, &why);
                if (r < 0)
                        return fail(in, "script for stage %s: %s", script_stage_to_string(cfg->scripts[i].stage),
                                    why ?: strerror(-r)), r;
                if (asprintf(&in->script_paths[i], "%s/script-%zu", in->work, i) < 0)
                        return -ENOMEM;
                r = write_file_atomic(in->script_paths[i], text, len, 0700);
                if (r < 0)
                        return fail(in, "cannot save a script: %s", strerror(-r)), r;
        }
        return 0;
}

/* Runs the scripts of STAGE with ARG, as XenServer does: the new root's
 * mount point for filesystem-populated and packages-installed, 0 or 1 for
 * installation-complete, nothing for installation-start. */
static int run_scripts(struct install *in, enum script_stage stage, const char *arg) {
        const struct install_plan *p = in->plan;
        for (size_t k = 0; k < p->n_scripts[stage]; k++) {
                size_t i = p->scripts[stage][k];
                if (!in->script_paths || !in->script_paths[i])
                        continue;
                log_info("Running the %s script %zu", script_stage_to_string(stage), i + 1);
                int r = spawn_run((const char *[]) {in->script_paths[i], arg, NULL}, NULL);
                if (r < 0)
                        return fail(in, "the %s script failed: %s", script_stage_to_string(stage), spawn_last_error()),
                               r;
        }
        return 0;
}

/* ---- supplemental packs: fetched in step 1, verified in step 2 ------------------ */

/* One pack of the answer file. Opened (pack_open() copies it into a private
 * working directory) during the checks, so the bytes verified before the
 * first write are the bytes installed after it, whatever the server or the
 * media do meanwhile. */
struct install_pack {
        size_t index;        /* into cfg->packs */
        char *shown;         /* where it came from, for messages: a redacted URL, or media path */
        char *path;          /* what pack_open() was given (a download, a mount, the media) */
        struct pack *pack;
        bool duplicate;      /* the same pack (name, version, build) as an earlier one: installed once */
};

/* Packs larger than this are not packs: a vendor's driver pack is a few
 * hundred MiB at most, and it is held in the installer's memory. */
#define PACK_FETCH_SIZE_MAX (4ULL * 1024 * 1024 * 1024)

static void install_packs_free(struct install *in) {
        for (size_t i = 0; i < in->n_packs; i++) {
                pack_free(in->packs[i].pack);
                free(in->packs[i].shown);
                free(in->packs[i].path);
        }
        free(in->packs);
        in->packs = NULL;
        in->n_packs = 0;
}

/* "pack 2 (http://server/b.iso)": the answer file's count, from 1. */
static int pack_fail(struct install *in, const struct install_pack *ip, const char *why, int r) {
        /* The library names the file it opened: a download or a mount point
         * of ours means nothing to the operator, the location does. */
        _cleanup_free_ char *text = NULL;
        const char *at = why && ip->path ? strstr(why, ip->path) : NULL;
        if (at && asprintf(&text, "%.*s%s%s", (int) (at - why), why, ip->shown, at + strlen(ip->path)) < 0)
                text = NULL;
        fail(in, "pack %zu (%s): %s", ip->index + 1, ip->shown, text ?: why ?: strerror(-r));
        return r;
}

static int pack_add(struct install *in, size_t index, const char *shown, const char *path) {
        struct install_pack *n = reallocarray(in->packs, in->n_packs + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        in->packs = n;
        n[in->n_packs] = (struct install_pack) {.index = index, .shown = strdup(shown), .path = strdup(path)};
        if (!n[in->n_packs].shown || !n[in->n_packs].path) {
                free(n[in->n_packs].shown);
                free(n[in->n_packs].path);
                return -ENOMEM;
        }
        in->n_packs++;
        return 0;
}

static int pack_open_last(struct install *in) {
        struct install_pack *ip = &in->packs[in->n_packs - 1];
        _cleanup_free_ char *why = NULL;
        int r = pack_open(ip->path, &ip->pack, &why);
        if (r < 0)
                return pack_fail(in, ip, why, r);
        log_info("Pack %zu: %s fetched", ip->index + 1, ip->shown);
        return 0;
}

static int pack_entry_filter(const struct dirent *de) {
        return de->d_name[0] != '.';
}

/* An ISO, or a directory (with pack.xml, as pack_open() checks). */
static bool is_pack_candidate(const char *path) {
        struct stat st;
        size_t n = strlen(path);
        if (stat(path, &st) < 0)
                return false;
        return S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && n > 4 && strcasecmp(path + n - 4, ".iso") == 0);
}

/* <pack type="local">: every pack the install media carry in packs/ (an
 * ISO, or a directory with pack.xml), in name order, as XenServer installs
 * every driver repository it finds on its install media for a local
 * <driver-source>. Media without packs/ fail: the answer file asked for
 * packs that are not there. */
static int fetch_local_packs(struct install *in, const struct plan_pack *pp) {
        _cleanup_free_ char *dir = NULL;
        struct dirent **list = NULL;
        const char *name = in->cfg->packs[pp->index].address;
        int n, r = 0, found = 0;
        if (!in->env->media_root)
                return fail(in, "pack %zu (local%s%s): there are no install media to take packs from", pp->index + 1,
                            name ? " " : "", name ?: ""),
                       -ENOENT;
        if (asprintf(&dir, "%s/%s", in->env->media_root, PLAN_PACKS_MEDIA_DIR) < 0)
                return -ENOMEM;
        /* <pack type="local">NAME</pack>: that one pack of packs/. */
        if (name) {
                _cleanup_free_ char *path = NULL, *shown = NULL;
                if (asprintf(&path, "%s/%s", dir, name) < 0 ||
                    asprintf(&shown, "install media %s/%s", PLAN_PACKS_MEDIA_DIR, name) < 0)
                        return -ENOMEM;
                if (access(path, F_OK) < 0)
                        return fail(in, "pack %zu (local %s): the install media carry no pack %s", pp->index + 1, name,
                                    name),
                               -ENOENT;
                if (!is_pack_candidate(path))
                        return fail(in, "pack %zu (local %s): the install media carry no pack %s (an ISO or a directory)",
                                    pp->index + 1, name, name),
                               -ENOENT;
                if ((r = pack_add(in, pp->index, shown, path)) < 0)
                        return r;
                return pack_open_last(in);
        }
        n = scandir(dir, &list, pack_entry_filter, alphasort);
        if (n < 0)
                return r = negative_errno(),
                       fail(in, "pack %zu (local): the install media carry no packs (%s: %s)", pp->index + 1, dir,
                            strerror(-r)), r;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *shown = NULL;
                if (r >= 0 && (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0 ||
                               asprintf(&shown, "install media %s/%s", PLAN_PACKS_MEDIA_DIR, list[i]->d_name) < 0))
                        r = -ENOMEM;
                if (r >= 0 && is_pack_candidate(path) && (r = pack_add(in, pp->index, shown, path)) >= 0) {
                        r = pack_open_last(in);
                        found++;
                }
                free(list[i]);
        }
        free(list);
        if (r >= 0 && found == 0)
                return fail(in, "pack %zu (local): the install media carry no packs (no ISO or directory in %s)",
                            pp->index + 1, dir), -ENOENT;
        return r;
}

/* url and nfs packs. http and https are downloaded into the work directory
 * (then copied into the pack's own working directory and the download
 * dropped), file:// is opened where it is, nfs is mounted read-only for as
 * long as it takes to copy it. */
static int fetch_remote_pack(struct install *in, const struct plan_pack *pp) {
        const char *address = in->cfg->packs[pp->index].address;
        _cleanup_free_ char *path = NULL, *mnt = NULL, *src = NULL, *why = NULL;
        bool download = false;
        int r;

        if (pp->type == LOCATION_NFS) {
                /* server:/export/dir/pack.iso: the directory holding it is
                 * mounted, so that the pack may be an ISO or a directory. */
                const char *colon = strchr(address, ':'), *slash = strrchr(address, '/');
                if (!colon || !slash || slash < colon)
                        return fail(in, "pack %zu (%s): not an NFS location (server:/path)", pp->index + 1,
                                    pp->location), -EINVAL;
                if (asprintf(&src, "%.*s", slash == colon + 1 ? (int) (slash - address + 1) : (int) (slash - address),
                             address) < 0 ||
                    asprintf(&mnt, "%s/pack-nfs-%zu", in->work, pp->index + 1) < 0 ||
                    asprintf(&path, "%s/%s", mnt, slash + 1) < 0)
                        return -ENOMEM;
                if ((r = mount_at(in, "mounting the pack's NFS export", src, mnt, "nfs", "ro,nolock")) < 0)
                        return r;
        } else if (startswith(address, "file://")) {
                const char *p = address + strlen("file://");
                p = startswith(p, "localhost") ?: p;
                if (p[0] != '/')
                        return fail(in, "pack %zu (%s): file:// needs an absolute path", pp->index + 1, pp->location),
                               -EINVAL;
                if (!(path = strdup(p)))
                        return -ENOMEM;
        } else if (strncasecmp(address, "http://", 7) == 0 || strncasecmp(address, "https://", 8) == 0) {
                if (asprintf(&path, "%s/pack-%zu.download", in->work, pp->index + 1) < 0)
                        return -ENOMEM;
                r = download_file(address, path, PACK_FETCH_SIZE_MAX, NULL, NULL, NULL, NULL, &why);
                if (r < 0) {
                        (void) unlink(path);
                        return fail(in, "pack %zu (%s): %s", pp->index + 1, pp->location, why ?: strerror(-r)), r;
                }
                download = true;
        } else
                return fail(in, "pack %zu (%s): packs are fetched over http, https, nfs or file://", pp->index + 1,
                            pp->location), -EPROTONOSUPPORT;

        r = pack_add(in, pp->index, pp->location, path);
        if (r >= 0)
                r = pack_open_last(in);
        if (download)
                (void) unlink(path);
        if (mnt && in->n_mounts > 0 && streq(in->mounts[in->n_mounts - 1], mnt)) {
                if (umount2(mnt, 0) < 0)
                        (void) umount2(mnt, MNT_DETACH);
                free(in->mounts[--in->n_mounts]);
                (void) rmdir(mnt);
        }
        return r;
}

/* Every pack of the answer file fetched and opened before the first write:
 * a pack that cannot be had stops the install here. */
static int fetch_packs(struct install *in) {
        const struct install_plan *p = in->plan;
        for (size_t i = 0; i < p->n_packs; i++) {
                int r = p->packs[i].type == LOCATION_LOCAL ? fetch_local_packs(in, &p->packs[i])
                                                           : fetch_remote_pack(in, &p->packs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Verifies every pack, in install order, against a scratch root that
 * stands for the host being installed: its inventory as the plan writes it
 * (the product version "xenhost >= ..." requirements are tested against),
 * and the records of the packs before it, so that "pack:A" requirements and
 * conflicts between packs of one answer file are found now, not half-way
 * through writing the disk. The keyring is the one the image verified with,
 * which the host keeps: as on the running host, with a keyring a pack must
 * be signed by it; without one (media that carry no keyring) packs are
 * accepted unsigned, as xenhost-pack accepts them on such a host. */
static int verify_packs_in(struct install *in, const char *root) {
        const struct plan_file *inv = install_plan_file(in->plan, "/etc/xenhost/inventory");
        _cleanup_free_ char *records = NULL, *etc = NULL, *inv_path = NULL;
        int r;

        if (asprintf(&records, "%s%s", root, PACK_RECORD_DIR) < 0 || asprintf(&etc, "%s/etc/xenhost", root) < 0 ||
            asprintf(&inv_path, "%s/inventory", etc) < 0)
                return -ENOMEM;
        if ((r = mkdir_all(records, 0755)) < 0 || (r = mkdir_all(etc, 0755)) < 0 ||
            (inv && inv->content && (r = write_file_atomic(inv_path, inv->content, strlen(inv->content), 0644)) < 0))
                return fail(in, "cannot prepare %s for checking the packs: %s", root, strerror(-r)), r;

        for (size_t i = 0; i < in->n_packs; i++) {
                struct install_pack *ip = &in->packs[i];
                _cleanup_free_ char *why = NULL, *json = NULL, *record = NULL;
                /* Same name at another version is looked at below, with
                 * words for an answer file rather than for a running host. */
                r = pack_verify(ip->pack, root, in->keyring, PACK_VERIFY_UPGRADE, &why);
                if (r < 0)
                        return pack_fail(in, ip, why, r);
                const struct pack_info *info = pack_get_info(ip->pack);
                const char *b = info->build ?: "";
                if (pack_is_installed(ip->pack)) {
                        _cleanup_free_ char *line = NULL;
                        ip->duplicate = true;
                        if (asprintf(&line, "pack %zu (%s) is %s %s%s%s again: it is installed once", ip->index + 1,
                                     ip->shown, info->name, info->version, *b ? " build " : "", b) < 0)
                                return -ENOMEM;
                        log_info("warning: %s", line);
                        if (in->fe && in->fe->warning)
                                in->fe->warning(line, in->fe->userdata);
                        continue;
                }
                for (size_t k = 0; k < i; k++) {
                        const struct install_pack *o = &in->packs[k];
                        const struct pack_info *oi = pack_get_info(o->pack);
                        if (o->duplicate || !streq(oi->name, info->name))
                                continue;
                        _cleanup_free_ char *text = NULL;
                        if (asprintf(&text, "conflict: pack %zu (%s) is %s %s%s%s, this one is %s %s%s%s: a host "
                                            "has one version of a pack", o->index + 1, o->shown, oi->name, oi->version,
                                     oi->build ? " build " : "", oi->build ?: "", info->name, info->version,
                                     *b ? " build " : "", b) < 0)
                                return -ENOMEM;
                        return pack_fail(in, ip, text, -EEXIST);
                }
                /* What the next packs are checked against: this one, as
                 * pack_install() will record it on the host. */
                if (!(json = pack_info_to_json(info)) || asprintf(&record, "%s/%s.json", records, info->name) < 0)
                        return -ENOMEM;
                if ((r = write_file_atomic(record, json, strlen(json), 0644)) < 0)
                        return fail(in, "cannot write %s: %s", record, strerror(-r)), r;
                log_info("Pack %zu: %s %s%s%s by %s from %s verifies (%s)", ip->index + 1, info->name, info->version,
                         *b ? " build " : "", b, info->originator ?: "?", ip->shown,
                         pack_is_signature_checked(ip->pack) ? "signature good" : "no keyring: signature not checked");
        }
        return 0;
}

static int verify_packs(struct install *in) {
        _cleanup_free_ char *root = NULL;
        int r;
        if (in->n_packs == 0)
                return 0;
        if (asprintf(&root, "%s/packs-check", in->work) < 0)
                return -ENOMEM;
        (void) spawn_run((const char *[]) {"rm", "-rf", "--", root, NULL}, NULL);
        r = verify_packs_in(in, root);
        (void) spawn_run((const char *[]) {"rm", "-rf", "--", root, NULL}, NULL);
        return r;
}

static int step_checks(struct install *in) {
        int r = step_begin(in, INSTALL_STEP_CHECKS);
        if (r < 0)
                return r;
        in->disk_node = realpath(in->plan->disk, NULL);
        if (!in->disk_node)
                return fail(in, "the primary disk %s is gone: %s", in->plan->disk, strerror(errno)), -ENODEV;
        if ((r = fetch_scripts(in)) < 0 || (r = run_scripts(in, SCRIPT_STAGE_INSTALLATION_START, NULL)) < 0)
                return r;
        /* After installation-start, which may make a pack's server reachable. */
        return fetch_packs(in);
}

/* ---- step 2: the image -------------------------------------------------------- */

int install_keyring(const struct install_env *env, char **ret) {
        _cleanup_free_ char *k = NULL;
        if (env->keyring)
                return (*ret = strdup(env->keyring)) ? 0 : -ENOMEM;
        if (env->media_root) {
                if (asprintf(&k, "%s/%s", env->media_root, INSTALL_MEDIA_KEYRING) < 0)
                        return -ENOMEM;
                if (access(k, F_OK) < 0)
                        k = mfree(k);
        }
        /* A network install (PXE) has no media: the installer's own. */
        if (!k && install_in_installer_environment() && access(INSTALL_BUILTIN_KEYRING, F_OK) == 0 &&
            !(k = strdup(INSTALL_BUILTIN_KEYRING)))
                return -ENOMEM;
        *ret = TAKE_PTR(k);
        return 0;
}

/* A public keyring is a few KiB; a few hundred keys stay under this. */
#define KEYRING_SIZE_MAX (1024 * 1024)

static int read_keyring(struct install *in) {
        int r = read_full_file_bounded(in->keyring, KEYRING_SIZE_MAX, &in->keyring_data, &in->keyring_len);
        if (r == -EBADFD || r == -EISDIR || r == -EFBIG)
                return fail(in, "keyring %s is not a regular file of at most 1 MiB", in->keyring), -EBADMSG;
        if (r < 0)
                return fail(in, "cannot read keyring %s: %s", in->keyring, strerror(-r)), r;
        return 0;
}

static void download_progress(uint64_t done, uint64_t total, void *userdata) {
        report(userdata, done, total);
}

/* The installer keeps this much memory beside a downloaded host image. */
#define DOWNLOAD_MEMORY_RESERVE (128 * MiB)

/* A network source's image, with retries and resume, into a tmpfs of its
 * own in the work directory (there is no disk to hold it before the first
 * write: the machine's memory must), sized for it after the memory was
 * checked; checked against the manifest (size, SHA-256, signature) right
 * after, and the tmpfs unmounted at the end of the install. */
static int download_image(struct install *in) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *dir = NULL, *path = NULL, *why = NULL, *shown = NULL;
        char sha[65] = "";
        uint64_t size = 0;
        int r;

        if (asprintf(&dir, "%s/image", in->work) < 0 || asprintf(&path, "%s/xenhost-%s.img", dir, p->image.version) < 0 ||
            url_redact(p->image.image, &shown) < 0)
                return -ENOMEM;
        r = download_stage_mount(dir, p->image.image_size, DOWNLOAD_MEMORY_RESERVE, "host image",
                                 "the machine needs more memory to install from the network", &why);
        if (r < 0)
                return fail(in, "%s", why ?: strerror(-r)), r;
        in->stage = TAKE_PTR(dir);
        log_info("Downloading the host image %s (%" PRIu64 " bytes)", shown, p->image.image_size);
        in->image = TAKE_PTR(path);
        r = download_file(p->image.image, in->image, p->image.image_size, download_progress, in, sha, &size, &why);
        if (r < 0)
                return fail(in, "cannot download the host image: %s", why ?: strerror(-r)), r;
        log_info("Downloaded %" PRIu64 " bytes, SHA-256 %s", size, sha);
        return 0;
}

static int step_verify(struct install *in) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *why = NULL;
        int r = step_begin(in, INSTALL_STEP_VERIFY);
        if (r < 0)
                return r;
        if ((r = install_keyring(in->env, &in->keyring)) < 0)
                return r;
        if (p->image.source_url) {
                /* The manifest's signature first: nothing is downloaded on
                 * the word of a manifest that does not verify. */
                _cleanup_(manifest_done) struct manifest pre = {};
                r = manifest_load(p->image.manifest, in->keyring,
                                  in->env->insecure_unsigned ? MANIFEST_ALLOW_UNSIGNED : 0, &pre, &why);
                if (r < 0)
                        return fail(in, "%s", why ?: "the network source's manifest does not verify"), r;
                if ((r = download_image(in)) < 0)
                        return r;
        } else if (!(in->image = strdup(p->image.image)))
                return -ENOMEM;
        r = image_verify_flags(in->image, p->image.manifest, in->keyring,
                               in->env->insecure_unsigned ? MANIFEST_ALLOW_UNSIGNED : 0, &in->m, &why);
        if (r < 0)
                return fail(in, "%s", why ?: "the host image does not verify"), r;
        if (r == MANIFEST_UNSIGNED_ALLOWED) {
                _cleanup_free_ char *line = NULL;
                if (asprintf(&line, "the host image's manifest %s is not signed and a keyring (%s) is configured: "
                                    "installing it because of --insecure-unsigned", p->image.manifest, in->keyring) < 0)
                        return -ENOMEM;
                log_info("warning: %s", line);
                if (in->fe && in->fe->warning)
                        in->fe->warning(line, in->fe->userdata);
        } else if (in->keyring)
                log_info("The manifest's signature verifies with the keyring %s", in->keyring);
        /* The host keeps the keyring: its upgrades then require signatures. */
        if (in->keyring && (r = read_keyring(in)) < 0)
                return r;
        /* The media must still hold the image the plan was made for. */
        if (!streq_ptr(in->m.version, p->image.version) || !streq_ptr(in->m.build, p->image.build))
                return fail(in, "the host image changed since the plan was made"), -ESTALE;
        log_info("Host image: xenhost %s build %s (%s), SHA-256 %s", in->m.version, in->m.build,
                 image_format_to_string(in->m.image_format), in->m.image_sha256);
        return verify_packs(in);
}

/* ---- step 3: disks -------------------------------------------------------------- */

/* A guest disk joins the SR whole: its PV extends the SR's volume group,
 * and an ext SR's one volume grows over it. */
static int add_guest_disk(struct install *in, const struct plan_disk *d, const char *vg) {
        int r;
        log_info("Adding %s to the SR %s", d->path, vg);
        if ((r = run(in, "erasing a guest disk", (const char *[]) {"wipefs", "-a", "-q", d->path, NULL})) < 0 ||
            (r = run(in, "making a guest disk a PV", (const char *[]) {"pvcreate", "-ff", "-y", d->path, NULL})) < 0 ||
            (r = run(in, "adding a guest disk to the SR", (const char *[]) {"vgextend", "-y", vg, d->path, NULL})) < 0)
                return r;
        if (in->plan->sr_type != SR_EXT)
                return 0;
        _cleanup_free_ char *lv = NULL;
        if (asprintf(&lv, "/dev/%s/XSLocalEXT-%s", vg, in->plan->sr_uuid) < 0)
                return -ENOMEM;
        if ((r = run(in, "activating the SR", (const char *[]) {"vgchange", "-ay", vg, NULL})) < 0 ||
            (r = run(in, "growing the ext SR", (const char *[]) {"lvextend", "-l", "+100%FREE", lv, NULL})) < 0 ||
            (r = run(in, "growing the ext SR's file system", (const char *[]) {"resize2fs", lv, NULL})) < 0)
                return r;
        return run(in, "deactivating the SR", (const char *[]) {"vgchange", "-an", vg, NULL});
}

static int step_partition(struct install *in) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *why = NULL;
        struct apply_options o = {.wipe = true, .keep_sr = p->keep_sr, .sr_type = p->sr_type,
                                  .sr_uuid = p->keep_sr ? NULL : p->sr_uuid,
                                  .fill_later = 1u << PART_DOM0_A};
        struct apply_result res;
        int r = step_begin(in, INSTALL_STEP_PARTITION);
        if (r < 0)
                return r;
        r = disk_plan_apply(p->disk, &p->layout, &o, &res, &why);
        if (r < 0)
                return fail(in, "%s", why ?: strerror(-r)), r;
        if (!res.sr_complete)
                return fail(in, "the SR could not be completed (device-mapper missing)"), -EOPNOTSUPP;
        if (p->keep_sr && !streq(res.sr_uuid, p->sr_uuid))
                return fail(in, "the kept SR is %s, the plan expected %s", res.sr_uuid, p->sr_uuid), -ESTALE;
        log_info("SR: %s (%s, %s)", res.sr_vg, sr_type_to_string(p->sr_type), res.sr_kept ? "kept" : "new");
        for (size_t i = 0; i < p->n_disks; i++)
                if (p->disks[i].role == PLAN_DISK_GUEST && (r = add_guest_disk(in, &p->disks[i], res.sr_vg)) < 0)
                        return r;
        (void) spawn_run((const char *[]) {"udevadm", "settle", "--timeout=10", NULL}, NULL);
        return 0;
}

static int part_path(struct install *in, enum part_role role, char **ret) {
        return partition_node_name(in->disk_node, part_specs[role].number, ret);
}

/* ---- step 4: the slot -------------------------------------------------------------- */

static void slot_progress(uint64_t done, uint64_t total, void *userdata) {
        report(userdata, done, total);
}

static int step_slot(struct install *in) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *slot = NULL, *logs = NULL, *logs_tmp = NULL, *varlog = NULL, *src = NULL, *why = NULL;
        char uuid[37];
        int r = step_begin(in, INSTALL_STEP_SLOT);
        if (r < 0)
                return r;
        if ((r = part_path(in, PART_DOM0_A, &slot)) < 0)
                return r;
        /* The plan decided the slot's UUID: grub.cfg searches for it. */
        struct slot_write_options o = {.label = p->slot_label, .fs_uuid = p->slot_fs_uuid, .progress = slot_progress,
                                       .userdata = in};
        r = slot_write_image(in->image, &in->m, slot, &o, uuid, &why);
        if (r < 0)
                return fail(in, "%s", why ?: strerror(-r)), r;
        /* A downloaded image has done its work: its memory goes back to
         * the steps that follow (packs, scripts). */
        if (in->stage) {
                download_stage_unmount(in->stage);
                in->stage = mfree(in->stage);
        }
        if (!streq(uuid, p->slot_fs_uuid))
                return fail(in, "the slot's file system UUID is %s, not %s", uuid, p->slot_fs_uuid), -EIO;

        if (asprintf(&in->target, "%s/target", in->work) < 0 || asprintf(&varlog, "%s/var/log", in->target) < 0)
                return -ENOMEM;
        if ((r = mount_at(in, "mounting the slot", slot, in->target, "ext4", NULL)) < 0)
                return r;
        /* /var/log lives on its own partition in the standard layout: what
         * the image has there moves onto it. */
        if (p->layout.layout == LAYOUT_STANDARD) {
                if ((r = part_path(in, PART_LOGS, &logs)) < 0 || asprintf(&logs_tmp, "%s/logs", in->work) < 0 ||
                    asprintf(&src, "%s/.", varlog) < 0)
                        return r < 0 ? r : -ENOMEM;
                if ((r = mount_at(in, "mounting the logs partition", logs, logs_tmp, "ext4", NULL)) < 0 ||
                    (r = run(in, "moving the image's /var/log onto the logs partition",
                             (const char *[]) {"cp", "-a", src, logs_tmp, NULL})) < 0)
                        return r;
                if (umount2(logs_tmp, 0) < 0)
                        return fail(in, "cannot unmount %s: %s", logs_tmp, strerror(errno)), -errno;
                free(in->mounts[--in->n_mounts]);
                if ((r = mount_at(in, "mounting the logs partition", logs, varlog, "ext4", NULL)) < 0)
                        return r;
        }
        return 0;
}

/* ---- step 5: configuration ------------------------------------------------------------ */

static int target_path(struct install *in, const char *rel, char **ret) {
        return asprintf(ret, "%s%s", in->target, rel) < 0 ? -ENOMEM : 0;
}

static int write_target(struct install *in, const struct plan_file *f) {
        _cleanup_free_ char *p = NULL, *dir = NULL;
        const char *fail_at = getenv("XENHOST_TEST_FAIL_WRITE");
        int r;

        in->n_writes++;
        if (fail_at && strtoul(fail_at, NULL, 10) == in->n_writes)
                return fail(in, "cannot write %s: failure injected by XENHOST_TEST_FAIL_WRITE", f->path), -EIO;
        if ((r = target_path(in, f->path, &p)) < 0 || !(dir = strdup(p)))
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        if ((r = mkdir_all(dir, 0755)) < 0)
                return fail(in, "cannot create the directory of %s: %s", f->path, strerror(-r)), r;
        switch (f->kind) {
        case PLAN_FILE_REGULAR:
                r = write_file_atomic(p, f->content, strlen(f->content), f->mode);
                break;
        case PLAN_FILE_SYMLINK:
                r = (unlink(p) < 0 && errno != ENOENT) || symlink(f->content, p) < 0 ? negative_errno() : 0;
                break;
        case PLAN_FILE_REMOVE:
                r = unlink(p) < 0 && errno != ENOENT ? negative_errno() : 0;
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return fail(in, "cannot write %s: %s", f->path, strerror(-r)), r;
        return 0;
}

/* root's password: hashed here with yescrypt when given in clear (it never
 * appears on a command line), then set through the slot's own chpasswd,
 * which locks and rewrites /etc/shadow as the system does (ownership, mode
 * and group kept). */
static int set_root_password(struct install *in) {
        const struct install_config *cfg = in->cfg;
        _cleanup_free_ char *line = NULL, *salt = NULL;
        void *data = NULL;
        int size = 0, r;
        const char *hash = cfg->root_password;

        if (cfg->root_password_type == ROOT_PASSWORD_PLAINTEXT) {
                salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
                hash = salt ? crypt_ra(cfg->root_password, salt, &data, &size) : NULL;
                if (!hash || hash[0] == '*') {
                        free(data);
                        return fail(in, "cannot hash the root password"), -EINVAL;
                }
        }
        r = asprintf(&line, "root:%s\n", hash) < 0 ? -ENOMEM : 0;
        if (data) {
                explicit_bzero(data, (size_t) size);
                free(data);
        }
        if (r < 0)
                return r;
        r = spawn_run_stdin((const char *[]) {"chroot", in->target, "chpasswd", "-e", NULL}, line, strlen(line), NULL);
        explicit_bzero(line, strlen(line));
        if (r < 0)
                return fail(in, "cannot set root's password: %s", spawn_last_error()), r;
        return 0;
}

static int step_configure(struct install *in) {
        const struct install_plan *p = in->plan;
        int r = step_begin(in, INSTALL_STEP_CONFIGURE);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_files; i++) {
                const struct plan_file *f = &p->files[i];
                if (streq(f->path, "/etc/shadow")) {
                        in->n_writes++;
                        if ((r = set_root_password(in)) < 0)
                                return r;
                        continue;
                }
                if (!f->content && f->kind != PLAN_FILE_REMOVE)
                        continue; /* made by a later step (boot, log) */
                if (startswith(f->path, "/boot/efi/"))
                        continue; /* the boot step writes the ESP */
                if ((r = write_target(in, f)) < 0)
                        return r;
        }
        for (size_t i = 0; i < p->n_commands; i++) {
                char **argv = p->commands[i].argv;
                size_t n = 0;
                while (argv[n])
                        n++;
                _cleanup_free_ const char **full = calloc(n + 3, sizeof(char *));
                if (!full)
                        return -ENOMEM;
                full[0] = "chroot";
                full[1] = in->target;
                for (size_t k = 0; k < n; k++)
                        full[k + 2] = argv[k];
                if ((r = run(in, p->commands[i].why, full)) < 0)
                        return r;
        }
        _cleanup_free_ char *efi = NULL;
        if ((r = target_path(in, "/boot/efi", &efi)) < 0 || (r = mkdir_all(efi, 0755)) < 0)
                return fail(in, "cannot create /boot/efi: %s", strerror(-r)), r;
        /* The keyring the image was verified with: from now on the host's
         * upgrades and packs require a signature by it (DESIGN.md section 3). */
        if (in->keyring_data) {
                _cleanup_free_ char *dir = NULL, *k = NULL;
                if ((r = target_path(in, "/etc/xenhost", &dir)) < 0 ||
                    (r = target_path(in, "/etc/xenhost/keyring.gpg", &k)) < 0)
                        return r;
                if ((r = mkdir_all(dir, 0755)) < 0 ||
                    (r = write_file_atomic(k, in->keyring_data, in->keyring_len, 0644)) < 0)
                        return fail(in, "cannot write /etc/xenhost/keyring.gpg: %s", strerror(-r)), r;
                (void) chmod(k, 0644); /* whatever the umask */
                log_info("The host keeps the keyring %s as /etc/xenhost/keyring.gpg", in->keyring);
        }
        return 0;
}

/* ---- step 6: supplemental packs --------------------------------------------------------- */

/* The packs go into the slot once it is configured, in answer-file order
 * (a pack requiring another of the same answer file comes after it): their
 * RPMs' scriptlets then run in the host as it will boot (its inventory,
 * host name and keyring in place), pack_install() checks them once more
 * against that very root, exactly as xenhost-pack on the running host does,
 * and records them in /var/lib/xenhost/packs with a kept copy, which is how
 * the host and its upgrades know them. The filesystem-populated scripts run
 * after this step and see the packs' files, as with XenServer, where they
 * run once every package is in place. A pack that fails here fails the
 * install: its files are taken out again by pack_install(), but the slot is
 * written, so the host is not made bootable (the boot loader step does not
 * run). */
static int step_packs(struct install *in) {
        unsigned installed = 0;
        int r = step_begin(in, INSTALL_STEP_PACKS);
        if (r < 0)
                return r;
        for (size_t i = 0; i < in->n_packs; i++) {
                struct install_pack *ip = &in->packs[i];
                _cleanup_free_ char *why = NULL;
                enum pack_install_result res;
                if (ip->duplicate)
                        continue;
                r = pack_install(ip->pack, in->target, in->keyring, 0, NULL, NULL, &res, &why);
                if (r < 0)
                        return pack_fail(in, ip, why, r);
                const struct pack_info *info = pack_get_info(ip->pack);
                log_info("Pack %zu: %s %s from %s installed into slot %c (%zu RPM%s)", ip->index + 1, info->name,
                         info->version, ip->shown, in->plan->slot, info->n_packages, info->n_packages == 1 ? "" : "s");
                installed++;
        }
        if (in->n_packs == 0)
                log_info("No supplemental packs to install");
        else
                log_info("%u supplemental pack%s installed and recorded in %s", installed, installed == 1 ? "" : "s",
                         PACK_RECORD_DIR);
        return 0;
}

/* ---- step 7: boot --------------------------------------------------------------------- */

static int step_bootloader(struct install *in) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *esp_dev = NULL, *why = NULL;
        const char *files[] = {p->xen_file, p->kernel_file, p->initrd_file};
        int r = step_begin(in, INSTALL_STEP_BOOTLOADER);
        if (r < 0)
                return r;
        /* The entry loads what the image really has. */
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *b = NULL;
                if (asprintf(&b, "%s/boot/%s", in->target, files[i]) < 0)
                        return -ENOMEM;
                if (access(b, R_OK) < 0)
                        return fail(in, "the host image lacks /boot/%s", files[i]), -ENOENT;
        }
        if ((r = part_path(in, PART_ESP, &esp_dev)) < 0 || (r = target_path(in, "/boot/efi", &in->esp)) < 0)
                return r;
        if ((r = mount_at(in, "mounting the ESP", esp_dev, in->esp, "vfat", NULL)) < 0)
                return r;
        if ((r = boot_loader_install(in->target, in->disk_node, &why)) < 0 ||
            (r = boot_config_write(in->esp, &p->boot, &p->boot_slot, 1, &why)) < 0 ||
            (r = boot_set_default(in->esp, p->slot, 0, &why)) < 0)
                return fail(in, "%s", why ?: strerror(-r)), r;
        if (p->efi_entry && (r = boot_efi_register(in->disk_node, p->esp_partnum, "xenhost",
                                                   "\\EFI\\xenhost\\grubx64.efi", &why)) < 0)
                return fail(in, "%s", why ?: strerror(-r)), r;
        return 0;
}

/* ---- step 8: finish --------------------------------------------------------------------- */

static int step_finish(struct install *in) {
        _cleanup_free_ char *dir = NULL, *dst = NULL;
        int r = step_begin(in, INSTALL_STEP_FINISH);
        if (r < 0)
                return r;
        if (in->env->log_path) {
                if (asprintf(&dir, "%s/var/log/xenhost-installer", in->target) < 0 ||
                    asprintf(&dst, "%s/install.log", dir) < 0)
                        return -ENOMEM;
                (void) mkdir(dir, 0750);
                log_info("Install finished; the log is kept on the host as /var/log/xenhost-installer/install.log");
                (void) run(in, "copying the install log", (const char *[]) {"cp", in->env->log_path, dst, NULL});
        }
        unmount_all(in);
        sync();
        return 0;
}

/* ---- upgrade and restore: through the upgrade module ---------------------------- */

/* The upgrade's steps as the front end sees them: titles and rough shares
 * of the time (measured under QEMU: the image's checksum and the slot are
 * most of it). The last entry is the restore's one step. */
#define OFFLINE_STEP_RESTORE _UPGRADE_STEP_MAX
static const unsigned offline_weight[_UPGRADE_STEP_MAX] = {25, 2, 55, 8, 1, 6, 3};

struct offline {
        const struct install_plan *plan;
        const struct install_frontend *fe;
        unsigned step;          /* enum upgrade_step, or OFFLINE_STEP_RESTORE */
        char title[96];
        unsigned last_percent;
};

static void offline_report(struct offline *o, uint64_t done, uint64_t total) {
        const bool restore = o->step == OFFLINE_STEP_RESTORE;
        unsigned before = 0, all = 0, percent;
        for (unsigned i = 0; i < _UPGRADE_STEP_MAX; i++) {
                all += offline_weight[i];
                if (i < o->step)
                        before += offline_weight[i];
        }
        percent = restore ? (total && done >= total ? 100 : 0)
                          : (unsigned) ((before + (total ? offline_weight[o->step] * done / total : 0)) * 100 / all);
        struct install_progress p = {
                .step = INSTALL_STEP_CHECKS, .percent = percent, .done = done, .total = total,
                .index = restore ? 1 : o->step + 1, .n_steps = restore ? 1 : _UPGRADE_STEP_MAX,
                .name = restore ? "restore" : upgrade_step_to_string(o->step), .title = o->title,
        };
        if (o->fe && o->fe->progress)
                o->fe->progress(&p, o->fe->userdata);
}

static void offline_on_step(enum upgrade_step s, void *userdata) {
        struct offline *o = userdata;
        const struct install_plan *p = o->plan;
        o->step = s;
        switch (s) {
        case UPGRADE_STEP_VERIFY:
                snprintf(o->title, sizeof o->title, "Verifying the host image %s", p->image.version ?: "");
                break;
        case UPGRADE_STEP_PREPARE:
                snprintf(o->title, sizeof o->title, "Marking slot %c as being written", p->slot);
                break;
        case UPGRADE_STEP_WRITE_SLOT:
                snprintf(o->title, sizeof o->title, "Writing the host image into slot %c", p->slot);
                break;
        case UPGRADE_STEP_CARRY_OVER:
                snprintf(o->title, sizeof o->title, "Carrying the configuration over from slot %c", p->default_slot);
                break;
        case UPGRADE_STEP_PACKS:
                snprintf(o->title, sizeof o->title, "Supplemental packs");
                break;
        case UPGRADE_STEP_BOOT_ENTRY:
                snprintf(o->title, sizeof o->title, "Writing the boot entries of both slots");
                break;
        default:
                snprintf(o->title, sizeof o->title, "Making slot %c the next boot, tried %u times", p->slot, p->tries);
        }
        log_info("Upgrade step %u/%u: %s", (unsigned) s + 1, _UPGRADE_STEP_MAX, upgrade_step_to_string(s));
        offline_report(o, 0, 0);
}

static void offline_on_progress(enum upgrade_step s, uint64_t done, uint64_t total, void *userdata) {
        struct offline *o = userdata;
        o->step = s;
        offline_report(o, done, total);
}

static void offline_on_warning(const char *line, void *userdata) {
        struct offline *o = userdata;
        log_info("warning: %s", line);
        if (o->fe && o->fe->warning)
                o->fe->warning(line, o->fe->userdata);
}

static void offline_on_note(const char *line, void *userdata) {
        struct offline *o = userdata;
        log_info("%s", line);
        if (o->fe && o->fe->warning)
                o->fe->warning(line, o->fe->userdata);
}

/* Mounts the installed host as the upgrader finds a running one: the ESP
 * (read-write: grubenv, grub.cfg and the upgrade state live there) and the
 * default slot, read-only, as the running root. Checks that the boot state
 * is still the one planned for. */
static int offline_mount(struct install *in, char **ret_root, char **ret_esp) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *esp_dev = NULL, *slot_dev = NULL, *root = NULL, *esp = NULL;
        struct boot_state st;
        int r;
        enum part_role role = p->default_slot == 'a' ? PART_DOM0_A : PART_DOM0_B;
        if ((r = part_path(in, PART_ESP, &esp_dev)) < 0 || (r = part_path(in, role, &slot_dev)) < 0 ||
            asprintf(&root, "%s/running", in->work) < 0 || asprintf(&esp, "%s/esp", in->work) < 0)
                return r < 0 ? r : -ENOMEM;
        if ((r = mount_at(in, "mounting the ESP", esp_dev, esp, "vfat", NULL)) < 0 ||
            (r = mount_at(in, "mounting the default slot read-only", slot_dev, root, "ext4", "ro")) < 0)
                return r;
        r = boot_state_read(esp, &st);
        if (r < 0)
                return fail(in, "cannot read the boot state on %s: %s", esp_dev, strerror(-r)), r;
        /* Planned with a try pending: only a restore that ends it. */
        char planned_try = p->mode == INSTALL_MODE_RESTORE && p->slot == p->default_slot ? (p->default_slot == 'a' ? 'b' : 'a') : 0;
        if (st.default_slot != p->default_slot || st.try_slot != planned_try)
                return fail(in, "the boot state of %s changed since the plan was made: plan again", p->disk),
                       -ESTALE;
        *ret_root = TAKE_PTR(root);
        *ret_esp = TAKE_PTR(esp);
        return 0;
}

static int offline_apply(struct install *in) {
        const struct install_plan *p = in->plan;
        _cleanup_free_ char *root = NULL, *esp = NULL, *work = NULL, *why = NULL;
        struct offline o = {.plan = p, .fe = in->fe};
        int r;

        in->disk_node = realpath(p->disk, NULL);
        if (!in->disk_node)
                return fail(in, "the disk %s is gone: %s", p->disk, strerror(errno)), -ENODEV;
        if ((r = offline_mount(in, &root, &esp)) < 0)
                return r;
        if (asprintf(&work, "%s/upgrade", in->work) < 0)
                return -ENOMEM;
        struct upgrade_host h = {.root = root, .esp = esp, .disk = in->disk_node, .running_slot = p->default_slot,
                                 .work_dir = work};

        if (p->mode == INSTALL_MODE_RESTORE) {
                const char *fail_step = getenv("XENHOST_TEST_FAIL_STEP");
                char next = 0;
                o.step = OFFLINE_STEP_RESTORE;
                snprintf(o.title, sizeof o.title, "Making slot %c the next boot", p->slot);
                offline_report(&o, 0, 0);
                if (fail_step && streq(fail_step, "restore"))
                        return reason_set(in->reason, "step restore failed on purpose (XENHOST_TEST_FAIL_STEP)"), -EIO;
                r = upgrade_rollback(&h, &next, &why);
                if (r < 0)
                        return reason_set(in->reason, "restore: %s", why ?: strerror(-r)), r;
                if (next != p->slot)
                        return reason_set(in->reason, "restore: slot %c boots next, the plan said slot %c", next,
                                          p->slot), -ESTALE;
                log_info("Restore: slot %c (%s) boots next", next, p->slot_versions[next - 'a'] ?: "?");
                offline_report(&o, 1, 1);
                return 0;
        }

        const struct upgrade_callbacks cb = {.step = offline_on_step, .progress = offline_on_progress,
                                             .note = offline_on_note, .warning = offline_on_warning,
                                             .userdata = &o};
        /* The media's keyring (or --keyring) when there is one, else the
         * installed host's own. */
        _cleanup_free_ char *keyring = NULL;
        if ((r = install_keyring(in->env, &keyring)) < 0)
                return r;
        const struct upgrade_options opts = {.keyring = keyring, .insecure_unsigned = in->env->insecure_unsigned,
                                             .cb = &cb};
        _cleanup_(upgrade_result_done) struct upgrade_result res = {};
        /* A network source's manifest URL: the upgrader downloads. */
        r = upgrade_apply(&h, p->image.source_url ?: p->image.manifest, &opts, &res, &why);
        if (r < 0)
                return reason_set(in->reason, "step %s: %s", upgrade_step_to_string(o.step), why ?: strerror(-r)), r;
        if (res.noop)
                log_info("Upgrade: xenhost %s is there already: nothing was written", res.to_version ?: "?");
        else
                log_info("Upgrade: xenhost %s written into slot %c over %s's slot in %.1f s (slot write %.1f s); "
                         "it is tried at the next boot", res.to_version ?: "?", res.slot, res.from_version ?: "?",
                         res.seconds, res.write_seconds);
        o.step = UPGRADE_STEP_FLIP;
        offline_report(&o, 1, 1);
        return 0;
}

int install_plan_apply(const struct install_plan *plan, const struct install_config *cfg,
                       const struct install_env *env, const struct install_frontend *fe, enum install_step *ret_step,
                       char **ret_reason) {
        struct install in = {.plan = plan, .cfg = cfg, .env = env, .fe = fe, .reason = ret_reason};
        int r;

        if (plan->n_errors > 0)
                return reason_set(ret_reason, "the plan has errors: %s", plan->errors[0]), -EINVAL;
        if (asprintf(&in.work, "%s", env->work_dir ?: "/run/xenhost-install") < 0)
                return -ENOMEM;
        (void) mkdir_all(in.work, 0755);
        if (install_mode_keeps_host(plan->mode)) {
                r = offline_apply(&in);
                goto out;
        }
        /* Nothing is written before the checks and the image verification. */
        if ((r = step_checks(&in)) < 0 || (r = step_verify(&in)) < 0 || (r = step_partition(&in)) < 0 ||
            (r = step_slot(&in)) < 0 || (r = run_scripts(&in, SCRIPT_STAGE_PACKAGES_INSTALLED, in.target)) < 0 ||
            (r = step_configure(&in)) < 0 || (r = step_packs(&in)) < 0 ||
            (r = run_scripts(&in, SCRIPT_STAGE_FILESYSTEM_POPULATED, in.target)) < 0 ||
            (r = step_bootloader(&in)) < 0 || (r = step_finish(&in)) < 0)
                goto out;
        in.step = INSTALL_STEP_FINISH;
        report(&in, 1, 1);
out:
        /* installation-complete hears how it went; its own failure is only
         * reported, the install's outcome stands. */
        if (in.script_paths) {
                _cleanup_free_ char *saved = *ret_reason ? strdup(*ret_reason) : NULL;
                if (run_scripts(&in, SCRIPT_STAGE_INSTALLATION_COMPLETE, r < 0 ? "1" : "0") < 0)
                        log_warning("%s", *ret_reason ?: "the installation-complete script failed");
                free(*ret_reason);
                *ret_reason = TAKE_PTR(saved);
        }
        if (r < 0 && !*ret_reason)
                fail(&in, "%s", strerror(-r));
        if (r < 0 && ret_step)
                *ret_step = in.step;
        unmount_all(&in);
        free(in.mounts);
        free(in.work);
        free(in.target);
        free(in.esp);
        free(in.disk_node);
        for (size_t i = 0; in.script_paths && i < cfg->n_scripts; i++)
                free(in.script_paths[i]);
        free(in.script_paths);
        install_packs_free(&in);
        download_stage_unmount(in.stage);
        free(in.stage);
        free(in.image);
        manifest_done(&in.m);
        free(in.keyring);
        free(in.keyring_data);
        return r;
}

int install_run(const struct install_config *cfg, const struct install_env *env, const struct install_frontend *fe,
                char **ret_reason) {
        _cleanup_(install_facts_freep) struct install_facts *facts = NULL;
        _cleanup_(install_plan_freep) struct install_plan *plan = NULL;
        int r;

        r = install_facts_probe(cfg, env, &facts, ret_reason);
        if (r < 0)
                return r;
        r = install_plan_compute(cfg, facts, &plan);
        if (r < 0)
                return r;
        /* Into the log; the front end shows them as it sees fit. */
        for (char **w = plan->warnings; w && *w; w++) {
                log_info("warning: %s", *w);
                if (fe && fe->warning)
                        fe->warning(*w, fe->userdata);
        }
        for (char **e = plan->errors; e && *e; e++) {
                _cleanup_free_ char *line = NULL;
                log_info("error: %s", *e);
                if (fe && fe->warning && asprintf(&line, "error: %s", *e) >= 0)
                        fe->warning(line, fe->userdata);
        }
        if (plan->n_errors > 0)
                return reason_set(ret_reason, "%s", plan->errors[0]), -EINVAL;

        /* Outside the installer environment (a developer's or a test's
         * machine) only loop devices are ever written. */
        if (!install_in_installer_environment())
                for (size_t i = 0; i < plan->n_disks; i++)
                        if (!is_loop_device(plan->disks[i].path))
                                return reason_set(ret_reason, "this is not the xenhost installer environment, and %s "
                                                  "is not a loop device: refusing to write it",
                                                  plan->disks[i].path), -EPERM;

        r = fe && fe->confirm ? fe->confirm(plan, fe->userdata) : 1;
        if (r < 0)
                return reason_set(ret_reason, "cannot ask for consent: %s", strerror(-r)), r;
        if (r == 0)
                return reason_set(ret_reason, "%s: nothing was written",
                                  install_mode_keeps_host(plan->mode) ? "the operator did not agree"
                                                                      : "the operator did not agree to erase the disks"),
                       -ECANCELED;
        return install_plan_apply(plan, cfg, env, fe, NULL, ret_reason);
}
