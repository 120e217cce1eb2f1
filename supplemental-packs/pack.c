/* Reading a pack (ISO9660 through libarchive, or a directory) into a
 * private working directory, and verifying it: signature, pack.xml,
 * checksums, RPM headers, requirements, conflicts. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <rpm/header.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmts.h>
#include <sys/stat.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack-internal.h"
#include "rpm-cleanup.h"
#include "process.h"

#define PACK_SIG_SIZE_MAX (64 * 1024)

/* --- librpm, once ------------------------------------------------------------- */

static char rpm_last_error[512];

static int rpm_log(rpmlogRec rec, rpmlogCallbackData data) {
        (void) data;
        const char *m = rpmlogRecMessage(rec) ?: "";
        rpmlogLvl lvl = rpmlogRecPriority(rec);
        log_debug("librpm: %.*s", (int) strcspn(m, "\n"), m);
        /* A failed %post is only a warning to librpm; it is the reason here. */
        if (lvl <= RPMLOG_ERR || (lvl == RPMLOG_WARNING && strstr(m, "scriptlet failed"))) {
                snprintf(rpm_last_error, sizeof rpm_last_error, "%s", m);
                rpm_last_error[strcspn(rpm_last_error, "\n")] = 0;
        }
        return 0; /* never printed by librpm itself */
}

int pack_rpm_init(void) {
        static int done = 0;
        if (done)
                return done < 0 ? done : 0;
        rpmlogSetCallback(rpm_log, NULL);
        if (rpmReadConfigFiles(NULL, NULL) != 0)
                return (done = -EIO);
        rpmPushMacro(NULL, "_dbpath", NULL, PACK_RPM_DBPATH, RMIL_CMDLINE);
        if (log_get_max_level() <= LOG_LEVEL_DEBUG)
                rpmSetVerbosity(RPMLOG_DEBUG);
        done = 1;
        return 0;
}

const char *pack_rpm_last_error(void) {
        return rpm_last_error;
}
void pack_rpm_clear_error(void) {
        rpm_last_error[0] = 0;
}

char *pack_root_path(const char *root, const char *path) {
        char *s;
        size_t n = root ? strlen(root) : 0;
        while (n > 0 && root[n - 1] == '/')
                n--;
        return asprintf(&s, "%.*s%s", (int) n, n ? root : "", path) < 0 ? NULL : s;
}

void pack_rm_rf(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *sub = NULL;
                if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
                        break;
                struct stat st;
                if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                        pack_rm_rf(sub);
                else
                        (void) unlink(sub);
        }
        if (d)
                closedir(d);
        (void) rmdir(path);
}

/* --- opening ------------------------------------------------------------------ */

struct pack *pack_free(struct pack *p) {
        if (!p)
                return NULL;
        if (p->workdir)
                pack_rm_rf(p->workdir);
        free(p->workdir);
        free(p->path);
        free(p->xml);
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i].name);
        free(p->files);
        pack_info_done(&p->info);
        free(p);
        return NULL;
}
DEFINE_CLEANUP(struct pack, pack_free);
static void evp_ctxp(EVP_MD_CTX **c) {
        if (*c)
                EVP_MD_CTX_free(*c);
}

typedef ssize_t (*read_fn)(void *ctx, void *buf, size_t n);
static ssize_t read_archive(void *ctx, void *buf, size_t n) {
        la_ssize_t k = archive_read_data(ctx, buf, n);
        return k < 0 ? -EIO : k;
}
static ssize_t read_fd(void *ctx, void *buf, size_t n) {
        ssize_t k = read(*(int *) ctx, buf, n);
        return k < 0 ? negative_errno() : k;
}

/* The files a pack may hold at its top level: pack.xml, its signature, and
 * plain file names (the RPMs). Anything else is not looked at. */
static bool top_level_name_ok(const char *name) {
        if (!*name || name[0] == '.' || strchr(name, '/') || strlen(name) > 200)
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~^-") == strlen(name);
}

/* Copies one file of the pack into the working directory, hashing it on the
 * way; pack.xml is kept in memory too (bounded), the signature bounded. */
static int take_file(struct pack *p, const char *name, read_fn rd, void *ctx, char **ret_reason) {
        _cleanup_free_ char *dst = NULL, *buf = NULL, *mem = NULL;
        _cleanup_(evp_ctxp) EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        uint64_t total = 0;
        bool is_xml = streq(name, PACK_XML), is_sig = streq(name, PACK_XML_SIG);
        uint64_t max = is_xml ? PACK_XML_SIZE_MAX : is_sig ? PACK_SIG_SIZE_MAX : UINT64_MAX;
        int r;

        for (size_t i = 0; i < p->n_files; i++)
                if (streq(p->files[i].name, name))
                        return reason_set(ret_reason, "%s holds %s twice", p->path, name), -EBADMSG;
        if (asprintf(&dst, "%s/%s", p->workdir, name) < 0)
                return -ENOMEM;
        buf = malloc(128 * 1024);
        if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
                return -ENOMEM;
        if (is_xml && !(mem = malloc(PACK_XML_SIZE_MAX + 1)))
                return -ENOMEM;
        _cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return r = negative_errno(), reason_set(ret_reason, "cannot write %s: %s", dst, strerror(-r)), r;
        for (;;) {
                ssize_t n = rd(ctx, buf, 128 * 1024);
                if (n < 0)
                        return reason_set(ret_reason, "cannot read %s from %s: %s", name, p->path, strerror((int) -n)),
                               (int) n;
                if (n == 0)
                        break;
                if (total + (uint64_t) n > max)
                        return reason_set(ret_reason, "%s in %s is larger than %" PRIu64 " KiB", name, p->path,
                                          max / 1024),
                               -EFBIG;
                if (mem)
                        memcpy(mem + total, buf, (size_t) n);
                EVP_DigestUpdate(md, buf, (size_t) n);
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(fd, buf + off, (size_t) (n - off));
                        if (w < 0)
                                return r = negative_errno(),
                                       reason_set(ret_reason, "cannot write %s: %s", dst, strerror(-r)), r;
                        off += w;
                }
                total += (uint64_t) n;
        }
        EVP_DigestFinal_ex(md, digest, &dlen);
        struct pack_file *a = reallocarray(p->files, p->n_files + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        p->files = a;
        struct pack_file *f = &a[p->n_files];
        *f = (struct pack_file) {.size = total};
        for (unsigned i = 0; i < dlen && i < 32; i++)
                sprintf(f->sha256 + 2 * i, "%02x", digest[i]);
        if (!(f->name = strdup(name)))
                return -ENOMEM;
        p->n_files++;
        if (is_xml) {
                mem[total] = 0;
                p->xml = TAKE_PTR(mem);
                p->xml_len = (size_t) total;
        } else if (is_sig)
                p->has_signature = true;
        return 0;
}

static void archive_readp(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int open_iso(struct pack *p, char **ret_reason) {
        _cleanup_(archive_readp) struct archive *a = archive_read_new();
        struct archive_entry *e;
        int r;
        if (!a)
                return -ENOMEM;
        archive_read_support_format_iso9660(a);
        if (archive_read_open_filename(a, p->path, 64 * 1024) != ARCHIVE_OK)
                return reason_set(ret_reason, "%s is not a pack: %s", p->path, archive_error_string(a) ?: "unreadable"),
                       -EBADMSG;
        for (;;) {
                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return reason_set(ret_reason, "%s is not a pack (not a readable ISO9660 image): %s", p->path,
                                          archive_error_string(a) ?: "unreadable"),
                               -EBADMSG;
                const char *name = archive_entry_pathname(e) ?: "";
                if (startswith(name, "./"))
                        name += 2;
                if (archive_entry_filetype(e) != AE_IFREG || !top_level_name_ok(name)) {
                        log_debug("%s: ignoring %s", p->path, name);
                        continue;
                }
                r = take_file(p, name, read_archive, a, ret_reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_dir(struct pack *p, char **ret_reason) {
        DIR *d = opendir(p->path);
        struct dirent *de;
        int r = 0;
        if (!d)
                return r = negative_errno(), reason_set(ret_reason, "cannot read %s: %s", p->path, strerror(-r)), r;
        while ((de = readdir(d))) {
                if (!top_level_name_ok(de->d_name))
                        continue;
                _cleanup_close_ int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if ((r = take_file(p, de->d_name, read_fd, &fd, ret_reason)) < 0)
                        break;
        }
        closedir(d);
        return r;
}

int pack_open(const char *path, struct pack **ret, char **ret_reason) {
        _cleanup_(pack_freep) struct pack *p = calloc(1, sizeof *p);
        struct stat st;
        int r;
        if (!p || !(p->path = strdup(path)))
                return -ENOMEM;
        if (stat(path, &st) < 0)
                return r = negative_errno(), reason_set(ret_reason, "cannot open pack %s: %s", path, strerror(-r)), r;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return reason_set(ret_reason, "%s is not a pack (not an ISO image or a directory)", path), -EBADMSG;
        /* RPMs can be large: /var/tmp rather than a /tmp in memory. */
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&p->workdir, "%s/xenhost-pack-XXXXXX", tmp && *tmp == '/' ? tmp : "/var/tmp") < 0) {
                p->workdir = NULL;
                return -ENOMEM;
        }
        if (!mkdtemp(p->workdir)) {
                r = negative_errno();
                p->workdir = mfree(p->workdir);
                return reason_set(ret_reason, "cannot create a working directory: %s", strerror(-r)), r;
        }
        r = S_ISDIR(st.st_mode) ? open_dir(p, ret_reason) : open_iso(p, ret_reason);
        if (r < 0)
                return r;
        if (!p->xml)
                return reason_set(ret_reason, "%s is not a pack: it has no %s", path, PACK_XML), -EBADMSG;
        *ret = TAKE_PTR(p);
        return 0;
}

int pack_peek(const char *path, struct pack_info *ret, char **ret_reason) {
        _cleanup_free_ char *xml = NULL;
        size_t len = 0;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return r = negative_errno(), reason_set(ret_reason, "cannot open pack %s: %s", path, strerror(-r)), r;
        if (S_ISDIR(st.st_mode)) {
                _cleanup_free_ char *x = NULL;
                if (asprintf(&x, "%s/%s", path, PACK_XML) < 0)
                        return -ENOMEM;
                r = read_full_file_bounded(x, PACK_XML_SIZE_MAX, &xml, &len);
                if (r < 0)
                        return reason_set(ret_reason, "%s is not a pack: cannot read its %s: %s", path, PACK_XML,
                                          strerror(-r)),
                               r == -ENOMEM ? r : -EBADMSG;
        } else {
                _cleanup_(archive_readp) struct archive *a = archive_read_new();
                struct archive_entry *e;
                if (!a)
                        return -ENOMEM;
                archive_read_support_format_iso9660(a);
                if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK)
                        return reason_set(ret_reason, "%s is not a pack: %s", path,
                                          archive_error_string(a) ?: "unreadable"),
                               -EBADMSG;
                while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                        const char *name = archive_entry_pathname(e) ?: "";
                        if (startswith(name, "./"))
                                name += 2;
                        if (archive_entry_filetype(e) != AE_IFREG || !streq(name, PACK_XML))
                                continue;
                        if (archive_entry_size(e) > PACK_XML_SIZE_MAX)
                                return reason_set(ret_reason, "%s in %s is larger than %d KiB", PACK_XML, path,
                                                  PACK_XML_SIZE_MAX / 1024),
                                       -EFBIG;
                        if (!(xml = malloc(PACK_XML_SIZE_MAX + 1)))
                                return -ENOMEM;
                        for (;;) {
                                la_ssize_t k = archive_read_data(a, xml + len, PACK_XML_SIZE_MAX - len);
                                if (k < 0)
                                        return reason_set(ret_reason, "cannot read %s from %s", PACK_XML, path), -EIO;
                                if (k == 0)
                                        break;
                                len += (size_t) k;
                                if (len == PACK_XML_SIZE_MAX)
                                        break;
                        }
                        xml[len] = 0;
                        break;
                }
                if (!xml)
                        return reason_set(ret_reason, "%s is not a pack: it has no %s", path, PACK_XML), -EBADMSG;
        }
        return pack_xml_parse(xml, len, ret, ret_reason);
}

const struct pack_info *pack_get_info(const struct pack *p) {
        return p->verified ? &p->info : NULL;
}
bool pack_is_signature_checked(const struct pack *p) {
        return p->signature_checked;
}
bool pack_is_installed(const struct pack *p) {
        return p->verified && p->already_installed;
}

static const struct pack_file *find_file(const struct pack *p, const char *name) {
        for (size_t i = 0; i < p->n_files; i++)
                if (streq(p->files[i].name, name))
                        return &p->files[i];
        return NULL;
}

/* --- verifying ---------------------------------------------------------------- */

/* gpgv in a private, empty home (never ~/.gnupg), the keyring by its
 * absolute path, pack.xml's bytes as they are parsed on its stdin. */
static int check_signature(struct pack *p, const char *keyring, char **ret_reason) {
        _cleanup_free_ char *abs = NULL, *home = NULL, *sig = NULL;
        struct stat st;
        int r;
        abs = realpath(keyring, NULL);
        if (!abs) {
                r = negative_errno();
                return reason_set(ret_reason, "keyring %s: %s", keyring, r == -ENOENT ? "does not exist" : strerror(-r)), r;
        }
        if (stat(abs, &st) < 0 || !S_ISREG(st.st_mode))
                return reason_set(ret_reason, "keyring %s is not a regular file", keyring), -EBADMSG;
        if (asprintf(&home, "%s/.gnupg", p->workdir) < 0 || asprintf(&sig, "%s/%s", p->workdir, PACK_XML_SIG) < 0)
                return -ENOMEM;
        if (mkdir(home, 0700) < 0 && errno != EEXIST)
                return r = negative_errno(), reason_set(ret_reason, "cannot create %s: %s", home, strerror(-r)), r;
        r = spawn_run_stdin((const char *[]) {"gpgv", "--homedir", home, "--keyring", abs, sig, "-", NULL}, p->xml,
                            p->xml_len, NULL);
        if (r == -ENOENT)
                return reason_set(ret_reason, "cannot check the signature of %s: gpgv is not installed", p->path), r;
        if (r < 0)
                return reason_set(ret_reason, "bad signature: %s does not verify with keyring %s: %s", PACK_XML_SIG,
                                  keyring, spawn_last_error()),
                       -EBADMSG;
        log_debug("%s: signature good (keyring %s)", p->path, abs);
        return 0;
}

static int check_rpm_header(struct pack *p, const struct pack_package *pkg, char **ret_reason) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(rpmts_freep) rpmts ts = rpmtsCreate();
        _cleanup_(header_freep) Header h = NULL;
        if (asprintf(&path, "%s/%s", p->workdir, pkg->file) < 0 || !ts)
                return -ENOMEM;
        /* The pack's signature vouches for the whole file through its
         * checksum; the RPM's own digests are still checked. */
        rpmtsSetVSFlags(ts, _RPMVSF_NOSIGNATURES);
        _cleanup_(fd_closep) FD_t fd = Fopen(path, "r.ufdio");
        if (!fd || Ferror(fd))
                return reason_set(ret_reason, "cannot open RPM %s", pkg->file), -EIO;
        pack_rpm_clear_error();
        rpmRC rc = rpmReadPackageFile(ts, fd, pkg->file, &h);
        if ((rc != RPMRC_OK && rc != RPMRC_NOTTRUSTED && rc != RPMRC_NOKEY) || !h)
                return reason_set(ret_reason, "RPM %s is not a readable RPM package%s%s", pkg->file,
                                  *pack_rpm_last_error() ? ": " : "", pack_rpm_last_error()),
                       -EBADMSG;
        if (headerIsSource(h))
                return reason_set(ret_reason, "RPM %s is a source package", pkg->file), -EBADMSG;
        const char *name = headerGetString(h, RPMTAG_NAME);
        if (!name || !streq(name, pkg->name))
                return reason_set(ret_reason, "RPM %s is package '%s', not '%s' as pack.xml lists it", pkg->file,
                                  FORMAT_VALUE(name), pkg->name),
                       -EBADMSG;
        return 0;
}

/* KEY=value or KEY='value' out of a small shell-style file. */
static char *kv_get(const char *text, const char *key) {
        size_t kl = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, kl) != 0 || l[kl] != '=')
                        continue;
                const char *v = l + kl + 1;
                size_t n = strcspn(v, "\n");
                if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0])
                        v++, n -= 2;
                return strndup(v, n);
        }
        return NULL;
}

/* The product version of ROOT: PRODUCT_VERSION of the inventory (DESIGN.md
 * section 4); on a root that has none yet, VERSION= of /etc/xenhost-release
 * (what the host image carries). */
static int product_version(const char *root, char **ret) {
        static const struct {
                const char *path, *key;
        } sources[] = {{"/etc/xenhost/inventory", "PRODUCT_VERSION"}, {"/etc/xenhost-release", "VERSION"}};
        for (size_t i = 0; i < ELEMENTSOF(sources); i++) {
                _cleanup_free_ char *path = pack_root_path(root, sources[i].path), *text = NULL;
                if (!path)
                        return -ENOMEM;
                if (read_full_file_bounded(path, 64 * 1024, &text, NULL) < 0)
                        continue;
                char *v = kv_get(text, sources[i].key);
                if (v && pack_version_is_valid(v)) {
                        *ret = v;
                        return 0;
                }
                free(v);
        }
        return -ENOENT;
}

static int check_requirements(struct pack *p, const char *root, char **ret_reason) {
        const struct pack_info *in = &p->info;
        for (size_t i = 0; i < in->n_requires; i++) {
                const struct pack_requirement *q = &in->requires[i];
                _cleanup_free_ char *text = pack_requirement_to_string(q);
                if (!text)
                        return -ENOMEM;
                if (q->product) {
                        _cleanup_free_ char *v = NULL;
                        if (product_version(root, &v) < 0)
                                return reason_set(ret_reason,
                                                  "unmet requirement: pack %s requires %s, and %s has no product "
                                                  "version (no /etc/xenhost/inventory or /etc/xenhost-release)",
                                                  in->name, text, root),
                                       -ENOPKG;
                        if (!pack_test_holds(q->test, v, q->version))
                                return reason_set(ret_reason, "unmet requirement: pack %s requires %s; this host is %s %s",
                                                  in->name, text, PACK_PRODUCT, v),
                                       -ENOPKG;
                        continue;
                }
                struct pack_info other = {};
                int r = pack_record_read(root, q->name, &other, ret_reason);
                if (r == -ENOENT)
                        return reason_set(ret_reason, "unmet requirement: pack %s requires %s, which is not installed",
                                          in->name, text),
                               -ENOPKG;
                if (r < 0)
                        return r;
                bool ok = pack_test_holds(q->test, other.version, q->version);
                if (!ok)
                        reason_set(ret_reason, "unmet requirement: pack %s requires %s; %s %s is installed", in->name,
                                   text, other.name, other.version);
                pack_info_done(&other);
                if (!ok)
                        return -ENOPKG;
        }
        return 0;
}

static int check_conflicts(struct pack *p, const char *root, unsigned flags, char **ret_reason) {
        struct pack_info *l = NULL;
        size_t n = 0;
        int r = packs_list(root, &l, &n, ret_reason);
        if (r < 0)
                return r;
        p->already_installed = p->upgrades = false;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (streq(l[i].name, p->info.name)) {
                        if (streq(l[i].version, p->info.version) && streq_ptr(l[i].build, p->info.build))
                                p->already_installed = true;
                        else if (flags & PACK_VERIFY_UPGRADE)
                                p->upgrades = true;
                        else
                                r = (reason_set(ret_reason,
                                               "conflict: pack %s %s%s%s is installed; this pack is %s %s%s%s "
                                               "(install --upgrade replaces it)",
                                               l[i].name, l[i].version, l[i].build ? " build " : "", l[i].build ?: "",
                                               p->info.name, p->info.version, p->info.build ? " build " : "",
                                               p->info.build ?: ""),
                                     -EEXIST);
                        continue;
                }
                /* A pack installed over another version must still be what
                 * the installed packs that require it ask for. */
                for (size_t k = 0; k < l[i].n_requires && r >= 0; k++) {
                        const struct pack_requirement *q = &l[i].requires[k];
                        if (!q->name || !streq(q->name, p->info.name) || pack_test_holds(q->test, p->info.version, q->version))
                                continue;
                        _cleanup_free_ char *text = pack_requirement_to_string(q);
                        r = (reason_set(ret_reason, "conflict: installed pack %s requires %s; this pack is %s %s", l[i].name,
                                        text ?: q->name, p->info.name, p->info.version),
                             -EEXIST);
                }
                /* An RPM belongs to one pack: another pack's RPM of the same name. */
                for (size_t a = 0; a < l[i].n_packages && r >= 0; a++)
                        for (size_t b = 0; b < p->info.n_packages; b++)
                                if (streq(l[i].packages[a].name, p->info.packages[b].name)) {
                                        r = (reason_set(ret_reason,
                                                       "conflict: RPM %s of pack %s belongs to installed pack %s",
                                                       p->info.packages[b].name, p->info.name, l[i].name),
                                        -EEXIST);
                                        break;
                                }
        }
        packs_list_free(l, n);
        return r;
}

int pack_verify(struct pack *p, const char *root, const char *keyring, unsigned flags, char **ret_reason) {
        _cleanup_free_ char *host_keyring = NULL;
        int r;

        root = root ?: "/";
        if ((r = pack_rpm_init()) < 0)
                return reason_set(ret_reason, "cannot read rpm's configuration"), r;
        p->verified = p->signature_checked = false;
        pack_info_done(&p->info);

        /* The signature first: nothing of an unsigned pack.xml is parsed
         * where a signature is required. */
        if (!keyring) {
                host_keyring = pack_root_path(root, PACK_KEYRING);
                if (!host_keyring)
                        return -ENOMEM;
                if (access(host_keyring, F_OK) == 0)
                        keyring = host_keyring;
        }
        if (keyring && !p->has_signature)
                return reason_set(ret_reason, "unsigned: %s has no %s, and keyring %s requires packs to be signed",
                                  p->path, PACK_XML_SIG, keyring),
                       -EPERM;
        if (keyring) {
                if ((r = check_signature(p, keyring, ret_reason)) < 0)
                        return r;
                p->signature_checked = true;
        }
        if ((r = pack_xml_parse(p->xml, p->xml_len, &p->info, ret_reason)) < 0)
                return r;

        for (size_t i = 0; i < p->info.n_packages; i++) {
                const struct pack_package *pkg = &p->info.packages[i];
                const struct pack_file *f = find_file(p, pkg->file);
                if (!f)
                        return reason_set(ret_reason, "missing RPM: %s is listed in pack.xml but not in %s", pkg->file,
                                          p->path),
                               -ENOENT;
                if (f->size != pkg->size || !streq(f->sha256, pkg->sha256))
                        return reason_set(ret_reason,
                                          "checksum mismatch: %s has SHA-256 %s (%" PRIu64 " bytes), pack.xml says %s "
                                          "(%" PRIu64 " bytes)",
                                          pkg->file, f->sha256, f->size, pkg->sha256, pkg->size),
                               -EBADMSG;
        }
        for (size_t i = 0; i < p->info.n_packages; i++)
                if ((r = check_rpm_header(p, &p->info.packages[i], ret_reason)) < 0)
                        return r;
        if ((r = check_requirements(p, root, ret_reason)) < 0)
                return r;
        if ((r = check_conflicts(p, root, flags, ret_reason)) < 0)
                return r;
        p->verified = true;
        return 0;
}
