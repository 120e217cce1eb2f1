/* struct install_config: defaults, lists, and a redacted printout for logs. */
#include "config.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "format.h"

static const char *const install_mode_names[_INSTALL_MODE_MAX] = {
        [INSTALL_MODE_FRESH] = "fresh",
        [INSTALL_MODE_REINSTALL] = "reinstall",
        [INSTALL_MODE_UPGRADE] = "upgrade",
        [INSTALL_MODE_RESTORE] = "restore",
};

static const char *const location_type_names[_LOCATION_TYPE_MAX] = {
        [LOCATION_LOCAL] = "local",
        [LOCATION_URL] = "url",
        [LOCATION_NFS] = "nfs",
};

static const char *const net_proto_names[_NET_PROTO_MAX] = {
        [NET_PROTO_NONE] = "none",
        [NET_PROTO_DHCP] = "dhcp",
        [NET_PROTO_STATIC] = "static",
        [NET_PROTO_AUTOCONF] = "autoconf",
};

static const char *const ntp_source_names[_NTP_SOURCE_MAX] = {
        [NTP_SOURCE_DEFAULT] = "default",
        [NTP_SOURCE_DHCP] = "dhcp",
        [NTP_SOURCE_MANUAL] = "manual",
        [NTP_SOURCE_NONE] = "none",
};

static const char *const ssh_mode_names[_SSH_MODE_MAX] = {
        [SSH_MODE_ON] = "on",
        [SSH_MODE_OFF] = "off",
};

static const char *const script_stage_names[_SCRIPT_STAGE_MAX] = {
        [SCRIPT_STAGE_INSTALLATION_START] = "installation-start",
        [SCRIPT_STAGE_PACKAGES_INSTALLED] = "packages-installed",
        [SCRIPT_STAGE_FILESYSTEM_POPULATED] = "filesystem-populated",
        [SCRIPT_STAGE_INSTALLATION_COMPLETE] = "installation-complete",
};

static const char *table_to_string(const char *const *table, size_t n, unsigned i) {
        return i < n ? table[i] : "?";
}

static unsigned table_from_string(const char *const *table, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (s && streq(s, table[i]))
                        return (unsigned) i;
        return (unsigned) n;
}

#define DEFINE_STRING_TABLE(name, type, table)                                        \
        const char *name##_to_string(type v) {                                        \
                return table_to_string(table, ELEMENTSOF(table), (unsigned) v);       \
        }
#define DEFINE_STRING_TABLE_LOOKUP(name, type, table)                                 \
        DEFINE_STRING_TABLE(name, type, table)                                        \
        type name##_from_string(const char *s) {                                      \
                return (type) table_from_string(table, ELEMENTSOF(table), s);         \
        }

DEFINE_STRING_TABLE_LOOKUP(install_mode, enum install_mode, install_mode_names)
DEFINE_STRING_TABLE_LOOKUP(location_type, enum location_type, location_type_names)
DEFINE_STRING_TABLE(net_proto, enum net_proto, net_proto_names)
DEFINE_STRING_TABLE_LOOKUP(ntp_source, enum ntp_source, ntp_source_names)
DEFINE_STRING_TABLE(ssh_mode, enum ssh_mode, ssh_mode_names)
DEFINE_STRING_TABLE_LOOKUP(script_stage, enum script_stage, script_stage_names)

int install_config_new(struct install_config **ret) {
        struct install_config *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->mode = INSTALL_MODE_FRESH;
        c->sr_type = SR_LVM;
        c->primary_disk_guest_storage = true;
        c->ntp_source = NTP_SOURCE_DEFAULT;
        c->ssh_mode = SSH_MODE_ON;
        c->write_boot_entry = true;
        c->bundled_packs = true;
        *ret = c;
        return 0;
}

static void location_done(struct location *l) {
        /* A URL may carry credentials ("user:pass@"). */
        if (l->address)
                explicit_bzero(l->address, strlen(l->address));
        free(l->address);
        l->address = NULL;
}

/* Overwrites the password before freeing it: the config lives for the whole
 * install, and a core dump or swap of the installer should not carry it. */
static void free_secret(char *s) {
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

struct install_config *install_config_free(struct install_config *c) {
        if (!c)
                return NULL;
        free(c->primary_disk);
        strv_free(c->guest_disks);
        free(c->existing_installation);
        free(c->backup_disk);
        free(c->keymap);
        free_secret(c->root_password);
        for (size_t i = 0; i < c->n_sources; i++)
                location_done(&c->sources[i]);
        free(c->sources);
        free(c->report_url);
        for (size_t i = 0; i < c->n_packs; i++)
                location_done(&c->packs[i]);
        free(c->packs);
        free(c->admin.name);
        free(c->admin.hwaddr);
        free(c->admin.ipaddr);
        free(c->admin.subnet);
        free(c->admin.gateway);
        free(c->admin.ipv6);
        free(c->admin.gateway6);
        strv_free(c->name_servers);
        free(c->hostname);
        free(c->timezone);
        strv_free(c->ntp_servers);
        for (size_t i = 0; i < c->n_services; i++)
                free(c->services[i].name);
        free(c->services);
        for (size_t i = 0; i < c->n_scripts; i++)
                location_done(&c->scripts[i].location);
        free(c->scripts);
        free(c);
        return NULL;
}

static size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static int strv_append(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        char **nl = reallocarray(*l, n + 2, sizeof(char *));
        if (!nl) {
                free(copy);
                return -ENOMEM;
        }
        nl[n] = copy;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int install_config_add_guest_disk(struct install_config *c, const char *disk) {
        return strv_append(&c->guest_disks, disk);
}

int install_config_add_name_server(struct install_config *c, const char *server) {
        return strv_append(&c->name_servers, server);
}

int install_config_add_ntp_server(struct install_config *c, const char *server) {
        return strv_append(&c->ntp_servers, server);
}

static int location_array_add(struct location **array, size_t *n, enum location_type type, const char *address) {
        _cleanup_free_ char *copy = NULL;
        if (type != LOCATION_LOCAL || address) {
                if (!address)
                        return -EINVAL;
                copy = strdup(address);
                if (!copy)
                        return -ENOMEM;
        }
        struct location *na = reallocarray(*array, *n + 1, sizeof **array);
        if (!na)
                return -ENOMEM;
        na[*n] = (struct location) { .type = type, .address = TAKE_PTR(copy) };
        *array = na;
        (*n)++;
        return 0;
}

int install_config_add_source(struct install_config *c, enum location_type type, const char *address) {
        return location_array_add(&c->sources, &c->n_sources, type, address);
}

int install_config_add_pack(struct install_config *c, enum location_type type, const char *address) {
        return location_array_add(&c->packs, &c->n_packs, type, address);
}

bool install_source_is_supported(const struct location *l) {
        if (l->type == LOCATION_LOCAL)
                return true;
        return l->type == LOCATION_URL && l->address &&
               (startswith(l->address, "http://") || startswith(l->address, "https://") ||
                startswith(l->address, "file:///"));
}

int install_config_add_bundled_packs(struct install_config *c, bool media_has_packs) {
        if (!media_has_packs || !c->bundled_packs ||
            (c->mode != INSTALL_MODE_FRESH && c->mode != INSTALL_MODE_REINSTALL))
                return 0;
        for (size_t i = 0; i < c->n_packs; i++)
                if (c->packs[i].type == LOCATION_LOCAL)
                        return 0;
        int r = install_config_add_pack(c, LOCATION_LOCAL, NULL);
        if (r < 0)
                return r;
        /* First: the answer file's own packs may require them. */
        struct location l = c->packs[c->n_packs - 1];
        memmove(c->packs + 1, c->packs, (c->n_packs - 1) * sizeof *c->packs);
        c->packs[0] = l;
        return 1;
}

int install_config_add_script(struct install_config *c, enum script_stage stage, enum location_type type,
                              const char *address) {
        if (type == LOCATION_LOCAL || !address)
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(address);
        if (!copy)
                return -ENOMEM;
        struct install_script *ns = reallocarray(c->scripts, c->n_scripts + 1, sizeof *ns);
        if (!ns)
                return -ENOMEM;
        ns[c->n_scripts++] = (struct install_script) {
                .stage = stage,
                .location = { .type = type, .address = TAKE_PTR(copy) },
        };
        c->scripts = ns;
        return 0;
}

int install_config_add_service(struct install_config *c, const char *name, bool enabled) {
        _cleanup_free_ char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        struct service_setting *ns = reallocarray(c->services, c->n_services + 1, sizeof *ns);
        if (!ns)
                return -ENOMEM;
        ns[c->n_services++] = (struct service_setting) { .name = TAKE_PTR(copy), .enabled = enabled };
        c->services = ns;
        return 0;
}

static int print_location(FILE *f, const char *key, const struct location *l, const char *suffix) {
        if (l->type == LOCATION_LOCAL && l->address) {
                fprintf(f, "%s: local %s/%s (install media)%s\n", key, PACKS_MEDIA_DIR, l->address, suffix);
                return 0;
        }
        if (l->type == LOCATION_LOCAL) {
                fprintf(f, "%s: local (install media)%s\n", key, suffix);
                return 0;
        }
        _cleanup_free_ char *shown = NULL;
        int r = url_redact(l->address, &shown);
        if (r < 0)
                return r;
        fprintf(f, "%s: %s %s%s\n", key, location_type_to_string(l->type), shown, suffix);
        return 0;
}

static void print_list(FILE *f, const char *key, char *const *l, const char *empty) {
        fprintf(f, "%s:", key);
        if (!l || !*l)
                fprintf(f, " %s", empty);
        for (; l && *l; l++)
                fprintf(f, " %s", *l);
        fputc('\n', f);
}

static const char *or_default(const char *s, const char *def) {
        return s ? s : def;
}

static void print_admin_interface(FILE *f, const struct admin_interface *a) {
        fprintf(f, "admin-interface: %s%s%s", a->name ? a->name : "", a->name && a->hwaddr ? " " : "",
                a->hwaddr ? a->hwaddr : "");
        if (a->vlan)
                fprintf(f, " vlan %u", a->vlan);
        fputc('\n', f);
        fprintf(f, "ipv4: %s", net_proto_to_string(a->proto));
        if (a->proto == NET_PROTO_STATIC)
                fprintf(f, " %s netmask %s gateway %s", a->ipaddr, a->subnet, a->gateway);
        fputc('\n', f);
        fprintf(f, "ipv6: %s", net_proto_to_string(a->proto6));
        if (a->proto6 == NET_PROTO_STATIC)
                fprintf(f, " %s gateway %s", a->ipv6, a->gateway6);
        fputc('\n', f);
}

int install_config_print(const struct install_config *c, FILE *f) {
        int r;

        fprintf(f, "mode: %s\n", install_mode_to_string(c->mode));
        if (c->mode == INSTALL_MODE_RESTORE) {
                fprintf(f, "backup-disk: %s\n", or_default(c->backup_disk, "(the only backup found)"));
        } else if (c->mode == INSTALL_MODE_UPGRADE) {
                fprintf(f, "existing-installation: %s\n", or_default(c->existing_installation, "(not set)"));
        } else {
                fprintf(f, "sr-type: %s\n", sr_type_to_string(c->sr_type));
                fprintf(f, "primary-disk: %s (guest storage: %s)\n", or_default(c->primary_disk, "(not set)"),
                        c->primary_disk_guest_storage ? "yes" : "no");
                print_list(f, "guest-disks", c->guest_disks, "(none)");
        }

        for (size_t i = 0; i < c->n_sources; i++) {
                r = print_location(f, "source", &c->sources[i], "");
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_packs; i++) {
                r = print_location(f, "pack", &c->packs[i], "");
                if (r < 0)
                        return r;
        }
        if (!c->bundled_packs && (c->mode == INSTALL_MODE_FRESH || c->mode == INSTALL_MODE_REINSTALL))
                fprintf(f, "bundled-packs: no\n");
        for (size_t i = 0; i < c->n_scripts; i++) {
                char key[64];
                snprintf(key, sizeof key, "script %s", script_stage_to_string(c->scripts[i].stage));
                r = print_location(f, key, &c->scripts[i].location, "");
                if (r < 0)
                        return r;
        }

        if (c->mode == INSTALL_MODE_FRESH || c->mode == INSTALL_MODE_REINSTALL) {
                fprintf(f, "keymap: %s\n", or_default(c->keymap, "us (default)"));
                switch (c->root_password_type) {
                case ROOT_PASSWORD_PLAINTEXT:
                        fprintf(f, "root-password: plaintext (redacted)\n");
                        break;
                case ROOT_PASSWORD_HASH:
                        fprintf(f, "root-password: hash (redacted)\n");
                        break;
                default:
                        fprintf(f, "root-password: (not set: asked at first boot)\n");
                }
                if (c->has_admin_interface)
                        print_admin_interface(f, &c->admin);
                else
                        fprintf(f, "admin-interface: (not set)\n");
                print_list(f, "name-servers", c->name_servers, "(from DHCP)");
                fprintf(f, "hostname: %s\n", or_default(c->hostname, "localhost.localdomain (default)"));
                fprintf(f, "timezone: %s\n", or_default(c->timezone, "Etc/UTC (default)"));
                fprintf(f, "ntp: %s", ntp_source_to_string(c->ntp_source));
                for (char **s = c->ntp_servers; s && *s; s++)
                        fprintf(f, " %s", *s);
                fputc('\n', f);
                fprintf(f, "ssh-mode: %s\n", ssh_mode_to_string(c->ssh_mode));
                for (size_t i = 0; i < c->n_services; i++)
                        fprintf(f, "service: %s %s\n", c->services[i].name,
                                c->services[i].enabled ? "enabled" : "disabled");
        }
        if (c->mode != INSTALL_MODE_RESTORE)
                fprintf(f, "write-boot-entry: %s\n", c->write_boot_entry ? "yes" : "no");
        fprintf(f, "confirm-before-writing: %s\n", c->confirm_before_writing ? "yes" : "no");
        if (c->report_url) {
                _cleanup_free_ char *shown = NULL;
                if (url_redact(c->report_url, &shown) < 0)
                        return -ENOMEM;
                fprintf(f, "report: %s\n", shown);
        }
        return ferror(f) ? -EIO : 0;
}

/* ---- validation ---- */

void config_problems_done(struct config_problems *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++)
                free(p->items[i].message);
        free(p->items);
        *p = (struct config_problems) {};
}

_printf_(5, 6) static int problem_add(struct config_problems *p, bool warning, const char *field, size_t index,
                                      const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        /* One problem is one line, whatever a value holds. */
        for (char *c = msg; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        struct config_problem *ni = reallocarray(p->items, p->n + 1, sizeof *ni);
        if (!ni)
                return -ENOMEM;
        p->items = ni;
        p->items[p->n++] = (struct config_problem) {
                .field = field, .index = index, .warning = warning, .message = TAKE_PTR(msg),
        };
        if (!warning)
                p->n_errors++;
        return 0;
}

#define ERROR(field, index, ...)                                                      \
        do {                                                                          \
                if (problem_add(v->p, false, (field), (index), __VA_ARGS__) < 0)     \
                        v->oom = true;                                                \
        } while (0)
#define WARNING(field, index, ...)                                                    \
        do {                                                                          \
                if (problem_add(v->p, true, (field), (index), __VA_ARGS__) < 0)      \
                        v->oom = true;                                                \
        } while (0)

struct validation {
        const struct install_config *c;
        struct config_problems *p;
        bool oom;
};

static bool chars_in(const char *s, const char *extra) {
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr(extra, *s))
                        return false;
        return true;
}

static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static bool parse_ipv4(const char *s, uint32_t *ret) {
        struct in_addr a;
        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return false;
        if (ret)
                *ret = ntohl(a.s_addr);
        return true;
}

static bool is_ipv6(const char *s) {
        struct in6_addr a;
        return s && inet_pton(AF_INET6, s, &a) == 1;
}

/* Contiguous ones from the top, at least one. */
static bool parse_netmask(const char *s, unsigned *ret_prefix) {
        uint32_t m;
        if (!parse_ipv4(s, &m))
                return false;
        uint32_t inv = ~m;
        if (m == 0 || (inv & (inv + 1)) != 0)
                return false;
        if (ret_prefix)
                *ret_prefix = (unsigned) __builtin_popcount(m);
        return true;
}

/* "2001:db8::1/64" */
static bool is_ipv6_with_prefix(const char *s) {
        const char *slash = strchr(s, '/');
        if (!slash || slash == s || slash - s >= INET6_ADDRSTRLEN)
                return false;
        char addr[INET6_ADDRSTRLEN];
        memcpy(addr, s, (size_t) (slash - s));
        addr[slash - s] = 0;
        if (!is_ipv6(addr))
                return false;
        const char *pfx = slash + 1;
        if (!*pfx || strlen(pfx) > 3 || strspn(pfx, "0123456789") != strlen(pfx))
                return false;
        return atoi(pfx) <= 128;
}

/* RFC 1123 host name, optionally fully qualified: labels of 1 to 63
 * letters, digits and inner hyphens, 253 characters in all. */
static bool is_hostname(const char *s) {
        size_t total = strlen(s);
        if (total == 0 || total > 253)
                return false;
        const char *label = s;
        for (;;) {
                size_t l = strcspn(label, ".");
                if (l == 0 || l > 63)
                        return false;
                for (size_t i = 0; i < l; i++) {
                        char c = label[i];
                        if (!isalnum((unsigned char) c) && !(c == '-' && i > 0 && i < l - 1))
                                return false;
                }
                if (!label[l])
                        return true;
                label += l + 1;
        }
}

static bool is_ip(const char *s) {
        return parse_ipv4(s, NULL) || is_ipv6(s);
}

bool hwaddr_is_valid(const char *s) {
        if (strlen(s) != 17)
                return false;
        for (size_t i = 0; i < 17; i++)
                if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/* Linux interface names: at most 15 bytes, no '/', ':' or white space. */
static bool is_ifname(const char *s) {
        size_t l = strlen(s);
        return l > 0 && l < 16 && !streq(s, ".") && !streq(s, "..") && chars_in(s, "-_.@+");
}

/* A disk as the operator writes it: "sda", "/dev/nvme0n1",
 * "disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1". */
static bool is_disk_name(const char *s) {
        return *s && !strstr(s, "..") && chars_in(s, "/-_.:+@#=");
}

/* ---- the databases ---- */

static const char *root_or_env(const char *root, const char *env, const char *def) {
        if (root)
                return root;
        const char *e = secure_getenv(env);
        return e && *e ? e : def;
}

/* The zone names tzdata uses: "Europe/London", "Etc/GMT+1", "UTC". */
static bool is_timezone_name(const char *s) {
        if (!*s || *s == '/' || *s == '.' || strlen(s) >= 128 || strstr(s, "..") || strstr(s, "//") ||
            strstr(s, "/.") || endswith(s, "/"))
                return false;
        return chars_in(s, "/_+-");
}

int timezone_lookup(const char *root, const char *name) {
        _cleanup_free_ char *real_root = NULL, *path = NULL, *real = NULL;
        char magic[4];

        if (!is_timezone_name(name))
                return -EINVAL;
        root = root_or_env(root, ZONEINFO_ROOT_ENV, ZONEINFO_ROOT_DEFAULT);
        real_root = realpath(root, NULL);
        if (!real_root)
                return errno == ENOMEM ? -ENOMEM : -ENODATA;
        if (asprintf(&path, "%s/%s", real_root, name) < 0)
                return -ENOMEM;
        /* Links inside the database are fine ("GB" -> "Europe/London");
         * one that leads out of it ("localtime" -> /etc/localtime) is not
         * a zone of this database. */
        real = realpath(path, NULL);
        if (!real)
                return errno == ENOMEM ? -ENOMEM : -ENOENT;
        const char *rest = startswith(real, real_root);
        if (!rest || (*rest != '/' && !streq(real_root, "/")))
                return -ENOENT;
        _cleanup_close_ int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return -ENOENT;
        /* zone.tab, tzdata.zi and the like are files too, but not zones. */
        if (read(fd, magic, sizeof magic) != (ssize_t) sizeof magic || memcmp(magic, "TZif", 4) != 0)
                return -ENOENT;
        return 0;
}

static bool is_keymap_name(const char *s) {
        return *s && *s != '.' && strlen(s) < 64 && chars_in(s, "-_.");
}

static const char *const keymap_suffixes[] = { ".kmap.gz", ".kmap", ".map.gz", ".map" };

/* Depth-first search for NAME + a suffix below DIR, as loadkeys searches
 * its keymap directory; symbolic links are not followed. */
static int keymap_find(int dirfd, const char *name, unsigned depth) {
        DIR *d = fdopendir(dirfd);
        if (!d) {
                int e = errno;
                close(dirfd);
                return e == ENOMEM ? -ENOMEM : -ENOENT;
        }
        int r = -ENOENT;
        struct dirent *de;
        while (r == -ENOENT && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (depth >= 8 || streq(de->d_name, "include"))
                                continue;
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sub >= 0)
                                r = keymap_find(sub, name, depth + 1);
                        continue;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                const char *rest = startswith(de->d_name, name);
                for (size_t i = 0; rest && i < ELEMENTSOF(keymap_suffixes); i++)
                        if (streq(rest, keymap_suffixes[i]))
                                r = 0;
        }
        closedir(d);
        return r == -ENOMEM ? r : (r == 0 ? 0 : -ENOENT);
}

int keymap_lookup(const char *root, const char *name) {
        if (!is_keymap_name(name))
                return -EINVAL;
        root = root_or_env(root, KEYMAPS_ROOT_ENV, KEYMAPS_ROOT_DEFAULT);
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOMEM ? -ENOMEM : -ENODATA;
        return keymap_find(fd, name, 0);
}

/* ---- root password hashes ---- */

static bool is_crypt64(char ch) {
        return ch == '.' || ch == '/' || isdigit((unsigned char) ch) || isalpha((unsigned char) ch);
}

static unsigned crypt64_value(char ch) {
        if (ch == '.')
                return 0;
        if (ch == '/')
                return 1;
        if (isdigit((unsigned char) ch))
                return (unsigned) (ch - '0') + 2;
        if (isupper((unsigned char) ch))
                return (unsigned) (ch - 'A') + 12;
        return (unsigned) (ch - 'a') + 38;
}

static size_t crypt64_span(const char *s) {
        size_t n = 0;
        while (is_crypt64(s[n]))
                n++;
        return n;
}

/* The hash part: exactly LEN characters of the crypt alphabet, and the last
 * one carries only LAST_BITS bits, so its value is below 1 << LAST_BITS. */
static bool hash_part_ok(const char *s, size_t len, unsigned last_bits) {
        return strlen(s) == len && crypt64_span(s) == len && crypt64_value(s[len - 1]) < (1u << last_bits);
}

/* $5$ and $6$: [rounds=N$]salt$hash, salt 1 to 16 characters. */
static bool sha_crypt_ok(const char *s, size_t hash_len, unsigned last_bits) {
        const char *r = startswith(s, "rounds=");
        if (r) {
                size_t digits = strspn(r, "0123456789");
                if (digits == 0 || digits > 9 || r[digits] != '$' || r[0] == '0')
                        return false;
                unsigned long rounds = strtoul(r, NULL, 10);
                if (rounds < 1000)
                        return false;
                s = r + digits + 1;
        }
        size_t salt = crypt64_span(s);
        if (salt == 0 || salt > 16 || s[salt] != '$')
                return false;
        return hash_part_ok(s + salt + 1, hash_len, last_bits);
}

/* $y$params$salt$hash: the hash is 32 bytes (43 characters). The setting
 * is also run through libcrypt when its cost is moderate, which catches
 * parameters and salts yescrypt does not accept. */
static bool yescrypt_ok(const char *full, const char *s) {
        size_t params = crypt64_span(s);
        if (params == 0 || s[params] != '$')
                return false;
        const char *salt = s + params + 1;
        size_t salt_len = crypt64_span(salt);
        if (salt_len == 0 || salt_len > 86 || salt[salt_len] != '$')
                return false;
        if (!hash_part_ok(salt + salt_len + 1, 43, 4))
                return false;
        /* "j" flags, N, r: libxcrypt's own settings; N up to 'D' (2^17
         * blocks, a fraction of a second) is cheap enough to try. */
        if (params == 3 && s[0] == 'j' && crypt64_value(s[1]) <= crypt64_value('D')) {
                struct crypt_data *data = calloc(1, sizeof *data);
                if (!data)
                        return true; /* the format is right; the try is only extra care */
                const char *out = crypt_r("", full, data);
                bool ok = out && out[0] == '$' && strlen(out) == strlen(full) &&
                          strncmp(out, full, (size_t) (salt + salt_len + 1 - full)) == 0;
                explicit_bzero(data, sizeof *data);
                free(data);
                return ok;
        }
        return true;
}

int root_password_hash_check(const char *hash, const char **ret_reason) {
        static const char bad_form[] = "the hash is not a complete yescrypt ($y$...), SHA-512 ($6$...) or SHA-256 "
                                       "($5$...) crypt(3) string (or !! to set the password at first boot)";
        const char *reason = NULL, *rest;

        if (streq(hash, "!!"))
                return 0;
        if ((rest = startswith(hash, "$y$")))
                reason = yescrypt_ok(hash, rest) ? NULL : bad_form;
        else if ((rest = startswith(hash, "$6$")))
                reason = sha_crypt_ok(rest, 86, 2) ? NULL : bad_form;
        else if ((rest = startswith(hash, "$5$")))
                reason = sha_crypt_ok(rest, 43, 4) ? NULL : bad_form;
        else if (startswith(hash, "$1$"))
                reason = "MD5 password hashes are not accepted; use yescrypt or SHA-512";
        else if (startswith(hash, "$2a$") || startswith(hash, "$2b$") || startswith(hash, "$2y$"))
                reason = "bcrypt password hashes are not accepted; use yescrypt or SHA-512";
        else if ((strlen(hash) == 13 && crypt64_span(hash) == 13) || (hash[0] == '_' && strlen(hash) == 20))
                reason = "DES password hashes are not accepted; use yescrypt or SHA-512";
        else
                reason = bad_form;
        if (reason) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EINVAL;
        }
        return 0;
}

/* ---- URLs ---- */

static const char *const location_schemes[] = { "http://", "https://", "ftp://", "file://" };
static const char *const fetch_schemes[] = { "http://", "https://", "ftp://", "tftp://", "nfs://", "file://" };

/* SCHEMES: what is allowed; WHICH: them as the operator reads them. */
static int url_check_in(const char *url, const char *const *schemes, size_t n, const char *which,
                        char **ret_reason) {
        _cleanup_free_ char *shown = NULL;
        const char *after = NULL;
        int r;

        for (size_t i = 0; i < n && !after; i++)
                after = startswith(url, schemes[i]);
        r = url_redact(url, &shown);
        if (r < 0)
                return r;
        if (!after)
                return reason_set(ret_reason, "'%s' is not an %s URL", FORMAT_VALUE(shown), which), -EINVAL;
        bool is_file = startswith(url, "file://");
        size_t host_len = strcspn(after, "/?#");
        const char *at = memrchr(after, '@', host_len);
        const char *host = at ? at + 1 : after;
        host_len -= (size_t) (host - after);
        if (has_control_chars(url) || strpbrk(url, " \t") || (is_file ? *after != '/' : host_len == 0 || *host == ':'))
                return reason_set(ret_reason, "'%s' is not a valid URL%s", FORMAT_VALUE(shown),
                                  is_file ? " (file:///path)" : " (it needs a host)"),
                       -EINVAL;
        return 0;
}

int config_url_check(const char *url, char **ret_reason) {
        return url_check_in(url, fetch_schemes, ELEMENTSOF(fetch_schemes),
                            "http://, https://, ftp://, tftp://, nfs:// or file://", ret_reason);
}

static void check_location(struct validation *v, const char *field, size_t i, const struct location *l) {
        _cleanup_free_ char *reason = NULL;
        int r;

        switch (l->type) {
        case LOCATION_LOCAL:
                return;
        case LOCATION_URL:
                if (!l->address) {
                        ERROR(field, i, "a URL is needed");
                        return;
                }
                r = url_check_in(l->address, location_schemes, ELEMENTSOF(location_schemes),
                                 "http://, https://, ftp://, file:// or nfs://", &reason);
                if (r == -ENOMEM)
                        v->oom = true;
                else if (r < 0)
                        ERROR(field, i, "%s", reason);
                return;
        case LOCATION_NFS: {
                /* "server:/path" */
                const char *a = l->address;
                const char *colon = a ? strchr(a, ':') : NULL;
                if (!colon || colon == a || colon[1] != '/' || has_control_chars(a) || strpbrk(a, " \t")) {
                        /* nfs://user:pass@server/path arrives here as user:pass@server/path. */
                        _cleanup_free_ char *shown = NULL;
                        if (a && url_redact(a, &shown) < 0)
                                v->oom = true;
                        else
                                ERROR(field, i, "'%s' is not an NFS location (server:/path)",
                                      FORMAT_VALUE(shown ?: ""));
                }
                return;
        }
        default:
                ERROR(field, i, "unknown location type");
        }
}

/* ---- the checks ---- */

static void check_disk(struct validation *v, const char *field, size_t i, const char *disk) {
        if (startswith(disk, "iscsi:"))
                ERROR(field, i, "iSCSI boot disks (iscsi:...) are not supported");
        else if (!is_disk_name(disk))
                ERROR(field, i, "'%s' is not a disk name", FORMAT_VALUE(disk));
}

static void check_admin_ipv4(struct validation *v, const struct admin_interface *a) {
        uint32_t ip = 0, gw = 0;
        unsigned prefix = 0;
        bool ip_ok = false, mask_ok = false, gw_ok = false;

        if (a->ipaddr && !(ip_ok = parse_ipv4(a->ipaddr, &ip)))
                ERROR("admin.ipaddr", 0, "'%s' is not an IPv4 address", FORMAT_VALUE(a->ipaddr));
        if (a->subnet && !(mask_ok = parse_netmask(a->subnet, &prefix)))
                ERROR("admin.subnet", 0, "'%s' is not an IPv4 netmask", FORMAT_VALUE(a->subnet));
        if (a->gateway && !(gw_ok = parse_ipv4(a->gateway, &gw)))
                ERROR("admin.gateway", 0, "'%s' is not an IPv4 address", FORMAT_VALUE(a->gateway));
        if (a->proto != NET_PROTO_STATIC)
                return;
        if (!a->ipaddr)
                ERROR("admin.ipaddr", 0, "static IPv4 needs an address (ipaddr)");
        if (!a->subnet)
                ERROR("admin.subnet", 0, "static IPv4 needs a netmask (subnet)");
        if (!a->gateway)
                ERROR("admin.gateway", 0, "static IPv4 needs a gateway");
        if (!ip_ok || !mask_ok)
                return;
        uint32_t mask = prefix == 32 ? UINT32_MAX : ~(UINT32_MAX >> prefix);
        /* /31 (RFC 3021) and /32 have no network or broadcast address. */
        if (prefix <= 30 && (ip & ~mask) == 0)
                ERROR("admin.ipaddr", 0, "'%s' is the network address of its subnet (/%u)", a->ipaddr, prefix);
        else if (prefix <= 30 && (ip & ~mask) == ~mask)
                ERROR("admin.ipaddr", 0, "'%s' is the broadcast address of its subnet (/%u)", a->ipaddr, prefix);
        if (gw_ok && (gw & mask) != (ip & mask))
                WARNING("admin.gateway", 0, "gateway %s is outside the subnet of %s/%u", a->gateway, a->ipaddr,
                        prefix);
}

static void check_admin(struct validation *v, const struct admin_interface *a) {
        if (!a->name && !a->hwaddr)
                ERROR("admin.name", 0, "the management interface needs a name or a MAC address (hwaddr)");
        if (a->name && !is_ifname(a->name))
                ERROR("admin.name", 0, "'%s' is not a network interface name", FORMAT_VALUE(a->name));
        if (a->hwaddr && !hwaddr_is_valid(a->hwaddr))
                ERROR("admin.hwaddr", 0, "hwaddr '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", FORMAT_VALUE(a->hwaddr));
        if (a->vlan > 4094)
                ERROR("admin.vlan", 0, "vlan \"%u\" is not a VLAN id from 1 to 4094", a->vlan);
        if (a->proto >= _NET_PROTO_MAX || a->proto == NET_PROTO_AUTOCONF)
                ERROR("admin.proto", 0, "unknown IPv4 configuration (dhcp, static or none)");
        if (a->proto6 >= _NET_PROTO_MAX)
                ERROR("admin.proto6", 0, "unknown IPv6 configuration (dhcp, static, autoconf or none)");
        if (a->proto == NET_PROTO_NONE && a->proto6 == NET_PROTO_NONE)
                ERROR("admin.proto", 0, "with proto none the interface needs protov6 (dhcp, static or autoconf)");

        check_admin_ipv4(v, a);

        if (a->ipv6 && !is_ipv6_with_prefix(a->ipv6))
                ERROR("admin.ipv6", 0, "'%s' is not an IPv6 address with prefix length", FORMAT_VALUE(a->ipv6));
        if (a->gateway6 && !is_ipv6(a->gateway6))
                ERROR("admin.gateway6", 0, "'%s' is not an IPv6 address", FORMAT_VALUE(a->gateway6));
        if (a->proto6 == NET_PROTO_STATIC) {
                if (!a->ipv6)
                        ERROR("admin.ipv6", 0, "static IPv6 needs an address with prefix length (ipv6)");
                if (!a->gateway6)
                        ERROR("admin.gateway6", 0, "static IPv6 needs a gateway (gatewayv6)");
        }
}

static void check_root_password(struct validation *v, const struct install_config *c) {
        const char *reason = NULL;
        switch (c->root_password_type) {
        case ROOT_PASSWORD_UNSET:
                return;
        case ROOT_PASSWORD_PLAINTEXT:
        case ROOT_PASSWORD_HASH:
                break;
        default:
                ERROR("root_password", 0, "unknown password type");
                return;
        }
        /* Only the password's shape is ever described, never its value. */
        const char *pw = c->root_password;
        bool plain = c->root_password_type == ROOT_PASSWORD_PLAINTEXT;
        if (!pw || !*pw)
                ERROR("root_password", 0, "the %s password is empty", plain ? "plaintext" : "hashed");
        else if (has_control_chars(pw))
                ERROR("root_password", 0, "the %s password contains control characters",
                      plain ? "plaintext" : "hashed");
        else if (!plain && root_password_hash_check(pw, &reason) < 0)
                ERROR("root_password", 0, "%s", reason);
}

static void check_timezone(struct validation *v, const char *tz) {
        int r = timezone_lookup(NULL, tz);
        if (r == -EINVAL)
                ERROR("timezone", 0, "'%s' is not a time zone (Region/City)", FORMAT_VALUE(tz));
        else if (r == -ENOENT)
                ERROR("timezone", 0, "'%s' is not a time zone of the tz database (Region/City, e.g. Europe/London)",
                      FORMAT_VALUE(tz));
        else if (r == -ENODATA)
                WARNING("timezone", 0, "time zone '%s' not checked: no time zone database at %s", FORMAT_VALUE(tz),
                        root_or_env(NULL, ZONEINFO_ROOT_ENV, ZONEINFO_ROOT_DEFAULT));
        else if (r < 0)
                v->oom = v->oom || r == -ENOMEM;
}

static void check_keymap(struct validation *v, const char *keymap) {
        int r = keymap_lookup(NULL, keymap);
        if (r == -EINVAL)
                ERROR("keymap", 0, "'%s' is not a keymap name", FORMAT_VALUE(keymap));
        else if (r == -ENOENT)
                ERROR("keymap", 0, "'%s' is not a known console keymap (us, uk, de, fr, ...)", FORMAT_VALUE(keymap));
        else if (r == -ENODATA)
                WARNING("keymap", 0, "keymap '%s' not checked: no keymap database at %s", FORMAT_VALUE(keymap),
                        root_or_env(NULL, KEYMAPS_ROOT_ENV, KEYMAPS_ROOT_DEFAULT));
        else if (r < 0)
                v->oom = v->oom || r == -ENOMEM;
}

static void check_time(struct validation *v, const struct install_config *c) {
        if (c->timezone)
                check_timezone(v, c->timezone);
        for (size_t i = 0; c->ntp_servers && c->ntp_servers[i]; i++)
                if (!is_ip(c->ntp_servers[i]) && !is_hostname(c->ntp_servers[i]))
                        ERROR("ntp_servers", i, "'%s' is not a host name or IP address", FORMAT_VALUE(c->ntp_servers[i]));
        if (c->ntp_source >= _NTP_SOURCE_MAX)
                ERROR("ntp_source", 0, "unknown NTP source (dhcp, default, manual or none)");
        else if (c->ntp_source == NTP_SOURCE_MANUAL && !(c->ntp_servers && c->ntp_servers[0]))
                ERROR("ntp_source", 0, "NTP source manual needs at least one NTP server");
        else if (c->ntp_source != NTP_SOURCE_MANUAL && c->ntp_servers && c->ntp_servers[0])
                ERROR("ntp_servers", 0, "NTP servers need NTP source manual (the source is %s)",
                      ntp_source_to_string(c->ntp_source));
}

static void check_fresh(struct validation *v, const struct install_config *c) {
        const char *mode = install_mode_to_string(c->mode);

        if (c->sr_type >= _SR_TYPE_MAX)
                ERROR("sr_type", 0, "unknown SR type (lvm or ext)");
        if (!c->primary_disk)
                ERROR("primary_disk", 0, "primary-disk is required with mode %s", mode);
        if (!c->has_admin_interface)
                ERROR("admin", 0, "admin-interface is required with mode %s", mode);
}

int install_config_validate(const struct install_config *c, struct config_problems *p) {
        struct validation val = { .c = c, .p = p }, *v = &val;
        size_t errors_before = p->n_errors;

        if (c->mode >= _INSTALL_MODE_MAX) {
                ERROR("mode", 0, "unknown install mode");
                return v->oom ? -ENOMEM : -EINVAL;
        }
        bool fresh = c->mode == INSTALL_MODE_FRESH || c->mode == INSTALL_MODE_REINSTALL;

        /* What each mode requires. An upgrade names the installed host's
         * disk, as XenServer's answer files must; a restore may leave it to
         * the plan, which takes the only xenhost disk it finds. */
        if (fresh)
                check_fresh(v, c);
        if (c->mode == INSTALL_MODE_UPGRADE && !c->existing_installation)
                ERROR("existing_installation", 0, "existing-installation is required with mode upgrade");
        if (c->mode != INSTALL_MODE_RESTORE && c->n_sources == 0)
                ERROR("sources", 0, "source is required with mode %s (source type local for the install media)",
                      install_mode_to_string(c->mode));

        /* Every value that is set, whatever the mode. */
        if (c->primary_disk)
                check_disk(v, "primary_disk", 0, c->primary_disk);
        for (size_t i = 0; c->guest_disks && c->guest_disks[i]; i++)
                check_disk(v, "guest_disks", i, c->guest_disks[i]);
        if (c->existing_installation)
                check_disk(v, "existing_installation", 0, c->existing_installation);
        if (c->backup_disk)
                check_disk(v, "backup_disk", 0, c->backup_disk);

        if (c->keymap)
                check_keymap(v, c->keymap);
        check_root_password(v, c);

        for (size_t i = 0; i < c->n_sources; i++) {
                size_t before = p->n;
                check_location(v, "sources", i, &c->sources[i]);
                /* The host image's source (the first): http(s) and file
                 * trees; ftp and NFS trees are not read. */
                if (p->n == before && i == 0 && !install_source_is_supported(&c->sources[i])) {
                        _cleanup_free_ char *shown = NULL;
                        if (url_redact(c->sources[i].address ?: "", &shown) < 0)
                                v->oom = true;
                        else
                                ERROR("sources", i, "installing from %s'%s' is not supported: serve the install tree "
                                                    "over http:// or https://, or give a file:// path",
                                      c->sources[i].type == LOCATION_NFS ? "NFS " : "", FORMAT_VALUE(shown));
                }
        }
        /* Each pack is fetched and verified by the engine before the first
         * write (installer/engine.c); here only its location is checked. */
        for (size_t i = 0; i < c->n_packs; i++) {
                const char *a = c->packs[i].address;
                if (c->packs[i].type == LOCATION_LOCAL && a &&
                    (!*a || strchr(a, '/') || streq(a, ".") || streq(a, "..") || has_control_chars(a)))
                        ERROR("packs", i, "'%s' is not the file name of a pack in the install media's %s/",
                              FORMAT_VALUE(a), PACKS_MEDIA_DIR);
                else
                        check_location(v, "packs", i, &c->packs[i]);
        }
        for (size_t i = 0; i < c->n_scripts; i++) {
                if (c->scripts[i].location.type == LOCATION_LOCAL)
                        ERROR("scripts", i, "a script needs a URL or an NFS location");
                else
                        check_location(v, "scripts", i, &c->scripts[i].location);
        }

        if (c->report_url) {
                _cleanup_free_ char *reason = NULL;
                static const char *const report_schemes[] = {"http://", "https://"};
                int r = url_check_in(c->report_url, report_schemes, ELEMENTSOF(report_schemes), "http:// or https://",
                                     &reason);
                if (r == -ENOMEM)
                        v->oom = true;
                else if (r < 0)
                        ERROR("report_url", 0, "%s", reason);
        }
        if (c->has_admin_interface)
                check_admin(v, &c->admin);
        for (size_t i = 0; c->name_servers && c->name_servers[i]; i++)
                if (!is_ip(c->name_servers[i]))
                        ERROR("name_servers", i, "'%s' is not an IP address", FORMAT_VALUE(c->name_servers[i]));
        if (c->hostname && !is_hostname(c->hostname))
                ERROR("hostname", 0, "'%s' is not a valid host name", FORMAT_VALUE(c->hostname));
        check_time(v, c);

        if (v->oom)
                return -ENOMEM;
        return p->n_errors > errors_before ? -EINVAL : 0;
}

static int media_pack_filter(const struct dirent *d) {
        return d->d_name[0] != '.';
}

int install_media_packs(const char *media_root, char ***ret_names) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent **list = NULL;
        size_t k = 0;
        int n, r = 0;

        if (!media_root) {
                *ret_names = NULL;
                return 0;
        }
        if (asprintf(&dir, "%s/%s", media_root, PACKS_MEDIA_DIR) < 0)
                return -ENOMEM;
        n = scandir(dir, &list, media_pack_filter, alphasort);
        if (n < 0) {
                *ret_names = NULL;
                return errno == ENOENT || errno == ENOTDIR ? 0 : negative_errno();
        }
        names = calloc((size_t) n + 1, sizeof *names);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                size_t len = strlen(list[i]->d_name);
                if (r >= 0 && (!names || asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0))
                        r = -ENOMEM;
                /* A pack is an ISO file or a directory (with pack.xml):
                 * what the engine opens for <pack type="local">. */
                if (r >= 0 && stat(path, &st) == 0 &&
                    (S_ISDIR(st.st_mode) ||
                     (S_ISREG(st.st_mode) && len > 4 && strcasecmp(list[i]->d_name + len - 4, ".iso") == 0))) {
                        if (!(names[k] = strdup(list[i]->d_name)))
                                r = -ENOMEM;
                        else
                                k++;
                }
                free(list[i]);
        }
        free(list);
        if (r < 0)
                return r;
        *ret_names = TAKE_PTR(names);
        return (int) k;
}
