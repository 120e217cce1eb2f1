/* Installing and removing packs in a root with librpm, and the records of
 * installed packs (ROOT/var/lib/xenhost/packs/NAME.json). */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmprob.h>
#include <rpm/rpmps.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmts.h>
#include <rpm/rpmte.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack-internal.h"
#include "rpm-cleanup.h"

/* --- records ------------------------------------------------------------------ */

static char *record_path(const char *root, const char *name) {
        _cleanup_free_ char *dir = pack_root_path(root, PACK_RECORD_DIR);
        char *s;
        if (!dir || asprintf(&s, "%s/%s.json", dir, name) < 0)
                return NULL;
        return s;
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                              : NULL;
}

static void json_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

int pack_record_read(const char *root, const char *name, struct pack_info *ret, char **ret_reason) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_(json_putp) json_object *j = NULL;
        struct pack_info info = {};
        json_object *arr;
        int r;

        if (!pack_name_is_valid(name))
                return reason_set(ret_reason, "'%s' is not a pack name", FORMAT_VALUE(name)), -EINVAL;
        if (!(path = record_path(root, name)))
                return -ENOMEM;
        r = read_full_file_bounded(path, 1024 * 1024, &text, NULL);
        if (r == -ENOENT)
                return -ENOENT;
        if (r < 0)
                return reason_set(ret_reason, "cannot read %s: %s", path, strerror(-r)), r;
        j = json_tokener_parse(text);
        const char *n = j ? jstr(j, "name") : NULL, *v = j ? jstr(j, "version") : NULL;
        if (!n || !v || !streq(n, name) || !pack_version_is_valid(v))
                return reason_set(ret_reason, "%s is not a pack record", path), -EBADMSG;
        const char *b = jstr(j, "build"), *o = jstr(j, "originator"), *d = jstr(j, "description");
        if (!(info.name = strdup(n)) || !(info.version = strdup(v)) || (b && !(info.build = strdup(b))) ||
            !(info.originator = strdup(o ?: "")) || !(info.description = strdup(d ?: "")) ||
            !(info.product = strdup(PACK_PRODUCT)))
                goto oom;
        json_object *t;
        if (json_object_object_get_ex(j, "installed", &t))
                info.installed = (time_t) json_object_get_int64(t);
        if (json_object_object_get_ex(j, "requires", &arr) && json_object_is_type(arr, json_type_array)) {
                size_t k = json_object_array_length(arr);
                info.requires = calloc(k ?: 1, sizeof *info.requires);
                if (!info.requires)
                        goto oom;
                for (size_t i = 0; i < k; i++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
                        if (pack_requirement_parse(s, &info.requires[info.n_requires], NULL) >= 0)
                                info.n_requires++;
                }
        }
        if (json_object_object_get_ex(j, "packages", &arr) && json_object_is_type(arr, json_type_array)) {
                size_t k = json_object_array_length(arr);
                info.packages = calloc(k ?: 1, sizeof *info.packages);
                if (!info.packages)
                        goto oom;
                for (size_t i = 0; i < k; i++) {
                        json_object *po = json_object_array_get_idx(arr, i);
                        const char *pn = jstr(po, "name"), *pf = jstr(po, "file"), *ps = jstr(po, "sha256");
                        if (!pn || !pack_name_is_valid(pn))
                                continue;
                        struct pack_package *pp = &info.packages[info.n_packages];
                        if (!(pp->name = strdup(pn)) || !(pp->file = strdup(pf ?: "")))
                                goto oom;
                        snprintf(pp->sha256, sizeof pp->sha256, "%s", ps ?: "");
                        json_object *sz;
                        if (json_object_object_get_ex(po, "size", &sz))
                                pp->size = (uint64_t) json_object_get_int64(sz);
                        info.n_packages++;
                }
        }
        *ret = info;
        return 0;
oom:
        pack_info_done(&info);
        return -ENOMEM;
}

static int info_compare(const void *a, const void *b) {
        return strcmp(((const struct pack_info *) a)->name, ((const struct pack_info *) b)->name);
}

void packs_list_free(struct pack_info *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                pack_info_done(&l[i]);
        free(l);
}

int packs_list(const char *root, struct pack_info **ret, size_t *ret_n, char **ret_reason) {
        _cleanup_free_ char *dir = pack_root_path(root ?: "/", PACK_RECORD_DIR);
        struct pack_info *l = NULL;
        size_t n = 0;
        int r = 0;
        if (!dir)
                return -ENOMEM;
        DIR *d = opendir(dir);
        if (!d) {
                r = negative_errno();
                if (r != -ENOENT)
                        return reason_set(ret_reason, "cannot read %s: %s", dir, strerror(-r)), r;
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!endswith(de->d_name, ".json"))
                        continue;
                _cleanup_free_ char *name = strndup(de->d_name, strlen(de->d_name) - 5);
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                if (!pack_name_is_valid(name))
                        continue;
                struct pack_info *a = reallocarray(l, n + 1, sizeof *a);
                if (!a) {
                        r = -ENOMEM;
                        break;
                }
                l = a;
                r = pack_record_read(root ?: "/", name, &l[n], ret_reason);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        break;
                n++;
        }
        closedir(d);
        if (r < 0 && r != -ENOENT) {
                packs_list_free(l, n);
                return r;
        }
        if (n > 1)
                qsort(l, n, sizeof *l, info_compare);
        *ret = l;
        *ret_n = n;
        return 0;
}

static int copy_file(const char *from, const char *to) {
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return negative_errno();
        _cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (out < 0)
                return negative_errno();
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t) (n - off));
                        if (w < 0)
                                return negative_errno();
                        off += w;
                }
        }
        return fsync(out) < 0 ? negative_errno() : 0;
}

/* The pack as it was verified (pack.xml, its signature, the RPMs) is kept
 * beside its record as NAME.pack/, a directory pack: the upgrader reinstalls
 * it into the new slot from there (pack_open() reads directories), and it is
 * verified again when it does. Replaced as a whole (a new directory renamed
 * over the old one). */
static int keep_copy(struct pack *p, const char *root, char **ret_reason) {
        _cleanup_free_ char *dir = pack_root_path(root, PACK_RECORD_DIR), *keep = NULL, *tmp = NULL, *old = NULL;
        int r;
        if (!dir || asprintf(&keep, "%s/%s.pack", dir, p->info.name) < 0 ||
            asprintf(&tmp, "%s/.%s.pack.new", dir, p->info.name) < 0 ||
            asprintf(&old, "%s/.%s.pack.old", dir, p->info.name) < 0)
                return -ENOMEM;
        if ((r = mkdir_all(dir, 0755)) < 0)
                return reason_set(ret_reason, "cannot create %s: %s", dir, strerror(-r)), r;
        pack_rm_rf(tmp);
        pack_rm_rf(old);
        if (mkdir(tmp, 0755) < 0)
                return r = negative_errno(), reason_set(ret_reason, "cannot create %s: %s", tmp, strerror(-r)), r;
        const char *names[p->info.n_packages + 2];
        size_t n = 0;
        names[n++] = PACK_XML;
        if (p->has_signature)
                names[n++] = PACK_XML_SIG;
        for (size_t i = 0; i < p->info.n_packages; i++)
                names[n++] = p->info.packages[i].file;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *from = NULL, *to = NULL;
                if (asprintf(&from, "%s/%s", p->workdir, names[i]) < 0 || asprintf(&to, "%s/%s", tmp, names[i]) < 0) {
                        pack_rm_rf(tmp);
                        return -ENOMEM;
                }
                if ((r = copy_file(from, to)) < 0) {
                        pack_rm_rf(tmp);
                        return reason_set(ret_reason, "cannot keep a copy of %s in %s: %s", names[i], keep, strerror(-r)),
                               r;
                }
        }
        /* The old copy (an upgrade) goes aside first: rename() does not
         * replace a directory that has files. */
        if ((rename(keep, old) < 0 && errno != ENOENT) || rename(tmp, keep) < 0) {
                r = negative_errno();
                pack_rm_rf(tmp);
                return reason_set(ret_reason, "cannot keep a copy of the pack in %s: %s", keep, strerror(-r)), r;
        }
        pack_rm_rf(old);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

static int record_write(const char *root, const struct pack_info *info, char **ret_reason) {
        _cleanup_free_ char *dir = pack_root_path(root, PACK_RECORD_DIR), *path = record_path(root, info->name),
                            *json = pack_info_to_json(info);
        int r;
        if (!dir || !path || !json)
                return -ENOMEM;
        if ((r = mkdir_all(dir, 0755)) < 0)
                return reason_set(ret_reason, "cannot create %s: %s", dir, strerror(-r)), r;
        size_t len = strlen(json);
        json[len] = '\n'; /* replaces the NUL; written with its length */
        r = write_file_atomic(path, json, len + 1, 0644);
        json[len] = 0;
        if (r < 0)
                return reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
        return 0;
}

/* --- rpm transactions --------------------------------------------------------- */

/* The directories between a root and its rpm database as they were before
 * the database was made: a failed install removes what it created and puts
 * the timestamps of the rest back, so the root is as it was. */
struct saved_dirs {
        struct {
                char *path;
                bool existed;
                struct timespec times[2];
        } d[8];
        size_t n;
};

static void saved_dirs_record(const char *root, const char *dbdir, struct saved_dirs *s) {
        size_t rl = strlen(root);
        _cleanup_free_ char *p = strdup(dbdir);
        /* From the database's parent up to the root itself. */
        while (p && s->n < ELEMENTSOF(s->d)) {
                char *slash = strrchr(p, '/');
                if (!slash || (size_t) (slash - p) < rl || slash == p)
                        break;
                *slash = 0;
                struct stat st;
                bool ex = stat(p, &st) == 0;
                s->d[s->n].path = strdup(p);
                if (!s->d[s->n].path)
                        break;
                s->d[s->n].existed = ex;
                if (ex) {
                        s->d[s->n].times[0] = st.st_atim;
                        s->d[s->n].times[1] = st.st_mtim;
                }
                s->n++;
        }
}

static void saved_dirs_restore(struct saved_dirs *s) {
        /* Deepest first: a created directory goes before its parent's time is put back. */
        for (size_t i = 0; i < s->n; i++) {
                if (!s->d[i].existed)
                        (void) rmdir(s->d[i].path);
                else
                        (void) utimensat(AT_FDCWD, s->d[i].path, s->d[i].times, 0);
                s->d[i].path = mfree(s->d[i].path);
        }
        s->n = 0;
}

/* Debian's librpm refuses transactions on a dpkg system unless told that
 * this is meant: a dom0 is one, and its packs are RPMs. */
#define RUN_FILTER RPMPROB_FILTER_DEBIAN

struct txn {
        pack_progress_fn progress;
        void *userdata;
        unsigned done, total;
        char failed_script[256];
};

/* The key of an install element: its RPM, open. */
struct txn_pkg {
        FD_t fd;
};

static void *notify(const void *h, const rpmCallbackType what, const rpm_loff_t amount, const rpm_loff_t total,
                    fnpyKey key, rpmCallbackData data) {
        struct txn *t = data;
        const char *name = h ? headerGetString((Header) h, RPMTAG_NAME) : NULL;
        (void) total;
        switch (what) {
        case RPMCALLBACK_INST_OPEN_FILE:
                /* Opened before the transaction: librpm asks from inside
                 * its chroot into the root, where the path is not. */
                if (!key)
                        return NULL;
                Fseek(((struct txn_pkg *) key)->fd, 0, SEEK_SET);
                return ((struct txn_pkg *) key)->fd;
        case RPMCALLBACK_INST_CLOSE_FILE:
                break;
        case RPMCALLBACK_INST_START:
                if (t->progress)
                        t->progress("installing", name, ++t->done, t->total, t->userdata);
                break;
        case RPMCALLBACK_UNINST_START:
                if (t->progress)
                        t->progress("removing", name, ++t->done, t->total, t->userdata);
                break;
        case RPMCALLBACK_SCRIPT_ERROR:
                /* AMOUNT is the scriptlet's tag; librpm logs the exit status. */
                if (!t->failed_script[0]) {
                        const char *what = amount == RPMTAG_PREIN      ? "%pre"
                                           : amount == RPMTAG_POSTIN   ? "%post"
                                           : amount == RPMTAG_PREUN    ? "%preun"
                                           : amount == RPMTAG_POSTUN   ? "%postun"
                                           : amount == RPMTAG_PRETRANS ? "%pretrans"
                                                                       : "a scriptlet";
                        const char *st = strstr(pack_rpm_last_error(), "exit status");
                        snprintf(t->failed_script, sizeof t->failed_script, "%s of %s failed%s%s", what,
                                 name ?: "a package", st ? ", " : "", st ?: "");
                }
                break;
        default:
                break;
        }
        return NULL;
}

/* The first problem of the transaction in one line. */
static void problems_reason(rpmts ts, const char *what, char **ret_reason) {
        rpmps ps = rpmtsProblems(ts);
        rpmpsi it = rpmpsInitIterator(ps);
        rpmProblem pr;
        _cleanup_free_ char *first = NULL;
        int n = rpmpsNumProblems(ps);
        if ((pr = rpmpsiNext(it)))
                first = rpmProblemString(pr);
        rpmpsFreeIterator(it);
        rpmpsFree(ps);
        if (first) {
                first[strcspn(first, "\n")] = 0;
                reason_set(ret_reason, "%s: %s%s", what, first, n > 1 ? " (and more)" : "");
        } else
                reason_set(ret_reason, "%s%s%s", what, *pack_rpm_last_error() ? ": " : "", pack_rpm_last_error());
}

/* The dom0 is a Debian system: dpkg, not rpm, owns /bin/sh and libc.so.6.
 * A file dependency holds when the file is in the root, a library (soname)
 * dependency when the library is in one of its library directories. */
static bool dependency_in_root(const char *root, const char *dep) {
        static const char *const libdirs[] = {"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/lib/x86_64-linux-gnu",
                                              "/usr/lib/x86_64-linux-gnu"};
        _cleanup_free_ char *name = strndup(dep, strcspn(dep, " ("));
        struct stat st;
        if (!name)
                return false;
        if (name[0] == '/') {
                _cleanup_free_ char *p = pack_root_path(root, name);
                return p && !strstr(name, "/../") && lstat(p, &st) == 0;
        }
        if (!strstr(name, ".so") || strchr(name, '/'))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(libdirs); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s%s/%s", streq(root, "/") ? "" : root, libdirs[i], name) >= 0 && lstat(p, &st) == 0)
                        return true;
        }
        return false;
}

/* The problems of rpmtsCheck() that the root's files do not settle: their
 * number, and the first in *RET_REASON. */
static int unmet_dependencies(rpmts ts, const char *root, const char *what, char **ret_reason) {
        rpmps ps = rpmtsProblems(ts);
        rpmpsi it = rpmpsInitIterator(ps);
        rpmProblem pr;
        int n = 0;
        while ((pr = rpmpsiNext(it))) {
                const char *dep = rpmProblemGetStr(pr);
                if (rpmProblemGetType(pr) == RPMPROB_REQUIRES && dep && dependency_in_root(root, dep)) {
                        log_debug("%s: %s is provided by a file in %s", rpmProblemGetPkgNEVR(pr), dep, root);
                        continue;
                }
                if (n++ == 0) {
                        _cleanup_free_ char *s = rpmProblemString(pr);
                        if (s)
                                s[strcspn(s, "\n")] = 0;
                        reason_set(ret_reason, "%s: %s", what, s ?: "?");
                }
        }
        rpmpsFreeIterator(it);
        rpmpsFree(ps);
        /* rpmtsRun() refuses to run while problems of the check are kept. */
        if (n == 0)
                rpmtsCleanProblems(ts);
        return n;
}

static rpmts ts_new(const char *root, struct txn *t) {
        rpmts ts = rpmtsCreate();
        if (!ts)
                return NULL;
        if (rpmtsSetRootDir(ts, root) != 0) {
                rpmtsFree(ts);
                return NULL;
        }
        rpmtsSetVSFlags(ts, _RPMVSF_NOSIGNATURES);
        rpmtsSetNotifyCallback(ts, notify, t);
        return ts;
}

/* Adds erase elements for every installed instance of package NAME except
 * the instances in KEEP. Returns the number added. */
static int add_erase_by_name(rpmts ts, const char *name, const unsigned *keep, size_t n_keep) {
        rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_NAME, name, 0);
        Header h;
        int n = 0;
        while (mi && (h = rpmdbNextIterator(mi))) {
                unsigned off = rpmdbGetIteratorOffset(mi);
                bool kept = false;
                for (size_t i = 0; i < n_keep; i++)
                        kept = kept || keep[i] == off;
                if (!kept && rpmtsAddEraseElement(ts, h, (int) off) == 0)
                        n++;
        }
        rpmdbFreeIterator(mi);
        return n;
}

/* The database instances of package NAME now. */
static int instances(rpmts ts, const char *name, unsigned **ret, size_t *ret_n) {
        rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_NAME, name, 0);
        unsigned *l = NULL;
        size_t n = 0;
        while (mi && rpmdbNextIterator(mi)) {
                unsigned *a = reallocarray(l, n + 1, sizeof *a);
                if (!a) {
                        free(l);
                        rpmdbFreeIterator(mi);
                        return -ENOMEM;
                }
                l = a;
                l[n++] = rpmdbGetIteratorOffset(mi);
        }
        rpmdbFreeIterator(mi);
        *ret = l;
        *ret_n = n;
        return 0;
}

/* After a failed run: erases what the transaction installed of the pack's
 * packages (instances that were not there before), so that a failed
 * install leaves no package behind. */
static void roll_back(const char *root, const struct pack_info *info, unsigned **before, size_t *n_before) {
        struct txn t = {};
        _cleanup_(rpmts_freep) rpmts ts = ts_new(root, &t);
        int n = 0;
        if (!ts)
                return;
        for (size_t i = 0; i < info->n_packages; i++)
                n += add_erase_by_name(ts, info->packages[i].name, before[i], n_before[i]);
        if (n == 0)
                return;
        /* Scriptlets of the packages being taken out again are not run:
         * they never completed their install. */
        rpmtsSetFlags(ts, RPMTRANS_FLAG_NOSCRIPTS | RPMTRANS_FLAG_NOTRIGGERS);
        rpmtsOrder(ts);
        int rc = rpmtsRun(ts, NULL, RUN_FILTER);
        log_debug("rolled back %d package(s) of pack %s: %d", n, info->name, rc);
}

int pack_install(struct pack *p, const char *root, const char *keyring, unsigned flags, pack_progress_fn progress,
                 void *userdata, enum pack_install_result *ret_result, char **ret_reason) {
        _cleanup_free_ char *dbdir = NULL, *scriptlog = NULL;
        struct pack_info old = {};
        unsigned **before = NULL;
        size_t *n_before = NULL;
        struct txn_pkg **keys = NULL;
        bool db_existed;
        struct saved_dirs saved = {};
        int r, rc;

        /* librpm wants an absolute root; messages say the root as given. */
        _cleanup_free_ char *abs_root = realpath(root ?: "/", NULL);
        if (!abs_root)
                return r = negative_errno(), reason_set(ret_reason, "root %s: %s", root, strerror(-r)), r;
        if (progress)
                progress("verifying", NULL, 0, 0, userdata);
        if ((r = pack_verify(p, root ?: "/", keyring, flags, ret_reason)) < 0)
                return r;
        root = abs_root;
        const struct pack_info *info = &p->info;
        if (p->already_installed) {
                if (ret_result)
                        *ret_result = PACK_ALREADY_INSTALLED;
                return 0;
        }
        if (p->upgrades && (r = pack_record_read(root, info->name, &old, ret_reason)) < 0)
                return r;

        if (!(dbdir = pack_root_path(root, PACK_RPM_DBPATH)) || asprintf(&scriptlog, "%s/scriptlets.log", p->workdir) < 0) {
                pack_info_done(&old);
                return -ENOMEM;
        }
        db_existed = access(dbdir, F_OK) == 0;

        struct txn t = {.progress = progress, .userdata = userdata, .total = (unsigned) info->n_packages};
        _cleanup_(rpmts_freep) rpmts ts = ts_new(root, &t);
        /* Dependencies are checked in a set of their own: librpm marks the
         * elements of a checked set that had problems as failed, and the
         * problems that the root's files settle would skip them. */
        _cleanup_(rpmts_freep) rpmts cts = ts_new(root, &t);
        _cleanup_(fd_closep) FD_t sfd = Fopen(scriptlog, "w.ufdio");
        if (!ts || !cts) {
                r = (reason_set(ret_reason, "cannot start an rpm transaction in %s", root), -EIO);
                goto finish;
        }
        /* A Debian dom0 has no rpm database: make one (and remember the
         * directories above it, to leave them as they were on failure). */
        if (!db_existed) {
                saved_dirs_record(root, dbdir, &saved);
                _cleanup_free_ char *parent = strndup(dbdir, strrchr(dbdir, '/') - dbdir);
                if (!parent || mkdir_all(parent, 0755) < 0 || rpmtsInitDB(ts, 0644) != 0) {
                        r = (reason_set(ret_reason, "cannot create the rpm database %s: %s", dbdir, pack_rpm_last_error()),
                        -EIO);
                        goto finish;
                }
        }
        /* Scriptlets' output goes to the log, not over a progress bar. */
        if (sfd && !Ferror(sfd))
                rpmtsSetScriptFd(ts, sfd);

        before = calloc(info->n_packages, sizeof *before);
        n_before = calloc(info->n_packages, sizeof *n_before);
        keys = calloc(info->n_packages, sizeof *keys);
        if (!before || !n_before || !keys) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < info->n_packages; i++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_(header_freep) Header h = NULL;
                if (asprintf(&path, "%s/%s", p->workdir, info->packages[i].file) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                if ((r = instances(ts, info->packages[i].name, &before[i], &n_before[i])) < 0)
                        goto finish;
                _cleanup_(fd_closep) FD_t fd = Fopen(path, "r.ufdio");
                if (!fd || Ferror(fd) || rpmReadPackageFile(ts, fd, path, &h) == RPMRC_FAIL || !h) {
                        r = (reason_set(ret_reason, "cannot read RPM %s", info->packages[i].file), -EIO);
                        goto finish;
                }
                /* The key holds the open file: the notify callback hands it over. */
                keys[i] = calloc(1, sizeof(struct txn_pkg));
                if (!keys[i]) {
                        r = -ENOMEM;
                        goto finish;
                }
                keys[i]->fd = TAKE_PTR(fd);
                if (rpmtsAddInstallElement(ts, h, (fnpyKey) keys[i], 1, NULL) != 0 ||
                    rpmtsAddInstallElement(cts, h, NULL, 1, NULL) != 0) {
                        r = (reason_set(ret_reason, "cannot add RPM %s to the transaction", info->packages[i].file), -EIO);
                        goto finish;
                }
        }
        /* An upgrade takes out what the old version had and the new one has not. */
        for (size_t i = 0; i < old.n_packages; i++) {
                bool kept = false;
                for (size_t k = 0; k < info->n_packages; k++)
                        kept = kept || streq(old.packages[i].name, info->packages[k].name);
                if (!kept) {
                        add_erase_by_name(ts, old.packages[i].name, NULL, 0);
                        add_erase_by_name(cts, old.packages[i].name, NULL, 0);
                        t.total++;
                }
        }
        rpmtsCheck(cts);
        if (unmet_dependencies(cts, root, "unmet rpm dependency", ret_reason) > 0) {
                r = -ENOPKG;
                goto finish;
        }
        rpmtsOrder(ts);

        /* A test run first: file conflicts and disk space stop the install
         * before anything is written. */
        rpmtsSetFlags(ts, RPMTRANS_FLAG_TEST);
        pack_rpm_clear_error();
        rc = rpmtsRun(ts, NULL, RUN_FILTER);
        if (rc != 0) {
                problems_reason(ts, "the rpm transaction would fail", ret_reason);
                r = -EIO;
                goto finish;
        }
        rpmtsSetFlags(ts, RPMTRANS_FLAG_NONE);
        t.done = 0;
        pack_rpm_clear_error();
        rc = rpmtsRun(ts, NULL, RUN_FILTER);
        if (rc != 0 || t.failed_script[0]) {
                if (t.failed_script[0])
                        reason_set(ret_reason, "install failed: %s; nothing of pack %s was kept", t.failed_script,
                                   info->name);
                else
                        problems_reason(ts, "install failed", ret_reason);
                r = -EIO;
                rpmtsFree(TAKE_PTR(ts));
                roll_back(root, info, before, n_before);
                goto finish;
        }
        if (progress)
                progress("recording", NULL, t.done, t.total, userdata);
        p->info.installed = time(NULL);
        if ((r = keep_copy(p, root, ret_reason)) < 0 || (r = record_write(root, info, ret_reason)) < 0) {
                rpmtsFree(TAKE_PTR(ts));
                roll_back(root, info, before, n_before);
                goto finish;
        }
        if (ret_result)
                *ret_result = p->upgrades ? PACK_UPGRADED : PACK_INSTALLED;
        r = 0;
finish:
        if (ts)
                rpmtsFree(TAKE_PTR(ts));
        if (cts)
                rpmtsFree(TAKE_PTR(cts));
        if (r < 0 && !db_existed && dbdir) {
                pack_rm_rf(dbdir);
                saved_dirs_restore(&saved);
        }
        if (scriptlog) {
                _cleanup_free_ char *out = NULL;
                size_t len = 0;
                if (sfd) {
                        Fclose(sfd);
                        sfd = NULL;
                }
                if (read_full_file_bounded(scriptlog, 1024 * 1024, &out, &len) >= 0 && len > 0)
                        log_file_write("rpm scriptlet: ", out, len);
        }
        for (size_t i = 0; i < info->n_packages; i++) {
                if (before)
                        free(before[i]);
                if (keys && keys[i]) {
                        Fclose(keys[i]->fd);
                        free(keys[i]);
                }
        }
        free(keys);
        for (size_t i = 0; i < saved.n; i++)
                free(saved.d[i].path);
        free(before);
        free(n_before);
        pack_info_done(&old);
        return r;
}

int pack_remove(const char *root, const char *name, pack_progress_fn progress, void *userdata, char **ret_reason) {
        struct pack_info info = {}, *l = NULL;
        _cleanup_free_ char *path = NULL, *dir = NULL;
        _cleanup_(rpmts_freep) rpmts ts = NULL, cts = NULL;
        struct txn t = {.progress = progress, .userdata = userdata};
        size_t n = 0;
        int r;

        _cleanup_free_ char *abs_root = realpath(root ?: "/", NULL);
        if (!abs_root)
                return r = negative_errno(), reason_set(ret_reason, "root %s: %s", root, strerror(-r)), r;
        root = abs_root;
        if ((r = pack_rpm_init()) < 0)
                return reason_set(ret_reason, "cannot read rpm's configuration"), r;
        r = pack_record_read(root, name, &info, ret_reason);
        if (r == -ENOENT)
                return reason_set(ret_reason, "pack %s is not installed", name), r;
        if (r < 0)
                return r;
        if ((r = packs_list(root, &l, &n, ret_reason)) < 0)
                goto finish;
        for (size_t i = 0; i < n && r >= 0; i++)
                for (size_t k = 0; k < l[i].n_requires; k++)
                        if (l[i].requires[k].name && streq(l[i].requires[k].name, name)) {
                                r = (reason_set(ret_reason, "pack %s requires pack %s: remove it first", l[i].name, name),
                                -EBUSY);
                                break;
                        }
        if (r < 0)
                goto finish;

        ts = ts_new(root, &t);
        cts = ts_new(root, &t);
        if (!ts || !cts) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < info.n_packages; i++) {
                t.total += (unsigned) add_erase_by_name(ts, info.packages[i].name, NULL, 0);
                add_erase_by_name(cts, info.packages[i].name, NULL, 0);
        }
        if (t.total > 0) {
                rpmtsCheck(cts);
                if (unmet_dependencies(cts, root, "cannot remove", ret_reason) > 0) {
                        r = -EBUSY;
                        goto finish;
                }
                rpmtsOrder(ts);
                pack_rpm_clear_error();
                if (rpmtsRun(ts, NULL, RUN_FILTER) != 0 || t.failed_script[0]) {
                        if (t.failed_script[0])
                                reason_set(ret_reason, "removing pack %s: %s", name, t.failed_script);
                        else
                                problems_reason(ts, "removing failed", ret_reason);
                        r = -EIO;
                        goto finish;
                }
        } else
                log_debug("pack %s: none of its packages is in the rpm database", name);

        path = record_path(root, name);
        if (!path) {
                r = -ENOMEM;
                goto finish;
        }
        if (unlink(path) < 0) {
                r = negative_errno();
                reason_set(ret_reason, "cannot remove %s: %s", path, strerror(-r));
                goto finish;
        }
        /* The kept copy of the pack goes with its record. */
        path = mfree(path);
        if (asprintf(&path, "%s/%s.pack", (dir = pack_root_path(root, PACK_RECORD_DIR)) ?: "", name) >= 0)
                pack_rm_rf(path);
        else
                path = NULL;
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd >= 0) {
                (void) fsync(dfd);
                close(dfd);
        }
        if (progress)
                progress("done", NULL, t.done, t.total, userdata);
        r = 0;
finish:
        packs_list_free(l, n);
        pack_info_done(&info);
        return r;
}
