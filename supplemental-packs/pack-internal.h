/* What the files of the pack module share and no caller needs. */
#pragma once

#include <stdint.h>

#include "pack.h"

struct pack_file {
        char *name; /* in the working directory */
        uint64_t size;
        char sha256[65];
};

struct pack {
        char *path;    /* as given, for messages */
        char *workdir; /* private copy of the pack's files */
        char *xml;
        size_t xml_len;
        bool has_signature;
        struct pack_file *files;
        size_t n_files;

        bool verified, signature_checked, already_installed, upgrades;
        struct pack_info info;
};

/* librpm set up once for the process: its configuration read, its log
 * messages into ours (debug), and the rpm database at PACK_RPM_DBPATH in
 * every root (Debian's rpm puts it in $HOME otherwise). */
int pack_rpm_init(void);
/* The last error librpm logged, or "" (for one-line reasons). */
const char *pack_rpm_last_error(void);
void pack_rpm_clear_error(void);

/* ROOT + PATH ("/" + "/etc/x" is "/etc/x"); NULL on OOM. */
char *pack_root_path(const char *root, const char *path);
/* Removes a directory with its files and subdirectories (no symlink is followed). */
void pack_rm_rf(const char *path);
