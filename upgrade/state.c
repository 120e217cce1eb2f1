/* The upgrade state on the ESP (upgrade.h), status, and the small pure
 * helpers: versions, the inventory, the preserved list. */
#include "upgrade-internal.h"

#include <ctype.h>
#include <dirent.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "boot.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "process.h"

static const char *const slot_state_names[_SLOT_STATE_MAX] = {
        [SLOT_STATE_EMPTY] = "empty",   [SLOT_STATE_GOOD] = "good",   [SLOT_STATE_TRYING] = "trying",
        [SLOT_STATE_BAD] = "bad",       [SLOT_STATE_INCOMPLETE] = "incomplete",
};
const char *slot_state_to_string(enum slot_state s) {
        return s >= 0 && s < _SLOT_STATE_MAX ? slot_state_names[s] : NULL;
}

static const char *const step_names[_UPGRADE_STEP_MAX] = {
        [UPGRADE_STEP_VERIFY] = "verify",         [UPGRADE_STEP_PREPARE] = "prepare",
        [UPGRADE_STEP_WRITE_SLOT] = "write-slot", [UPGRADE_STEP_CARRY_OVER] = "carry-over",
        [UPGRADE_STEP_PACKS] = "packs",           [UPGRADE_STEP_BOOT_ENTRY] = "boot-entry",
        [UPGRADE_STEP_FLIP] = "flip",
};
const char *upgrade_step_to_string(enum upgrade_step s) {
        return s >= 0 && s < _UPGRADE_STEP_MAX ? step_names[s] : NULL;
}

/* ---- versions and the inventory ------------------------------------------------ */

int version_compare(const char *a, const char *b) {
        while (*a || *b) {
                if (isdigit((unsigned char) *a) && isdigit((unsigned char) *b)) {
                        char *ea, *eb;
                        unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
                        if (x != y)
                                return x < y ? -1 : 1;
                        a = ea, b = eb;
                        continue;
                }
                /* The end of a version sorts before more of it ("1.0" < "1.0.1"). */
                if (!*a || !*b)
                        return *a ? 1 : -1;
                if (*a != *b)
                        return (unsigned char) *a < (unsigned char) *b ? -1 : 1;
                a++, b++;
        }
        return 0;
}

char *inventory_get(const char *text, const char *key) {
        size_t kl = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, kl) != 0 || l[kl] != '=')
                        continue;
                const char *v = l + kl + 1;
                size_t n = strcspn(v, "\n");
                if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'')
                        v++, n -= 2;
                return strndup(v, n);
        }
        return NULL;
}

/* ---- the preserved items --------------------------------------------------------- */

/* DESIGN.md section 8, in the order they are carried over. A '*' is a glob
 * on the running slot. The accounts are merged (accounts.c), fstab and the
 * inventory are rewritten for the new slot (carry.c). */
const char *const upgrade_preserved_paths[] = {
        "/etc/hostname",                  /* host name */
        "/etc/hosts",
        "/etc/systemd/network",           /* management network: xenbr0, static addresses, VLAN */
        "/etc/resolv.conf",               /* DNS */
        "/etc/passwd",                    /* local accounts and groups with their hashes */
        "/etc/shadow",
        "/etc/group",
        "/etc/gshadow",
        "/etc/subuid",
        "/etc/subgid",
        "/etc/ssh/ssh_host_*",            /* SSH host keys */
        "/etc/ssh/sshd_config.d",         /* root's SSH login (installer) */
        "/root/.ssh",
        "/etc/machine-id",
        "/etc/xenhost",                   /* inventory UUIDs, keyring, preserve.d, installed packs */
        "/etc/localtime",                 /* time zone */
        "/etc/timezone",
        "/etc/systemd/timesyncd.conf.d",  /* NTP */
        "/etc/vconsole.conf",             /* keymap */
        "/etc/xen",                       /* guest configurations, /etc/xen/auto */
        "/etc/lvm/backup",                /* the SR's LVM metadata history */
        "/etc/lvm/archive",
        "/etc/systemd/system",            /* services enabled, disabled or masked (<service>, ssh-mode) */
        "/etc/fstab",                     /* the SR's mount (ext SR), rewritten for the new slot */
        NULL,
};

static bool path_acceptable(const char *p) {
        static const char *const forbidden[] = {"/proc", "/sys", "/dev", "/run", "/boot", "/var/log", "/tmp"};
        if (p[0] != '/' || strstr(p, "/../") || endswith(p, "/..") || streq(p, "/"))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(forbidden); i++) {
                const char *rest = startswith(p, forbidden[i]);
                if (rest && (*rest == 0 || *rest == '/'))
                        return false;
        }
        for (const char *c = p; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return false;
        return true;
}

static int strv_push(char ***l, size_t *n, const char *s) {
        char **nl = reallocarray(*l, *n + 2, sizeof(char *));
        if (!nl)
                return -ENOMEM;
        *l = nl;
        if (!(nl[*n] = strdup(s)))
                return -ENOMEM;
        nl[++*n] = NULL;
        return 0;
}

static int dot_list(const struct dirent *d) {
        return endswith(d->d_name, ".list") && d->d_name[0] != '.';
}

int upgrade_preserve_list(const char *root, char ***ret, char **ret_reason) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *dir = NULL;
        struct dirent **names = NULL;
        size_t n = 0;
        int r = 0;

        for (const char *const *p = upgrade_preserved_paths; *p; p++)
                if ((r = strv_push(&l, &n, *p)) < 0)
                        return r;
        if (asprintf(&dir, "%s/etc/xenhost/preserve.d", root) < 0)
                return -ENOMEM;
        int k = scandir(dir, &names, dot_list, alphasort);
        for (int i = 0; i < k; i++) {
                _cleanup_free_ char *file = NULL, *text = NULL;
                if (r >= 0 && asprintf(&file, "%s/%s", dir, names[i]->d_name) < 0)
                        r = -ENOMEM;
                if (r >= 0 && (r = read_full_file(file, &text, NULL)) < 0)
                        reason_set(ret_reason, "cannot read /etc/xenhost/preserve.d/%s: %s", names[i]->d_name,
                                   strerror(-r));
                unsigned line = 0;
                for (char *save = NULL, *s = r >= 0 ? strtok_r(text, "\n", &save) : NULL; s && r >= 0;
                     s = strtok_r(NULL, "\n", &save)) {
                        line++;
                        s += strspn(s, " \t");
                        s[strcspn(s, "#")] = 0;
                        for (size_t e = strlen(s); e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'); e--)
                                s[e - 1] = 0;
                        if (!*s)
                                continue;
                        if (!path_acceptable(s))
                                r = reason_set(ret_reason,
                                               "/etc/xenhost/preserve.d/%s:%u: '%.80s' is not a path that can be "
                                               "preserved (absolute, no '..', not under /proc /sys /dev /run /boot "
                                               "/tmp /var/log)",
                                               names[i]->d_name, line, s),
                                r = -EINVAL;
                        else
                                r = strv_push(&l, &n, s);
                }
                free(names[i]);
        }
        free(names);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- the state file ----------------------------------------------------------- */

void ustate_done(struct ustate *s) {
        free(s->kind), free(s->result), free(s->step), free(s->time), free(s->version), free(s->reason);
        for (int i = 0; i < 2; i++)
                free(s->slot_version[i]), free(s->health[i]);
        *s = (struct ustate) {};
}

int ustate_path(const char *esp, char **ret) {
        return asprintf(ret, "%s/xenhost/upgrade.state", esp) < 0 ? -ENOMEM : 0;
}

int ustate_read(const char *esp, struct ustate *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;
        *ret = (struct ustate) {};
        if ((r = ustate_path(esp, &path)) < 0)
                return r;
        r = read_full_file(path, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        struct {
                const char *key;
                char **field;
        } keys[] = {
                {"KIND", &ret->kind},       {"RESULT", &ret->result},        {"STEP", &ret->step},
                {"TIME", &ret->time},       {"VERSION", &ret->version},      {"REASON", &ret->reason},
                {"SLOT_A_VERSION", &ret->slot_version[0]}, {"SLOT_B_VERSION", &ret->slot_version[1]},
                {"SLOT_A_HEALTH", &ret->health[0]},        {"SLOT_B_HEALTH", &ret->health[1]},
        };
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(l, '=');
                if (l[0] == '#' || !eq)
                        continue;
                *eq = 0;
                const char *v = eq + 1;
                if (streq(l, "SLOT"))
                        ret->slot = (streq(v, "a") || streq(v, "b")) ? v[0] : 0;
                else if (streq(l, "SLOT_A_INCOMPLETE"))
                        ret->incomplete[0] = streq(v, "1");
                else if (streq(l, "SLOT_B_INCOMPLETE"))
                        ret->incomplete[1] = streq(v, "1");
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (streq(l, keys[i].key)) {
                                free(*keys[i].field);
                                if (!(*keys[i].field = strdup(v)))
                                        return -ENOMEM;
                        }
        }
        return 0;
}

/* Values are one line of printable text: reasons come from child processes. */
static void put(FILE *f, const char *key, const char *v) {
        if (!v)
                return;
        fprintf(f, "%s=", key);
        for (const char *c = v; *c && c - v < 400; c++)
                fputc((unsigned char) *c < 0x20 || *c == 0x7f ? ' ' : *c, f);
        fputc('\n', f);
}

int ustate_write(const char *esp, const struct ustate *s) {
        _cleanup_free_ char *path = NULL, *dir = NULL, *text = NULL;
        size_t len = 0;
        int r;
        if ((r = ustate_path(esp, &path)) < 0 || asprintf(&dir, "%s/xenhost", esp) < 0)
                return r < 0 ? r : -ENOMEM;
        if (mkdir(dir, 0755) >= 0) {
                /* The new directory's entry must reach the disk before the
                 * state in it counts: a power cut must not lose both. */
                _cleanup_close_ int fd = open(esp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || fsync(fd) < 0)
                        return -errno;
        } else if (errno != EEXIST)
                return -errno;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        fputs("# xenhost: the last upgrade operation and the state of each slot (xenhost-upgrade status)\n", f);
        put(f, "KIND", s->kind);
        put(f, "RESULT", s->result);
        put(f, "STEP", s->step);
        put(f, "TIME", s->time);
        put(f, "VERSION", s->version);
        if (s->slot)
                fprintf(f, "SLOT=%c\n", s->slot);
        put(f, "REASON", s->reason);
        put(f, "SLOT_A_VERSION", s->slot_version[0]);
        put(f, "SLOT_B_VERSION", s->slot_version[1]);
        if (s->incomplete[0])
                fputs("SLOT_A_INCOMPLETE=1\n", f);
        if (s->incomplete[1])
                fputs("SLOT_B_INCOMPLETE=1\n", f);
        put(f, "SLOT_A_HEALTH", s->health[0]);
        put(f, "SLOT_B_HEALTH", s->health[1]);
        if (fclose(f) != 0)
                return -ENOMEM;
        int r2 = write_file_atomic(path, text, len, 0644);
        return r2 < 0 ? r2 : sync_file_system(path);
}

int set_str(char **field, const char *v) {
        char *c = NULL;
        if (v && !(c = strdup(v)))
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

/* Starts an operation record: KIND, RESULT, the time, no step or reason yet. */
int ustate_begin(struct ustate *s, const char *kind, const char *result) {
        char now[32];
        time_t t = time(NULL);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        if (set_str(&s->kind, kind) < 0 || set_str(&s->result, result) < 0 || set_str(&s->time, now) < 0 ||
            set_str(&s->step, NULL) < 0 || set_str(&s->reason, NULL) < 0 || set_str(&s->version, NULL) < 0)
                return -ENOMEM;
        s->slot = 0;
        return 0;
}

/* A note, or a warning (which goes to the warning callback when the front
 * end has one, and to its notes otherwise). */
_printf_(3, 0) static void upgrade_message(const struct upgrade_callbacks *cb, bool warning, const char *fmt,
                                           va_list ap) {
        _cleanup_free_ char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return;
        log_debug("%s%s", warning ? "warning: " : "", s);
        void (*f)(const char *, void *) = cb ? (warning && cb->warning ? cb->warning : cb->note) : NULL;
        if (f)
                f(s, cb->userdata);
}

void upgrade_note(const struct upgrade_callbacks *cb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        upgrade_message(cb, false, fmt, ap);
        va_end(ap);
}

void upgrade_warning(const struct upgrade_callbacks *cb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        upgrade_message(cb, true, fmt, ap);
        va_end(ap);
}

/* Where apply mounts and stages, and where the lock is, by default. */
#define WORK_DIR_DEFAULT "/run/xenhost-upgrade"

/* ---- the host ------------------------------------------------------------------ */

void host_ctx_done(struct host_ctx *c) {
        free(c->inventory), free(c->running_version), free(c->disk_node);
        for (int i = 0; i < 2; i++)
                free(c->slot_dev[i]), free(c->slot_fs_uuid[i]);
        free(c->work_dir);
        ustate_done(&c->st);
        *c = (struct host_ctx) {};
}

static int running_slot_from_cmdline(char *ret) {
        _cleanup_free_ char *cmdline = NULL;
        if (read_full_file("/proc/cmdline", &cmdline, NULL) < 0)
                return -ENOENT;
        for (char *save = NULL, *w = strtok_r(cmdline, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
                const char *s = startswith(w, "root=PARTLABEL=xh-dom0-");
                if (s && (streq(s, "a") || streq(s, "b"))) {
                        *ret = s[0];
                        return 0;
                }
        }
        return -ENOENT;
}

int host_ctx_open(const struct upgrade_host *h, struct host_ctx *c, char **ret_reason) {
        _cleanup_free_ char *inv = NULL;
        int r;
        *c = (struct host_ctx) {.h = h};
        if (asprintf(&inv, "%s/etc/xenhost/inventory", h->root) < 0)
                return -ENOMEM;
        r = read_full_file(inv, &c->inventory, NULL);
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s: %s (not a xenhost host?)", inv, strerror(-r)), r;
        c->running_version = inventory_get(c->inventory, "PRODUCT_VERSION");
        if (!c->running_version || !*c->running_version)
                return reason_set(ret_reason, "%s names no PRODUCT_VERSION", inv), -EBADMSG;

        c->running = h->running_slot;
        if (!c->running && streq(h->root, "/"))
                (void) running_slot_from_cmdline(&c->running);
        if (!c->running) {
                _cleanup_free_ char *s = inventory_get(c->inventory, "ACTIVE_SLOT");
                if (s && (streq(s, "a") || streq(s, "b")))
                        c->running = s[0];
        }
        if (c->running != 'a' && c->running != 'b')
                return reason_set(ret_reason, "cannot tell which slot is running (no root=PARTLABEL=xh-dom0-a|b "
                                              "on the kernel command line, no ACTIVE_SLOT in the inventory)"),
                       -ENOENT;
        c->other = c->running == 'a' ? 'b' : 'a';

        _cleanup_free_ char *disk = h->disk ? strdup(h->disk) : inventory_get(c->inventory, "PRIMARY_DISK");
        if (!disk || !*disk)
                return reason_set(ret_reason, "the inventory names no PRIMARY_DISK; give --disk"), -ENOENT;
        if (!(c->disk_node = realpath(disk, NULL)))
                return reason_set(ret_reason, "cannot find the disk %s: %m", disk), negative_errno();

        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        parted_setup();
        r = disk_probe(c->disk_node, &d);
        if (r < 0)
                return reason_set(ret_reason, "cannot read the partitions of %s: %s", c->disk_node, strerror(-r)), r;
        for (int i = 0; i < 2; i++) {
                enum part_role role = i == 0 ? PART_DOM0_A : PART_DOM0_B;
                const struct disk_part *p = disk_info_find(d, part_specs[role].number);
                if (!p || !streq_ptr(p->name, part_specs[role].name))
                        return reason_set(ret_reason, "%s has no partition %u named %s: not a xenhost disk",
                                          c->disk_node, part_specs[role].number, part_specs[role].name),
                               -ENODEV;
                if ((r = partition_node_name(c->disk_node, p->number, &c->slot_dev[i])) < 0)
                        return r;
                c->slot_size[i] = p->size * d->sector_size;
                if (p->fs_uuid && !(c->slot_fs_uuid[i] = strdup(p->fs_uuid)))
                        return -ENOMEM;
        }
        c->work_dir = strdup(h->work_dir ?: WORK_DIR_DEFAULT);
        if (!c->work_dir)
                return -ENOMEM;

        r = boot_state_read(h->esp, &c->boot);
        if (r < 0 && r != -ENOENT)
                return reason_set(ret_reason, "cannot read the boot state in %s/grub/grubenv: %s", h->esp,
                                  r == -EBADMSG ? "not a GRUB environment block" : strerror(-r)),
                       r;
        if (r == -ENOENT)
                c->boot = (struct boot_state) {.default_slot = c->running};
        if (!c->boot.default_slot)
                c->boot.default_slot = c->running;
        r = ustate_read(h->esp, &c->st);
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s/xenhost/upgrade.state: %s", h->esp, strerror(-r)), r;
        return 0;
}

/* The version in the slot that is not running: the state's record, else its
 * inventory read off the partition without mounting it (debugfs). */
static char *other_slot_version(struct host_ctx *c) {
        int i = c->other - 'a';
        if (c->st.slot_version[i])
                return strdup(c->st.slot_version[i]);
        _cleanup_free_ char *out = NULL;
        if (spawn_run((const char *[]) {"debugfs", "-R", "cat /etc/xenhost/inventory", c->slot_dev[i], NULL}, &out) < 0)
                return NULL;
        char *v = inventory_get(out, "PRODUCT_VERSION");
        if (v && !*v)
                v = mfree(v);
        return v;
}

/* The lock of every operation that writes the boot state or the state file,
 * in the work directory (on /run: a power cut releases it). Returns the fd,
 * or -EBUSY when another holds it and WAIT is false. */
static int work_dir_lock(const char *dir, bool wait) {
        _cleanup_free_ char *p = NULL;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (asprintf(&p, "%s/lock", dir) < 0)
                return -ENOMEM;
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
                int e = errno;
                close(fd);
                return e == EWOULDBLOCK ? -EBUSY : -e;
        }
        return fd;
}

int host_lock_held(const struct host_ctx *c) {
        int fd = work_dir_lock(c->work_dir, false);
        if (fd == -EBUSY)
                return 1;
        if (fd >= 0)
                close(fd);
        return fd < 0 ? fd : 0;
}

int host_ctx_open_locked(const struct upgrade_host *h, struct host_ctx *c, bool wait, const char *busy,
                         int *ret_lock_fd, char **ret_reason) {
        const char *dir = h->work_dir ?: WORK_DIR_DEFAULT;
        /* The lock first: what is read below is then what this operation
         * changes, not a state another one is about to replace. */
        int fd = work_dir_lock(dir, wait);
        if (fd == -EBUSY)
                return reason_set(ret_reason, "%s", busy), fd;
        if (fd < 0)
                return reason_set(ret_reason, "cannot lock %s: %s", dir, strerror(-fd)), fd;
        int r = host_ctx_open(h, c, ret_reason);
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_lock_fd = fd;
        return 0;
}

int host_state_write(struct host_ctx *c, char **ret_reason) {
        int r = ustate_write(c->h->esp, &c->st);
        if (r < 0)
                return reason_set(ret_reason, "cannot write %s/xenhost/upgrade.state: %s", c->h->esp, strerror(-r)), r;
        return 0;
}

/* ---- status -------------------------------------------------------------------- */

void upgrade_status_done(struct upgrade_status *s) {
        for (int i = 0; i < 2; i++)
                free(s->slots[i].version), free(s->slots[i].reason);
        free(s->last_kind), free(s->last_result), free(s->last_time), free(s->last_step), free(s->last_reason),
                free(s->last_version);
        *s = (struct upgrade_status) {};
}

int host_status(struct host_ctx *c, struct upgrade_status *ret) {
        struct upgrade_status s = {.active_slot = c->running};
        const struct boot_state *b = &c->boot;
        s.default_slot = b->try_slot ? b->try_slot : b->default_slot;
        for (int i = 0; i < 2; i++) {
                struct upgrade_slot_status *x = &s.slots[i];
                char slot = 'a' + i;
                x->slot = slot;
                x->version = slot == c->running ? strdup(c->running_version) : other_slot_version(c);
                /* The flip is the commit point: a slot that grubenv boots
                 * is complete whatever a stale mark says. */
                bool booted = slot == c->running || slot == b->try_slot || slot == b->default_slot;
                if (b->try_slot == slot) {
                        x->state = SLOT_STATE_TRYING;
                        x->tries_left = b->tries_left;
                } else if (c->st.incomplete[i] && !booted) {
                        x->state = SLOT_STATE_INCOMPLETE;
                        x->reason = strdup("an upgrade began writing this slot and did not finish; run apply again");
                } else if (slot != c->running && (b->try_failed == slot || c->st.health[i])) {
                        x->state = SLOT_STATE_BAD;
                        if (asprintf(&x->reason, "%s%s%s",
                                     b->try_failed == slot ? "it did not pass a health check within its boots; GRUB "
                                                             "went back to the other slot"
                                                           : "its health check failed",
                                     c->st.health[i] ? "; last health check: " : "",
                                     c->st.health[i] ?: "") < 0)
                                x->reason = NULL;
                } else
                        x->state = x->version ? SLOT_STATE_GOOD : SLOT_STATE_EMPTY;
        }
        if (c->st.kind) {
                s.last_kind = strdup(c->st.kind);
                s.last_result = strdup(c->st.result ?: "unknown");
                /* A running operation whose lock is free was cut short. */
                if (streq_ptr(c->st.result, "running") && host_lock_held(c) == 0) {
                        free(s.last_result);
                        s.last_result = strdup("interrupted");
                }
                s.last_time = c->st.time ? strdup(c->st.time) : NULL;
                s.last_step = c->st.step ? strdup(c->st.step) : NULL;
                s.last_reason = c->st.reason ? strdup(c->st.reason) : NULL;
                s.last_version = c->st.version ? strdup(c->st.version) : NULL;
                s.last_slot = c->st.slot;
        }
        *ret = s;
        return 0;
}

int upgrade_status_read(const struct upgrade_host *h, struct upgrade_status *ret, char **ret_reason) {
        _cleanup_(host_ctx_done) struct host_ctx c = {};
        int r = host_ctx_open(h, &c, ret_reason);
        if (r < 0)
                return r;
        return host_status(&c, ret);
}

int upgrade_status_print(const struct upgrade_status *s, FILE *f) {
        fprintf(f, "Running slot:  %c\nNext boot:     %c\n", s->active_slot, s->default_slot);
        for (int i = 0; i < 2; i++) {
                const struct upgrade_slot_status *x = &s->slots[i];
                fprintf(f, "Slot %c:        %-10s %s", x->slot, x->version ?: "-", slot_state_to_string(x->state));
                if (x->state == SLOT_STATE_TRYING)
                        fprintf(f, " (%u boot%s left)", x->tries_left, x->tries_left == 1 ? "" : "s");
                if (x->slot == s->active_slot)
                        fputs(", running", f);
                fputc('\n', f);
                if (x->reason)
                        fprintf(f, "               %s\n", x->reason);
        }
        if (s->last_kind) {
                fprintf(f, "Last:          %s %s", s->last_kind, s->last_result);
                if (s->last_version)
                        fprintf(f, " (%s%s%.1s)", s->last_version, s->last_slot ? " into slot " : "", &s->last_slot);
                if (s->last_step && !streq_ptr(s->last_result, "succeeded"))
                        fprintf(f, " at step %s", s->last_step);
                fprintf(f, ", %s\n", s->last_time ?: "?");
                if (s->last_reason)
                        fprintf(f, "               %s\n", s->last_reason);
        }
        return ferror(f) ? -EIO : 0;
}

static void json_add_str(json_object *o, const char *k, const char *v) {
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}

int upgrade_status_print_json(const struct upgrade_status *s, FILE *f) {
        json_object *o = json_object_new_object(), *slots = json_object_new_object();
        char a[2] = {s->active_slot, 0}, d[2] = {s->default_slot, 0};
        json_add_str(o, "active_slot", a);
        json_add_str(o, "default_slot", d);
        for (int i = 0; i < 2; i++) {
                const struct upgrade_slot_status *x = &s->slots[i];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "version", x->version ? json_object_new_string(x->version) : NULL);
                json_add_str(j, "state", slot_state_to_string(x->state));
                if (x->state == SLOT_STATE_TRYING)
                        json_object_object_add(j, "tries_left", json_object_new_int((int) x->tries_left));
                json_add_str(j, "reason", x->reason);
                json_object_object_add(slots, i == 0 ? "a" : "b", j);
        }
        json_object_object_add(o, "slots", slots);
        if (s->last_kind) {
                json_object *l = json_object_new_object();
                char sl[2] = {s->last_slot, 0};
                json_add_str(l, "kind", s->last_kind);
                json_add_str(l, "result", s->last_result);
                json_add_str(l, "time", s->last_time);
                json_add_str(l, "step", s->last_step);
                json_add_str(l, "version", s->last_version);
                if (s->last_slot)
                        json_add_str(l, "slot", sl);
                json_add_str(l, "reason", s->last_reason);
                json_object_object_add(o, "last_operation", l);
        } else
                json_object_object_add(o, "last_operation", NULL);
        fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return ferror(f) ? -EIO : 0;
}
