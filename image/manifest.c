/* Manifest rendering, parsing and image verification. */
#include "manifest.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>

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

int manifest_parse(const char *text, struct manifest *ret, char **ret_reason) {
        struct manifest m = {};
        unsigned line = 0, seen = 0;
        const char *p = text;
        int r = -EBADMSG;

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
                if (streq(k, "PRODUCT")) str = &m.product, bit = 1;
                else if (streq(k, "VERSION")) str = &m.version, bit = 2;
                else if (streq(k, "BUILD")) str = &m.build, bit = 4;
                else if (streq(k, "IMAGE_SHA256")) str = &m.image_sha256, bit = 8;
                else if (streq(k, "IMAGE_SIZE")) num = &m.image_size, bit = 16;
                else if (streq(k, "INSTALLED_SIZE")) num = &m.installed_size, bit = 32;
                else if (streq(k, "XEN_VERSION")) str = &m.xen_version, bit = 64;
                else if (streq(k, "KERNEL_VERSION")) str = &m.kernel_version, bit = 128;
                else if (streq(k, "SOURCE_DATE_EPOCH")) num = &m.source_date_epoch, bit = 256;
                else if (streq(k, "MIN_UPGRADE_FROM")) str = &m.min_upgrade_from, bit = 512;
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
                                           line, v);
                                goto fail;
                        }
                        m.image_format = (enum image_format) f;
                        continue;
                } else {
                        reason_set(ret_reason, "manifest line %u: unknown key %s", line, k);
                        goto fail;
                }
                if (seen & bit) {
                        reason_set(ret_reason, "manifest line %u: %s given twice", line, k);
                        goto fail;
                }
                seen |= bit;
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
                reason_set(ret_reason, "manifest is for product '%s', not xenhost", m.product);
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

int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        uint64_t size = 0;
        int r = 0;

        if (fd < 0)
                return negative_errno();
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_free_ unsigned char *buf = malloc(1 << 20);
        if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                ssize_t n = read(fd, buf, 1 << 20);
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

int image_verify_digest(const char *image, const char *sha256_hex, uint64_t size, const char *manifest,
                        const char *keyring, struct manifest *ret, char **ret_reason) {
        _cleanup_free_ char *text = NULL, *sig = NULL;
        struct manifest m = {};
        int r;

        r = read_full_file(manifest, &text, NULL);
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s: %s", manifest, strerror(-r)), r;
        if (keyring) {
                /* Verify the signature first: nothing in an unsigned manifest
                 * is trusted, not even the name of the image. */
                if (asprintf(&sig, "%s.asc", manifest) < 0)
                        return -ENOMEM;
                if (access(sig, R_OK) < 0)
                        return reason_set(ret_reason, "%s is not signed (%s missing) and a keyring is configured",
                                      manifest, sig), -ENOENT;
                r = spawn_run((const char *[]){"gpgv", "--keyring", keyring, sig, manifest, NULL}, NULL);
                if (r < 0)
                        return reason_set(ret_reason, "signature of %s does not verify with %s: %s", manifest,
                                      keyring, spawn_last_error()), -EBADMSG;
        }
        r = manifest_parse(text, &m, ret_reason);
        if (r < 0)
                return r;
        r = -EBADMSG;
        if (size != m.image_size) {
                reason_set(ret_reason, "%s is %" PRIu64 " bytes, the manifest says %" PRIu64, image, size, m.image_size);
                goto fail;
        }
        if (!streq(sha256_hex, m.image_sha256)) {
                reason_set(ret_reason, "%s has SHA-256 %s, the manifest says %s", image, sha256_hex, m.image_sha256);
                goto fail;
        }
        if (ret)
                *ret = m;
        else
                manifest_done(&m);
        return 0;
fail:
        manifest_done(&m);
        return r;
}

int image_verify(const char *image, const char *manifest, const char *keyring, struct manifest *ret,
                 char **ret_reason) {
        char hex[65];
        uint64_t size;
        int r = sha256_file(image, hex, &size);
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s: %s", image, strerror(-r)), r;
        return image_verify_digest(image, hex, size, manifest, keyring, ret, ret_reason);
}
