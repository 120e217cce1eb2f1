/* Probing the machine for the install plan: disks (with what is on them),
 * NICs, memory, firmware, the host image on the media. Reads only; the
 * plan is then computed from these facts alone. */
#include <dirent.h>
#include <inttypes.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <uuid/uuid.h>

#include "boot.h"
#include "download.h"
#include "engine.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "manifest.h"
#include "plan.h"
#include "partitioner.h"
#include "process.h"

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

/* One line of a sysfs file, without its newline; NULL when absent or empty. */
static char *sysfs_line(const char *fmt, const char *name) {
        _cleanup_free_ char *p = NULL;
        char *s = NULL;
        if (asprintf(&p, fmt, name) < 0 || read_full_file(p, &s, NULL) < 0)
                return NULL;
        s[strcspn(s, "\n")] = 0;
        /* Model strings come padded with spaces. */
        for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
                s[n - 1] = 0;
        if (!*s) {
                free(s);
                return NULL;
        }
        return s;
}

/* The by-id name of the disk, so the inventory names it the same way after
 * device names change; the first in sort order for a stable choice,
 * preferring names that are not WWNs (they say what the disk is). */
static char *disk_by_id(const char *node) {
        struct dirent **names = NULL;
        int n = scandir("/dev/disk/by-id", &names, NULL, alphasort);
        char *best = NULL;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL, *t = NULL;
                if (names[i]->d_name[0] != '.' && asprintf(&p, "/dev/disk/by-id/%s", names[i]->d_name) >= 0 &&
                    (t = realpath(p, NULL)) && streq(t, node) &&
                    (!best || (startswith(best, "/dev/disk/by-id/wwn-") && !startswith(p, "/dev/disk/by-id/wwn-")))) {
                        free(best);
                        best = TAKE_PTR(p);
                }
                free(names[i]);
        }
        free(names);
        return best;
}

/* The version in each slot, read from its inventory without mounting it. */
static void slot_versions(const char *disk_node, char *ret[2]) {
        const enum part_role roles[2] = {PART_DOM0_A, PART_DOM0_B};
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *part = NULL, *out = NULL;
                if (partition_node_name(disk_node, part_specs[roles[i]].number, &part) < 0)
                        return;
                if (spawn_run((const char *[]) {"debugfs", "-R", "cat /etc/xenhost/inventory", part, NULL}, &out) < 0)
                        continue;
                const char *v = strstr(out, "PRODUCT_VERSION='");
                if (v) {
                        v += strlen("PRODUCT_VERSION='");
                        ret[i] = strndup(v, strcspn(v, "'"));
                        if (ret[i] && !*ret[i])
                                ret[i] = mfree(ret[i]);
                }
        }
}

/* Which slot grubenv boots, read from the ESP mounted read-only for the
 * moment (an upgrade and a restore start from it). Where vfat cannot be
 * mounted, it stays unknown and the plan says so. */
static void boot_state_of(const char *disk_node, const char *work_dir, struct disk_facts *df) {
        _cleanup_free_ char *esp = NULL, *dir = NULL;
        struct boot_state st;
        if (partition_node_name(disk_node, part_specs[PART_ESP].number, &esp) < 0 ||
            asprintf(&dir, "%s/probe-esp", work_dir ?: "/run/xenhost-install") < 0)
                return;
        _cleanup_free_ char *parent = strdup(dir);
        if (!parent)
                return;
        *strrchr(parent, '/') = 0;
        (void) mkdir(parent, 0755);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return;
        if (spawn_run((const char *[]) {"mount", "-t", "vfat", "-o", "ro", esp, dir, NULL}, NULL) < 0) {
                log_debug("Cannot mount the ESP %s: %s", esp, spawn_last_error());
                (void) rmdir(dir);
                return;
        }
        if (boot_state_read(dir, &st) >= 0) {
                df->default_slot = st.default_slot;
                df->try_slot = st.try_slot;
        }
        if (umount2(dir, 0) < 0)
                (void) umount2(dir, MNT_DETACH);
        (void) rmdir(dir);
}

/* The volumes of an SR's volume group; an ext SR is one LV holding files. */
static int sr_volumes(const char *vg, enum sr_type *ret_type) {
        _cleanup_free_ char *out = NULL;
        int n = 0;
        *ret_type = SR_LVM;
        if (spawn_run((const char *[]) {"lvs", "--noheadings", "-o", "lv_name", vg, NULL}, &out) < 0)
                return -1;
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                l += strspn(l, " ");
                if (!*l)
                        continue;
                if (startswith(l, "XSLocalEXT-"))
                        *ret_type = SR_EXT;
                n++;
        }
        return *ret_type == SR_EXT ? -1 : n;
}

static int probe_disk(struct install_facts *f, const char *path, const char *work_dir) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        struct stat st;
        int r = disk_probe(path, &d);
        if (r < 0)
                return r;
        const char *node = d->node ?: path;
        for (size_t i = 0; i < f->n_disks; i++)
                if (streq(f->disks[i].path, node))
                        return 0;
        struct disk_facts *nd = reallocarray(f->disks, f->n_disks + 1, sizeof *nd);
        if (!nd)
                return -ENOMEM;
        f->disks = nd;
        struct disk_facts *df = &f->disks[f->n_disks++];
        const char *base = strrchr(node, '/') ? strrchr(node, '/') + 1 : node;
        *df = (struct disk_facts) {
                .path = strdup(node),
                .by_id = disk_by_id(node),
                .model = d->model ? strdup(d->model) : sysfs_line("/sys/class/block/%s/device/model", base),
                .serial = sysfs_line("/sys/class/block/%s/device/serial", base),
                .size_bytes = d->size_bytes,
                .sector_size = d->sector_size,
                .physical_sector_size = d->physical_sector_size,
                .read_only = d->read_only,
                .loop_devices = TAKE_PTR(d->loop_devices),
                .pttype = d->pttype ? strdup(d->pttype) : NULL,
                .signature = d->fs_type ? strdup(d->fs_type) : NULL,
                .n_partitions = d->n_parts,
                .is_xenhost = d->is_xenhost,
                .layout = d->layout,
                .sr_uuid = d->sr_uuid ? strdup(d->sr_uuid) : NULL,
                .sr_volumes = -1,
        };
        if (!df->serial)
                df->serial = sysfs_line("/sys/class/block/%s/serial", base);
        if (!df->path)
                return -ENOMEM;
        if (d->is_xenhost && stat(node, &st) == 0 && S_ISBLK(st.st_mode)) {
                slot_versions(node, df->slot_versions);
                boot_state_of(node, work_dir, df);
                int i = df->default_slot ? df->default_slot - 'a' : df->slot_versions[0] ? 0 : 1;
                if (df->slot_versions[i] && !(df->installed_version = strdup(df->slot_versions[i])))
                        return -ENOMEM;
        }
        const struct disk_part *sr = disk_info_sr(d);
        if (sr && d->sr_vg) {
                df->sr_start = sr->start;
                df->sr_size = sr->size;
                df->sr_volumes = sr_volumes(d->sr_vg, &df->sr_type);
        }
        return 0;
}

/* Whole disks the installer may offer: not loop, RAM, optical, device-
 * mapper or MD devices, nor removable media. */
static bool is_installable_disk(const char *name) {
        static const char *const skip[] = {"loop", "ram", "zram", "sr", "dm-", "md", "nbd", "fd", NULL};
        for (const char *const *s = skip; *s; s++)
                if (startswith(name, *s))
                        return false;
        _cleanup_free_ char *removable = sysfs_line("/sys/class/block/%s/removable", name);
        return !removable || streq(removable, "0");
}

static int probe_nics(struct install_facts *f) {
        struct dirent **names = NULL;
        int n = scandir("/sys/class/net", &names, NULL, alphasort), r = 0;
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                _cleanup_free_ char *type = NULL, *mac = NULL, *carrier = NULL, *drv = NULL, *link = NULL;
                _cleanup_free_ char *devlink = NULL;
                if (r < 0 || name[0] == '.' || !(type = sysfs_line("/sys/class/net/%s/type", name)) ||
                    !streq(type, "1") || asprintf(&devlink, "/sys/class/net/%s/device", name) < 0 ||
                    access(devlink, F_OK) < 0) {
                        free(names[i]);
                        continue; /* only physical Ethernet NICs */
                }
                mac = sysfs_line("/sys/class/net/%s/address", name);
                carrier = sysfs_line("/sys/class/net/%s/carrier", name);
                if (asprintf(&drv, "/sys/class/net/%s/device/driver", name) >= 0)
                        link = realpath(drv, NULL);
                struct nic_facts *nn = reallocarray(f->nics, f->n_nics + 1, sizeof *nn);
                if (!nn)
                        r = -ENOMEM;
                else {
                        f->nics = nn;
                        nn[f->n_nics++] = (struct nic_facts) {
                                .name = strdup(name),
                                .mac = TAKE_PTR(mac),
                                .driver = link && strrchr(link, '/') ? strdup(strrchr(link, '/') + 1) : NULL,
                                .link = carrier && streq(carrier, "1"),
                        };
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int install_own_version(char **ret) {
        const char *path = getenv("XENHOST_RELEASE_FILE") ?: "/etc/xenhost-release";
        _cleanup_free_ char *text = NULL;
        int r = read_full_file_bounded(path, 64 * 1024, &text, NULL);
        if (r < 0)
                return r == -ENOMEM ? r : -ENOENT;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                const char *v = startswith(line, "VERSION=");
                if (!v)
                        continue;
                size_t n = strlen(v);
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
                        v++, n -= 2;
                char *d = strndup(v, n);
                if (!d)
                        return -ENOMEM;
                if (!manifest_version_is_valid(d)) {
                        free(d);
                        return -ENOENT;
                }
                *ret = d;
                return 0;
        }
        return -ENOENT;
}

/* A network source over http(s): its manifest (and signature) into
 * WORK/source/, the image's URL beside the manifest's. */
static int probe_network_source(const char *address, const struct install_env *env, char **ret_manifest_url,
                                char **ret_manifest, char **ret_reason) {
        _cleanup_free_ char *url = NULL, *dir = NULL, *path = NULL;
        int r;

        if (endswith(address, ".manifest"))
                url = strdup(address);
        else {
                /* An install tree: the manifest of the installer's own version. */
                _cleanup_free_ char *version = NULL;
                size_t n = strlen(address);
                while (n > 0 && address[n - 1] == '/')
                        n--;
                if ((r = install_own_version(&version)) < 0)
                        return r == -ENOMEM ? r : (reason_set(ret_reason, "the installer does not know its version: "
                                                              "give the URL of the manifest (.../xenhost/"
                                                              "xenhost-VERSION.manifest) as the source"), -EINVAL);
                if (asprintf(&url, "%.*s/xenhost/xenhost-%s.manifest", (int) n, address, version) < 0)
                        url = NULL;
        }
        if (!url || asprintf(&dir, "%s/source", env->work_dir ?: "/run/xenhost-install") < 0)
                return -ENOMEM;
        if ((r = mkdir_all(dir, 0700)) < 0)
                return reason_set(ret_reason, "cannot create %s: %s", dir, strerror(-r)), r;
        const char *base = strrchr(url, '/') + 1;
        if (asprintf(&path, "%s/%s", dir, base) < 0)
                return -ENOMEM;
        log_info("Reading the network source's manifest");
        /* With its signature when there is one: whether one is needed is
         * the verify step's, with the keyring. */
        if ((r = download_signed_file(url, path, MANIFEST_SIZE_MAX, ret_reason)) < 0)
                return r;
        *ret_manifest_url = TAKE_PTR(url);
        *ret_manifest = TAKE_PTR(path);
        return 0;
}

/* The host image: the one given, the first source's when it is a network
 * source, or the manifest on the media. */
static int probe_image(struct install_facts *f, const struct install_config *cfg, const struct install_env *env,
                       char **ret_reason) {
        _cleanup_free_ char *image = NULL, *manifest = NULL, *source_url = NULL, *tree = NULL;
        const char *media_root = env->media_root;
        const struct location *src = cfg && cfg->n_sources > 0 && cfg->mode != INSTALL_MODE_RESTORE ? &cfg->sources[0]
                                                                                                  : NULL;
        struct manifest m = {};
        int r;

        if (src && (src->type == LOCATION_LOCAL || !install_source_is_supported(src)))
                src = NULL; /* the media; an unsupported source is the plan's to refuse */
        if (src && !env->image) {
                const char *path = startswith(src->address, "file://");
                if (path && endswith(path, ".manifest")) {
                        if (!(manifest = strdup(path)))
                                return -ENOMEM;
                } else if (path) {
                        /* A tree on a path: as the media. */
                        if (!(tree = strdup(path)))
                                return -ENOMEM;
                        media_root = tree;
                } else if ((r = probe_network_source(src->address, env, &source_url, &manifest, ret_reason)) < 0)
                        return r;
        }
        if (manifest) {
                /* The image is named after the manifest's version, beside it. */
                r = manifest_load(manifest, NULL, 0, &m, ret_reason);
                if (r < 0)
                        return r;
                const char *at = source_url ?: manifest;
                const char *slash = strrchr(at, '/');
                r = asprintf(&image, "%.*s/xenhost-%s.img", (int) (slash - at), at, m.version);
                manifest_done(&m);
                if (r < 0) {
                        image = NULL;
                        return -ENOMEM;
                }
        } else if (env->image) {
                image = strdup(env->image);
                if (env->manifest)
                        manifest = strdup(env->manifest);
                else if (endswith(env->image, ".img"))
                        r = asprintf(&manifest, "%.*s.manifest", (int) strlen(env->image) - 4, env->image);
        } else if (media_root) {
                _cleanup_free_ char *dir = NULL;
                struct dirent **names = NULL;
                if (asprintf(&dir, "%s/xenhost", media_root) < 0)
                        return -ENOMEM;
                int n = scandir(dir, &names, NULL, alphasort);
                for (int i = 0; i < n; i++) {
                        const char *d = names[i]->d_name;
                        if (!manifest && endswith(d, ".manifest") &&
                            (asprintf(&manifest, "%s/%s", dir, d) < 0 ||
                             asprintf(&image, "%s/%.*s.img", dir, (int) strlen(d) - 9, d) < 0))
                                manifest = NULL;
                        free(names[i]);
                }
                free(names);
        }
        if (!image || !manifest)
                return 0; /* the plan says there is no image */
        /* Bounded, and only a regular file: a FIFO or a device named
         * *.manifest must not hang or fill the memory of the probe. The
         * signature is the verify step's (no keyring here). */
        r = manifest_load(manifest, NULL, 0, &m, ret_reason);
        if (r < 0)
                return r;
        f->has_image = true;
        f->image = (struct image_facts) {
                .image = TAKE_PTR(image),
                .manifest = TAKE_PTR(manifest),
                .source_url = TAKE_PTR(source_url),
                .version = TAKE_PTR(m.version),
                .build = TAKE_PTR(m.build),
                .format = strdup(image_format_to_string(m.image_format)),
                .xen_version = TAKE_PTR(m.xen_version),
                .kernel_version = TAKE_PTR(m.kernel_version),
                .image_size = m.image_size,
                .installed_size = m.installed_size,
        };
        manifest_done(&m);
        return f->image.format ? 0 : -ENOMEM;
}

static void new_uuid(char buf[37]) {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, buf);
}

int install_facts_probe(const struct install_config *cfg, const struct install_env *env,
                        struct install_facts **ret, char **ret_reason) {
        _cleanup_(install_facts_freep) struct install_facts *f = calloc(1, sizeof *f);
        time_t now = time(NULL);
        int r;

        if (!f)
                return -ENOMEM;
        /* The UUIDs drawn below, and those of mkfs, mkswap and libparted,
         * need the kernel's random pool. On a machine without RDRAND or a
         * virtio-rng (a VM), nothing else waits for it, and every tool's
         * libuuid then retries for about a second and falls back to
         * time-based UUIDs: 3-4 s for each file system made. One blocking
         * read makes the kernel gather the entropy now, once. */
        unsigned char seed;
        if (getrandom(&seed, sizeof seed, 0) < 0)
                log_debug_errno(-errno, "getrandom: %m");
        f->memory_bytes = env->memory_bytes ?: memory_bytes();
        f->efi = env->efi;
        f->serial = env->serial;
        f->cpu_virtualization = cpu_has_virtualization();

        /* The disks the config names, whatever they are (a loop device for a
         * test install), then, in the installer, every disk it could offer. */
        const char *named[4 + 64];
        size_t n_named = 0;
        const char *const own[] = {cfg->primary_disk, cfg->existing_installation, cfg->backup_disk};
        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                if (own[i])
                        named[n_named++] = own[i];
        for (char **g = cfg->guest_disks; g && *g && n_named < ELEMENTSOF(named) - 1; g++)
                named[n_named++] = *g;
        for (size_t i = 0; i < n_named; i++) {
                _cleanup_free_ char *path = NULL;
                if (install_disk_path(named[i], &path) < 0)
                        return -ENOMEM;
                if (access(path, F_OK) < 0)
                        continue; /* the plan says it is missing */
                r = probe_disk(f, path, env->work_dir);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return reason_set(ret_reason, "cannot probe %s: %s", path, strerror(-r)), r;
        }
        /* An upgrade or a restore that names no disk takes the only
         * xenhost disk there is: every disk must be looked at. */
        if (env->probe_all_disks || (install_mode_keeps_host(cfg->mode) && n_named == 0)) {
                struct dirent **names = NULL;
                int n = scandir("/sys/block", &names, NULL, alphasort);
                for (int i = 0; i < n; i++) {
                        _cleanup_free_ char *path = NULL;
                        if (names[i]->d_name[0] != '.' && is_installable_disk(names[i]->d_name) &&
                            asprintf(&path, "/dev/%s", names[i]->d_name) >= 0 && probe_disk(f, path, env->work_dir) < 0)
                                log_debug("Cannot probe %s; not offered", path);
                        free(names[i]);
                }
                free(names);
        }
        if ((r = probe_nics(f)) < 0 || (r = probe_image(f, cfg, env, ret_reason)) < 0)
                return r;
        new_uuid(f->installation_uuid);
        new_uuid(f->control_domain_uuid);
        new_uuid(f->sr_uuid);
        new_uuid(f->slot_fs_uuid);
        strftime(f->date, sizeof f->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        *ret = TAKE_PTR(f);
        return 0;
}

int install_facts_probe_image(struct install_facts *f, const struct install_config *cfg,
                              const struct install_env *env, char **ret_reason) {
        struct image_facts old = f->image;
        bool had = f->has_image;
        f->has_image = false;
        f->image = (struct image_facts) {};
        int r = probe_image(f, cfg, env, ret_reason);
        if (r < 0) {
                f->has_image = had;
                f->image = old;
                return r;
        }
        install_facts_image_done(&old);
        return 0;
}
