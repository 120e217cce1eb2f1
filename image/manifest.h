/* The host image manifest (DESIGN.md section 3): KEY=value lines that say
 * what an image is and let the installer and the upgrader verify it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* How the image file holds the dom0 tree (IMAGE_FORMAT). */
enum image_format {
        IMAGE_FORMAT_SQUASHFS, /* "squashfs": a zstd squashfs of the tree (0.1.0; no IMAGE_FORMAT key) */
        IMAGE_FORMAT_EXT4_ZST, /* "ext4.zst": an ext4 file system image, one zstd frame */
        _IMAGE_FORMAT_MAX,
        _IMAGE_FORMAT_INVALID = -EINVAL,
};

const char *image_format_to_string(enum image_format f);
/* Returns the format, or -EINVAL for a name we do not know. */
enum image_format image_format_from_string(const char *s);

struct manifest {
        char *product;          /* PRODUCT, always "xenhost" */
        char *version;          /* VERSION */
        char *build;            /* BUILD */
        char *image_sha256;     /* IMAGE_SHA256, 64 lower-case hex digits */
        uint64_t image_size;    /* IMAGE_SIZE, bytes */
        enum image_format image_format; /* IMAGE_FORMAT; a manifest without it is a squashfs image */
        uint64_t installed_size;/* INSTALLED_SIZE, bytes the tree takes on disk */
        char *xen_version;      /* XEN_VERSION */
        char *kernel_version;   /* KERNEL_VERSION */
        uint64_t source_date_epoch;
        char *min_upgrade_from; /* MIN_UPGRADE_FROM */
};

void manifest_done(struct manifest *m);

/* Renders the manifest in its fixed key order. IMAGE_FORMAT is left out for
 * a squashfs image, so that a 0.1.0 manifest renders as it was written. */
int manifest_format(const struct manifest *m, char **ret);
/* Parses TEXT; unknown keys are an error so that a manifest from a newer
 * format is not half-understood. *RET_REASON names the offending line. */
int manifest_parse(const char *text, struct manifest *ret, char **ret_reason);

/* SHA-256 of a file as 64 hex digits, streaming (images are hundreds of MiB). */
int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size);

/* Checks IMAGE against the manifest at MANIFEST: product, size, SHA-256, and
 * when KEYRING is given, the detached signature MANIFEST.asc made by a key in
 * it (gpgv). Returns 0, or -EBADMSG/-ENOENT/... with a one-line reason. */
int image_verify(const char *image, const char *manifest, const char *keyring, struct manifest *ret,
                 char **ret_reason);
/* The same for an image whose SHA-256 and size were taken while it was
 * received (a download hashes as it writes): IMAGE only names it. */
int image_verify_digest(const char *image, const char *sha256_hex, uint64_t size, const char *manifest,
                        const char *keyring, struct manifest *ret, char **ret_reason);
