/* struct install_config: what the installer is asked to do. The answer file
 * and the TUI both fill it; the install engine only ever reads it, so it
 * never knows which front end was used. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "format.h"      /* url_redact() */
#include "partitioner.h" /* enum sr_type */
#include "macro.h"

enum install_mode {
        INSTALL_MODE_FRESH,
        INSTALL_MODE_REINSTALL, /* fresh install over an existing one, SR can be kept */
        INSTALL_MODE_UPGRADE,
        INSTALL_MODE_RESTORE,   /* boot the previous slot again, offline */
        _INSTALL_MODE_MAX,
};

/* Where a repository, a pack or a script comes from. */
enum location_type {
        LOCATION_LOCAL, /* the install media; no address */
        LOCATION_URL,   /* http, https, ftp, file */
        LOCATION_NFS,   /* address is "server:/path" */
        _LOCATION_TYPE_MAX,
};

enum root_password_type {
        ROOT_PASSWORD_UNSET, /* no password now; set at first boot */
        ROOT_PASSWORD_PLAINTEXT,
        ROOT_PASSWORD_HASH, /* a crypt(3) string, or "!!" to defer */
        _ROOT_PASSWORD_TYPE_MAX,
};

enum net_proto {
        NET_PROTO_NONE,
        NET_PROTO_DHCP,
        NET_PROTO_STATIC,
        NET_PROTO_AUTOCONF, /* IPv6 only (SLAAC) */
        _NET_PROTO_MAX,
};

enum ntp_source {
        NTP_SOURCE_DEFAULT, /* the distribution's default servers */
        NTP_SOURCE_DHCP,
        NTP_SOURCE_MANUAL,  /* ntp_servers */
        NTP_SOURCE_NONE,    /* no time synchronisation */
        _NTP_SOURCE_MAX,
};

enum ssh_mode {
        SSH_MODE_ON, /* sshd runs, root may log in with the password (the default) */
        SSH_MODE_OFF,
        _SSH_MODE_MAX,
};

enum script_stage {
        SCRIPT_STAGE_INSTALLATION_START,
        SCRIPT_STAGE_PACKAGES_INSTALLED,    /* argument: mount point of the new root */
        SCRIPT_STAGE_FILESYSTEM_POPULATED,  /* argument: mount point of the new root */
        SCRIPT_STAGE_INSTALLATION_COMPLETE, /* argument: 0 on success, 1 on failure */
        _SCRIPT_STAGE_MAX,
};

struct location {
        enum location_type type;
        char *address; /* NULL for LOCATION_LOCAL; for a local pack, NULL (every pack the
                        * install media carry) or the file name of one of them in packs/ */
};

struct install_script {
        enum script_stage stage;
        struct location location; /* LOCATION_URL or LOCATION_NFS */
};

struct service_setting {
        char *name;
        bool enabled;
};

struct admin_interface {
        char *name;   /* e.g. "eth0"; NULL when chosen by hwaddr */
        char *hwaddr; /* lower case "aa:bb:cc:dd:ee:ff"; NULL when chosen by name */
        unsigned vlan; /* 802.1Q tag, 0 for untagged */
        enum net_proto proto; /* NONE, DHCP or STATIC */
        char *ipaddr, *subnet, *gateway; /* set with NET_PROTO_STATIC */
        enum net_proto proto6;
        char *ipv6;     /* "address/prefix", set with proto6 static */
        char *gateway6; /* set with proto6 static */
};

struct install_config {
        enum install_mode mode;
        enum sr_type sr_type;

        /* fresh and reinstall */
        char *primary_disk;         /* as given: "sda", "/dev/nvme0n1", "disk/by-id/..." */
        bool primary_disk_guest_storage; /* rest of the primary disk goes into the SR */
        char **guest_disks;         /* further SR disks, NULL-terminated, may be NULL */

        /* upgrade and restore */
        char *existing_installation;
        char *backup_disk;          /* NULL: the only one found */

        char *keymap;               /* NULL: "us" */
        enum root_password_type root_password_type;
        char *root_password;        /* never printed */

        struct location *sources;   /* the host image repository first */
        size_t n_sources;
        struct location *packs;     /* supplemental packs and driver sources */
        size_t n_packs;
        bool bundled_packs;         /* fresh and reinstall: the packs the install media carry are
                                     * installed when no local pack is listed (default: yes) */

        bool has_admin_interface;
        struct admin_interface admin;
        char **name_servers;        /* NULL: from DHCP */
        char *hostname;             /* NULL: "localhost.localdomain" */
        char *timezone;             /* NULL: "Etc/UTC" */
        enum ntp_source ntp_source;
        char **ntp_servers;         /* with NTP_SOURCE_MANUAL */
        enum ssh_mode ssh_mode;
        struct service_setting *services;
        size_t n_services;

        struct install_script *scripts;
        size_t n_scripts;

        char *report_url;            /* <report url="...">: the install's events are POSTed there */
        bool confirm_before_writing; /* ask the operator even when unattended */
        bool write_boot_entry;       /* register the UEFI boot entry with efibootmgr */
};

const char *install_mode_to_string(enum install_mode m);
enum install_mode install_mode_from_string(const char *s); /* _INSTALL_MODE_MAX when unknown */
const char *location_type_to_string(enum location_type t);
enum location_type location_type_from_string(const char *s);
const char *net_proto_to_string(enum net_proto p);
const char *ntp_source_to_string(enum ntp_source s);
enum ntp_source ntp_source_from_string(const char *s);
const char *ssh_mode_to_string(enum ssh_mode m);
const char *script_stage_to_string(enum script_stage s);
enum script_stage script_stage_from_string(const char *s);

/* A config with the defaults every front end starts from: fresh install,
 * LVM SR on the primary disk, sshd on, UEFI boot entry written. */
int install_config_new(struct install_config **ret);
struct install_config *install_config_free(struct install_config *c);
DEFINE_CLEANUP(struct install_config, install_config_free)
#define _cleanup_install_config_ _cleanup_(install_config_freep)

/* Appending to the lists; the strings are copied. */
int install_config_add_guest_disk(struct install_config *c, const char *disk);
int install_config_add_name_server(struct install_config *c, const char *server);
int install_config_add_ntp_server(struct install_config *c, const char *server);
int install_config_add_source(struct install_config *c, enum location_type type, const char *address);
int install_config_add_pack(struct install_config *c, enum location_type type, const char *address);
/* The network sources the installer reads: http://, https:// (the URL of
 * an install tree, the ISO's or the PXE tree's root, or of a manifest) and
 * file:// (the same, as a path). */
bool install_source_is_supported(const struct location *l);
/* The directory of the install media that holds the packs they carry. */
#define PACKS_MEDIA_DIR "packs"
/* A fresh install or reinstall installs the packs the install media carry
 * (MEDIA_HAS_PACKS) unless the answer file says <bundled-packs>no</...> or
 * lists local packs of its own: then C gets <pack type="local"/> (every
 * pack of the media) before its other packs, which may require them, and 1
 * is returned; 0 when nothing was added; -ENOMEM. */
int install_config_add_bundled_packs(struct install_config *c, bool media_has_packs);
/* The packs the install media at MEDIA_ROOT carry: the ISO files and
 * directories of PACKS_MEDIA_DIR, sorted by name, as a NULL-terminated list
 * (NULL when there are none; no media or no packs/ is none). Returns how
 * many, or -errno. */
int install_media_packs(const char *media_root, char ***ret_names);
int install_config_add_script(struct install_config *c, enum script_stage stage, enum location_type type,
                              const char *address);
int install_config_add_service(struct install_config *c, const char *name, bool enabled);

/* url_redact(), for every location shown: lib/format.h. */

/* ---- validation: what the install engine accepts ---- */

/* The databases validation reads. The environment variables replace the
 * defaults (tests, and a tree that is not mounted at /). */
#define ZONEINFO_ROOT_DEFAULT "/usr/share/zoneinfo"  /* tzdata */
#define ZONEINFO_ROOT_ENV "XENHOST_ZONEINFO"
#define KEYMAPS_ROOT_DEFAULT "/usr/share/keymaps"    /* console-data, for kbd's loadkeys */
#define KEYMAPS_ROOT_ENV "XENHOST_KEYMAPS"

struct config_problem {
        const char *field; /* the install_config field it concerns: "timezone", "root_password", "admin.gateway",
                            * "guest_disks" (a list: see index), "mode" */
        size_t index;      /* for a list field (guest_disks, name_servers, ntp_servers, sources, packs,
                            * scripts): which entry; 0 otherwise */
        bool warning;      /* a warning does not make the config invalid */
        char *message;     /* one line, no secret in it */
};

struct config_problems {
        struct config_problem *items;
        size_t n;
        size_t n_errors;
};

void config_problems_done(struct config_problems *p);

/* Checks C as the install engine will: returns 0 when it can be installed
 * (warnings may be set), -EINVAL when not, with every problem appended to
 * *P (zero-initialised by the caller), -ENOMEM. Pure apart from reading the
 * time zone and keymap databases (ZONEINFO_ROOT_*, KEYMAPS_ROOT_*); when a
 * database is missing the check is skipped with a warning. */
int install_config_validate(const struct install_config *c, struct config_problems *p);

/* Is NAME a time zone of the tz database under ROOT (NULL: the default or
 * $XENHOST_ZONEINFO)? 0: yes; -EINVAL: not a time zone name at all ("..",
 * absolute, odd characters); -ENOENT: no such zone (the lookup never leaves
 * ROOT, symbolic links included); -ENODATA: ROOT is missing. */
int timezone_lookup(const char *root, const char *name);

/* Is NAME a console keymap that loadkeys finds under ROOT (NULL: the default
 * or $XENHOST_KEYMAPS), i.e. NAME.kmap.gz, NAME.kmap, NAME.map.gz or
 * NAME.map somewhere below it? Same returns as timezone_lookup(). */
int keymap_lookup(const char *root, const char *name);

/* Is HASH a crypt(3) string the host accepts as root's password: yescrypt
 * ($y$), SHA-512 ($6$) or SHA-256 ($5$), complete and well formed; or "!!"
 * (no password yet). 0, or -EINVAL with a one-line *RET_REASON (static
 * text, never the hash). */
int root_password_hash_check(const char *hash, const char **ret_reason);

/* Checks a URL the installer fetches: http, https, ftp, tftp and nfs need a
 * host, file:// an absolute path. 0, or -EINVAL with *RET_REASON set (the
 * URL appears in it with credentials redacted), -ENOMEM. For the answer
 * file's own location as well as sources, packs and scripts. */
int config_url_check(const char *url, char **ret_reason);

/* "aa:bb:cc:dd:ee:ff" (either case): a MAC address as answer files give it. */
bool hwaddr_is_valid(const char *s);

/* Writes the config as "key: value" lines for the log and --dry-run. The
 * root password never appears, nor do credentials inside URLs. */
int install_config_print(const struct install_config *c, FILE *f);
