/* xenhost-build's stages: dom0 tree, host image, installer initrd, ISO and
 * PXE tree (DESIGN.md section 3). Each stage caches by its inputs and runs
 * the stages it needs first. */
#pragma once

#include <stdint.h>

struct build_context {
        char *top;        /* source tree: dom0-rootfs/, image/ */
        char *bindir;     /* xenhost's own built programs */
        char *out;        /* results */
        char *cache;      /* outside the clone: base trees, initrds */
        char *version;
        char *build_id;
        uint64_t source_date_epoch;
        const char *sign_key; /* gpg key to sign the manifest with, or NULL */
        const char *answerfile; /* iso: put this answer file on the media and boot it unattended */
        const char *iso_path;   /* iso: where to write it (default OUT/xenhost-V.iso) */
        const char *const *packs; /* iso: supplemental pack ISOs to carry in packs/ (NULL-terminated) */
        const char *http_url;   /* pxe: where the tree is served over HTTP (kernel and initrd) */
        const char *answerfile_url; /* pxe: the answer file's URL template ({mac}, {serial}) */
};

int build_context_init(struct build_context *c, const char *out, const char *version, const char *sign_key);
void build_context_done(struct build_context *c);

int build_rootfs(const struct build_context *c);
int build_image(const struct build_context *c);
int build_initrd(const struct build_context *c);
int build_iso(const struct build_context *c);
int build_pxe(const struct build_context *c);

/* Paths of results, for messages and tests. */
int build_image_paths(const struct build_context *c, char **ret_image, char **ret_manifest);
