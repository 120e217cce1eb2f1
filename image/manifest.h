/* The host image manifest (DESIGN.md section 3): KEY=value lines that say
 * what an image is and let the installer and the upgrader verify it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
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

/* A manifest is a few hundred bytes: more is not one. */
#define MANIFEST_SIZE_MAX (16 * 1024)
/* The longest value of any key (VERSION and its kind: 64). */
#define MANIFEST_VALUE_MAX 128
#define MANIFEST_VERSION_MAX 64

/* Whether V can be a VERSION (also MIN_UPGRADE_FROM, XEN_VERSION,
 * KERNEL_VERSION): 1 to 64 of [0-9A-Za-z.+~_-], starting with a digit or a
 * letter, without "..": it ends up in file names and on consoles. */
bool manifest_version_is_valid(const char *v);

/* Reads the manifest at PATH once into memory: a regular file (opened
 * without blocking, so a FIFO or a device is refused at once) of at most
 * MANIFEST_SIZE_MAX bytes without NUL bytes. RET_TEXT is NUL-terminated. */
int manifest_read(const char *path, char **ret_text, size_t *ret_len, char **ret_reason);

/* Checks the detached OpenPGP signature in the file SIG over DATA/LEN
 * against the keys in KEYRING only: gpgv runs with an empty home directory
 * of its own and the keyring by its absolute path, so nothing in ~/.gnupg
 * is ever consulted. -ENOENT: KEYRING does not exist; -EBADMSG: the
 * signature does not verify. */
int manifest_check_signature(const char *data, size_t len, const char *sig, const char *keyring,
                             char **ret_reason);

enum {
        /* --insecure-unsigned: with a keyring, a manifest without any
         * signature is let through (a bad signature never is). */
        MANIFEST_ALLOW_UNSIGNED = 1 << 0,
};
/* manifest_load()'s and image_verify_flags()'s result when an unsigned
 * manifest was let through by MANIFEST_ALLOW_UNSIGNED: the caller says so. */
#define MANIFEST_UNSIGNED_ALLOWED 1

/* Reads the manifest at PATH (manifest_read()), and when KEYRING is given
 * checks PATH.asc over exactly the bytes read, then parses those same
 * bytes. With a keyring an unsigned manifest is refused (-ENOKEY) unless
 * FLAGS has MANIFEST_ALLOW_UNSIGNED (then MANIFEST_UNSIGNED_ALLOWED is
 * returned). Returns 0 when the signature is good or no keyring is given. */
int manifest_load(const char *path, const char *keyring, unsigned flags, struct manifest *ret, char **ret_reason);

/* SHA-256 of a file as 64 hex digits, streaming (images are hundreds of MiB). */
int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size);

/* Checks the image file IMAGE against M: it is read once and at most
 * M->image_size + 1 bytes of it (a longer file is refused as soon as that
 * is known), its size and SHA-256 must match. -EBADMSG with a reason. */
int image_check(const char *image, const struct manifest *m, char **ret_reason);
/* The same for an image whose SHA-256 and size were taken while it was
 * received (a download hashes as it writes). */
int image_check_digest(const char *image, const char *sha256_hex, uint64_t size, const struct manifest *m,
                       char **ret_reason);

/* manifest_load() then image_check(): the manifest is trusted (signature)
 * before anything in it, even the image's size, is used. Returns 0 or
 * MANIFEST_UNSIGNED_ALLOWED, or -errno with a one-line reason. */
int image_verify_flags(const char *image, const char *manifest, const char *keyring, unsigned flags,
                       struct manifest *ret, char **ret_reason);
/* image_verify_flags() with no flags: with KEYRING a signature is required. */
int image_verify(const char *image, const char *manifest, const char *keyring, struct manifest *ret,
                 char **ret_reason);
/* manifest_load() then image_check_digest(). */
int image_verify_digest(const char *image, const char *sha256_hex, uint64_t size, const char *manifest,
                        const char *keyring, struct manifest *ret, char **ret_reason);
