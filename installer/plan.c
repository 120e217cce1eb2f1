/* The install plan: computed from the config and the probed facts, with no
 * disk and no file touched, so that --dry-run shows exactly what an install
 * will do and the unit tests can walk every setting. */
#include "plan.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>

#include "format.h"
#include "upgrade.h"

static const char *const setting_fate_names[_SETTING_FATE_MAX] = {
        [SETTING_DEFAULT] = "default",
        [SETTING_APPLIED] = "applied",
        [SETTING_WARNED] = "no effect (warned)",
        [SETTING_REFUSED] = "refused",
};

static const char *const plan_disk_role_names[_PLAN_DISK_ROLE_MAX] = {
        [PLAN_DISK_PRIMARY] = "primary",
        [PLAN_DISK_GUEST] = "guest",
};

const char *setting_fate_to_string(enum setting_fate f) {
        return f < _SETTING_FATE_MAX ? setting_fate_names[f] : "?";
}

const char *plan_disk_role_to_string(enum plan_disk_role r) {
        return r < _PLAN_DISK_ROLE_MAX ? plan_disk_role_names[r] : "?";
}

/* ---- facts --------------------------------------------------------------- */

static void disk_facts_done(struct disk_facts *d) {
        free(d->path);
        free(d->by_id);
        free(d->model);
        free(d->serial);
        free(d->pttype);
        free(d->signature);
        free(d->installed_version);
        free(d->slot_versions[0]);
        free(d->slot_versions[1]);
        free(d->sr_uuid);
        strv_free(d->loop_devices);
}

void install_facts_image_done(struct image_facts *i) {
        free(i->image);
        free(i->source_url);
        free(i->manifest);
        free(i->version);
        free(i->build);
        free(i->format);
        free(i->xen_version);
        free(i->kernel_version);
        *i = (struct image_facts) {};
}

void install_facts_free(struct install_facts *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n_disks; i++)
                disk_facts_done(&f->disks[i]);
        free(f->disks);
        for (size_t i = 0; i < f->n_nics; i++) {
                free(f->nics[i].name);
                free(f->nics[i].mac);
                free(f->nics[i].driver);
        }
        free(f->nics);
        install_facts_image_done(&f->image);
        free(f);
}

/* A disk as the config names it: "sda", "/dev/sda", "disk/by-id/x". */
static bool disk_name_matches(const struct disk_facts *d, const char *name) {
        const char *rel = startswith(name, "/dev/") ?: name;
        return (d->path && (streq(d->path, name) || (startswith(d->path, "/dev/") && streq(d->path + 5, rel)))) ||
               (d->by_id && (streq(d->by_id, name) || streq(d->by_id + 5, rel)));
}

const struct disk_facts *install_facts_find_disk(const struct install_facts *f, const char *path) {
        for (size_t i = 0; path && i < f->n_disks; i++)
                if (disk_name_matches(&f->disks[i], path))
                        return &f->disks[i];
        return NULL;
}

const struct nic_facts *install_facts_find_nic(const struct install_facts *f, const char *name, const char *mac) {
        for (size_t i = 0; i < f->n_nics; i++) {
                const struct nic_facts *n = &f->nics[i];
                if ((name && n->name && streq(n->name, name)) || (mac && n->mac && strcasecmp(n->mac, mac) == 0))
                        return n;
        }
        return NULL;
}

/* ---- building the plan --------------------------------------------------- */

struct builder {
        const struct install_config *cfg;
        const struct install_facts *facts;
        struct install_plan *p;
        bool oom;
};

static char *vformat(struct builder *b, const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0) {
                b->oom = true;
                return NULL;
        }
        return s;
}

_printf_(2, 3) static char *format(struct builder *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(b, fmt, ap);
        va_end(ap);
        return s;
}

static char *copy_str(struct builder *b, const char *s) {
        if (!s)
                return NULL;
        char *d = strdup(s);
        if (!d)
                b->oom = true;
        return d;
}

static void strv_push(struct builder *b, char ***l, size_t *n, char *s) {
        size_t len = 0;
        while (*l && (*l)[len])
                len++;
        char **nl = s ? reallocarray(*l, len + 2, sizeof(char *)) : NULL;
        if (!nl) {
                free(s);
                b->oom = true;
                return;
        }
        nl[len] = s;
        nl[len + 1] = NULL;
        *l = nl;
        if (n)
                (*n)++;
}

_printf_(2, 3) static void plan_error(struct builder *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(b, fmt, ap);
        va_end(ap);
        strv_push(b, &b->p->errors, &b->p->n_errors, s);
}

_printf_(2, 3) static void plan_warning(struct builder *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(b, fmt, ap);
        va_end(ap);
        strv_push(b, &b->p->warnings, NULL, s);
}

/* Records FIELD's fate. A warned setting also gets a warning line and a
 * refused one an error line, with the same text, so that nothing is dropped
 * in silence. */
_printf_(4, 5) static void setting(struct builder *b, const char *field, enum setting_fate fate, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(b, fmt, ap);
        va_end(ap);
        struct plan_setting *ns = s ? reallocarray(b->p->settings, b->p->n_settings + 1, sizeof *ns) : NULL;
        if (!ns) {
                free(s);
                b->oom = true;
                return;
        }
        b->p->settings = ns;
        ns[b->p->n_settings++] = (struct plan_setting) {.field = field, .fate = fate, .detail = s};
        if (fate == SETTING_WARNED)
                plan_warning(b, "%s: %s", field, s);
        else if (fate == SETTING_REFUSED)
                plan_error(b, "%s: %s", field, s);
}

static void add_file(struct builder *b, const char *path, enum plan_file_kind kind, mode_t mode, char *content,
                     const char *why) {
        struct plan_file *nf = reallocarray(b->p->files, b->p->n_files + 1, sizeof *nf);
        char *p = copy_str(b, path), *w = copy_str(b, why);
        if (!nf || !p || !w || b->oom) {
                if (nf)
                        b->p->files = nf;
                free(content);
                free(p);
                free(w);
                b->oom = true;
                return;
        }
        b->p->files = nf;
        nf[b->p->n_files++] = (struct plan_file) {.path = p, .kind = kind, .mode = mode, .content = content, .why = w};
}

static void add_command(struct builder *b, const char *why, const char *const *argv) {
        size_t n = 0;
        while (argv[n])
                n++;
        char **copy = calloc(n + 1, sizeof(char *));
        struct plan_command *nc = reallocarray(b->p->commands, b->p->n_commands + 1, sizeof *nc);
        if (nc)
                b->p->commands = nc;
        if (!copy || !nc) {
                free(copy);
                b->oom = true;
                return;
        }
        for (size_t i = 0; i < n; i++)
                copy[i] = copy_str(b, argv[i]);
        nc[b->p->n_commands++] = (struct plan_command) {.argv = copy, .why = copy_str(b, why)};
}

/* Text assembled piece by piece. */
struct text {
        char *buf;
        size_t len;
        FILE *f;
};

static FILE *text_open(struct builder *b, struct text *t) {
        *t = (struct text) {};
        t->f = open_memstream(&t->buf, &t->len);
        if (!t->f)
                b->oom = true;
        return t->f;
}

static char *text_close(struct builder *b, struct text *t) {
        if (!t->f)
                return NULL;
        if (fclose(t->f) != 0) {
                free(t->buf);
                b->oom = true;
                return NULL;
        }
        return t->buf;
}

/* ---- the parts of the plan ------------------------------------------------ */

static char *describe_contents(struct builder *b, const struct disk_facts *d) {
        struct text t;
        FILE *f = text_open(b, &t);
        if (!f)
                return NULL;
        if (d->is_xenhost) {
                fprintf(f, "xenhost %s (%s layout)", d->installed_version ?: "(version unknown)",
                        layout_kind_to_string(d->layout));
                if (d->sr_uuid) {
                        if (d->sr_volumes >= 0)
                                fprintf(f, ", an %s SR with %d volume%s", sr_type_to_string(d->sr_type),
                                        d->sr_volumes, d->sr_volumes == 1 ? "" : "s");
                        else
                                fprintf(f, ", an %s SR", sr_type_to_string(d->sr_type));
                }
        } else if (d->pttype)
                fprintf(f, "a %s partition table with %u partition%s", d->pttype, d->n_partitions,
                        d->n_partitions == 1 ? "" : "s");
        else if (d->signature)
                fprintf(f, "a %s signature", d->signature);
        else
                fprintf(f, "nothing (blank)");
        return text_close(b, &t);
}

/* Why a disk the install would write cannot be written, or NULL: read-only,
 * or its file is behind loop devices (that may be mounted) besides the one
 * the installer writes. */
static char *disk_unwritable(struct builder *b, const struct disk_facts *d) {
        if (d->read_only)
                return format(b, "%s is read-only: nothing can be written to it", d->path);
        if (!d->loop_devices || !d->loop_devices[0])
                return NULL;
        struct text t;
        FILE *f = text_open(b, &t);
        if (!f)
                return NULL;
        size_t n = 0;
        for (char **l = d->loop_devices; *l; l++)
                fprintf(f, "%s%s", n++ ? ", " : "", *l);
        _cleanup_free_ char *list = text_close(b, &t);
        return format(b, "%s is in use by loop device%s %s, which may be mounted: detach %s first (losetup -d)",
                      d->path, n == 1 ? "" : "s", list ?: "?", n == 1 ? "it" : "them");
}

static void plan_add_disk(struct builder *b, enum plan_disk_role role, const struct disk_facts *d, bool keep_sr) {
        struct plan_disk *nd = reallocarray(b->p->disks, b->p->n_disks + 1, sizeof *nd);
        if (!nd) {
                b->oom = true;
                return;
        }
        b->p->disks = nd;
        nd[b->p->n_disks++] = (struct plan_disk) {
                .role = role,
                .path = copy_str(b, d->path),
                .by_id = copy_str(b, d->by_id),
                .model = copy_str(b, d->model),
                .serial = copy_str(b, d->serial),
                .size_bytes = d->size_bytes,
                .holds = describe_contents(b, d),
                .erase = !install_mode_keeps_host(b->cfg->mode),
                .keep_sr = keep_sr,
        };
}

static void plan_mode(struct builder *b) {
        const struct install_config *c = b->cfg;
        b->p->mode = c->mode;
        switch (c->mode) {
        case INSTALL_MODE_FRESH:
                setting(b, "mode", SETTING_DEFAULT, "fresh: the primary disk is erased, SR included");
                break;
        case INSTALL_MODE_REINSTALL:
                setting(b, "mode", SETTING_APPLIED, "reinstall: the primary disk is rewritten, its SR is kept");
                break;
        case INSTALL_MODE_UPGRADE:
                setting(b, "mode", SETTING_APPLIED, "upgrade: the media's version is written into the slot that does "
                        "not boot now, as xenhost-upgrade apply does; nothing is erased, the SR is kept");
                break;
        case INSTALL_MODE_RESTORE:
                setting(b, "mode", SETTING_APPLIED, "restore: the previous version boots again, as xenhost-upgrade "
                        "rollback does; nothing is erased, the SR is kept");
                break;
        default:
                setting(b, "mode", SETTING_REFUSED, "unknown mode");
        }
        if (c->existing_installation && c->mode != INSTALL_MODE_UPGRADE)
                setting(b, "existing_installation", SETTING_WARNED, "%s has no effect with mode=\"%s\" (it names the "
                        "host to upgrade)", c->existing_installation, install_mode_to_string(c->mode));
        if (c->backup_disk && c->mode != INSTALL_MODE_RESTORE)
                setting(b, "backup_disk", SETTING_WARNED, "%s has no effect with mode=\"%s\" (it names the host to "
                        "restore)", c->backup_disk, install_mode_to_string(c->mode));
}

static void plan_machine(struct builder *b) {
        const struct install_facts *f = b->facts;
        char s[32];
        if (f->memory_bytes < GiB - 128 * MiB)
                plan_error(b, "the machine has %s of memory, xenhost needs at least 1 GiB",
                           format_iec(s, sizeof s, f->memory_bytes));
        if (!f->cpu_virtualization)
                plan_warning(b, "the CPU reports no hardware virtualization (VT-x/AMD-V): only PV guests will run");
}

static void plan_image(struct builder *b) {
        const struct install_config *c = b->cfg;
        const struct install_facts *f = b->facts;
        if (c->mode == INSTALL_MODE_RESTORE)
                return; /* a restore writes no image (plan_offline_settings) */
        /* The first source is the host image's (XenServer's answer files
         * may list more repositories: those held packages, which packs are
         * here). */
        const struct location *src = c->n_sources > 0 ? &c->sources[0] : NULL;
        for (size_t i = 1; i < c->n_sources; i++)
                setting(b, "sources", SETTING_WARNED, "source %zu is not used: the host image comes from the first "
                        "source", i + 1);
        if (src && src->type != LOCATION_LOCAL && !install_source_is_supported(src)) {
                _cleanup_free_ char *shown = NULL;
                if (src->address && url_redact(src->address, &shown) < 0)
                        b->oom = true;
                setting(b, "sources", SETTING_REFUSED, "installing from %s %s is not supported: serve the install "
                        "tree over http:// or https://, or give a file:// path",
                        src->type == LOCATION_NFS ? "the NFS source" : "the source", shown ?: "");
        } else if (src && src->type != LOCATION_LOCAL) {
                _cleanup_free_ char *shown = NULL;
                if (url_redact(src->address, &shown) < 0)
                        b->oom = true;
                setting(b, "sources", SETTING_APPLIED, "the host image from %s%s", shown ?: "",
                        f->image.source_url ? ", downloaded and verified before the first write" : "");
        } else if (src)
                setting(b, "sources", SETTING_APPLIED, "the host image on the install media");
        else
                setting(b, "sources", SETTING_DEFAULT, "the host image on the install media");
        if (!f->has_image) {
                plan_error(b, src && src->type != LOCATION_LOCAL ? "no host image: the network source was not read"
                                                                : "no host image: no install media with a manifest was found");
                return;
        }
        struct image_facts *i = &b->p->image;
        i->image = copy_str(b, f->image.image);
        i->manifest = copy_str(b, f->image.manifest);
        i->source_url = copy_str(b, f->image.source_url);
        i->version = copy_str(b, f->image.version);
        i->build = copy_str(b, f->image.build);
        i->format = copy_str(b, f->image.format);
        i->xen_version = copy_str(b, f->image.xen_version);
        i->kernel_version = copy_str(b, f->image.kernel_version);
        i->image_size = f->image.image_size;
        i->installed_size = f->image.installed_size;
        /* A downloaded image is held in memory (the installer's /run)
         * until it is written: room for it beside the installer itself. */
        if (f->image.source_url && c->mode != INSTALL_MODE_UPGRADE && f->memory_bytes &&
            f->memory_bytes < i->image_size + GiB) {
                char s1[32], s2[32];
                plan_error(b, "the machine has %s of memory; installing from the network needs %s (the %s host "
                           "image is held in memory until it is written)", format_iec(s1, sizeof s1, f->memory_bytes),
                           format_iec(s2, sizeof s2, i->image_size + GiB), format_iec((char[32]) {}, 32, i->image_size));
        }
}

static void plan_disks(struct builder *b) {
        const struct install_config *c = b->cfg;
        struct install_plan *p = b->p;
        char s[32];

        if (!c->primary_disk) {
                plan_error(b, "no primary disk given");
                return;
        }
        const struct disk_facts *d = install_facts_find_disk(b->facts, c->primary_disk);
        if (!d) {
                plan_error(b, "the primary disk %s is not on this machine", c->primary_disk);
                return;
        }
        _cleanup_free_ char *unwritable = disk_unwritable(b, d);
        if (unwritable)
                setting(b, "primary_disk", SETTING_REFUSED, "%s", unwritable);
        else
                setting(b, "primary_disk", SETTING_APPLIED, "%s (%s%s%s%s)", d->path,
                        format_si(s, sizeof s, d->size_bytes), d->model ? ", " : "", d->model ?: "",
                        d->by_id ? ", by id" : "");
        p->disk = copy_str(b, d->path);
        p->disk_by_id = copy_str(b, d->by_id ?: d->path);
        p->sr_type = c->sr_type;
        p->sr_on_primary = true;

        /* A reinstall keeps an existing xenhost SR; a fresh install says
         * aloud what it destroys. */
        struct kept_partition kept = {};
        if (c->mode == INSTALL_MODE_REINSTALL && d->sr_uuid && d->sr_size > 0) {
                p->keep_sr = true;
                kept = (struct kept_partition) {.start = d->sr_start, .size = d->sr_size};
                snprintf(p->sr_uuid, sizeof p->sr_uuid, "%s", d->sr_uuid);
                if (d->sr_type != c->sr_type)
                        plan_warning(b, "%s holds an %s SR, which is kept as it is: srtype %s has no effect", d->path,
                                     sr_type_to_string(d->sr_type), sr_type_to_string(c->sr_type));
                p->sr_type = d->sr_type;
        } else {
                snprintf(p->sr_uuid, sizeof p->sr_uuid, "%s", b->facts->sr_uuid);
                if (c->mode == INSTALL_MODE_REINSTALL)
                        plan_warning(b, "%s holds no xenhost SR to keep: a new SR is made", d->path);
                else if (d->sr_uuid) {
                        if (d->sr_volumes >= 0)
                                plan_warning(b, "a fresh install erases the SR on %s and its %d volume%s (use mode=\"reinstall\" to keep it)",
                                             d->path, d->sr_volumes, d->sr_volumes == 1 ? "" : "s");
                        else
                                plan_warning(b, "a fresh install erases the SR on %s and every volume in it "
                                             "(use mode=\"reinstall\" to keep it)", d->path);
                }
        }
        setting(b, "sr_type", p->sr_type == SR_LVM && !p->keep_sr ? SETTING_DEFAULT : SETTING_APPLIED,
                "%s SR %s (VG_XenStorage-%s)", sr_type_to_string(p->sr_type), p->keep_sr ? "kept" : "made",
                p->sr_uuid);

        int r = disk_plan_compute(d->size_bytes, d->sector_size, d->physical_sector_size, LAYOUT_AUTO,
                                  p->keep_sr ? &kept : NULL, &p->layout);
        if (r == -ENOSPC) {
                char have[SIZE_EXACT_MAX], need[SIZE_EXACT_MAX];
                plan_error(b, "%s is too small: %s, xenhost needs at least %s", d->path,
                           format_size_exact(have, sizeof have, d->size_bytes, false),
                           format_size_exact(need, sizeof need, LAYOUT_COMPACT_MIN_BYTES, false));
        }
        else if (r == -E2BIG)
                plan_error(b, "the xenhost layout does not fit before the SR kept on %s", d->path);
        else if (r < 0)
                plan_error(b, "cannot plan the partitions of %s: %s", d->path, strerror(-r));
        else if (p->layout.layout == LAYOUT_COMPACT)
                plan_warning(b, "%s is below 46 GB: the compact layout is used (no separate logs and swap partitions)",
                             d->path);
        plan_add_disk(b, PLAN_DISK_PRIMARY, d, p->keep_sr);

        if (!c->primary_disk_guest_storage)
                setting(b, "primary_disk_guest_storage", SETTING_WARNED,
                        "guest-storage=\"no\" has no effect here: the rest of the primary disk always holds "
                        "the local SR (partition 7)");
        else
                setting(b, "primary_disk_guest_storage", SETTING_DEFAULT, "the rest of the primary disk is the SR");

        size_t n_guest = 0;
        for (char **g = c->guest_disks; g && *g; g++) {
                const struct disk_facts *gd = install_facts_find_disk(b->facts, *g);
                if (!gd) {
                        setting(b, "guest_disks", SETTING_REFUSED, "%s is not on this machine", *g);
                        continue;
                }
                if (gd == d) {
                        setting(b, "guest_disks", SETTING_REFUSED, "%s is the primary disk", *g);
                        continue;
                }
                bool twice = false;
                for (size_t i = 0; i < p->n_disks; i++)
                        twice = twice || streq(p->disks[i].path, gd->path);
                if (twice) {
                        setting(b, "guest_disks", SETTING_REFUSED, "%s is named twice", *g);
                        continue;
                }
                _cleanup_free_ char *why = disk_unwritable(b, gd);
                if (why) {
                        setting(b, "guest_disks", SETTING_REFUSED, "%s", why);
                        continue;
                }
                plan_add_disk(b, PLAN_DISK_GUEST, gd, false);
                n_guest++;
        }
        if (n_guest > 0 && p->keep_sr)
                plan_warning(b, "the kept SR is extended with %zu guest disk%s", n_guest, n_guest == 1 ? "" : "s");
        if (c->guest_disks && n_guest > 0)
                setting(b, "guest_disks", SETTING_APPLIED, "%zu disk%s erased and added whole to the SR", n_guest,
                        n_guest == 1 ? "" : "s");
}

static int netmask_prefix(const char *mask) {
        struct in_addr a;
        if (!mask || inet_pton(AF_INET, mask, &a) != 1)
                return -1;
        uint32_t m = ntohl(a.s_addr);
        int n = __builtin_popcount(m);
        return (n == 0 || m == (UINT32_MAX << (32 - n))) ? n : -1;
}

static void plan_inventory(struct builder *b) {
        const struct install_facts *f = b->facts;
        struct install_plan *p = b->p;
        add_file(b, "/etc/xenhost/inventory", PLAN_FILE_REGULAR, 0644,
                 format(b,
                        "PRODUCT_VERSION='%s'\nBUILD_NUMBER='%s'\nINSTALLATION_UUID='%s'\nCONTROL_DOMAIN_UUID='%s'\n"
                        "PRIMARY_DISK='%s'\nACTIVE_SLOT='%c'\nSR_UUID='%s'\nSR_TYPE='%s'\n"
                        "MANAGEMENT_INTERFACE='xenbr0'\nINSTALL_DATE='%s'\n",
                        p->image.version ?: "", p->image.build ?: "", f->installation_uuid, f->control_domain_uuid,
                        p->disk_by_id ?: "", p->slot, p->sr_uuid, sr_type_to_string(p->sr_type), f->date),
                 "the inventory (DESIGN.md section 4)");
}

static void plan_identity(struct builder *b) {
        const struct install_config *c = b->cfg;
        const char *hostname = c->hostname ?: "xenhost";
        setting(b, "hostname", c->hostname ? SETTING_APPLIED : SETTING_DEFAULT, "%s in /etc/hostname and /etc/hosts",
                hostname);
        add_file(b, "/etc/hostname", PLAN_FILE_REGULAR, 0644, format(b, "%s\n", hostname), "the host name");
        add_file(b, "/etc/hosts", PLAN_FILE_REGULAR, 0644,
                 format(b, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost\n", hostname),
                 "the host name resolves locally");

        if (c->timezone) {
                setting(b, "timezone", SETTING_APPLIED, "%s in /etc/localtime and /etc/timezone", c->timezone);
                add_file(b, "/etc/localtime", PLAN_FILE_SYMLINK, 0777,
                         format(b, "/usr/share/zoneinfo/%s", c->timezone), "the time zone");
                add_file(b, "/etc/timezone", PLAN_FILE_REGULAR, 0644, format(b, "%s\n", c->timezone), "the time zone");
        } else
                setting(b, "timezone", SETTING_DEFAULT, "Etc/UTC (the image's)");

        const char *keymap = c->keymap ?: "us";
        setting(b, "keymap", c->keymap ? SETTING_APPLIED : SETTING_DEFAULT, "%s in /etc/vconsole.conf", keymap);
        add_file(b, "/etc/vconsole.conf", PLAN_FILE_REGULAR, 0644, format(b, "KEYMAP=%s\n", keymap),
                 "the console keymap");

        switch (c->root_password_type) {
        case ROOT_PASSWORD_PLAINTEXT:
        case ROOT_PASSWORD_HASH:
                setting(b, "root_password", SETTING_APPLIED, "root's entry in /etc/shadow (%s)",
                        c->root_password_type == ROOT_PASSWORD_HASH ? "the given hash" : "hashed with yescrypt");
                add_file(b, "/etc/shadow", PLAN_FILE_REGULAR, 0640, NULL,
                         "root's password hash; the image's other entries are kept");
                break;
        default:
                setting(b, "root_password", SETTING_DEFAULT, "root has no password: log in on the console and set one");
        }

        add_file(b, "/etc/ssh/sshd_config.d/xenhost.conf", PLAN_FILE_REGULAR, 0644,
                 format(b, "# xenhost: root logs in with the installed password, as on XenServer.\n"
                           "PermitRootLogin yes\n"),
                 "root logs in over SSH, as on XenServer");
        if (c->ssh_mode == SSH_MODE_OFF) {
                setting(b, "ssh_mode", SETTING_APPLIED, "off: ssh.service disabled");
                add_command(b, "<ssh-mode>off</ssh-mode>",
                            (const char *const[]) {"systemctl", "disable", "--quiet", "ssh.service", NULL});
        } else
                setting(b, "ssh_mode", SETTING_DEFAULT, "on: sshd runs");

        for (size_t i = 0; i < c->n_services; i++) {
                const struct service_setting *s = &c->services[i];
                _cleanup_free_ char *unit = strchr(s->name, '.') ? copy_str(b, s->name) : format(b, "%s.service", s->name);
                if (!unit)
                        return;
                add_command(b, "<service> in the answer file",
                            (const char *const[]) {"systemctl", s->enabled ? "enable" : "disable", "--quiet", unit,
                                                   NULL});
        }
        if (c->n_services > 0)
                setting(b, "services", SETTING_APPLIED, "%zu service%s enabled or disabled with systemctl",
                        c->n_services, c->n_services == 1 ? "" : "s");
}

static void plan_fstab(struct builder *b) {
        struct install_plan *p = b->p;
        struct text t;
        FILE *f = text_open(b, &t);
        if (!f)
                return;
        /* Each slot's fstab names its own root, so either slot boots alone. */
        fprintf(f, "# xenhost slot %c\nPARTLABEL=%s / ext4 errors=remount-ro 0 1\n"
                   "PARTLABEL=xh-esp /boot/efi vfat umask=0077,nofail 0 2\n",
                p->slot, p->slot_label);
        if (p->layout.layout == LAYOUT_STANDARD)
                fprintf(f, "PARTLABEL=xh-logs /var/log ext4 defaults 0 2\nPARTLABEL=xh-swap none swap sw,nofail 0 0\n");
        if (p->sr_type == SR_EXT)
                fprintf(f, "/dev/VG_XenStorage-%s/XSLocalEXT-%s /var/run/sr-mount/%s ext4 defaults,nofail 0 2\n",
                        p->sr_uuid, p->sr_uuid, p->sr_uuid);
        add_file(b, "/etc/fstab", PLAN_FILE_REGULAR, 0644, text_close(b, &t), "the slot's mounts");
}

static void plan_network(struct builder *b) {
        const struct install_config *c = b->cfg;
        const struct admin_interface *a = &c->admin;
        const char *mac = a->hwaddr;
        struct text t;
        FILE *f;

        if (!c->has_admin_interface) {
                plan_error(b, "no management interface (<admin-interface>) given");
                return;
        }
        if (!mac) {
                const struct nic_facts *n = install_facts_find_nic(b->facts, a->name, NULL);
                if (!n || !n->mac) {
                        setting(b, "admin.name", SETTING_REFUSED, "the management interface %s is not on this machine",
                                a->name ?: "(none given)");
                        return;
                }
                mac = n->mac;
        } else if (!install_facts_find_nic(b->facts, NULL, mac))
                plan_warning(b, "no interface with MAC %s is on this machine now: the host matches it when it appears",
                             mac);
        setting(b, a->name ? "admin.name" : "admin.hwaddr", SETTING_APPLIED,
                "the NIC with MAC %s joins the management bridge xenbr0", mac);

        add_file(b, "/etc/systemd/network/10-xenbr0.netdev", PLAN_FILE_REGULAR, 0644,
                 format(b, "# The management bridge, as on XenServer.\n[NetDev]\nName=xenbr0\nKind=bridge\n"
                           "MACAddress=none\n\n[Bridge]\nSTP=no\n"),
                 "the management bridge");
        /* The NIC is matched by its MAC: the installer's kernel and the
         * host's systemd may name it differently. With a VLAN, the NIC
         * carries the tagged interface and that joins the bridge. */
        if (a->vlan) {
                setting(b, "admin.vlan", SETTING_APPLIED, "management on VLAN %u (interface mgmt%u in xenbr0)", a->vlan,
                        a->vlan);
                add_file(b, "/etc/systemd/network/15-management-vlan.netdev", PLAN_FILE_REGULAR, 0644,
                         format(b, "[NetDev]\nName=mgmt%u\nKind=vlan\n\n[VLAN]\nId=%u\n", a->vlan, a->vlan),
                         "the management VLAN");
                add_file(b, "/etc/systemd/network/20-management.network", PLAN_FILE_REGULAR, 0644,
                         format(b, "# The management NIC (%s at install time) carries VLAN %u.\n[Match]\nMACAddress=%s\n"
                                   "Type=ether\n\n[Network]\nVLAN=mgmt%u\nLinkLocalAddressing=no\n",
                                a->name ?: mac, a->vlan, mac, a->vlan),
                         "the management NIC");
                add_file(b, "/etc/systemd/network/25-management-vlan.network", PLAN_FILE_REGULAR, 0644,
                         format(b, "[Match]\nName=mgmt%u\n\n[Network]\nBridge=xenbr0\n", a->vlan),
                         "the management VLAN joins xenbr0");
        } else
                add_file(b, "/etc/systemd/network/20-management.network", PLAN_FILE_REGULAR, 0644,
                         format(b, "# The management NIC (%s at install time) joins xenbr0.\n[Match]\nMACAddress=%s\n"
                                   "Type=ether\n\n[Network]\nBridge=xenbr0\n",
                                a->name ?: mac, mac),
                         "the management NIC joins xenbr0");

        if (!(f = text_open(b, &t)))
                return;
        /* The bridge takes over the NIC's MAC so DHCP reservations keep working. */
        fprintf(f, "[Match]\nName=xenbr0\n\n[Link]\nMACAddress=%s\n\n[Network]\n", mac);
        bool dhcp4 = a->proto == NET_PROTO_DHCP, dhcp6 = a->proto6 == NET_PROTO_DHCP;
        if (dhcp4 || dhcp6)
                fprintf(f, "DHCP=%s\n", dhcp4 && dhcp6 ? "yes" : dhcp4 ? "ipv4" : "ipv6");
        if (a->proto == NET_PROTO_STATIC) {
                int prefix = netmask_prefix(a->subnet);
                if (prefix < 0)
                        setting(b, "admin.subnet", SETTING_REFUSED, "%s is not a netmask", a->subnet ?: "(none)");
                fprintf(f, "Address=%s/%d\n", a->ipaddr, prefix);
                if (a->gateway)
                        fprintf(f, "Gateway=%s\n", a->gateway);
        }
        setting(b, "admin.proto", a->proto == NET_PROTO_NONE ? SETTING_DEFAULT : SETTING_APPLIED, "IPv4 %s%s%s",
                net_proto_to_string(a->proto), a->proto == NET_PROTO_STATIC ? " " : "",
                a->proto == NET_PROTO_STATIC ? a->ipaddr : "");
        switch (a->proto6) {
        case NET_PROTO_STATIC:
                fprintf(f, "Address=%s\n", a->ipv6);
                if (a->gateway6)
                        fprintf(f, "Gateway=%s\n", a->gateway6);
                fprintf(f, "IPv6AcceptRA=no\n");
                setting(b, "admin.proto6", SETTING_APPLIED, "IPv6 static %s", a->ipv6);
                break;
        case NET_PROTO_AUTOCONF:
                fprintf(f, "IPv6AcceptRA=yes\n");
                setting(b, "admin.proto6", SETTING_APPLIED, "IPv6 autoconf (router advertisements, SLAAC)");
                break;
        case NET_PROTO_DHCP:
                setting(b, "admin.proto6", SETTING_APPLIED, "IPv6 DHCP");
                break;
        default:
                fprintf(f, "IPv6AcceptRA=no\n");
                setting(b, "admin.proto6", SETTING_DEFAULT, "no IPv6 address but the link-local one");
        }
        if (a->proto == NET_PROTO_NONE && a->proto6 == NET_PROTO_NONE)
                plan_error(b, "the management interface has neither an IPv4 nor an IPv6 configuration");
        for (char **s = c->name_servers; s && *s; s++)
                fprintf(f, "DNS=%s\n", *s);
        if (c->ntp_source == NTP_SOURCE_DHCP)
                fprintf(f, "\n[DHCPv4]\nUseNTP=yes\n");
        fprintf(f, "\n[Network]\nConfigureWithoutCarrier=yes\n");
        add_file(b, "/etc/systemd/network/30-xenbr0.network", PLAN_FILE_REGULAR, 0644, text_close(b, &t),
                 "the management address");

        if (c->name_servers) {
                if (!(f = text_open(b, &t)))
                        return;
                for (char **s = c->name_servers; *s; s++)
                        fprintf(f, "nameserver %s\n", *s);
                add_file(b, "/etc/resolv.conf", PLAN_FILE_REGULAR, 0644, text_close(b, &t), "the name servers");
                setting(b, "name_servers", SETTING_APPLIED, "in /etc/resolv.conf and on xenbr0");
        } else
                setting(b, "name_servers", SETTING_DEFAULT, "from DHCP");
}

static void plan_time(struct builder *b) {
        const struct install_config *c = b->cfg;
        struct text t;
        FILE *f;
        switch (c->ntp_source) {
        case NTP_SOURCE_MANUAL:
                if (!c->ntp_servers) {
                        setting(b, "ntp_servers", SETTING_REFUSED, "NTP is set to manual but no server is given");
                        return;
                }
                if (!(f = text_open(b, &t)))
                        return;
                fprintf(f, "[Time]\nNTP=");
                for (char **s = c->ntp_servers; *s; s++)
                        fprintf(f, "%s%s", s == c->ntp_servers ? "" : " ", *s);
                fprintf(f, "\n");
                add_file(b, "/etc/systemd/timesyncd.conf.d/xenhost.conf", PLAN_FILE_REGULAR, 0644, text_close(b, &t),
                         "the NTP servers");
                setting(b, "ntp_servers", SETTING_APPLIED, "systemd-timesyncd uses them");
                setting(b, "ntp_source", SETTING_APPLIED, "manual");
                break;
        case NTP_SOURCE_DHCP:
                if (c->admin.proto != NET_PROTO_DHCP)
                        plan_warning(b, "NTP servers from DHCP, but IPv4 is not configured by DHCP: no NTP server "
                                        "will be known");
                add_file(b, "/etc/systemd/timesyncd.conf.d/xenhost.conf", PLAN_FILE_REGULAR, 0644,
                         format(b, "# xenhost: only the NTP servers DHCP gives.\n[Time]\nNTP=\nFallbackNTP=\n"),
                         "NTP from DHCP only");
                setting(b, "ntp_source", SETTING_APPLIED, "NTP servers from DHCP");
                break;
        case NTP_SOURCE_NONE:
                add_command(b, "NTP turned off in the answer file",
                            (const char *const[]) {"systemctl", "disable", "--quiet", "systemd-timesyncd.service",
                                                   NULL});
                setting(b, "ntp_source", SETTING_APPLIED, "no time synchronisation");
                break;
        default:
                setting(b, "ntp_source", SETTING_DEFAULT, "Debian's NTP pool (systemd-timesyncd)");
        }
}

/* Debian's file name of the hypervisor: xen-4.17-amd64.gz for 4.17.x. */
static char *xen_file_name(struct builder *b, const char *xen_version) {
        unsigned major, minor;
        if (!xen_version || sscanf(xen_version, "%u.%u", &major, &minor) != 2) {
                plan_error(b, "the image's manifest has no usable XEN_VERSION (%s)", xen_version ?: "none");
                return NULL;
        }
        return format(b, "xen-%u.%u-amd64.gz", major, minor);
}

static void plan_boot(struct builder *b) {
        const struct install_config *c = b->cfg;
        const struct install_facts *f = b->facts;
        struct install_plan *p = b->p;

        p->boot = (struct boot_options) {.host_memory_bytes = f->memory_bytes, .serial = f->serial,
                                         .serial_speed = 115200, .default_slot = p->slot};
        p->xen_file = xen_file_name(b, p->image.xen_version);
        if (p->image.kernel_version) {
                p->kernel_file = format(b, "vmlinuz-%s", p->image.kernel_version);
                p->initrd_file = format(b, "initrd.img-%s", p->image.kernel_version);
        }
        if (!p->xen_file || !p->kernel_file)
                return;
        p->boot_slot = (struct slot_boot) {.slot = p->slot, .fs_uuid = p->slot_fs_uuid, .version = p->image.version,
                                           .xen = p->xen_file, .kernel = p->kernel_file, .initrd = p->initrd_file};
        if (grub_cfg_render(&p->boot, &p->boot_slot, 1, &p->grub_cfg) < 0) {
                b->oom = true;
                return;
        }
        add_file(b, "/boot/efi/grub/grub.cfg", PLAN_FILE_REGULAR, 0644, copy_str(b, p->grub_cfg),
                 "one boot menu for BIOS and UEFI, on the ESP");
        add_file(b, "/boot/efi/grub/grubenv", PLAN_FILE_REGULAR, 0644, NULL, "the boot state: slot a is the default");

        p->esp_partnum = part_specs[PART_ESP].number;
        if (!c->write_boot_entry)
                setting(b, "write_boot_entry", SETTING_APPLIED, "no UEFI boot entry is registered");
        else if (f->efi) {
                p->efi_entry = true;
                setting(b, "write_boot_entry", SETTING_DEFAULT, "UEFI boot entry \"xenhost\" -> \\EFI\\xenhost\\grubx64.efi");
        } else
                setting(b, "write_boot_entry", SETTING_DEFAULT, "booted in BIOS mode: no UEFI boot entry (the ESP's "
                        "removable path still boots under UEFI)");
}

/* Supplemental packs, as XenServer's installer treats <driver-source> and
 * its supplemental packs: every one is fetched and verified before the
 * first write (the engine's checks and verify-image steps), so a pack that
 * cannot be had or does not verify stops the install with the disks
 * untouched; then they are installed into the new slot in answer-file order,
 * so that a pack requiring another one of the same answer file comes after
 * it. A local pack is, as with XenServer's type="local", what the install
 * media carry: every pack in PLAN_PACKS_MEDIA_DIR, in name order, taken
 * once however many local elements name it. */
/* <report url=>: the front end sends the events (installer/report.h). */
static void plan_report(struct builder *b) {
        _cleanup_free_ char *shown = NULL;
        if (!b->cfg->report_url)
                return;
        if (url_redact(b->cfg->report_url, &shown) < 0) {
                b->oom = true;
                return;
        }
        setting(b, "report_url", SETTING_APPLIED, "the install's events are POSTed as JSON to %s; a report that "
                "cannot be delivered never stops the install", shown);
}

static void plan_packs(struct builder *b) {
        const struct install_config *c = b->cfg;
        struct install_plan *p = b->p;
        bool local_seen = false;
        if (c->n_packs == 0)
                return;
        p->packs = calloc(c->n_packs, sizeof *p->packs);
        if (!p->packs) {
                b->oom = true;
                return;
        }
        for (size_t i = 0; i < c->n_packs; i++) {
                const struct location *l = &c->packs[i];
                struct plan_pack *pp = &p->packs[p->n_packs];
                if (l->type == LOCATION_LOCAL && l->address) {
                        /* one pack of the media's packs/, by its file name */
                        if (!(pp->location = strdup(l->address))) {
                                b->oom = true;
                                return;
                        }
                } else if (l->type == LOCATION_LOCAL) {
                        if (local_seen)
                                continue;
                        local_seen = true;
                } else if (!l->address) {
                        continue; /* refused by validation already */
                } else if (url_redact(l->address, &pp->location) < 0) {
                        b->oom = true;
                        return;
                }
                pp->index = i;
                pp->type = l->type;
                p->n_packs++;
        }
        setting(b, "packs", SETTING_APPLIED, "%zu supplemental pack location%s: fetched and verified before the "
                "first write, installed into slot %c after its configuration and recorded in "
                "/var/lib/xenhost/packs", p->n_packs, p->n_packs == 1 ? "" : "s", p->slot);
}

static void plan_scripts_and_packs(struct builder *b) {
        const struct install_config *c = b->cfg;
        struct install_plan *p = b->p;
        for (size_t i = 0; i < c->n_scripts; i++) {
                enum script_stage s = c->scripts[i].stage;
                size_t *ns = reallocarray(p->scripts[s], p->n_scripts[s] + 1, sizeof(size_t));
                if (!ns) {
                        b->oom = true;
                        return;
                }
                ns[p->n_scripts[s]++] = i;
                p->scripts[s] = ns;
        }
        if (c->n_scripts > 0)
                setting(b, "scripts", SETTING_APPLIED, "%zu script%s, fetched before the first write", c->n_scripts,
                        c->n_scripts == 1 ? "" : "s");
        plan_packs(b);
        if (!c->bundled_packs)
                setting(b, "bundled_packs", SETTING_APPLIED, "the packs the install media carry are not installed");
        plan_report(b);
        setting(b, "confirm_before_writing", c->confirm_before_writing ? SETTING_APPLIED : SETTING_DEFAULT, "%s",
                c->confirm_before_writing ? "the operator confirms on the console before the first write"
                                          : "the answer file naming the disks is the consent to erase them");
}

/* ---- upgrade and restore: the installed host is kept ----------------------- */

/* What a fresh install would apply means nothing here: the upgrader carries
 * the installed host's configuration over (DESIGN.md section 8). Every such
 * setting that is set is said to have no effect, so that none is dropped in
 * silence. */
static void plan_offline_settings(struct builder *b) {
        const struct install_config *c = b->cfg;
        const char *m = install_mode_to_string(c->mode);
#define NO_EFFECT(field, what, ...) \
        setting(b, field, SETTING_WARNED, what " has no effect with mode=\"%s\": the configuration is carried " \
                "over from the installed host", __VA_ARGS__)
        if (c->primary_disk)
                NO_EFFECT("primary_disk", "%s", c->primary_disk, m);
        if (!c->primary_disk_guest_storage)
                NO_EFFECT("primary_disk_guest_storage", "guest-storage=\"no\"%s", "", m);
        if (c->guest_disks)
                NO_EFFECT("guest_disks", "%s", c->guest_disks[0], m);
        if (c->sr_type != SR_LVM)
                NO_EFFECT("sr_type", "srtype %s", sr_type_to_string(c->sr_type), m);
        if (c->keymap)
                NO_EFFECT("keymap", "%s", c->keymap, m);
        if (c->root_password_type != ROOT_PASSWORD_UNSET)
                NO_EFFECT("root_password", "root's password%s", "", m);
        if (c->has_admin_interface)
                NO_EFFECT("admin", "the management interface %s", c->admin.name ?: c->admin.hwaddr ?: "", m);
        if (c->name_servers)
                NO_EFFECT("name_servers", "%s", c->name_servers[0], m);
        if (c->hostname)
                NO_EFFECT("hostname", "%s", c->hostname, m);
        if (c->timezone)
                NO_EFFECT("timezone", "%s", c->timezone, m);
        if (c->ntp_source != NTP_SOURCE_DEFAULT)
                NO_EFFECT("ntp_source", "NTP source %s", ntp_source_to_string(c->ntp_source), m);
        if (c->ntp_servers)
                NO_EFFECT("ntp_servers", "%s", c->ntp_servers[0], m);
        if (c->ssh_mode != SSH_MODE_ON)
                NO_EFFECT("ssh_mode", "ssh-mode %s", ssh_mode_to_string(c->ssh_mode), m);
        if (c->n_services > 0)
                NO_EFFECT("services", "%s", c->services[0].name, m);
        if (!c->write_boot_entry)
                NO_EFFECT("write_boot_entry", "write-boot-entry=\"false\"%s", "", m);
#undef NO_EFFECT
        if (c->mode == INSTALL_MODE_RESTORE && c->n_sources > 0)
                setting(b, "sources", SETTING_WARNED, "has no effect with mode=\"restore\": a restore writes no image");
        if (c->n_scripts > 0)
                setting(b, "scripts", SETTING_WARNED, "%zu script%s not run: scripts run with fresh installs only",
                        c->n_scripts, c->n_scripts == 1 ? "" : "s");
        if (c->n_packs > 0)
                setting(b, "packs", SETTING_WARNED, "%zu supplemental pack%s not installed: packs of the answer "
                        "file are installed with fresh installs only (packs recorded on the host stay recorded)",
                        c->n_packs, c->n_packs == 1 ? "" : "s");
        plan_report(b);
        setting(b, "confirm_before_writing", c->confirm_before_writing ? SETTING_APPLIED : SETTING_DEFAULT, "%s",
                c->confirm_before_writing ? "the operator confirms on the console before the first write"
                                          : "the answer file naming the disk is the consent: nothing is erased");
}

static const char *version_or(const char *v, const char *none) {
        return v ?: none;
}

static void plan_offline(struct builder *b) {
        const struct install_config *c = b->cfg;
        const struct install_facts *f = b->facts;
        struct install_plan *p = b->p;
        const bool upgrade = c->mode == INSTALL_MODE_UPGRADE;
        const char *field = upgrade ? "existing_installation" : "backup_disk";
        const char *name = upgrade ? c->existing_installation : c->backup_disk;
        const struct disk_facts *d = NULL;
        char s[32];

        plan_offline_settings(b);
        if (name) {
                d = install_facts_find_disk(f, name);
                if (!d) {
                        setting(b, field, SETTING_REFUSED, "%s is not on this machine", name);
                        return;
                }
                if (!d->is_xenhost) {
                        _cleanup_free_ char *holds = describe_contents(b, d);
                        setting(b, field, SETTING_REFUSED, "%s is not a xenhost disk (it holds %s)", d->path,
                                holds ?: "?");
                        return;
                }
        } else {
                struct text t;
                FILE *tf = text_open(b, &t);
                size_t n = 0;
                if (!tf)
                        return;
                for (size_t i = 0; i < f->n_disks; i++)
                        if (f->disks[i].is_xenhost) {
                                fprintf(tf, "%s%s", n++ ? ", " : "", f->disks[i].path);
                                d = &f->disks[i];
                        }
                _cleanup_free_ char *list = text_close(b, &t);
                if (n != 1) {
                        if (n == 0)
                                setting(b, field, SETTING_REFUSED, "no disk of this machine holds a xenhost "
                                        "installation");
                        else
                                setting(b, field, SETTING_REFUSED, "%zu disks hold xenhost (%s): name one with <%s>", n,
                                        list ?: "?", upgrade ? "existing-installation" : "backup-disk");
                        return;
                }
        }
        p->disk = copy_str(b, d->path);
        p->disk_by_id = copy_str(b, d->by_id ?: d->path);
        plan_add_disk(b, PLAN_DISK_PRIMARY, d, d->sr_uuid != NULL);
        /* A restore writes grubenv, an upgrade a slot too. */
        _cleanup_free_ char *unwritable = disk_unwritable(b, d);
        if (unwritable) {
                setting(b, field, SETTING_REFUSED, "%s", unwritable);
                return;
        }
        p->keep_sr = d->sr_uuid != NULL;
        p->sr_on_primary = p->keep_sr;
        p->sr_type = d->sr_type;
        if (d->sr_uuid)
                snprintf(p->sr_uuid, sizeof p->sr_uuid, "%s", d->sr_uuid);
        for (int i = 0; i < 2; i++)
                p->slot_versions[i] = copy_str(b, d->slot_versions[i]);
        p->default_slot = d->default_slot;
        if (d->default_slot != 'a' && d->default_slot != 'b') {
                setting(b, field, SETTING_REFUSED, "cannot read the boot state of %s (grubenv on its ESP, partition "
                        "%u): which slot boots now is unknown", d->path, part_specs[PART_ESP].number);
                return;
        }
        const char D = d->default_slot, O = D == 'a' ? 'b' : 'a';
        const char *dv = d->slot_versions[D - 'a'], *ov = d->slot_versions[O - 'a'];
        _cleanup_free_ char *what = NULL;

        if (upgrade) {
                p->slot = O;
                p->tries = BOOT_TRIES_DEFAULT;
                if (!p->image.version)
                        return; /* no image: refused by plan_image */
                if (d->try_slot) {
                        setting(b, field, SETTING_REFUSED, "slot %c of %s is still being tried after an upgrade: "
                                "boot the host so that its health check decides, or return to slot %c with "
                                "mode=\"restore\"", d->try_slot, d->path, D);
                        return;
                }
                if (!dv) {
                        setting(b, field, SETTING_REFUSED, "slot %c of %s, which boots now, holds no xenhost version",
                                D, d->path);
                        return;
                }
                if (streq(p->image.version, dv)) {
                        p->noop = true;
                        p->slot = D;
                        p->tries = 0;
                        what = format(b, "xenhost %s is installed in slot %c already: nothing is written", dv, D);
                        plan_warning(b, "%s", what ?: "");
                } else if (version_compare(p->image.version, dv) < 0) {
                        setting(b, field, SETTING_REFUSED, "xenhost %s on the media is older than %s in slot %c of "
                                "%s: refusing a downgrade (mode=\"restore\" returns to the previous version)",
                                p->image.version, dv, D, d->path);
                        return;
                } else
                        what = format(b, "xenhost %s is written into slot %c over %s and tried at the next boot "
                                      "(%u boots before GRUB falls back to slot %c, %s); nothing is erased, the SR "
                                      "is kept", p->image.version, O, version_or(ov, "nothing (it is empty)"), p->tries,
                                      D, dv);
        } else if (d->try_slot == O) {
                /* An upgrade not yet decided: ending its try is the restore. */
                p->slot = D;
                p->tries = 0;
                what = format(b, "the try of slot %c (%s) is ended: slot %c (%s) boots next; nothing is erased, the "
                              "SR is kept", O, version_or(ov, "?"), D, version_or(dv, "?"));
        } else if (!ov) {
                setting(b, field, SETTING_REFUSED, "slot %c of %s holds no version to restore (slot %c, %s, boots "
                        "now)", O, d->path, D, version_or(dv, "?"));
                return;
        } else {
                p->slot = O;
                p->tries = BOOT_TRIES_DEFAULT;
                what = format(b, "slot %c (xenhost %s) boots next, tried %u times; slot %c (%s) stays the "
                              "fallback; nothing is erased, the SR is kept", O, ov, p->tries, D,
                              version_or(dv, "?"));
        }
        snprintf(p->slot_label, sizeof p->slot_label, "xh-dom0-%c", p->slot);
        setting(b, field, name ? SETTING_APPLIED : SETTING_DEFAULT, "%s (%s%s%s%s): %s", d->path,
                format_si(s, sizeof s, d->size_bytes), d->model ? ", " : "", d->model ?: "",
                name ? "" : ", the only xenhost disk", what ?: "");
}

int install_plan_compute(const struct install_config *cfg, const struct install_facts *facts,
                         struct install_plan **ret) {
        _cleanup_(install_plan_freep) struct install_plan *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        struct builder b = {.cfg = cfg, .facts = facts, .p = p};
        p->slot = 'a';
        snprintf(p->slot_label, sizeof p->slot_label, "xh-dom0-%c", p->slot);
        snprintf(p->slot_fs_uuid, sizeof p->slot_fs_uuid, "%s", facts->slot_fs_uuid);

        /* "Valid" means the same for every front end: what validation
         * refuses, the plan refuses (its warnings the front end has shown). */
        struct config_problems problems = {};
        if (install_config_validate(cfg, &problems) == -ENOMEM)
                b.oom = true;
        for (size_t i = 0; i < problems.n; i++)
                if (!problems.items[i].warning)
                        plan_error(&b, "%s: %s", problems.items[i].field, problems.items[i].message);
        config_problems_done(&problems);

        plan_mode(&b);
        plan_machine(&b);
        plan_image(&b);
        if (install_mode_keeps_host(cfg->mode)) {
                plan_offline(&b);
                goto done;
        }
        if (cfg->mode != INSTALL_MODE_FRESH && cfg->mode != INSTALL_MODE_REINSTALL)
                goto done; /* refused above; the rest would only add noise */
        plan_disks(&b);
        plan_inventory(&b);
        plan_identity(&b);
        plan_fstab(&b);
        plan_network(&b);
        plan_time(&b);
        plan_boot(&b);
        plan_scripts_and_packs(&b);
        add_file(&b, "/var/log/xenhost-installer/install.log", PLAN_FILE_REGULAR, 0640, NULL,
                 "the install log, copied at the end");
done:
        if (b.oom)
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

struct install_plan *install_plan_free(struct install_plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_disks; i++) {
                free(p->disks[i].path);
                free(p->disks[i].by_id);
                free(p->disks[i].model);
                free(p->disks[i].serial);
                free(p->disks[i].holds);
        }
        free(p->disks);
        free(p->disk);
        free(p->disk_by_id);
        free(p->slot_versions[0]);
        free(p->slot_versions[1]);
        install_facts_image_done(&p->image);
        for (size_t i = 0; i < p->n_files; i++) {
                free(p->files[i].path);
                free(p->files[i].content);
                free(p->files[i].why);
        }
        free(p->files);
        for (size_t i = 0; i < p->n_commands; i++) {
                strv_free(p->commands[i].argv);
                free(p->commands[i].why);
        }
        free(p->commands);
        free(p->xen_file);
        free(p->kernel_file);
        free(p->initrd_file);
        free(p->grub_cfg);
        for (size_t i = 0; i < p->n_packs; i++)
                free(p->packs[i].location);
        free(p->packs);
        for (size_t s = 0; s < _SCRIPT_STAGE_MAX; s++)
                free(p->scripts[s]);
        for (size_t i = 0; i < p->n_settings; i++)
                free(p->settings[i].detail);
        free(p->settings);
        strv_free(p->warnings);
        strv_free(p->errors);
        free(p);
        return NULL;
}

const struct plan_setting *install_plan_setting(const struct install_plan *p, const char *field) {
        /* The last word on a field counts: a refusal after an application. */
        for (size_t i = p->n_settings; i > 0; i--)
                if (streq(p->settings[i - 1].field, field))
                        return &p->settings[i - 1];
        return NULL;
}

const struct plan_file *install_plan_file(const struct install_plan *p, const char *path) {
        for (size_t i = 0; i < p->n_files; i++)
                if (streq(p->files[i].path, path))
                        return &p->files[i];
        return NULL;
}
