/* The install engine. Steps run in order; each prints a percentage and its
 * name on the console and a machine-readable XENHOST-PROGRESS line on the
 * kernel log, which reaches the serial line for PXE fleets watching it. */
#include "engine.h"

#include <crypt.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

#include "apply.h"
#include "bootcfg.h"
#include "disk.h"
#include "fetch.h"
#include "fileio.h"
#include "format.h"
#include "layout.h"
#include "log.h"
#include "macro.h"
#include "manifest.h"
#include "process.h"

enum step {
        STEP_CHECKS,
        STEP_VERIFY,
        STEP_PARTITION,
        STEP_EXTRACT,
        STEP_CONFIGURE,
        STEP_BOOTLOADER,
        STEP_FINISH,
        _STEP_MAX,
};

static const char *const step_names[_STEP_MAX] = {
        [STEP_CHECKS] = "checks",
        [STEP_VERIFY] = "verify-image",
        [STEP_PARTITION] = "partition",
        [STEP_EXTRACT] = "extract-image",
        [STEP_CONFIGURE] = "configure",
        [STEP_BOOTLOADER] = "bootloader",
        [STEP_FINISH] = "finish",
};

static const char *const step_titles[_STEP_MAX] = {
        [STEP_CHECKS] = "Checking the machine and the disk",
        [STEP_VERIFY] = "Verifying the host image",
        [STEP_PARTITION] = "Partitioning the disk, creating filesystems and the SR",
        [STEP_EXTRACT] = "Laying down the host image into slot a",
        [STEP_CONFIGURE] = "Writing the host's configuration",
        [STEP_BOOTLOADER] = "Installing the boot loader",
        [STEP_FINISH] = "Finishing",
};

/* Rough share of the whole time each step takes, for the percentage. */
static const unsigned step_weight[_STEP_MAX] = {2, 8, 5, 60, 5, 15, 5};

struct install {
        const struct install_config *cfg;
        const struct install_env *env;
        char **reason;
        enum step step;
        char *disk;          /* device path */
        char *disk_by_id;    /* for the inventory */
        char *work;          /* mount points */
        char *target;        /* slot a, mounted */
        char *esp;           /* ESP, mounted under target/boot/efi */
        char *image, *manifest;
        struct manifest m;
        struct apply_result sr;
        char *slot_fs_uuid;
        char *mounts[8];
        unsigned n_mounts;
        char **script_paths; /* fetched answer-file scripts, by index of cfg->scripts */
};

_printf_(2, 3) static int fail(struct install *in, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*in->reason);
        if (asprintf(in->reason, "step %s: %s", step_names[in->step], s ? s : "out of memory") < 0)
                *in->reason = NULL;
        free(s);
        return 0;
}

static void kmsg(const char *line) {
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                dprintf(fd, "%s\n", line);
                close(fd);
        }
}

static void progress(struct install *in, enum step s) {
        unsigned done = 0, total = 0;
        for (unsigned i = 0; i < _STEP_MAX; i++) {
                total += step_weight[i];
                if (i < s)
                        done += step_weight[i];
        }
        in->step = s;
        unsigned pct = done * 100 / total;
        char line[256];
        printf("[%3u%%] %s\n", pct, step_titles[s]);
        fflush(stdout);
        snprintf(line, sizeof line, "XENHOST-PROGRESS step=%u/%u name=%s percent=%u", (unsigned) s + 1, _STEP_MAX,
                 step_names[s], pct);
        kmsg(line);
        log_info("%s", line);
}

static int run(struct install *in, const char *what, const char *const *argv) {
        int r = spawn_run(argv, NULL);
        if (r < 0)
                fail(in, "%s: %s", what, spawn_last_error());
        return r;
}

static int mount_at(struct install *in, const char *what, const char *src, const char *dst, const char *type,
                    const char *opts) {
        if (mkdir(dst, 0755) < 0 && errno != EEXIST)
                return fail(in, "cannot create %s: %s", dst, strerror(errno)), -errno;
        const char *argv[] = {"mount", "-t", type, "-o", opts ? opts : "defaults", src, dst, NULL};
        int r = run(in, what, argv);
        if (r < 0)
                return r;
        if (in->n_mounts < ELEMENTSOF(in->mounts))
                in->mounts[in->n_mounts++] = strdup(dst);
        return 0;
}

static void unmount_all(struct install *in) {
        while (in->n_mounts > 0) {
                char *m = in->mounts[--in->n_mounts];
                /* The chroot's /dev, /proc and /sys are recursive binds with
                 * submounts: detach those; anything else must unmount cleanly. */
                if (m && umount2(m, 0) < 0) {
                        if (errno == EBUSY && (endswith(m, "/dev") || endswith(m, "/proc") || endswith(m, "/sys")))
                                log_debug("Detaching %s", m);
                        else
                                log_warning_errno(-errno, "Cannot unmount %s: %m; detaching it", m);
                        umount2(m, MNT_DETACH);
                }
                free(m);
        }
}

int install_disk_path(const char *name, char **ret) {
        if (name[0] == '/')
                *ret = strdup(name);
        else if (asprintf(ret, "/dev/%s", name) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

static uint64_t memory_bytes(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
        char line[256];
        unsigned long long kib;
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
                        return (uint64_t) kib * 1024;
        return 0;
}

static bool cpu_has_virtualization(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
        char line[4096];
        while (f && fgets(line, sizeof line, f))
                if (startswith(line, "flags") && (strstr(line, " vmx") || strstr(line, " svm")))
                        return true;
        return false;
}

/* The by-id name of the disk, so the inventory names it the same way after
 * device names change. Falls back to the device path. */
static char *disk_stable_name(const char *disk) {
        _cleanup_free_ char *real = realpath(disk, NULL);
        DIR *d = opendir("/dev/disk/by-id");
        struct dirent *de;
        char *best = NULL;
        while (real && d && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL, *t = NULL;
                if (de->d_name[0] == '.' || asprintf(&p, "/dev/disk/by-id/%s", de->d_name) < 0)
                        continue;
                t = realpath(p, NULL);
                /* Prefer the first in sort order for a stable choice. */
                if (t && streq(t, real) && (!best || strcmp(p, best) < 0)) {
                        free(best);
                        best = TAKE_PTR(p);
                }
        }
        if (d)
                closedir(d);
        return best ? best : strdup(disk);
}

static int fetch_scripts(struct install *in);
static int run_scripts(struct install *in, enum script_stage stage, const char *arg);

static int step_checks(struct install *in) {
        const struct install_config *cfg = in->cfg;
        uint64_t mem = in->env->memory_bytes ? in->env->memory_bytes : memory_bytes();
        char b[32];
        int r;

        progress(in, STEP_CHECKS);
        if (cfg->mode != INSTALL_MODE_FRESH && cfg->mode != INSTALL_MODE_REINSTALL)
                return fail(in, "mode %s is not handled by this installer yet", install_mode_to_string(cfg->mode)),
                       -EOPNOTSUPP;
        if (mem < GiB - 128 * MiB)
                return fail(in, "the machine has %s of memory, xenhost needs at least 1 GiB",
                            format_iec(b, sizeof b, mem)), -ENOMEM;
        log_info("Memory: %s", format_iec(b, sizeof b, mem));
        if (cpu_has_virtualization())
                log_info("CPU: hardware virtualization (VT-x/AMD-V) present: PV and HVM guests");
        else
                log_warning("CPU: no hardware virtualization (VT-x/AMD-V) reported: only PV guests will run");
        if (!cfg->primary_disk)
                return fail(in, "no primary disk given"), -EINVAL;
        r = install_disk_path(cfg->primary_disk, &in->disk);
        if (r < 0)
                return r;
        struct stat st;
        if (stat(in->disk, &st) < 0 || !S_ISBLK(st.st_mode))
                return fail(in, "the primary disk %s is not a block device on this machine", in->disk), -ENODEV;
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        r = disk_probe(in->disk, &d);
        if (r < 0)
                return fail(in, "cannot probe %s: %s", in->disk, strerror(-r)), r;
        if (d->size_bytes < LAYOUT_COMPACT_MIN_BYTES)
                return fail(in, "%s has %s, xenhost needs at least 12 GiB", in->disk,
                            format_iec(b, sizeof b, d->size_bytes)), -ENOSPC;
        log_info("Primary disk: %s, %s, %s", in->disk, format_si(b, sizeof b, d->size_bytes),
                 d->pttype ? d->pttype : "empty");
        if (disk_has_contents(d))
                log_info("%s holds %s; the answer file names it, which is consent to erase it", in->disk,
                         d->pttype ? d->pttype : d->fs_type);
        in->disk_by_id = disk_stable_name(in->disk);
        r = fetch_scripts(in);
        if (r < 0)
                return r;
        return run_scripts(in, SCRIPT_STAGE_INSTALLATION_START, NULL);
}

static int find_on_media(struct install *in) {
        const char *root = in->env->media_root;
        if (in->env->image) {
                in->image = strdup(in->env->image);
                if (in->env->manifest)
                        in->manifest = strdup(in->env->manifest);
                else if (endswith(in->env->image, ".img") &&
                         asprintf(&in->manifest, "%.*s.manifest", (int) strlen(in->env->image) - 4, in->env->image) < 0)
                        in->manifest = NULL;
                return in->image && in->manifest ? 0 : -ENOMEM;
        }
        if (!root)
                return fail(in, "no host image: no install media and no image given"), -ENOENT;
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/xenhost", root) < 0)
                return -ENOMEM;
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (endswith(de->d_name, ".manifest") && !in->manifest) {
                        if (asprintf(&in->manifest, "%s/%s", dir, de->d_name) < 0 ||
                            asprintf(&in->image, "%s/%.*s.img", dir, (int) strlen(de->d_name) - 9, de->d_name) < 0) {
                                closedir(d);
                                return -ENOMEM;
                        }
                }
        if (d)
                closedir(d);
        if (!in->manifest)
                return fail(in, "no host image manifest in %s", dir), -ENOENT;
        return 0;
}

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
                                    why ? why : strerror(-r)), r;
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
        for (size_t i = 0; i < in->cfg->n_scripts; i++) {
                if (in->cfg->scripts[i].stage != stage || !in->script_paths || !in->script_paths[i])
                        continue;
                log_info("Running the %s script %zu", script_stage_to_string(stage), i + 1);
                int r = spawn_run((const char *[]){in->script_paths[i], arg, NULL}, NULL);
                if (r < 0)
                        return fail(in, "the %s script failed: %s", script_stage_to_string(stage), spawn_last_error()),
                               r;
        }
        return 0;
}

static int step_verify(struct install *in) {
        _cleanup_free_ char *why = NULL;
        int r;
        progress(in, STEP_VERIFY);
        for (size_t i = 0; i < in->cfg->n_sources; i++)
                if (in->cfg->sources[i].type != LOCATION_LOCAL)
                        return fail(in, "only the local source (the install media) is supported by this installer "
                                        "so far"), -EOPNOTSUPP;
        r = find_on_media(in);
        if (r < 0)
                return r;
        r = image_verify(in->image, in->manifest, in->env->keyring, &in->m, &why);
        if (r < 0)
                return fail(in, "%s", why ? why : "the host image does not verify"), r;
        log_info("Host image: xenhost %s build %s, SHA-256 %s", in->m.version, in->m.build, in->m.image_sha256);
        return 0;
}

static int step_partition(struct install *in) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        _cleanup_free_ char *why = NULL;
        struct apply_options o = {.wipe = true, .sr_type = in->cfg->sr_type};
        struct disk_plan plan;
        int r;

        progress(in, STEP_PARTITION);
        r = disk_probe(in->disk, &d);
        if (r < 0)
                return fail(in, "cannot probe %s: %s", in->disk, strerror(-r)), r;
        r = disk_plan_compute(d->size_bytes, d->sector_size, d->physical_sector_size, LAYOUT_AUTO, NULL, &plan);
        if (r < 0)
                return fail(in, "cannot plan %s: %s", in->disk, strerror(-r)), r;
        if (plan.layout == LAYOUT_COMPACT)
                log_warning("%s is below 46 GB: using the compact layout (no separate logs and swap partitions)",
                            in->disk);
        r = disk_plan_apply(in->disk, &plan, &o, &in->sr, &why);
        if (r < 0)
                return fail(in, "%s", why ? why : strerror(-r)), r;
        if (!in->sr.sr_complete)
                return fail(in, "the SR could not be completed (device-mapper missing)"), -EOPNOTSUPP;
        log_info("SR: %s (%s)", in->sr.sr_vg, sr_type_to_string(in->cfg->sr_type));
        (void) spawn_run((const char *[]){"udevadm", "settle", "--timeout=10", NULL}, NULL);
        return 0;
}

static int part_path(struct install *in, unsigned number, char **ret) {
        _cleanup_free_ char *real = realpath(in->disk, NULL);
        if (!real)
                return -errno;
        return partition_node_name(real, number, ret);
}

static int step_extract(struct install *in) {
        _cleanup_free_ char *slot = NULL, *logs = NULL, *imgdir = NULL, *varlog = NULL, *src = NULL, *uuid = NULL;
        int r;

        progress(in, STEP_EXTRACT);
        if ((r = part_path(in, part_specs[PART_DOM0_A].number, &slot)) < 0)
                return r;
        if (asprintf(&in->target, "%s/target", in->work) < 0 || asprintf(&imgdir, "%s/image", in->work) < 0 ||
            asprintf(&varlog, "%s/target/var/log", in->work) < 0 || asprintf(&src, "%s/.", imgdir) < 0)
                return -ENOMEM;
        if ((r = mount_at(in, "mounting slot a", slot, in->target, "ext4", NULL)) < 0)
                return r;
        /* /var/log lives on its own partition in the standard layout: mount
         * it first, so the image's /var/log lands there. */
        if (part_path(in, part_specs[PART_LOGS].number, &logs) >= 0 && access(logs, F_OK) == 0) {
                if ((r = run(in, "creating /var/log in slot a", (const char *[]){"mkdir", "-p", varlog, NULL})) < 0)
                        return r;
                if ((r = mount_at(in, "mounting the logs partition", logs, varlog, "ext4", NULL)) < 0)
                        return r;
        }
        if ((r = mount_at(in, "mounting the host image", in->image, imgdir, "squashfs", "ro,loop")) < 0)
                return r;
        r = run(in, "copying the host image into slot a", (const char *[]){"cp", "-a", src, in->target, NULL});
        if (r < 0)
                return r;
        r = spawn_run((const char *[]){"blkid", "-s", "UUID", "-o", "value", slot, NULL}, &uuid);
        if (r < 0)
                return fail(in, "cannot read the UUID of %s: %s", slot, spawn_last_error()), r;
        uuid[strcspn(uuid, "\n")] = 0;
        in->slot_fs_uuid = TAKE_PTR(uuid);
        /* The image is not needed any more; unmount it now. */
        if (umount2(imgdir, 0) == 0) {
                for (unsigned i = 0; i < in->n_mounts; i++)
                        if (in->mounts[i] && streq(in->mounts[i], imgdir)) {
                                free(in->mounts[i]);
                                in->mounts[i] = NULL;
                        }
        }
        return 0;
}

static int write_target(struct install *in, const char *rel, const char *text, mode_t mode) {
        _cleanup_free_ char *p = NULL, *dir = NULL;
        if (asprintf(&p, "%s%s", in->target, rel) < 0)
                return -ENOMEM;
        dir = strdup(p);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        (void) spawn_run((const char *[]){"mkdir", "-p", dir, NULL}, NULL);
        int r = write_file_atomic(p, text, strlen(text), mode);
        if (r < 0)
                return fail(in, "cannot write %s: %s", rel, strerror(-r)), r;
        return 0;
}

static int set_root_password(struct install *in) {
        const struct install_config *cfg = in->cfg;
        _cleanup_free_ char *shadow = NULL, *text = NULL, *out = NULL;
        const char *hash;
        char *salt = NULL, *h = NULL;
        void *data = NULL;
        int size = 0, r;

        if (cfg->root_password_type == ROOT_PASSWORD_UNSET || !cfg->root_password)
                return 0;
        if (cfg->root_password_type == ROOT_PASSWORD_HASH)
                hash = cfg->root_password;
        else {
                /* Stored only as a yescrypt hash, never in clear. */
                salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
                h = salt ? crypt_ra(cfg->root_password, salt, &data, &size) : NULL;
                free(salt);
                if (!h || h[0] == '*') {
                        free(data);
                        return fail(in, "cannot hash the root password"), -EINVAL;
                }
                hash = h;
        }
        if (asprintf(&shadow, "%s/etc/shadow", in->target) < 0) {
                free(data);
                return -ENOMEM;
        }
        r = read_full_file(shadow, &text, NULL);
        if (r < 0) {
                free(data);
                return fail(in, "cannot read /etc/shadow: %s", strerror(-r)), r;
        }
        /* Replace root's password field, keep every other line and field. */
        FILE *f = open_memstream(&out, &(size_t){0});
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (startswith(l, "root:")) {
                        char *rest = strchr(l + 5, ':');
                        fprintf(f, "root:%s%s\n", hash, rest ? rest : "::::::");
                } else
                        fprintf(f, "%s\n", l);
        }
        fclose(f);
        free(data);
        r = write_file_atomic(shadow, out, strlen(out), 0640);
        if (r < 0)
                return fail(in, "cannot write /etc/shadow: %s", strerror(-r)), r;
        return 0;
}

static int admin_hwaddr(const struct admin_interface *a, char **ret) {
        if (a->hwaddr)
                return (*ret = strdup(a->hwaddr)) ? 0 : -ENOMEM;
        _cleanup_free_ char *p = NULL, *mac = NULL;
        if (!a->name || asprintf(&p, "/sys/class/net/%s/address", a->name) < 0)
                return -ENOENT;
        int r = read_full_file(p, &mac, NULL);
        if (r < 0)
                return r;
        mac[strcspn(mac, "\n")] = 0;
        *ret = TAKE_PTR(mac);
        return 0;
}

static int netmask_prefix(const char *mask) {
        unsigned a, b, c, d;
        if (!mask || sscanf(mask, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
                return -1;
        uint32_t m = (a << 24) | (b << 16) | (c << 8) | d;
        return __builtin_popcount(m);
}

static int write_network(struct install *in) {
        const struct install_config *cfg = in->cfg;
        const struct admin_interface *a = &cfg->admin;
        _cleanup_free_ char *mac = NULL, *nic = NULL, *br = NULL, *resolv = NULL;
        FILE *f;
        size_t n;
        int r;

        /* The management NIC is matched by its MAC: the installer's kernel
         * and the host's systemd may name it differently. */
        r = admin_hwaddr(a, &mac);
        if (r < 0)
                return fail(in, "cannot find the management interface %s on this machine",
                            a->name ? a->name : "(none given)"), -ENODEV;
        r = write_target(in, "/etc/systemd/network/10-xenbr0.netdev",
                         "# The management bridge, as on XenServer.\n[NetDev]\nName=xenbr0\nKind=bridge\n"
                         "MACAddress=none\n\n[Bridge]\nSTP=no\n", 0644);
        if (r < 0)
                return r;
        if (asprintf(&nic, "# The management NIC (%s at install time) joins xenbr0.\n[Match]\nMACAddress=%s\n"
                           "Type=ether\n\n[Network]\nBridge=xenbr0\n", a->name ? a->name : mac, mac) < 0)
                return -ENOMEM;
        if ((r = write_target(in, "/etc/systemd/network/20-management.network", nic, 0644)) < 0)
                return r;
        f = open_memstream(&br, &n);
        /* The bridge takes over the NIC's MAC so DHCP reservations keep working. */
        fprintf(f, "[Match]\nName=xenbr0\n\n[Link]\nMACAddress=%s\n\n[Network]\n", mac);
        if (a->proto == NET_PROTO_STATIC) {
                fprintf(f, "Address=%s/%d\n", a->ipaddr, netmask_prefix(a->subnet));
                if (a->gateway)
                        fprintf(f, "Gateway=%s\n", a->gateway);
        } else
                fprintf(f, "DHCP=ipv4\n");
        for (char **s = cfg->name_servers; s && *s; s++)
                fprintf(f, "DNS=%s\n", *s);
        fprintf(f, "ConfigureWithoutCarrier=yes\n");
        fclose(f);
        if ((r = write_target(in, "/etc/systemd/network/30-xenbr0.network", br, 0644)) < 0)
                return r;
        if (cfg->name_servers) {
                f = open_memstream(&resolv, &n);
                for (char **s = cfg->name_servers; *s; s++)
                        fprintf(f, "nameserver %s\n", *s);
                fclose(f);
                if ((r = write_target(in, "/etc/resolv.conf", resolv, 0644)) < 0)
                        return r;
        }
        return 0;
}

static int step_configure(struct install *in) {
        const struct install_config *cfg = in->cfg;
        _cleanup_free_ char *inv = NULL, *hosts = NULL, *fstab = NULL, *hostname = NULL, *ntp = NULL, *lt = NULL,
                            *tzpath = NULL;
        char inst_uuid[37], dom0_uuid[37], date[64];
        uuid_t u;
        time_t now = time(NULL);
        int r;

        progress(in, STEP_CONFIGURE);
        uuid_generate_random(u);
        uuid_unparse_lower(u, inst_uuid);
        uuid_generate_random(u);
        uuid_unparse_lower(u, dom0_uuid);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        if (asprintf(&inv,
                     "PRODUCT_VERSION='%s'\nBUILD_NUMBER='%s'\nINSTALLATION_UUID='%s'\nCONTROL_DOMAIN_UUID='%s'\n"
                     "PRIMARY_DISK='%s'\nACTIVE_SLOT='a'\nSR_UUID='%s'\nSR_TYPE='%s'\nMANAGEMENT_INTERFACE='xenbr0'\n"
                     "INSTALL_DATE='%s'\n",
                     in->m.version, in->m.build, inst_uuid, dom0_uuid, in->disk_by_id, in->sr.sr_uuid,
                     sr_type_to_string(cfg->sr_type), date) < 0)
                return -ENOMEM;
        if ((r = write_target(in, "/etc/xenhost/inventory", inv, 0644)) < 0)
                return r;

        hostname = strdup(cfg->hostname ? cfg->hostname : "xenhost");
        if (!hostname || asprintf(&hosts, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost\n",
                                  hostname) < 0)
                return -ENOMEM;
        char *hn = NULL;
        if (asprintf(&hn, "%s\n", hostname) < 0)
                return -ENOMEM;
        r = write_target(in, "/etc/hostname", hn, 0644);
        free(hn);
        if (r < 0 || (r = write_target(in, "/etc/hosts", hosts, 0644)) < 0)
                return r;

        /* Each slot's fstab names its own root, so either slot boots alone. */
        {
                _cleanup_free_ char *logs = NULL, *efi = NULL;
                bool standard = part_path(in, part_specs[PART_LOGS].number, &logs) >= 0 && access(logs, F_OK) == 0;
                size_t n;
                FILE *f = open_memstream(&fstab, &n);
                if (!f)
                        return -ENOMEM;
                fprintf(f, "# xenhost slot a\nPARTLABEL=xh-dom0-a / ext4 errors=remount-ro 0 1\n"
                           "PARTLABEL=xh-esp /boot/efi vfat umask=0077,nofail 0 2\n");
                if (standard)
                        fprintf(f, "PARTLABEL=xh-logs /var/log ext4 defaults 0 2\n"
                                   "PARTLABEL=xh-swap none swap sw,nofail 0 0\n");
                if (cfg->sr_type == SR_EXT)
                        fprintf(f, "/dev/%s/XSLocalEXT-%s /var/run/sr-mount/%s ext4 defaults,nofail 0 2\n",
                                in->sr.sr_vg, in->sr.sr_uuid, in->sr.sr_uuid);
                fclose(f);
                if ((r = write_target(in, "/etc/fstab", fstab, 0644)) < 0)
                        return r;
                if (asprintf(&efi, "%s/boot/efi", in->target) < 0)
                        return -ENOMEM;
                if (mkdir(efi, 0755) < 0 && errno != EEXIST)
                        return fail(in, "cannot create /boot/efi: %s", strerror(errno)), -errno;
        }

        if (cfg->has_admin_interface && (r = write_network(in)) < 0)
                return r;

        if (cfg->ntp_source == NTP_SOURCE_MANUAL && cfg->ntp_servers) {
                FILE *f = open_memstream(&ntp, &(size_t){0});
                fprintf(f, "[Time]\nNTP=");
                for (char **s = cfg->ntp_servers; *s; s++)
                        fprintf(f, "%s%s", s == cfg->ntp_servers ? "" : " ", *s);
                fprintf(f, "\n");
                fclose(f);
                if ((r = write_target(in, "/etc/systemd/timesyncd.conf.d/xenhost.conf", ntp, 0644)) < 0)
                        return r;
        }
        if (cfg->timezone) {
                if (asprintf(&lt, "%s/etc/localtime", in->target) < 0 ||
                    asprintf(&tzpath, "/usr/share/zoneinfo/%s", cfg->timezone) < 0)
                        return -ENOMEM;
                unlink(lt);
                if (symlink(tzpath, lt) < 0)
                        return fail(in, "cannot set the time zone: %s", strerror(errno)), -errno;
                char *tz = NULL;
                if (asprintf(&tz, "%s\n", cfg->timezone) < 0)
                        return -ENOMEM;
                r = write_target(in, "/etc/timezone", tz, 0644);
                free(tz);
                if (r < 0)
                        return r;
        }
        if ((r = set_root_password(in)) < 0)
                return r;
        /* As on XenServer: root logs in over SSH with its password. */
        if ((r = write_target(in, "/etc/ssh/sshd_config.d/xenhost.conf",
                              "# xenhost: root logs in with the installed password, as on XenServer.\n"
                              "PermitRootLogin yes\n", 0644)) < 0)
                return r;
        if (cfg->ssh_mode == SSH_MODE_OFF) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/etc/systemd/system/multi-user.target.wants/ssh.service", in->target) < 0)
                        return -ENOMEM;
                unlink(p);
        }
        return 0;
}

static int boot_files(struct install *in, struct slot_boot *ret) {
        _cleanup_free_ char *boot = NULL;
        struct dirent **names = NULL;
        static char xen[256], kernel[256], initrd[256];
        if (asprintf(&boot, "%s/boot", in->target) < 0)
                return -ENOMEM;
        int n = scandir(boot, &names, NULL, alphasort);
        xen[0] = kernel[0] = initrd[0] = 0;
        for (int i = 0; i < n; i++) {
                const char *f = names[i]->d_name;
                if (startswith(f, "xen-") && endswith(f, ".gz"))
                        snprintf(xen, sizeof xen, "%s", f);
                else if (startswith(f, "vmlinuz-"))
                        snprintf(kernel, sizeof kernel, "%s", f);
                else if (startswith(f, "initrd.img-"))
                        snprintf(initrd, sizeof initrd, "%s", f);
                free(names[i]);
        }
        free(names);
        if (!xen[0] || !kernel[0] || !initrd[0])
                return fail(in, "the host image lacks Xen, the dom0 kernel or its initrd in /boot"), -ENOENT;
        *ret = (struct slot_boot){.slot = 'a', .fs_uuid = in->slot_fs_uuid, .version = in->m.version,
                                  .xen = xen, .kernel = kernel, .initrd = initrd};
        return 0;
}

static int step_bootloader(struct install *in) {
        _cleanup_free_ char *esp = NULL, *esp_dev = NULL, *cfgtext = NULL, *cfgpath = NULL, *env = NULL, *real = NULL,
                            *partnum = NULL;
        struct boot_options o = {.host_memory_bytes = in->env->memory_bytes ? in->env->memory_bytes : memory_bytes(),
                                 .serial = in->env->serial, .serial_speed = 115200, .default_slot = 'a'};
        struct slot_boot slot;
        int r;

        progress(in, STEP_BOOTLOADER);
        if ((r = boot_files(in, &slot)) < 0)
                return r;
        if ((r = part_path(in, part_specs[PART_ESP].number, &esp_dev)) < 0 ||
            asprintf(&esp, "%s/boot/efi", in->target) < 0)
                return r < 0 ? r : -ENOMEM;
        if ((r = mount_at(in, "mounting the ESP", esp_dev, esp, "vfat", NULL)) < 0)
                return r;
        static const char *const binds[] = {"dev", "proc", "sys"};
        for (size_t i = 0; i < ELEMENTSOF(binds); i++) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                if (asprintf(&src, "/%s", binds[i]) < 0 || asprintf(&dst, "%s/%s", in->target, binds[i]) < 0)
                        return -ENOMEM;
                if ((r = mount_at(in, "preparing the chroot", src, dst, "none", "rbind")) < 0)
                        return r;
        }
        real = realpath(in->disk, NULL);
        if (!real)
                return fail(in, "cannot resolve %s", in->disk), -errno;
        /* BIOS: core.img into xh-bios, modules and grub.cfg on the ESP. */
        r = run(in, "grub-install for BIOS",
                (const char *[]){"chroot", in->target, "grub-install", "--target=i386-pc", "--boot-directory=/boot/efi",
                                 "--modules=part_gpt fat ext2", real, NULL});
        if (r < 0)
                return r;
        /* UEFI: the removable path, which any firmware finds, and our own
         * entry's path; the NVRAM entry is written below when booted in UEFI. */
        r = run(in, "grub-install for UEFI (removable path)",
                (const char *[]){"chroot", in->target, "grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi",
                                 "--boot-directory=/boot/efi", "--removable", "--no-nvram", NULL});
        if (r < 0)
                return r;
        r = run(in, "grub-install for UEFI",
                (const char *[]){"chroot", in->target, "grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi",
                                 "--boot-directory=/boot/efi", "--bootloader-id=xenhost", "--no-nvram", NULL});
        if (r < 0)
                return r;
        if ((r = grub_cfg_render(&o, &slot, 1, &cfgtext)) < 0)
                return r;
        if (asprintf(&cfgpath, "%s/grub/grub.cfg", esp) < 0 || asprintf(&env, "%s/grub/grubenv", esp) < 0)
                return -ENOMEM;
        r = write_file_atomic(cfgpath, cfgtext, strlen(cfgtext), 0644);
        if (r < 0)
                return fail(in, "cannot write grub.cfg: %s", strerror(-r)), r;
        r = run(in, "writing grubenv", (const char *[]){"grub-editenv", env, "create", NULL});
        if (r >= 0)
                r = run(in, "writing grubenv", (const char *[]){"grub-editenv", env, "set", "saved_entry=slot-a",
                                                                "xh_active_slot=a", NULL});
        if (r < 0)
                return r;
        if (in->env->efi) {
                if (asprintf(&partnum, "%u", part_specs[PART_ESP].number) < 0)
                        return -ENOMEM;
                r = run(in, "registering the UEFI boot entry",
                        (const char *[]){"efibootmgr", "-q", "-c", "-d", real, "-p", partnum, "-L", "xenhost", "-l",
                                         "\\EFI\\xenhost\\grubx64.efi", NULL});
                if (r < 0)
                        return r;
        }
        return 0;
}

static int step_finish(struct install *in) {
        _cleanup_free_ char *dir = NULL, *dst = NULL;
        progress(in, STEP_FINISH);
        if (in->env->log_path) {
                if (asprintf(&dir, "%s/var/log/xenhost-installer", in->target) < 0 ||
                    asprintf(&dst, "%s/install.log", dir) < 0)
                        return -ENOMEM;
                (void) mkdir(dir, 0750);
                log_info("Install finished; the log is kept on the host as /var/log/xenhost-installer/install.log");
                (void) run(in, "copying the install log", (const char *[]){"cp", in->env->log_path, dst, NULL});
        }
        unmount_all(in);
        sync();
        printf("[100%%] xenhost %s is installed on %s\n", in->m.version, in->disk);
        kmsg("XENHOST-PROGRESS step=7/7 name=done percent=100");
        return 0;
}

int install_run(const struct install_config *cfg, const struct install_env *env, char **ret_reason) {
        struct install in = {.cfg = cfg, .env = env, .reason = ret_reason};
        int r;

        if (asprintf(&in.work, "%s", env->work_dir ? env->work_dir : "/run/xenhost-install") < 0)
                return -ENOMEM;
        (void) mkdir(in.work, 0755);
        /* Nothing is written before the checks and the image verification. */
        if ((r = step_checks(&in)) < 0 || (r = step_verify(&in)) < 0 || (r = step_partition(&in)) < 0 ||
            (r = step_extract(&in)) < 0 || (r = run_scripts(&in, SCRIPT_STAGE_PACKAGES_INSTALLED, in.target)) < 0 ||
            (r = step_configure(&in)) < 0 ||
            (r = run_scripts(&in, SCRIPT_STAGE_FILESYSTEM_POPULATED, in.target)) < 0 ||
            (r = step_bootloader(&in)) < 0 || (r = step_finish(&in)) < 0)
                goto out;
out:
        /* installation-complete hears how it went; its own failure is only
         * reported, the install's outcome stands. */
        if (in.script_paths) {
                _cleanup_free_ char *saved = *ret_reason ? strdup(*ret_reason) : NULL;
                if (run_scripts(&in, SCRIPT_STAGE_INSTALLATION_COMPLETE, r < 0 ? "1" : "0") < 0)
                        log_warning("%s", *ret_reason ? *ret_reason : "the installation-complete script failed");
                free(*ret_reason);
                *ret_reason = TAKE_PTR(saved);
        }
        if (r < 0 && !*ret_reason)
                fail(&in, "%s", strerror(-r));
        if (r < 0) {
                char line[512];
                snprintf(line, sizeof line, "XENHOST-PROGRESS step=%u/%u name=%s failed", (unsigned) in.step + 1,
                         _STEP_MAX, step_names[in.step]);
                kmsg(line);
        }
        unmount_all(&in);
        free(in.work);
        free(in.target);
        free(in.disk);
        free(in.disk_by_id);
        free(in.image);
        free(in.manifest);
        free(in.slot_fs_uuid);
        for (size_t i = 0; in.script_paths && i < cfg->n_scripts; i++)
                free(in.script_paths[i]);
        free(in.script_paths);
        manifest_done(&in.m);
        return r;
}
