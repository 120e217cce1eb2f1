/* Manifest rendering, parsing and image verification. */
#include "manifest.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"

static const char *const image_format_table[_IMAGE_FORMAT_MAX] = {
        [IMAGE_FORMAT_SQUASHFS] = "squashfs",
        [IMAGE_FORMAT_EXT4_ZST] = "ext4.zst",
};

const char *image_format_to_string(enum image_format f) {
        return f >= 0 && f < _IMAGE_FORMAT_MAX ? image_format_table[f] : NULL;
}

enum image_format image_format_from_string(const char *s) {
        for (int i = 0; i < _IMAGE_FORMAT_MAX; i++)
                if (s && streq(s, image_format_table[i]))
                        return (enum image_format) i;
        return _IMAGE_FORMAT_INVALID;
}

void manifest_done(struct manifest *m) {
        free(m->product);
        free(m->version);
        free(m->build);
        free(m->image_sha256);
        free(m->xen_version);
        free(m->kernel_version);
        free(m->min_upgrade_from);
        *m = (struct manifest){};
}

int manifest_format(const struct manifest *m, char **ret) {
        const char *format = image_format_to_string(m->image_format);
        if (!format)
                return -EINVAL;
        if (asprintf(ret,
                     "PRODUCT=%s\nVERSION=%s\nBUILD=%s\nIMAGE_SHA256=%s\nIMAGE_SIZE=%" PRIu64 "\n%s%s%s"
                     "INSTALLED_SIZE=%" PRIu64 "\nXEN_VERSION=%s\nKERNEL_VERSION=%s\nSOURCE_DATE_EPOCH=%" PRIu64 "\n"
                     "MIN_UPGRADE_FROM=%s\n",
                     m->product, m->version, m->build, m->image_sha256, m->image_size,
                     m->image_format == IMAGE_FORMAT_SQUASHFS ? "" : "IMAGE_FORMAT=",
                     m->image_format == IMAGE_FORMAT_SQUASHFS ? "" : format,
                     m->image_format == IMAGE_FORMAT_SQUASHFS ? "" : "\n", m->installed_size,
                     m->xen_version, m->kernel_version, m->source_date_epoch, m->min_upgrade_from) < 0)
                return -ENOMEM;
        return 0;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        char *end;
        if (!*s || !isdigit((unsigned char) *s))
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

static bool is_sha256(const char *s) {
        if (strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s) && !(*s >= 'a' && *s <= 'f'))
                        return false;
        return true;
}

/* S as it may be shown in a reason: at most 40 characters, anything not
 * printable ASCII as \xHH, so that a manifest cannot put escape sequences
 * on a console or in a log. */
static const char *shown(const char *s, char buf[static 200]) {
        size_t o = 0, i = 0;
        for (; s[i] && i < 40; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch >= 0x20 && ch < 0x7f && ch != '\\')
                        buf[o++] = (char) ch;
                else
                        o += (size_t) snprintf(buf + o, 5, "\\x%02x", ch);
        }
        if (s[i])
                memcpy(buf + o, "...", 3), o += 3;
        buf[o] = 0;
        return buf;
}

static bool is_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

bool manifest_version_is_valid(const char *v) {
        size_t n = v ? strlen(v) : 0;
        if (n == 0 || n > MANIFEST_VERSION_MAX || !isalnum((unsigned char) v[0]) || strstr(v, ".."))
                return false;
        for (; *v; v++)
                if (!isalnum((unsigned char) *v) && !strchr(".+~_-", *v))
                        return false;
        return true;
}

int manifest_parse(const char *text, struct manifest *ret, char **ret_reason) {
        struct manifest m = {};
        unsigned line = 0, seen = 0;
        const char *p = text;
        char b[200];
        int r = -EBADMSG;

        /* Text from anywhere (the probe reads the media's manifest too):
         * a manifest's size is bounded before anything is copied. */
        if (strnlen(text, MANIFEST_SIZE_MAX + 1) > MANIFEST_SIZE_MAX)
                return reason_set(ret_reason, "manifest is larger than %u KiB: not a manifest",
                                  (unsigned) (MANIFEST_SIZE_MAX / 1024)), -EBADMSG;
        while (*p) {
                const char *nl = strchrnul(p, '\n');
                _cleanup_free_ char *l = strndup(p, (size_t) (nl - p));
                p = *nl ? nl + 1 : nl;
                line++;
                if (!l) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (!*l || *l == '#')
                        continue;
                char *eq = strchr(l, '=');
                if (!eq) {
                        reason_set(ret_reason, "manifest line %u: not KEY=value", line);
                        goto fail;
                }
                *eq = 0;
                const char *k = l, *v = eq + 1;
                char **str = NULL;
                uint64_t *num = NULL;
                unsigned bit;
                bool version = false;
                if (streq(k, "PRODUCT")) str = &m.product, bit = 1;
                else if (streq(k, "VERSION")) str = &m.version, bit = 2, version = true;
                else if (streq(k, "BUILD")) str = &m.build, bit = 4;
                else if (streq(k, "IMAGE_SHA256")) str = &m.image_sha256, bit = 8;
                else if (streq(k, "IMAGE_SIZE")) num = &m.image_size, bit = 16;
                else if (streq(k, "INSTALLED_SIZE")) num = &m.installed_size, bit = 32;
                else if (streq(k, "XEN_VERSION")) str = &m.xen_version, bit = 64, version = true;
                else if (streq(k, "KERNEL_VERSION")) str = &m.kernel_version, bit = 128, version = true;
                else if (streq(k, "SOURCE_DATE_EPOCH")) num = &m.source_date_epoch, bit = 256;
                else if (streq(k, "MIN_UPGRADE_FROM")) str = &m.min_upgrade_from, bit = 512, version = true;
                else if (streq(k, "IMAGE_FORMAT")) {
                        /* Optional: without it, the image is a 0.1.0 squashfs. */
                        if (seen & 1024) {
                                reason_set(ret_reason, "manifest line %u: %s given twice", line, k);
                                goto fail;
                        }
                        seen |= 1024;
                        int f = image_format_from_string(v);
                        if (f < 0) {
                                reason_set(ret_reason,
                                           "manifest line %u: unknown IMAGE_FORMAT '%s' (this installer knows "
                                           "squashfs and ext4.zst): a newer image needs a newer installer",
                                           line, shown(v, b));
                                goto fail;
                        }
                        m.image_format = (enum image_format) f;
                        continue;
                } else {
                        reason_set(ret_reason, "manifest line %u: unknown key %s", line, shown(k, b));
                        goto fail;
                }
                if (seen & bit) {
                        reason_set(ret_reason, "manifest line %u: %s given twice", line, k);
                        goto fail;
                }
                seen |= bit;
                if (!is_printable(v)) {
                        reason_set(ret_reason, "manifest line %u: %s holds a control or non-ASCII character: '%s'",
                                   line, k, shown(v, b));
                        goto fail;
                }
                if (strlen(v) > MANIFEST_VALUE_MAX) {
                        reason_set(ret_reason, "manifest line %u: %s is longer than %u characters", line, k,
                                   (unsigned) MANIFEST_VALUE_MAX);
                        goto fail;
                }
                if (str && !*v) {
                        reason_set(ret_reason, "manifest line %u: %s is empty", line, k);
                        goto fail;
                }
                if (version && !manifest_version_is_valid(v)) {
                        reason_set(ret_reason,
                                   "manifest line %u: %s '%s' is not a version (1 to %u of 0-9 A-Z a-z . + ~ _ -, "
                                   "starting with a digit or letter, no \"..\")",
                                   line, k, shown(v, b), (unsigned) MANIFEST_VERSION_MAX);
                        goto fail;
                }
                if (str) {
                        if (!(*str = strdup(v))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                } else if (!parse_u64(v, num)) {
                        reason_set(ret_reason, "manifest line %u: %s is not a number", line, k);
                        goto fail;
                }
        }
        if ((seen & 1023) != 1023) {
                reason_set(ret_reason, "manifest lacks some of PRODUCT, VERSION, BUILD, IMAGE_SHA256, IMAGE_SIZE, "
                                   "INSTALLED_SIZE, XEN_VERSION, KERNEL_VERSION, SOURCE_DATE_EPOCH, MIN_UPGRADE_FROM");
                goto fail;
        }
        if (!streq(m.product, "xenhost")) {
                reason_set(ret_reason, "manifest is for product '%s', not xenhost", shown(m.product, b));
                goto fail;
        }
        if (!is_sha256(m.image_sha256)) {
                reason_set(ret_reason, "manifest IMAGE_SHA256 is not a SHA-256");
                goto fail;
        }
        *ret = m;
        return 0;
fail:
        manifest_done(&m);
        return r;
}

/* SHA-256 of what FD holds, reading at most MAX + 1 bytes: -EFBIG as soon
 * as it holds more than MAX. */
static int sha256_fd(int fd, uint64_t max, char ret_hex[65], uint64_t *ret_size) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        uint64_t size = 0;
        int r = 0;

        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_free_ unsigned char *buf = malloc(1 << 20);
        if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                /* One byte past MAX is enough to know the file is too long. */
                uint64_t want = max == UINT64_MAX ? (1 << 20) : max + 1 - size;
                if (want == 0) {
                        r = -EFBIG;
                        goto out;
                }
                ssize_t n = read(fd, buf, want < (1 << 20) ? (size_t) want : (1 << 20));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto out;
                }
                if (n == 0)
                        break;
                EVP_DigestUpdate(ctx, buf, (size_t) n);
                size += (uint64_t) n;
                if (max != UINT64_MAX && size > max) {
                        r = -EFBIG;
                        goto out;
                }
        }
        EVP_DigestFinal_ex(ctx, md, &mdlen);
        for (unsigned i = 0; i < mdlen; i++)
                sprintf(ret_hex + 2 * i, "%02x", md[i]);
        if (ret_size)
                *ret_size = size;
out:
        EVP_MD_CTX_free(ctx);
        return r;
}

int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return sha256_fd(fd, UINT64_MAX, ret_hex, ret_size);
}

/* Opens PATH for reading without blocking on a FIFO, and refuses anything
 * but a regular file (or, with BLOCK_OK, a block device). */
static int open_regular(const char *path, bool block_ok, const char *what, char **ret_reason) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = negative_errno();
                return reason_set(ret_reason, "cannot read the %s %s: %s", what, path, strerror(-r)), r;
        }
        if (!S_ISREG(st.st_mode) && !(block_ok && S_ISBLK(st.st_mode)))
                return reason_set(ret_reason, "%s is not a regular file", path), -EBADMSG;
        /* Regular files never block; reads after this are plain. */
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return TAKE_FD(fd);
}

/* Reads at most MAX bytes of PATH (a regular file, never a FIFO or a
 * device): the shared bounded reader, with a reason that names WHAT. */
static int read_bounded(const char *path, size_t max, const char *what, char **ret, size_t *ret_len,
                        char **ret_reason) {
        int r = read_full_file_bounded(path, max, ret, ret_len);
        if (r == -EISDIR || r == -EBADFD)
                return reason_set(ret_reason, "%s is not a regular file", path), -EBADMSG;
        if (r == -EFBIG)
                return reason_set(ret_reason, "%s is larger than %zu KiB: not a %s", path, max / 1024, what), r;
        if (r < 0)
                return reason_set(ret_reason, "cannot read the %s %s: %s", what, path, strerror(-r)), r;
        return 0;
}

int manifest_read(const char *path, char **ret_text, size_t *ret_len, char **ret_reason) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_bounded(path, MANIFEST_SIZE_MAX, "manifest", &text, &len, ret_reason);
        if (r < 0)
                return r;
        if (memchr(text, 0, len))
                return reason_set(ret_reason, "%s holds a NUL byte: not a manifest", path), -EBADMSG;
        *ret_text = TAKE_PTR(text);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* A private, empty GnuPG home: removed with what gpgv left in it. */
static void gpg_home_remove(char **home) {
        if (!*home)
                return;
        DIR *d = opendir(*home);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        (void) rmdir(*home);
        *home = mfree(*home);
}

int manifest_check_signature(const char *data, size_t len, const char *sig, const char *keyring,
                             char **ret_reason) {
        _cleanup_free_ char *abs = NULL, *sig_text = NULL, *sig_copy = NULL;
        _cleanup_(gpg_home_remove) char *home = NULL;
        struct stat st;
        size_t sig_len;
        int r;

        /* By its absolute path: gpgv looks a bare name up in its home. */
        abs = realpath(keyring, NULL);
        if (!abs) {
                r = negative_errno();
                if (r == -ENOENT)
                        return reason_set(ret_reason, "keyring %s does not exist", keyring), -ENOENT;
                return reason_set(ret_reason, "cannot read keyring %s: %s", keyring, strerror(-r)), r;
        }
        if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode))
                return reason_set(ret_reason, "keyring %s is not a regular file", keyring), -EBADMSG;
        /* The signature is read bounded too, and handed to gpgv as a file of
         * its own in the private home: a FIFO named .asc cannot hold it up. */
        r = read_bounded(sig, MANIFEST_SIZE_MAX, "signature", &sig_text, &sig_len, ret_reason);
        if (r < 0)
                return r;
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&home, "%s/xenhost-gpgv-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp") < 0) {
                home = NULL;
                return -ENOMEM;
        }
        if (!mkdtemp(home)) {
                r = negative_errno();
                home = mfree(home);
                return reason_set(ret_reason, "cannot create a directory for gpgv: %s", strerror(-r)), r;
        }
        if (asprintf(&sig_copy, "%s/manifest.asc", home) < 0) {
                sig_copy = NULL;
                return -ENOMEM;
        }
        _cleanup_close_ int fd = open(sig_copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, sig_text, sig_len) != (ssize_t) sig_len) {
                r = negative_errno();
                return reason_set(ret_reason, "cannot write %s: %s", sig_copy, strerror(-r)), r;
        }
        r = spawn_run_stdin((const char *[]){"gpgv", "--homedir", home, "--keyring", abs, sig_copy, "-", NULL},
                            data, len, NULL);
        if (r == -ENOENT)
                return reason_set(ret_reason, "cannot check the signature %s: gpgv is not installed", sig), r;
        if (r < 0)
                return reason_set(ret_reason, "signature %s does not verify with keyring %s: %s", sig, keyring,
                                  spawn_last_error()), -EBADMSG;
        log_debug("%s: signature good (keyring %s)", sig, abs);
        return 0;
}

int manifest_load(const char *path, const char *keyring, unsigned flags, struct manifest *ret, char **ret_reason) {
        _cleanup_free_ char *text = NULL, *sig = NULL;
        size_t len;
        int r, result = 0;

        /* Read once: the bytes checked are the bytes parsed. */
        r = manifest_read(path, &text, &len, ret_reason);
        if (r < 0)
                return r;
        if (keyring) {
                /* The signature first: nothing in an unsigned manifest is
                 * trusted, not even the name or the size of the image. */
                if (asprintf(&sig, "%s.asc", path) < 0)
                        return -ENOMEM;
                if (access(sig, F_OK) < 0 && errno == ENOENT) {
                        /* A keyring that is not there is an error of its own. */
                        if (access(keyring, F_OK) < 0 && errno == ENOENT)
                                return reason_set(ret_reason, "keyring %s does not exist", keyring), -ENOENT;
                        if (!(flags & MANIFEST_ALLOW_UNSIGNED))
                                return reason_set(ret_reason,
                                                  "%s is not signed (no %s) and a keyring is configured: refusing "
                                                  "it (--insecure-unsigned lets it through)",
                                                  path, sig), -ENOKEY;
                        log_debug("%s is not signed: let through by --insecure-unsigned", path);
                        result = MANIFEST_UNSIGNED_ALLOWED;
                } else if ((r = manifest_check_signature(text, len, sig, keyring, ret_reason)) < 0)
                        return r;
        }
        _cleanup_free_ char *why = NULL;
        r = manifest_parse(text, ret, &why);
        if (r < 0)
                return reason_set(ret_reason, "%s: %s", path, why ?: "not a manifest"), r;
        return result;
}

static int image_compare(const char *image, const char *hex, uint64_t size, const struct manifest *m,
                         char **ret_reason) {
        if (size != m->image_size)
                return reason_set(ret_reason, "%s is %" PRIu64 " bytes, the manifest says %" PRIu64, image, size,
                                  m->image_size), -EBADMSG;
        if (!streq(hex, m->image_sha256))
                return reason_set(ret_reason, "%s has SHA-256 %s, the manifest says %s", image, hex, m->image_sha256),
                       -EBADMSG;
        return 0;
}

int image_check(const char *image, const struct manifest *m, char **ret_reason) {
        char hex[65];
        uint64_t size;
        int r = open_regular(image, true, "image", ret_reason);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = r;
        r = sha256_fd(fd, m->image_size, hex, &size);
        if (r == -EFBIG)
                return reason_set(ret_reason, "%s is larger than the manifest's IMAGE_SIZE (%" PRIu64 " bytes)", image,
                                  m->image_size), -EBADMSG;
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s: %s", image, strerror(-r)), r;
        return image_compare(image, hex, size, m, ret_reason);
}

int image_check_digest(const char *image, const char *sha256_hex, uint64_t size, const struct manifest *m,
                       char **ret_reason) {
        return image_compare(image, sha256_hex, size, m, ret_reason);
}

/* Loads the manifest (its signature checked over the bytes parsed), then
 * checks the image against it: by reading it, or, with SHA256_HEX, by the
 * digest taken while it was received. */
static int verify(const char *image, const char *sha256_hex, uint64_t size, const char *manifest,
                  const char *keyring, unsigned flags, struct manifest *ret, char **ret_reason) {
        struct manifest m = {};
        int result = manifest_load(manifest, keyring, flags, &m, ret_reason);
        if (result < 0)
                return result;
        int r = sha256_hex ? image_check_digest(image, sha256_hex, size, &m, ret_reason)
                           : image_check(image, &m, ret_reason);
        if (r < 0 || !ret)
                manifest_done(&m);
        if (r < 0)
                return r;
        if (ret)
                *ret = m;
        return result;
}

int image_verify_flags(const char *image, const char *manifest, const char *keyring, unsigned flags,
                       struct manifest *ret, char **ret_reason) {
        return verify(image, NULL, 0, manifest, keyring, flags, ret, ret_reason);
}

int image_verify(const char *image, const char *manifest, const char *keyring, struct manifest *ret,
                 char **ret_reason) {
        return verify(image, NULL, 0, manifest, keyring, 0, ret, ret_reason);
}

int image_verify_digest(const char *image, const char *sha256_hex, uint64_t size, const char *manifest,
                        const char *keyring, struct manifest *ret, char **ret_reason) {
        return verify(image, sha256_hex, size, manifest, keyring, 0, ret, ret_reason);
}
