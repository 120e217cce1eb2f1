/* Building a pack: pack.xml from the options and the RPMs' headers and
 * checksums, an optional detached signature by gpg, and the ISO9660 image
 * written with libarchive (no external tool; same inputs, same bytes). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <rpm/header.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmts.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack-internal.h"
#include "rpm-cleanup.h"
#include "process.h"

static void archive_writep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}
static void archive_entryp(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}
static void unlinkp(char **path) {
        if (*path) {
                (void) unlink(*path);
                *path = mfree(*path);
        }
}

static int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
        unsigned mlen = 0;
        uint64_t total = 0;
        struct stat st;
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0) {
                        int r = negative_errno();
                        EVP_MD_CTX_free(ctx);
                        return r;
                }
                if (n == 0)
                        break;
                EVP_DigestUpdate(ctx, buf, (size_t) n);
                total += (uint64_t) n;
        }
        EVP_DigestFinal_ex(ctx, md, &mlen);
        EVP_MD_CTX_free(ctx);
        for (unsigned i = 0; i < mlen && i < 32; i++)
                sprintf(ret_hex + 2 * i, "%02x", md[i]);
        *ret_size = total;
        return 0;
}

static int rpm_name(const char *path, char **ret, char **ret_reason) {
        _cleanup_(rpmts_freep) rpmts ts = rpmtsCreate();
        _cleanup_(header_freep) Header h = NULL;
        if (!ts)
                return -ENOMEM;
        rpmtsSetVSFlags(ts, _RPMVSF_NOSIGNATURES);
        _cleanup_(fd_closep) FD_t fd = Fopen(path, "r.ufdio");
        if (!fd || Ferror(fd))
                return reason_set(ret_reason, "cannot open %s", path), -ENOENT;
        rpmRC rc = rpmReadPackageFile(ts, fd, path, &h);
        if ((rc != RPMRC_OK && rc != RPMRC_NOTTRUSTED && rc != RPMRC_NOKEY) || !h)
                return reason_set(ret_reason, "%s is not a readable RPM package", path), -EBADMSG;
        if (headerIsSource(h))
                return reason_set(ret_reason, "%s is a source package", path), -EBADMSG;
        const char *n = headerGetString(h, RPMTAG_NAME);
        if (!n || !(*ret = strdup(n)))
                return -ENOMEM;
        return 0;
}

struct iso_file {
        const char *name;    /* in the ISO */
        const char *path;    /* on disk, or NULL */
        const char *data;    /* in memory, when path is NULL */
        size_t len;
};

static int file_compare(const void *a, const void *b) {
        return strcmp(((const struct iso_file *) a)->name, ((const struct iso_file *) b)->name);
}

static int add_file(struct archive *a, const struct iso_file *f, time_t when, char **ret_reason) {
        _cleanup_(archive_entryp) struct archive_entry *e = archive_entry_new();
        _cleanup_close_ int fd = -1;
        uint64_t size = f->len;
        struct stat st;
        if (!e)
                return -ENOMEM;
        if (f->path) {
                fd = open(f->path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        int r = negative_errno();
                        return reason_set(ret_reason, "cannot read %s: %s", f->path, strerror(-r)), r;
                }
                size = (uint64_t) st.st_size;
        }
        archive_entry_set_pathname(e, f->name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) size);
        archive_entry_set_mtime(e, when, 0);
        archive_entry_set_atime(e, when, 0);
        archive_entry_set_ctime(e, when, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK)
                return reason_set(ret_reason, "cannot add %s to the ISO: %s", f->name, archive_error_string(a)), -EIO;
        if (!f->path)
                return archive_write_data(a, f->data, f->len) == (la_ssize_t) f->len
                               ? 0
                               : (reason_set(ret_reason, "cannot write %s: %s", f->name, archive_error_string(a)), -EIO);
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0) {
                        int r = negative_errno();
                        return reason_set(ret_reason, "cannot read %s: %s", f->path, strerror(-r)), r;
                }
                if (n == 0)
                        break;
                if (archive_write_data(a, buf, (size_t) n) != n)
                        return reason_set(ret_reason, "cannot write %s: %s", f->name, archive_error_string(a)), -EIO;
        }
        return 0;
}

/* The time every file and the volume carry: SOURCE_DATE_EPOCH when set. */
static int build_time(time_t *ret, char **ret_reason) {
        const char *s = getenv("SOURCE_DATE_EPOCH");
        if (!s || !*s) {
                *ret = time(NULL);
                return 0;
        }
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end || errno || v < 0 || v > 4102444800LL)
                return reason_set(ret_reason, "SOURCE_DATE_EPOCH '%s' is not a time", FORMAT_VALUE(s)), -EINVAL;
        *ret = (time_t) v;
        return 0;
}

static int write_iso(const char *tmp, struct iso_file *files, size_t n, time_t when, char **ret_reason) {
        _cleanup_(archive_writep) struct archive *a = archive_write_new();
        int r;
        if (!a)
                return -ENOMEM;
        /* Files carry WHEN; the volume's own stamps are set afterwards
         * (iso_fix_times()). */
        if (archive_write_set_format_iso9660(a) != ARCHIVE_OK ||
            archive_write_set_format_option(a, "iso9660", "volume-id", "XENHOST_PACK") != ARCHIVE_OK ||
            archive_write_set_format_option(a, "iso9660", "rockridge", "1") != ARCHIVE_OK)
                return reason_set(ret_reason, "cannot set up the ISO writer: %s", archive_error_string(a)), -EIO;
        if (archive_write_open_filename(a, tmp) != ARCHIVE_OK)
                return reason_set(ret_reason, "cannot write %s: %s", tmp, archive_error_string(a)), -EIO;
        qsort(files, n, sizeof *files, file_compare);
        for (size_t i = 0; i < n; i++)
                if ((r = add_file(a, &files[i], when, ret_reason)) < 0)
                        return r;
        if (archive_write_close(a) != ARCHIVE_OK)
                return reason_set(ret_reason, "cannot write %s: %s", tmp, archive_error_string(a)), -EIO;
        return 0;
}

/* libarchive 3.6 stamps the volume descriptors and the root directories
 * with the time of the build and has no option to change it. For the same
 * bytes from the same inputs, those stamps are rewritten to WHEN, in the
 * encodings of ECMA-119 (8.4.26.1 and 9.1.5) and Rock Ridge's TF entries,
 * in local time with its offset as libarchive writes them. Only the places
 * that the format defines are touched: the volume descriptors, and the "."
 * and ".." records of each root directory. */
#define ISO_SECTOR 2048

static void iso_date7(time_t when, uint8_t out[7]) {
        struct tm tm;
        localtime_r(&when, &tm);
        out[0] = (uint8_t) (tm.tm_year), out[1] = (uint8_t) (tm.tm_mon + 1), out[2] = (uint8_t) tm.tm_mday;
        out[3] = (uint8_t) tm.tm_hour, out[4] = (uint8_t) tm.tm_min, out[5] = (uint8_t) tm.tm_sec;
        out[6] = (uint8_t) (int8_t) (tm.tm_gmtoff / (15 * 60));
}

static void iso_date17(time_t when, uint8_t out[17]) {
        struct tm tm;
        char buf[96];
        localtime_r(&when, &tm);
        snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d00", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
                 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
        memcpy(out, buf, 16);
        out[16] = (uint8_t) (int8_t) (tm.tm_gmtoff / (15 * 60));
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* The "." and ".." records at the start of a directory extent, with the
 * timestamps of their Rock Ridge TF entries. */
static void iso_fix_dir(uint8_t *sec, const uint8_t d7[7]) {
        size_t off = 0;
        for (int rec = 0; rec < 2 && off + 34 <= ISO_SECTOR; rec++) {
                uint8_t *r = sec + off;
                size_t len = r[0], fi = r[32];
                if (len < 34 || off + len > ISO_SECTOR || fi != 1 || r[33] > 1)
                        return;
                memcpy(r + 18, d7, 7);
                size_t su = 33 + fi + (fi % 2 == 0 ? 1 : 0);
                while (su + 4 <= len) {
                        uint8_t *e = r + su;
                        size_t elen = e[2];
                        if (elen < 4 || su + elen > len)
                                break;
                        if (e[0] == 'T' && e[1] == 'F' && elen >= 5 && !(e[4] & 0x80)) {
                                unsigned n = (unsigned) __builtin_popcount(e[4] & 0x7f);
                                for (unsigned k = 0; k < n && 5 + 7 * (k + 1) <= elen; k++)
                                        memcpy(e + 5 + 7 * k, d7, 7);
                        }
                        su += elen;
                }
                off += len;
        }
}

static int iso_fix_times(int fd, time_t when) {
        uint8_t vd[ISO_SECTOR], dir[ISO_SECTOR], d7[7], d17[17];
        iso_date7(when, d7);
        iso_date17(when, d17);
        for (off_t sector = 16; sector < 32; sector++) {
                if (pread(fd, vd, ISO_SECTOR, sector * ISO_SECTOR) != ISO_SECTOR)
                        return negative_errno();
                if (memcmp(vd + 1, "CD001", 5) != 0)
                        break;
                if (vd[0] == 255) {
                        /* After the terminator libarchive leaves a note:
                         * "INFO " and ctime() of the build, then its options. */
                        char when_text[32];
                        if (pread(fd, vd, ISO_SECTOR, (sector + 1) * ISO_SECTOR) == ISO_SECTOR &&
                            memcmp(vd, "INFO ", 5) == 0 && ctime_r(&when, when_text) && strlen(when_text) == 25 &&
                            vd[5 + 24] == '\n') {
                                memcpy(vd + 5, when_text, 24);
                                if (pwrite(fd, vd, ISO_SECTOR, (sector + 1) * ISO_SECTOR) != ISO_SECTOR)
                                        return negative_errno();
                        }
                        break;
                }
                if (vd[0] != 1 && vd[0] != 2)
                        continue;
                /* creation, modification, expiration, effective: an unset
                 * one ("0000...") stays unset. */
                for (size_t o = 813; o <= 864; o += 17)
                        if (vd[o] != '0')
                                memcpy(vd + o, d17, 17);
                memcpy(vd + 156 + 18, d7, 7);
                uint32_t lba = le32(vd + 156 + 2);
                if (pwrite(fd, vd, ISO_SECTOR, sector * ISO_SECTOR) != ISO_SECTOR)
                        return negative_errno();
                if (pread(fd, dir, ISO_SECTOR, (off_t) lba * ISO_SECTOR) != ISO_SECTOR)
                        return negative_errno();
                iso_fix_dir(dir, d7);
                if (pwrite(fd, dir, ISO_SECTOR, (off_t) lba * ISO_SECTOR) != ISO_SECTOR)
                        return negative_errno();
        }
        return 0;
}

/* gpg --detach-sign --armor of pack.xml, in a private directory. */
static int sign(const char *key, const char *xml, size_t len, char **ret_sig, size_t *ret_len, char **ret_reason) {
        _cleanup_free_ char *dir = NULL, *in = NULL, *out = NULL;
        const char *tmp = getenv("TMPDIR");
        int r;
        if (asprintf(&dir, "%s/xenhost-pack-sign-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp") < 0)
                return -ENOMEM;
        if (!mkdtemp(dir)) {
                r = negative_errno();
                return reason_set(ret_reason, "cannot create a directory to sign in: %s", strerror(-r)), r;
        }
        if (asprintf(&in, "%s/%s", dir, PACK_XML) < 0 || asprintf(&out, "%s/%s", dir, PACK_XML_SIG) < 0) {
                pack_rm_rf(dir);
                return -ENOMEM;
        }
        r = write_file_atomic(in, xml, len, 0600);
        if (r >= 0) {
                r = spawn_run((const char *[]) {"gpg", "--batch", "--yes", "--armor", "--local-user", key,
                                                "--output", out, "--detach-sign", in, NULL},
                              NULL);
                if (r == -ENOENT)
                        reason_set(ret_reason, "cannot sign: gpg is not installed");
                else if (r < 0)
                        reason_set(ret_reason, "cannot sign with key '%s': %s", FORMAT_VALUE(key), spawn_last_error());
                else
                        r = read_full_file_bounded(out, 64 * 1024, ret_sig, ret_len);
        }
        pack_rm_rf(dir);
        return r;
}

int pack_build(const struct pack_build_options *o, const char *output, char **ret_reason) {
        struct pack_info info = {};
        struct iso_file *files = NULL;
        _cleanup_free_ char *xml = NULL, *sig = NULL;
        _cleanup_(unlinkp) char *tmp = NULL;
        size_t xml_len = 0, sig_len = 0, n_files = 0, n_rpms = 0, n_req = 0;
        time_t when;
        int r;

        if ((r = pack_rpm_init()) < 0)
                return reason_set(ret_reason, "cannot read rpm's configuration"), r;
        if (!pack_name_is_valid(o->name))
                return reason_set(ret_reason, "--name '%s' is not a pack name (letters, digits, . _ + -)",
                                  FORMAT_VALUE(o->name)),
                       -EINVAL;
        if (!pack_version_is_valid(o->version))
                return reason_set(ret_reason, "--version '%s' is not a version", FORMAT_VALUE(o->version)), -EINVAL;
        if (o->build && !pack_version_is_valid(o->build))
                return reason_set(ret_reason, "--build '%s' is not a build number", FORMAT_VALUE(o->build)), -EINVAL;
        if (!o->originator || !*o->originator)
                return reason_set(ret_reason, "--originator is required"), -EINVAL;
        for (char **i = o->rpms; i && *i; i++)
                n_rpms++;
        for (char **i = o->requires; i && *i; i++)
                n_req++;
        if (n_rpms == 0)
                return reason_set(ret_reason, "a pack holds at least one RPM"), -EINVAL;
        if ((r = build_time(&when, ret_reason)) < 0)
                return r;

        info = (struct pack_info) {.originator = strdup(o->originator), .name = strdup(o->name),
                                   .product = strdup(PACK_PRODUCT), .version = strdup(o->version),
                                   .build = o->build ? strdup(o->build) : NULL,
                                   .description = o->description ? strdup(o->description) : NULL,
                                   .requires = calloc(n_req ?: 1, sizeof(struct pack_requirement)),
                                   .packages = calloc(n_rpms, sizeof(struct pack_package))};
        files = calloc(n_rpms + 2, sizeof *files);
        if (!info.originator || !info.name || !info.product || !info.version || !info.requires || !info.packages ||
            !files) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_req; i++) {
                if ((r = pack_requirement_parse(o->requires[i], &info.requires[i], ret_reason)) < 0)
                        goto finish;
                info.n_requires++;
                if (info.requires[i].name && streq(info.requires[i].name, o->name)) {
                        r = (reason_set(ret_reason, "pack %s cannot require itself", o->name), -EINVAL);
                        goto finish;
                }
        }
        for (size_t i = 0; i < n_rpms; i++) {
                struct pack_package *p = &info.packages[i];
                _cleanup_free_ char *copy = strdup(o->rpms[i]);
                if (!copy) {
                        r = -ENOMEM;
                        goto finish;
                }
                const char *base = basename(copy);
                if ((r = rpm_name(o->rpms[i], &p->name, ret_reason)) < 0)
                        goto finish;
                info.n_packages++;
                if (!(p->file = strdup(base))) {
                        r = -ENOMEM;
                        goto finish;
                }
                if ((r = sha256_file(o->rpms[i], p->sha256, &p->size)) < 0) {
                        reason_set(ret_reason, "cannot read %s: %s", o->rpms[i], strerror(-r));
                        goto finish;
                }
                for (size_t k = 0; k < i; k++)
                        if (streq(info.packages[k].file, p->file) || streq(info.packages[k].name, p->name)) {
                                r = (reason_set(ret_reason, "%s: package %s is given twice", o->rpms[i], p->name),
                                -EINVAL);
                                goto finish;
                        }
                files[n_files++] = (struct iso_file) {.name = p->file, .path = o->rpms[i]};
        }
        if ((r = pack_xml_format(&info, &xml, &xml_len)) < 0)
                goto finish;
        /* What is written is what a reader accepts: a file name or a field
         * that pack_xml_parse() refuses is refused here, by name. */
        {
                struct pack_info check = {};
                if ((r = pack_xml_parse(xml, xml_len, &check, ret_reason)) < 0)
                        goto finish;
                pack_info_done(&check);
        }
        files[n_files++] = (struct iso_file) {.name = PACK_XML, .data = xml, .len = xml_len};
        if (o->sign_key) {
                if ((r = sign(o->sign_key, xml, xml_len, &sig, &sig_len, ret_reason)) < 0)
                        goto finish;
                files[n_files++] = (struct iso_file) {.name = PACK_XML_SIG, .data = sig, .len = sig_len};
        }

        if (asprintf(&tmp, "%s.tmp-XXXXXX", output) < 0) {
                tmp = NULL;
                r = -ENOMEM;
                goto finish;
        }
        int fd = mkstemp(tmp);
        if (fd < 0) {
                r = negative_errno();
                tmp = mfree(tmp);
                reason_set(ret_reason, "cannot write next to %s: %s", output, strerror(-r));
                goto finish;
        }
        close(fd);
        if ((r = write_iso(tmp, files, n_files, when, ret_reason)) < 0)
                goto finish;
        fd = open(tmp, O_RDWR | O_CLOEXEC);
        if (fd < 0 || iso_fix_times(fd, when) < 0 || fsync(fd) < 0 || fchmod(fd, 0644) < 0) {
                r = negative_errno();
                if (fd >= 0)
                        close(fd);
                reason_set(ret_reason, "cannot write %s: %s", tmp, strerror(-r));
                goto finish;
        }
        close(fd);
        if (rename(tmp, output) < 0) {
                r = negative_errno();
                reason_set(ret_reason, "cannot write %s: %s", output, strerror(-r));
                goto finish;
        }
        tmp = mfree(tmp);
        r = 0;
finish:
        free(files);
        pack_info_done(&info);
        return r;
}
