/* struct install_config: defaults, lists, and a redacted printout for logs. */
#include "config.h"

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
        *ret = c;
        return 0;
}

static void location_done(struct location *l) {
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
        if (type != LOCATION_LOCAL) {
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

int url_redact(const char *url, char **ret) {
        const char *scheme_end = strstr(url, "://");
        char *r;

        if (scheme_end) {
                const char *authority = scheme_end + 3;
                size_t authority_len = strcspn(authority, "/?#");
                /* The last '@' of the authority ends the userinfo: a password
                 * may itself contain '@' when the writer did not escape it. */
                const char *at = memrchr(authority, '@', authority_len);
                if (at) {
                        if (asprintf(&r, "%.*s***%s", (int) (authority - url), url, at) < 0)
                                return -ENOMEM;
                        *ret = r;
                        return 0;
                }
        }
        r = strdup(url);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static int print_location(FILE *f, const char *key, const struct location *l, const char *suffix) {
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
        return ferror(f) ? -EIO : 0;
}
