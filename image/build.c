/* The build stages. Every stage logs what it runs (the log file has the
 * tools' own output), prints a progress line per step, caches by its inputs,
 * and fails with one clear line. */
#include "build.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "manifest.h"
#include "process.h"

/* Programs of ours that the dom0 tree carries (run-time tools) and that the
 * installer initrd carries (the installer and what it calls). */
static const char *const dom0_programs[] = {"xenhost-partition", "xenhost-upgrade", "xenhost-boot", "xenhost-pack", NULL};
static const char *const installer_programs[] = {"xenhost-install", "xenhost-partition", NULL};

_printf_(2, 3) static char *strdupf(char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
        return *ret;
}

static void progress(const char *stage, const char *what) {
        log_info("==> %s: %s", stage, what);
}

static bool exists(const char *p) {
        return access(p, F_OK) == 0;
}

static int run(const char *what, const char *const *argv) {
        int r = spawn_run(argv, NULL);
        if (r == -ENOENT)
                return log_error_errno(r, "%s: %s is not installed (tools/deps.sh installs it)", what, argv[0]);
        if (r < 0)
                return log_error_errno(r, "%s failed: %s", what, spawn_last_error());
        return 0;
}

static int rm_rf(const char *path) {
        if (!exists(path))
                return 0;
        return run("Removing an old build tree", (const char *[]){"rm", "-rf", "--one-file-system", path, NULL});
}

/* Cache keys hash the content of every input file, in a fixed order. */
struct key {
        EVP_MD_CTX *ctx;
        size_t skip; /* length of the source tree's path: keys name files relative to it */
};

static int key_add_file(struct key *k, const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_full_file(path, &data, &len);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        /* The name relative to the source tree, so that every clone of one
         * commit finds the same cache entries. */
        const char *name = strlen(path) > k->skip ? path + k->skip : path;
        EVP_DigestUpdate(k->ctx, name, strlen(name) + 1);
        EVP_DigestUpdate(k->ctx, data, len);
        return 0;
}

static int key_add_dir(struct key *k, const char *dir) {
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, alphasort), r = 0;
        if (n < 0)
                return log_error_errno(negative_errno(), "Cannot list %s: %m", dir);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                if (r >= 0 && names[i]->d_name[0] != '.' && strdupf(&p, "%s/%s", dir, names[i]->d_name) &&
                    lstat(p, &st) == 0)
                        r = S_ISDIR(st.st_mode) ? key_add_dir(k, p) : S_ISREG(st.st_mode) ? key_add_file(k, p) : 0;
                free(names[i]);
        }
        free(names);
        return r;
}

static void key_finish(struct key *k, char ret[17]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(k->ctx, md, &n);
        EVP_MD_CTX_free(k->ctx);
        for (unsigned i = 0; i < 8; i++)
                sprintf(ret + 2 * i, "%02x", md[i]);
}

static int self_dir(char **ret) {
        char *exe = realpath("/proc/self/exe", NULL);
        if (!exe)
                return negative_errno();
        *ret = strdup(dirname(exe));
        free(exe);
        return *ret ? 0 : -ENOMEM;
}

int build_context_init(struct build_context *c, const char *out, const char *version, const char *sign_key) {
        _cleanup_free_ char *vfile = NULL, *vtext = NULL, *sde = NULL;
        const char *e;
        int r;

        *c = (struct build_context){.sign_key = sign_key};
        r = self_dir(&c->bindir);
        if (r < 0)
                return log_error_errno(r, "Cannot find my own directory: %m");
        /* The source tree: $XENHOST_SRC, else two levels above build/bin. */
        e = getenv("XENHOST_SRC");
        if (e)
                c->top = realpath(e, NULL);
        else {
                _cleanup_free_ char *t = NULL;
                if (strdupf(&t, "%s/../..", c->bindir))
                        c->top = realpath(t, NULL);
        }
        if (!c->top || !strdupf(&vfile, "%s/dom0-rootfs/packages", c->top) || !exists(vfile))
                return log_error_errno(-ENOENT, "Cannot find the source tree (dom0-rootfs/packages); set XENHOST_SRC");
        vfile = mfree(vfile); /* reused for VERSION below; the cleanup frees whichever is left */

        if (!(c->out = out ? realpath(out, NULL) : NULL)) {
                if (out && mkdir(out, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(negative_errno(), "Cannot create %s: %m", out);
                if (!strdupf(&c->out, "%s/out", c->top) && !out)
                        return -ENOMEM;
                if (out) {
                        free(c->out);
                        c->out = realpath(out, NULL);
                }
                if (!c->out || (mkdir(c->out, 0755) < 0 && errno != EEXIST))
                        return log_error_errno(-errno, "Cannot create the output directory: %m");
        }
        e = getenv("XENHOST_CACHE");
        c->cache = strdup(e ? e : "/var/cache/xenhost");
        if (!c->cache)
                return -ENOMEM;
        if (mkdir(c->cache, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Cannot create cache %s: %m", c->cache);

        if (version)
                c->version = strdup(version);
        else if (strdupf(&vfile, "%s/VERSION", c->top) && read_full_file(vfile, &vtext, NULL) >= 0) {
                vtext[strcspn(vtext, "\n")] = 0;
                c->version = TAKE_PTR(vtext);
        }
        if (!c->version || !*c->version)
                return log_error_errno(-EINVAL, "No version: give --version or write VERSION");
        /* The version names files on the media and in slots. */
        if (!manifest_version_is_valid(c->version))
                return log_error_errno(-EINVAL, "The version is not a version (1 to %u of 0-9 A-Z a-z . + ~ _ -, "
                                                "starting with a digit or letter, no \"..\")",
                                       (unsigned) MANIFEST_VERSION_MAX);

        /* SOURCE_DATE_EPOCH: given, else the last commit's time, so that two
         * builds of one commit agree. */
        e = getenv("SOURCE_DATE_EPOCH");
        if (!e && spawn_run((const char *[]){"git", "-C", c->top, "log", "-1", "--format=%ct", NULL}, &sde) >= 0)
                e = sde;
        c->source_date_epoch = e ? strtoull(e, NULL, 10) : 0;
        if (c->source_date_epoch == 0)
                c->source_date_epoch = 1700000000; /* fixed, never "now": builds stay reproducible */
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, c->source_date_epoch);
        setenv("SOURCE_DATE_EPOCH", buf, 1);

        _cleanup_free_ char *id = NULL;
        if (spawn_run((const char *[]){"git", "-C", c->top, "rev-parse", "--short=12", "HEAD", NULL}, &id) >= 0)
                id[strcspn(id, "\n")] = 0;
        c->build_id = strdup(id && *id ? id : "local");
        return c->build_id ? 0 : -ENOMEM;
}

void build_context_done(struct build_context *c) {
        free(c->top);
        free(c->bindir);
        free(c->out);
        free(c->cache);
        free(c->version);
        free(c->build_id);
}

static int build_rootfs_once(const struct build_context *c);
static int build_image_once(const struct build_context *c);
static int build_initrd_once(const struct build_context *c);

/* ---- rootfs ------------------------------------------------------------ */

static int read_package_list(const struct build_context *c, char **ret_list) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t cap = 1, len = 0;
        char *list = NULL;
        int r;

        if (!strdupf(&path, "%s/dom0-rootfs/packages", c->top))
                return -ENOMEM;
        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                l[strcspn(l, "#")] = 0;
                char *name = strtok(l, " \t");
                if (!name)
                        continue;
                size_t n = strlen(name);
                char *nl = realloc(list, cap + n + 1);
                if (!nl) {
                        free(list);
                        return -ENOMEM;
                }
                list = nl;
                if (len)
                        list[len++] = ',';
                memcpy(list + len, name, n);
                len += n;
                list[len] = 0;
                cap += n + 1;
        }
        if (!list)
                return log_error_errno(-EINVAL, "%s lists no packages", path);
        *ret_list = list;
        return 0;
}

static const char *const mmdebstrap_options[] = {
        "--mode=root", "--variant=minbase",
        /* Documentation and translations have no place on a hypervisor host. */
        "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-include=/usr/share/locale/locale.alias", "--dpkgopt=path-exclude=/usr/share/info/*",
};

/* The base tree: packages only, keyed by the package list, the options and
 * the dracut configuration that the kernel's postinst uses. */
static int base_key(const struct build_context *c, char ret[17]) {
        _cleanup_free_ char *p1 = NULL, *p2 = NULL;
        struct key k = {EVP_MD_CTX_new(), strlen(c->top)};
        int r;
        if (!k.ctx || !EVP_DigestInit_ex(k.ctx, EVP_sha256(), NULL))
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(mmdebstrap_options); i++)
                EVP_DigestUpdate(k.ctx, mmdebstrap_options[i], strlen(mmdebstrap_options[i]) + 1);
        if (!strdupf(&p1, "%s/dom0-rootfs/packages", c->top) || !strdupf(&p2, "%s/dom0-rootfs/dracut.conf", c->top))
                r = -ENOMEM;
        else if ((r = key_add_file(&k, p1)) >= 0)
                r = key_add_file(&k, p2);
        key_finish(&k, ret);
        return r;
}

static int base_tree(const struct build_context *c, char **ret) {
        _cleanup_free_ char *list = NULL, *dir = NULL, *tmp = NULL, *stamp = NULL, *include = NULL, *hook = NULL,
                            *lock = NULL;
        char key[17];
        int r;

        r = base_key(c, key);
        if (r < 0)
                return r;
        if (!strdupf(&dir, "%s/dom0-base-%s", c->cache, key) || !strdupf(&tmp, "%s.tmp", dir) ||
            !strdupf(&stamp, "%s.complete", dir) || !strdupf(&lock, "%s.lock", dir))
                return -ENOMEM;
        /* The cache is shared by every build on the machine: two builds of
         * one recipe must not both make (and remove) the same tree. The
         * second waits and then finds it complete. */
        _cleanup_close_ int lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
                return log_error_errno(negative_errno(), "Cannot lock %s: %m", lock);
        if (exists(stamp)) {
                progress("rootfs", "dom0 packages unchanged: using the cached tree");
                log_debug("Cached base tree %s", dir);
                *ret = TAKE_PTR(dir);
                return 0;
        }
        r = read_package_list(c, &list);
        if (r < 0)
                return r;
        progress("rootfs", "installing the dom0 packages with mmdebstrap (a few minutes)");
        if ((r = rm_rf(tmp)) < 0 || (r = rm_rf(dir)) < 0)
                return r;
        /* The kernel's postinst builds the dom0 initrd with dracut: give it
         * our configuration before any package is unpacked. */
        if (!strdupf(&include, "--include=%s", list) ||
            !strdupf(&hook, "--essential-hook=mkdir -p \"$1/etc/dracut.conf.d\" && cp '%s/dom0-rootfs/dracut.conf' "
                            "\"$1/etc/dracut.conf.d/10-xenhost.conf\"", c->top))
                return -ENOMEM;
        const char *argv[ELEMENTSOF(mmdebstrap_options) + 8];
        size_t n = 0;
        argv[n++] = "mmdebstrap";
        for (size_t i = 0; i < ELEMENTSOF(mmdebstrap_options); i++)
                argv[n++] = mmdebstrap_options[i];
        argv[n++] = include;
        argv[n++] = hook;
        argv[n++] = "bookworm";
        argv[n++] = tmp;
        argv[n] = NULL;
        r = run("mmdebstrap (is Debian's archive reachable? is the disk full?)", argv);
        if (r < 0)
                return r;
        if (rename(tmp, dir) < 0)
                return log_error_errno(negative_errno(), "Cannot rename %s: %m", tmp);
        r = write_file_atomic(stamp, key, strlen(key), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", stamp);
        *ret = TAKE_PTR(dir);
        return 0;
}

static int install_programs(const struct build_context *c, const char *tree, const char *const *programs) {
        for (const char *const *p = programs; *p; p++) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                if (!strdupf(&src, "%s/%s", c->bindir, *p) || !strdupf(&dst, "%s/usr/sbin/%s", tree, *p))
                        return -ENOMEM;
                if (!exists(src))
                        return log_error_errno(-ENOENT, "%s is not built; run make first", src);
                int r = run("Installing xenhost's programs", (const char *[]){"install", "-m", "0755", src, dst, NULL});
                if (r < 0)
                        return r;
        }
        return 0;
}

static int tree_path(const struct build_context *c, char **ret) {
        return strdupf(ret, "%s/rootfs", c->out) ? 0 : -ENOMEM;
}

int build_rootfs(const struct build_context *c) {
        static int done; /* each stage runs once per program run; iso and pxe share them */
        if (done)
                return 0;
        int ret = build_rootfs_once(c);
        done = ret >= 0;
        return ret;
}

/* The final tree's key: the packages, the overlay, the hooks, our programs
 * and what the release file says. An unchanged key reuses OUT/rootfs. */
static int rootfs_key(const struct build_context *c, char ret[17]) {
        _cleanup_free_ char *overlay = NULL, *hooks = NULL, *extra = NULL;
        struct key k = {EVP_MD_CTX_new(), strlen(c->top)};
        char bkey[17];
        int r;
        if (!k.ctx || !EVP_DigestInit_ex(k.ctx, EVP_sha256(), NULL))
                return -ENOMEM;
        r = base_key(c, bkey);
        EVP_DigestUpdate(k.ctx, bkey, sizeof bkey);
        if (r >= 0 && (!strdupf(&overlay, "%s/dom0-rootfs/overlay", c->top) ||
                       !strdupf(&hooks, "%s/dom0-rootfs/hooks", c->top) ||
                       !strdupf(&extra, "%s\n%s\n%" PRIu64, c->version, c->build_id, c->source_date_epoch)))
                r = -ENOMEM;
        if (r >= 0)
                r = key_add_dir(&k, overlay);
        if (r >= 0)
                r = key_add_dir(&k, hooks);
        for (const char *const *p = dom0_programs; r >= 0 && *p; p++) {
                _cleanup_free_ char *b = NULL;
                r = strdupf(&b, "%s/%s", c->bindir, *p) ? key_add_file(&k, b) : -ENOMEM;
        }
        if (r >= 0)
                EVP_DigestUpdate(k.ctx, extra, strlen(extra));
        key_finish(&k, ret);
        return r;
}

/* Whether FILE holds exactly KEY (a stamp left by a finished stage). */
static bool stamp_matches(const char *file, const char *key) {
        _cleanup_free_ char *text = NULL;
        return read_full_file(file, &text, NULL) >= 0 && streq(text, key);
}

static int build_rootfs_once(const struct build_context *c) {
        _cleanup_free_ char *base = NULL, *tree = NULL, *tmp = NULL, *overlay = NULL, *release = NULL,
                            *rel_text = NULL, *hooks = NULL, *stamp = NULL;
        struct dirent **names = NULL;
        char key[17];
        int r, n;

        if ((r = rootfs_key(c, key)) < 0 || (r = tree_path(c, &tree)) < 0 || !strdupf(&stamp, "%s.key", tree))
                return r < 0 ? r : -ENOMEM;
        if (exists(tree) && stamp_matches(stamp, key)) {
                progress("rootfs", "recipe, overlay and programs unchanged: using the dom0 tree as it is");
                return 0;
        }
        unlink(stamp);
        r = base_tree(c, &base);
        if (r < 0)
                return r;
        if (!strdupf(&tmp, "%s.tmp", tree) ||
            !strdupf(&overlay, "%s/dom0-rootfs/overlay/.", c->top) || !strdupf(&hooks, "%s/dom0-rootfs/hooks", c->top))
                return -ENOMEM;
        progress("rootfs", "copying the dom0 tree and applying the overlay");
        if ((r = rm_rf(tmp)) < 0)
                return r;
        r = run("Copying the dom0 tree", (const char *[]){"cp", "-a", "--reflink=auto", base, tmp, NULL});
        if (r < 0)
                return r;
        r = run("Applying the dom0 overlay", (const char *[]){"cp", "-a", "--no-preserve=ownership", overlay, tmp, NULL});
        if (r < 0)
                return r;
        r = install_programs(c, tmp, dom0_programs);
        if (r < 0)
                return r;
        if (!strdupf(&release, "%s/etc/xenhost-release", tmp) ||
            !strdupf(&rel_text, "PRODUCT=xenhost\nVERSION=%s\nBUILD=%s\n", c->version, c->build_id))
                return -ENOMEM;
        r = write_file_atomic(release, rel_text, strlen(rel_text), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", release);

        n = scandir(hooks, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *h = NULL;
                if (r >= 0 && endswith(names[i]->d_name, ".sh") && strdupf(&h, "%s/%s", hooks, names[i]->d_name)) {
                        progress("rootfs", names[i]->d_name);
                        r = run(names[i]->d_name, (const char *[]){"bash", h, tmp, NULL});
                }
                free(names[i]);
        }
        free(names);
        if (r < 0)
                return r;
        if ((r = rm_rf(tree)) < 0)
                return r;
        if (rename(tmp, tree) < 0)
                return log_error_errno(negative_errno(), "Cannot rename %s: %m", tmp);
        r = write_file_atomic(stamp, key, strlen(key), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", stamp);
        progress("rootfs", tree);
        return 0;
}

/* ---- image ------------------------------------------------------------- */

/* What the tree takes on an ext4 slot, from the content alone: a build's
 * own directory history (st_blocks of directories) must not leak into the
 * manifest, or two builds of one recipe would differ. */
static uint64_t installed_bytes;
static int add_usage(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void) p, (void) flag, (void) f;
        installed_bytes += S_ISREG(st->st_mode) ? ROUND_UP((uint64_t) st->st_size, 4096) : 4096;
        return 0;
}

static int kernel_version(const char *tree, char **ret) {
        _cleanup_free_ char *mods = NULL;
        struct dirent **names = NULL;
        if (!strdupf(&mods, "%s/lib/modules", tree))
                return -ENOMEM;
        int n = scandir(mods, &names, NULL, alphasort);
        *ret = NULL;
        for (int i = 0; i < n; i++) {
                if (!*ret && names[i]->d_name[0] != '.')
                        *ret = strdup(names[i]->d_name);
                free(names[i]);
        }
        free(names);
        return *ret ? 0 : log_error_errno(-ENOENT, "No kernel in %s", mods);
}

int build_image_paths(const struct build_context *c, char **ret_image, char **ret_manifest) {
        if (!strdupf(ret_image, "%s/xenhost-%s.img", c->out, c->version) ||
            !strdupf(ret_manifest, "%s/xenhost-%s.manifest", c->out, c->version))
                return -ENOMEM;
        return 0;
}

/* OUT/xenhost-V.packages: the dom0 tree's installed packages with their
 * versions, as "dpkg-query -W" prints them (name TAB version, one a line),
 * sorted; beside the manifest and on the media. mmdebstrap takes what the
 * archive has on the day: this list is what a rebuild pins. */
static int build_packages_path(const struct build_context *c, char **ret) {
        return strdupf(ret, "%s/xenhost-%s.packages", c->out, c->version) ? 0 : -ENOMEM;
}

static int cmp_lines(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int write_package_list(const struct build_context *c, const char *tree) {
        _cleanup_free_ char *admin = NULL, *path = NULL, *out = NULL, *text = NULL;
        _cleanup_free_ char **lines = NULL;
        size_t n = 0, cap = 0, len = 0;
        int r;

        if (!strdupf(&admin, "--admindir=%s/var/lib/dpkg", tree) || build_packages_path(c, &path) < 0)
                return -ENOMEM;
        r = spawn_run((const char *[]){"dpkg-query", admin, "-W",
                                       "-f=${db:Status-Status}\t${binary:Package}\t${Version}\n", NULL},
                      &out);
        if (r < 0)
                return log_error_errno(r, "Cannot list the packages of the dom0 tree: %s", spawn_last_error());
        /* Sorted here, byte by byte: dpkg-query's order is its own. */
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                /* Installed packages only: not what a purge left behind. */
                if (!startswith(l, "installed\t"))
                        continue;
                l += strlen("installed\t");
                if (n == cap) {
                        char **nl = reallocarray(lines, cap = cap ? 2 * cap : 512, sizeof *lines);
                        if (!nl)
                                return -ENOMEM;
                        lines = nl;
                }
                lines[n++] = l;
                len += strlen(l) + 1;
        }
        if (n == 0)
                return log_error_errno(-ENOENT, "The dom0 tree has no packages (%s)", admin);
        qsort(lines, n, sizeof *lines, cmp_lines);
        text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        len = 0;
        for (size_t i = 0; i < n; i++)
                len += (size_t) sprintf(text + len, "%s\n", lines[i]);
        r = write_file_atomic(path, text, len, 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", path);
        return 0;
}

/* OUT/xenhost-V.keyring.gpg: the signer's public key, made by a signed
 * build; the media carry it as xenhost/keyring.gpg. */
static int build_keyring_path(const struct build_context *c, char **ret) {
        return strdupf(ret, "%s/xenhost-%s.keyring.gpg", c->out, c->version) ? 0 : -ENOMEM;
}

/* Puts the keyring of a signed image beside it on the media, as
 * DIR/keyring.gpg; an unsigned image gets none. */
static int link_or_copy(const char *src, const char *dst);
static int media_add_keyring(const struct build_context *c, const char *sig, const char *dir) {
        _cleanup_free_ char *k = NULL, *d = NULL;
        if (build_keyring_path(c, &k) < 0 || !strdupf(&d, "%s/keyring.gpg", dir))
                return -ENOMEM;
        if (!exists(sig) || !exists(k))
                return 0;
        return link_or_copy(k, d);
}

int build_image(const struct build_context *c) {
        static int done; /* each stage runs once per program run; iso and pxe share them */
        if (done)
                return 0;
        int ret = build_image_once(c);
        done = ret >= 0;
        return ret;
}

/* The ext4 image's UUID and directory hash seed: fixed by the version and
 * SOURCE_DATE_EPOCH, so that two builds agree. The installer gives every
 * slot a UUID of its own (tune2fs -U, instant with metadata_csum_seed). */
static int image_uuid(const struct build_context *c, const char *what, char ret[37]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        _cleanup_free_ char *seed = NULL;
        if (!strdupf(&seed, "xenhost image %s\n%s\n%" PRIu64, what, c->version, c->source_date_epoch))
                return -ENOMEM;
        if (!EVP_Digest(seed, strlen(seed), md, &n, EVP_sha256(), NULL))
                return -ENOMEM;
        md[6] = (md[6] & 0x0f) | 0x40; /* shaped like a version 4 UUID */
        md[8] = (md[8] & 0x3f) | 0x80;
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1],
                 md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13], md[14],
                 md[15]);
        return 0;
}

/* zstd level of the image: decompression speed hardly depends on it; 12
 * keeps a multi-threaded build within a minute or so (see the bench notes). */
#define IMAGE_ZSTD_LEVEL "-12"

/* The ext4 image of the tree, compressed with zstd. mke2fs -d copies each
 * file's ctime and atime and follows the readdir order of its source, so it
 * does not read the tree itself: it reads a squashfs of it (sorted entries,
 * every time SOURCE_DATE_EPOCH, no ctime of its own), mounted read-only.
 * Fixed UUID, hash seed and time make the rest a function of the tree. */
static int make_ext4_zst(const struct build_context *c, const char *tree, uint64_t tree_bytes, const char *dst) {
        _cleanup_free_ char *work = NULL, *sq = NULL, *mnt = NULL, *raw = NULL, *fake = NULL, *ext = NULL;
        char uuid[37], hash[37], sizebuf[32];
        bool mounted = false;
        int r;

        if (!strdupf(&work, "%s/image-work", c->out) || !strdupf(&sq, "%s/tree.squashfs", work) ||
            !strdupf(&mnt, "%s/tree", work) || !strdupf(&raw, "%s/dom0.ext4", work) ||
            !strdupf(&fake, "E2FSPROGS_FAKE_TIME=%" PRIu64, c->source_date_epoch))
                return -ENOMEM;
        if ((r = image_uuid(c, "uuid", uuid)) < 0 || (r = image_uuid(c, "hash_seed", hash)) < 0)
                return r;
        if (!strdupf(&ext, "hash_seed=%s,lazy_itable_init=0,lazy_journal_init=0,nodiscard,root_owner=0:0", hash))
                return -ENOMEM;
        (void) umount2(mnt, MNT_DETACH); /* a build that was killed */
        if ((r = rm_rf(work)) < 0)
                return r;
        if (mkdir(work, 0755) < 0 || mkdir(mnt, 0755) < 0)
                return log_error_errno(negative_errno(), "Cannot create %s: %m", work);

        /* Uncompressed: it is read once, right here. */
        progress("image", "ordering the dom0 tree (squashfs)");
        r = run("mksquashfs", (const char *[]){"mksquashfs", tree, sq, "-noI", "-noD", "-noF", "-noX", "-noappend",
                                               "-no-progress", "-quiet", NULL});
        if (r < 0)
                return r;
        r = run("Mounting the squashed tree", (const char *[]){"mount", "-t", "squashfs", "-o", "ro,loop", sq, mnt, NULL});
        if (r < 0)
                return r;
        mounted = true;

        /* Just big enough: the tree, an eighth for metadata and growth,
         * the journal. The installer grows it to the slot. */
        uint64_t size = ROUND_UP(tree_bytes + tree_bytes / 8 + 128 * MiB, 16 * MiB);
        snprintf(sizebuf, sizeof sizebuf, "%" PRIu64 "k", size / KiB);
        progress("image", "making the ext4 image of the tree");
        unlink(raw);
        r = run("mke2fs", (const char *[]){"env", fake, "mke2fs", "-t", "ext4", "-F", "-q", "-b", "4096", "-I", "256",
                                           "-i", "16384", "-J", "size=64", "-L", "xh-dom0", "-U", uuid, "-E", ext,
                                           "-O", "metadata_csum_seed", "-d", mnt, raw, sizebuf, NULL});
        if (umount2(mnt, 0) < 0 && r >= 0)
                r = log_error_errno(negative_errno(), "Cannot unmount %s: %m", mnt);
        mounted = false;
        if (r < 0)
                goto out;
        unlink(sq);

        progress("image", "compressing the ext4 image (zstd " IMAGE_ZSTD_LEVEL ", all cores)");
        r = run("zstd", (const char *[]){"zstd", "-q", "-f", "-T0", IMAGE_ZSTD_LEVEL, "--no-progress", raw, "-o", dst,
                                         NULL});
out:
        if (mounted)
                umount2(mnt, MNT_DETACH);
        if (r >= 0)
                rm_rf(work);
        return r;
}

static int build_image_once(const struct build_context *c) {
        _cleanup_free_ char *tree = NULL, *img = NULL, *man = NULL, *tmp = NULL, *admin = NULL,
                            *xen = NULL, *text = NULL, *sig = NULL, *sigtmp = NULL;
        struct manifest m = {.image_format = IMAGE_FORMAT_EXT4_ZST};
        char hex[65];
        int r;

        _cleanup_free_ char *stamp = NULL;
        char key[17];

        r = build_rootfs(c);
        if (r < 0)
                return r;
        if ((r = tree_path(c, &tree)) < 0 || (r = build_image_paths(c, &img, &man)) < 0 ||
            !strdupf(&tmp, "%s.tmp", img) || !strdupf(&admin, "--admindir=%s/var/lib/dpkg", tree) ||
            !strdupf(&stamp, "%s.key", img))
                return -ENOMEM;
        /* Cheap, and outside the image's cache: an output directory from
         * before the list existed gets one too. */
        log_debug("Recording the package list of %s", tree);
        if ((r = write_package_list(c, tree)) < 0)
                return r;
        /* The same tree gives the same image: reuse it unless a signature is
         * asked for (signatures are made fresh). */
        if ((r = rootfs_key(c, key)) < 0)
                return r;
        /* The stamp names the format too: an image of an older format is
         * made again. */
        _cleanup_free_ char *stamp_text = NULL;
        if (!strdupf(&stamp_text, "%s ext4.zst" IMAGE_ZSTD_LEVEL, key))
                return -ENOMEM;
        if (!c->sign_key && exists(img) && exists(man) && stamp_matches(stamp, stamp_text)) {
                progress("image", "dom0 tree unchanged: using the host image as it is");
                return 0;
        }
        unlink(stamp);

        installed_bytes = 0;
        if (nftw(tree, add_usage, 64, FTW_PHYS) < 0)
                return log_error_errno(negative_errno(), "Cannot measure %s: %m", tree);
        unlink(tmp);
        r = make_ext4_zst(c, tree, installed_bytes, tmp);
        if (r < 0)
                return r;
        if (rename(tmp, img) < 0)
                return log_error_errno(negative_errno(), "Cannot rename %s: %m", tmp);

        progress("image", "writing the manifest");
        r = sha256_file(img, hex, &m.image_size);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", img);
        r = spawn_run((const char *[]){"dpkg-query", admin, "-W", "-f=${Version}", "xen-hypervisor-4.17-amd64", NULL},
                      &xen);
        if (r < 0)
                return log_error_errno(r, "Cannot find the Xen version in the tree: %s", spawn_last_error());
        m.product = strdup("xenhost");
        m.version = strdup(c->version);
        m.build = strdup(c->build_id);
        m.image_sha256 = strdup(hex);
        m.installed_size = installed_bytes;
        m.xen_version = TAKE_PTR(xen);
        m.source_date_epoch = c->source_date_epoch;
        m.min_upgrade_from = strdup("0.1.0");
        r = kernel_version(tree, &m.kernel_version);
        if (r >= 0)
                r = manifest_format(&m, &text);
        manifest_done(&m);
        if (r < 0)
                return r;
        {
                /* What the installer and the upgrader refuse is not shipped. */
                _cleanup_free_ char *why = NULL;
                struct manifest back = {};
                r = manifest_parse(text, &back, &why);
                manifest_done(&back);
                if (r < 0)
                        return log_error_errno(r, "The manifest made would not be accepted: %s", why ?: "?");
        }
        r = write_file_atomic(man, text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", man);

        _cleanup_free_ char *keyring = NULL, *keyring_tmp = NULL;
        if (!strdupf(&sig, "%s.asc", man) || !strdupf(&sigtmp, "%s.asc.tmp", man) ||
            (r = build_keyring_path(c, &keyring)) < 0 || !strdupf(&keyring_tmp, "%s.tmp", keyring))
                return -ENOMEM;
        if (c->sign_key) {
                progress("image", "signing the manifest");
                unlink(sigtmp);
                r = run("Signing the manifest",
                        (const char *[]){"gpg", "--batch", "--yes", "--local-user", c->sign_key, "--armor",
                                         "--detach-sign", "--output", sigtmp, man, NULL});
                if (r < 0)
                        return r;
                if (rename(sigtmp, sig) < 0)
                        return log_error_errno(negative_errno(), "Cannot rename %s: %m", sigtmp);
                /* The signer's public key is the media's keyring: the
                 * installer checks the image with it and the host keeps it. */
                progress("image", "exporting the public keyring");
                unlink(keyring_tmp);
                r = run("Exporting the signer's public key",
                        (const char *[]){"gpg", "--batch", "--yes", "--output", keyring_tmp, "--export", c->sign_key,
                                         NULL});
                if (r < 0)
                        return r;
                struct stat st;
                if (stat(keyring_tmp, &st) < 0 || st.st_size == 0) {
                        unlink(keyring_tmp);
                        return log_error_errno(-ENOKEY, "gpg exported no public key for %s", c->sign_key);
                }
                /* The media must verify with what they carry, as an installer would. */
                _cleanup_free_ char *why = NULL;
                struct manifest back = {};
                r = manifest_load(man, keyring_tmp, 0, &back, &why);
                manifest_done(&back);
                if (r < 0) {
                        unlink(keyring_tmp);
                        return log_error_errno(r, "The signed manifest does not verify with the exported keyring: %s",
                                               why ?: "?");
                }
                if (rename(keyring_tmp, keyring) < 0)
                        return log_error_errno(negative_errno(), "Cannot rename %s: %m", keyring_tmp);
        } else {
                unlink(sig); /* a stale signature would not match the new manifest */
                unlink(keyring); /* media with a keyring and no signature would be refused */
        }
        r = write_file_atomic(stamp, stamp_text, strlen(stamp_text), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", stamp);
        progress("image", img);
        return 0;
}

/* ---- installer initrd ---------------------------------------------------- */

struct chroot_mounts {
        char *merged;
        bool mounted[5];
};

static const char *const chroot_binds[] = {"proc", "sys", "dev"};

static void chroot_umount(struct chroot_mounts *m) {
        for (int i = (int) ELEMENTSOF(chroot_binds) - 1; i >= 0; i--)
                if (m->mounted[i + 1]) {
                        _cleanup_free_ char *p = NULL;
                        if (strdupf(&p, "%s/%s", m->merged, chroot_binds[i]))
                                umount2(p, MNT_DETACH);
                }
        if (m->mounted[0])
                umount2(m->merged, MNT_DETACH);
        free(m->merged);
}

/* A throwaway writable view of the dom0 tree: dracut runs in it and nothing
 * it writes reaches the tree that becomes the host image. */
static int chroot_mount(const char *lower, const char *work, struct chroot_mounts *m) {
        _cleanup_free_ char *upper = NULL, *wdir = NULL, *opts = NULL;
        if (!strdupf(&m->merged, "%s/merged", work) || !strdupf(&upper, "%s/upper", work) ||
            !strdupf(&wdir, "%s/work", work) ||
            !strdupf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, wdir))
                return -ENOMEM;
        if (mkdir(work, 0755) < 0 || mkdir(m->merged, 0755) < 0 || mkdir(upper, 0755) < 0 || mkdir(wdir, 0755) < 0)
                return log_error_errno(negative_errno(), "Cannot create %s: %m", work);
        if (mount("overlay", m->merged, "overlay", 0, opts) < 0)
                return log_error_errno(negative_errno(), "Cannot mount an overlay on %s: %m", m->merged);
        m->mounted[0] = true;
        for (size_t i = 0; i < ELEMENTSOF(chroot_binds); i++) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                if (!strdupf(&src, "/%s", chroot_binds[i]) || !strdupf(&dst, "%s/%s", m->merged, chroot_binds[i]))
                        return -ENOMEM;
                if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return log_error_errno(negative_errno(), "Cannot bind %s into the build tree: %m", src);
                m->mounted[i + 1] = true;
        }
        return 0;
}

int build_initrd(const struct build_context *c) {
        static int done; /* each stage runs once per program run; iso and pxe share them */
        if (done)
                return 0;
        int ret = build_initrd_once(c);
        done = ret >= 0;
        return ret;
}

static int build_initrd_once(const struct build_context *c) {
        _cleanup_free_ char *tree = NULL, *kver = NULL, *module = NULL, *cached = NULL, *work = NULL,
                            *dir = NULL, *kernel = NULL, *kernel_out = NULL, *initrd_out = NULL, *modules_d = NULL,
                            *inside = NULL, *result = NULL;
        struct chroot_mounts m = {};
        struct key k = {EVP_MD_CTX_new(), strlen(c->top)};
        char key[17], bkey[17];
        int r;

        r = build_rootfs(c);
        if (r < 0)
                return r;
        if ((r = tree_path(c, &tree)) < 0 || (r = kernel_version(tree, &kver)) < 0)
                return r;
        if (!strdupf(&module, "%s/image/dracut/90xenhost-installer", c->top) ||
            !strdupf(&dir, "%s/installer", c->out) || !strdupf(&kernel, "%s/boot/vmlinuz-%s", tree, kver) ||
            !strdupf(&kernel_out, "%s/vmlinuz", dir) || !strdupf(&initrd_out, "%s/initrd.img", dir))
                return -ENOMEM;

        /* Keyed by the dom0 packages, our dracut module, the programs it
         * carries and the release file. */
        if (!k.ctx || !EVP_DigestInit_ex(k.ctx, EVP_sha256(), NULL) || (r = base_key(c, bkey)) < 0)
                return r < 0 ? r : -ENOMEM;
        EVP_DigestUpdate(k.ctx, bkey, sizeof bkey);
        r = key_add_dir(&k, module);
        for (const char *const *p = installer_programs; r >= 0 && *p; p++) {
                _cleanup_free_ char *b = NULL;
                r = strdupf(&b, "%s/%s", c->bindir, *p) ? key_add_file(&k, b) : -ENOMEM;
        }
        _cleanup_free_ char *rel = NULL;
        if (r >= 0)
                r = strdupf(&rel, "%s/etc/xenhost-release", tree) ? key_add_file(&k, rel) : -ENOMEM;
        key_finish(&k, key);
        if (r < 0)
                return r;
        if (!strdupf(&cached, "%s/installer-initrd-%s.img", c->cache, key) ||
            !strdupf(&work, "%s/initrd-work", c->out))
                return -ENOMEM;

        if (exists(cached))
                progress("initrd", "installer unchanged: using the cached initrd");
        else {
                progress("initrd", "building the installer initrd with dracut (about a minute)");
                /* A build that was killed may have left its mounts behind. */
                struct chroot_mounts stale = {.mounted = {true, true, true, true}};
                if (strdupf(&stale.merged, "%s/merged", work))
                        chroot_umount(&stale);
                if ((r = rm_rf(work)) < 0)
                        return r;
                r = chroot_mount(tree, work, &m);
                if (r >= 0 && (!strdupf(&modules_d, "%s/usr/lib/dracut/modules.d/", m.merged) ||
                               !strdupf(&inside, "%s/tmp/installer.img", m.merged)))
                        r = -ENOMEM;
                if (r >= 0)
                        r = run("Adding the installer's dracut module",
                                (const char *[]){"cp", "-r", module, modules_d, NULL});
                if (r >= 0)
                        r = install_programs(c, m.merged, installer_programs);
                if (r >= 0)
                        r = run("dracut",
                                (const char *[]){"chroot", m.merged, "dracut", "--force", "--no-hostonly",
                                                 "--reproducible", "--no-early-microcode", "--kver", kver, "--add",
                                                 "xenhost-installer", "--omit",
                                                 "systemd systemd-initrd systemd-networkd dracut-systemd plymouth "
                                                 "resume",
                                                 "/tmp/installer.img", NULL});
                if (r >= 0 && !strdupf(&result, "%s.tmp", cached))
                        r = -ENOMEM;
                if (r >= 0)
                        r = run("Saving the initrd", (const char *[]){"cp", inside, result, NULL});
                chroot_umount(&m);
                if (r >= 0 && rename(result, cached) < 0)
                        r = log_error_errno(negative_errno(), "Cannot rename %s: %m", result);
                if (r < 0)
                        return r;
                rm_rf(work);
        }
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Cannot create %s: %m", dir);
        r = run("Copying the installer kernel", (const char *[]){"cp", kernel, kernel_out, NULL});
        if (r >= 0)
                r = run("Copying the installer initrd", (const char *[]){"cp", cached, initrd_out, NULL});
        /* A signed build's keyring goes into the initrd as a cpio archive
         * of its own, appended (the kernel unpacks each in turn): installs
         * without media (PXE) check the image's signature with it. */
        _cleanup_free_ char *kr = NULL, *kdir = NULL, *kfile = NULL, *epoch = NULL;
        if (r >= 0 && (build_keyring_path(c, &kr) < 0 || !strdupf(&kdir, "%s/initrd-keyring", c->out) ||
                       !strdupf(&kfile, "%s/usr/share/xenhost/keyring.gpg", kdir) ||
                       !strdupf(&epoch, "@%" PRIu64, c->source_date_epoch)))
                r = -ENOMEM;
        if (r >= 0 && exists(kr)) {
                if ((r = rm_rf(kdir)) >= 0)
                        r = run("Laying out the initrd's keyring", (const char *[]){"install", "-D", "-m", "0644", kr, kfile, NULL});
                if (r >= 0)
                        r = run("Dating the initrd's keyring",
                                (const char *[]){"sh", "-c", "cd \"$1\" && find usr -exec touch -h -d \"$2\" {} +", "sh",
                                                 kdir, epoch, NULL});
                if (r >= 0)
                        r = run("Adding the keyring to the initrd",
                                (const char *[]){"sh", "-c",
                                                 "cd \"$1\" && find usr | LC_ALL=C sort | "
                                                 "cpio --quiet --reproducible -o -H newc -R 0:0 >>\"$2\"",
                                                 "sh", kdir, initrd_out, NULL});
                rm_rf(kdir);
        }
        if (r >= 0)
                progress("initrd", initrd_out);
        return r;
}

/* ---- ISO and PXE --------------------------------------------------------- */

static int write_text(const char *path, const char *text) {
        int r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", path);
        return 0;
}

/* One GRUB menu for BIOS and UEFI: on the screen and on the first serial
 * line, so that a headless machine can be installed as well. */
static int iso_grub_cfg(const struct build_context *c, char **ret) {
        /* Media made for an unattended install boot its answer file by default. */
        unsigned default_entry = c->answerfile ? 2 : 0;
        static const char *const serial_last = "console=tty0 console=ttyS0,115200n8";
        static const char *const screen_last = "console=ttyS0,115200n8 console=tty0";
        if (!strdupf(ret,
                     "# xenhost install media: one menu for BIOS and UEFI.\n"
                     "serial --unit=0 --speed=115200\n"
                     "terminal_input console serial\n"
                     "terminal_output console serial\n"
                     "set timeout=5\n"
                     "set default=%4$u\n"
                     "menuentry 'Install xenhost %1$s' {\n"
                     "  linux /boot/vmlinuz %3$s quiet\n"
                     "  initrd /boot/initrd.img\n"
                     "}\n"
                     "menuentry 'Install xenhost %1$s (serial console)' {\n"
                     "  linux /boot/vmlinuz %2$s\n"
                     "  initrd /boot/initrd.img\n"
                     "}\n"
                     "menuentry 'Unattended install (answer file /answerfile.xml on this media)' {\n"
                     "  linux /boot/vmlinuz %2$s answerfile=/answerfile.xml\n"
                     "  initrd /boot/initrd.img\n"
                     "}\n",
                     c->version, serial_last, screen_last, default_entry))
                return -ENOMEM;
        return 0;
}

static int link_or_copy(const char *src, const char *dst) {
        unlink(dst);
        if (link(src, dst) == 0)
                return 0;
        return run("Copying onto the media", (const char *[]){"cp", src, dst, NULL});
}

/* The media are made the way grub-mkrescue makes them (the same boot
 * images, byte for byte, and the same xorriso options), but by us: it dates
 * the ISO, and names it for GRUB, by the clock and formats the EFI image
 * with a random serial. Here every date is SOURCE_DATE_EPOCH and the serial
 * a function of it. Left out: its Mac (HFS+) boot support, GRUB's fonts and
 * translations, which these menus do not use. */
#define GRUB_LIB_DIR "/usr/lib/grub"

/* "insmod" for every partition map GRUB has, as grub-mkrescue's early
 * configuration does: the boot images find the media behind any label. */
static int grub_partmap_cfg(const char *platdir, const char *dst) {
        _cleanup_free_ char *lst = NULL, *text = NULL, *cfg = NULL;
        size_t len = 0;
        int r;
        if (!strdupf(&lst, "%s/partmap.lst", platdir))
                return -ENOMEM;
        r = read_full_file(lst, &text, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s (is GRUB installed? tools/deps.sh installs it): %m", lst);
        FILE *f = open_memstream(&cfg, &len);
        if (!f)
                return -ENOMEM;
        for (char *save = NULL, *l = strtok_r(text, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save))
                fprintf(f, "insmod %s\n", l);
        if (fclose(f) != 0)
                return -ENOMEM;
        r = write_file_atomic(dst, cfg, len, 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", dst);
        return 0;
}

static int is_grub_module_file(const struct dirent *d) {
        return endswith(d->d_name, ".mod") || endswith(d->d_name, ".lst");
}

/* GRUB's modules for one platform into DST, in one cp. */
static int copy_grub_modules(const char *platdir, const char *dst) {
        struct dirent **names = NULL;
        const char **argv = NULL;
        int n = scandir(platdir, &names, is_grub_module_file, alphasort), r = 0;
        if (n < 0)
                return log_error_errno(negative_errno(), "Cannot list %s (is GRUB installed?): %m", platdir);
        argv = calloc((size_t) n + 4, sizeof *argv);
        char **paths = calloc((size_t) n + 1, sizeof *paths);
        if (!argv || !paths)
                r = -ENOMEM;
        size_t k = 0;
        if (r >= 0) {
                argv[k++] = "cp";
                argv[k++] = "--";
                for (int i = 0; i < n && r >= 0; i++)
                        if (!strdupf(&paths[i], "%s/%s", platdir, names[i]->d_name))
                                r = -ENOMEM;
                        else
                                argv[k++] = paths[i];
                argv[k++] = dst;
                argv[k] = NULL;
        }
        if (r >= 0)
                r = run("Copying GRUB's modules onto the media", argv);
        for (int i = 0; i < n; i++) {
                free(names[i]);
                if (paths)
                        free(paths[i]);
        }
        free(names);
        free(paths);
        free(argv);
        return r;
}

/* boot/grub/i386-pc/eltorito.img (BIOS) and ROOT/efi.img, a FAT image with
 * efi/boot/bootx64.efi (UEFI); GRUB's modules beside them. */
static int iso_boot_images(const struct build_context *c, const char *root, const char *work) {
        _cleanup_free_ char *pc = NULL, *efi = NULL, *pc_dst = NULL, *efi_dst = NULL, *pc_cfg = NULL,
                            *efi_cfg = NULL, *eltorito = NULL, *efi_tree = NULL, *efi_boot = NULL, *bootx64 = NULL,
                            *fat = NULL, *efi_src = NULL;
        char serial_uuid[37], serial[9];
        int r;

        if (!strdupf(&pc, "%s/i386-pc", GRUB_LIB_DIR) || !strdupf(&efi, "%s/x86_64-efi", GRUB_LIB_DIR) ||
            !strdupf(&pc_dst, "%s/boot/grub/i386-pc", root) || !strdupf(&efi_dst, "%s/boot/grub/x86_64-efi", root) ||
            !strdupf(&pc_cfg, "%s/bios.cfg", work) || !strdupf(&efi_cfg, "%s/efi.cfg", work) ||
            !strdupf(&eltorito, "%s/eltorito.img", pc_dst) || !strdupf(&efi_tree, "%s/efi", work) ||
            !strdupf(&efi_boot, "%s/efi/boot", efi_tree) || !strdupf(&bootx64, "%s/bootx64.efi", efi_boot) ||
            !strdupf(&fat, "%s/efi.img", root) || !strdupf(&efi_src, "%s/efi", efi_tree))
                return -ENOMEM;
        r = run("Creating the boot image directories",
                (const char *[]){"mkdir", "-p", pc_dst, efi_dst, efi_boot, NULL});
        if (r < 0)
                return r;
        if ((r = copy_grub_modules(pc, pc_dst)) < 0 || (r = copy_grub_modules(efi, efi_dst)) < 0)
                return r;
        if ((r = grub_partmap_cfg(pc, pc_cfg)) < 0 || (r = grub_partmap_cfg(efi, efi_cfg)) < 0)
                return r;
        /* BIOS: GRUB's root is the CD it was loaded from. */
        r = run("grub-mkimage (BIOS El Torito)",
                (const char *[]){"grub-mkimage", "-O", "i386-pc-eltorito", "-d", pc, "-p", "/boot/grub", "-c", pc_cfg,
                                 "-o", eltorito, "biosdisk", "iso9660", NULL});
        if (r < 0)
                return r;
        /* UEFI: "()" is the device the firmware loaded it from. */
        r = run("grub-mkimage (UEFI)",
                (const char *[]){"grub-mkimage", "-O", "x86_64-efi", "-d", efi, "-p", "()/boot/grub", "-c", efi_cfg,
                                 "-o", bootx64, "part_gpt", "part_msdos", "fat", "part_apple", "iso9660", NULL});
        if (r < 0)
                return r;
        /* mtools dates the FAT entries by SOURCE_DATE_EPOCH itself; the
         * volume serial would be random. */
        if ((r = image_uuid(c, "efi serial", serial_uuid)) < 0)
                return r;
        memcpy(serial, serial_uuid, 8);
        serial[8] = 0;
        r = run("mformat (the EFI image)",
                (const char *[]){"mformat", "-C", "-f", "2880", "-L", "16", "-N", serial, "-i", fat, "::", NULL});
        if (r >= 0)
                r = run("mcopy (the EFI image)", (const char *[]){"mcopy", "-s", "-i", fat, efi_src, "::/", NULL});
        return r;
}

/* xorriso, as grub-mkrescue calls it. The volume is dated
 * SOURCE_DATE_EPOCH (GRUB's name for it, its "UUID", is that date), and so
 * is every file on it; xorriso sorts names itself and fixes the rest from
 * SOURCE_DATE_EPOCH in its environment (volume UUID, GPT GUIDs). */
static int iso_write(const struct build_context *c, const char *root, const char *out) {
        _cleanup_free_ char *mbr = NULL, *date = NULL, *epoch = NULL;
        time_t t = (time_t) c->source_date_epoch;
        struct tm tm;
        char stamp[32];

        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S00", &tm) == 0)
                return -EINVAL;
        if (!strdupf(&mbr, "%s/i386-pc/boot_hybrid.img", GRUB_LIB_DIR) ||
            !strdupf(&date, "--modification-date=%s", stamp) ||
            !strdupf(&epoch, "=%" PRIu64, c->source_date_epoch))
                return -ENOMEM;
        return run("xorriso",
                   (const char *[]){"xorriso", "-as", "mkisofs", "-graft-points", date, "-b",
                                    "boot/grub/i386-pc/eltorito.img", "-no-emul-boot", "-boot-load-size", "4",
                                    "-boot-info-table", "--grub2-boot-info", "--grub2-mbr", mbr, "--efi-boot",
                                    "efi.img", "-efi-boot-part", "--efi-boot-image", "--protective-msdos-label",
                                    "-o", out, "-r", "-volid", "XENHOST", "--sort-weight", "0", "/",
                                    "--sort-weight", "1", "/boot", root,
                                    /* native xorriso from here */
                                    "--", "-volume_date", "all_file_dates", epoch, NULL});
}

int build_iso(const struct build_context *c) {
        _cleanup_free_ char *root = NULL, *iso = NULL, *tmp = NULL, *cfg = NULL, *cfgpath = NULL, *img = NULL,
                            *man = NULL, *p = NULL, *sig = NULL, *pkgs = NULL, *work = NULL;
        int r;

        if ((r = build_image(c)) < 0 || (r = build_initrd(c)) < 0)
                return r;
        if ((r = build_image_paths(c, &img, &man)) < 0 || (r = build_packages_path(c, &pkgs)) < 0 ||
            !strdupf(&root, "%s/iso-root", c->out) || !strdupf(&work, "%s/iso-work", c->out) ||
            !(c->iso_path ? (iso = strdup(c->iso_path)) : strdupf(&iso, "%s/xenhost-%s.iso", c->out, c->version)) ||
            !strdupf(&tmp, "%s.tmp", iso) ||
            !strdupf(&cfgpath, "%s/boot/grub/grub.cfg", root) || !strdupf(&sig, "%s.asc", man))
                return -ENOMEM;
        progress("iso", "laying out the media");
        if ((r = rm_rf(root)) < 0 || (r = rm_rf(work)) < 0)
                return r;
        r = run("Creating the media tree",
                (const char *[]){"mkdir", "-p", cfgpath, NULL}); /* the last component is removed below */
        if (r < 0)
                return r;
        rmdir(cfgpath);
        const struct {
                const char *src_fmt, *dst;
        } files[] = {
                {"%s/installer/vmlinuz", "boot/vmlinuz"},
                {"%s/installer/initrd.img", "boot/initrd.img"},
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *s = NULL, *d = NULL;
                if (!strdupf(&s, files[i].src_fmt, c->out) || !strdupf(&d, "%s/%s", root, files[i].dst))
                        return -ENOMEM;
                if ((r = link_or_copy(s, d)) < 0)
                        return r;
        }
        if (!strdupf(&p, "%s/xenhost", root) || mkdir(p, 0755) < 0)
                return log_error_errno(-EIO, "Cannot create %s/xenhost", root);
        const char *media[] = {img, man, pkgs, exists(sig) ? sig : NULL};
        for (size_t i = 0; i < ELEMENTSOF(media); i++) {
                _cleanup_free_ char *d = NULL, *bn = media[i] ? strdup(media[i]) : NULL;
                if (!media[i])
                        continue;
                if (!bn || !strdupf(&d, "%s/%s", p, basename(bn)))
                        return -ENOMEM;
                if ((r = link_or_copy(media[i], d)) < 0)
                        return r;
        }
        if ((r = media_add_keyring(c, sig, p)) < 0)
                return r;
        free(p);
        if (!strdupf(&p, "%s/packs", root) || mkdir(p, 0755) < 0)
                return log_error_errno(-EIO, "Cannot create %s/packs", root);
        /* Supplemental packs the ISO carries: fresh installs install them
         * by default (the installer's <pack type="local"/>). */
        for (const char *const *pk = c->packs; pk && *pk; pk++) {
                _cleanup_free_ char *copy = strdup(*pk), *d = NULL;
                struct stat st;
                if (!copy)
                        return -ENOMEM;
                const char *bn = basename(copy);
                if (stat(*pk, &st) < 0 || !S_ISREG(st.st_mode) || access(*pk, R_OK) < 0)
                        return log_error_errno(-EINVAL, "--pack %s: not a readable file", *pk);
                if (strlen(bn) < 5 || strcasecmp(bn + strlen(bn) - 4, ".iso") != 0)
                        return log_error_errno(-EINVAL, "--pack %s: a pack is an ISO made by xenhost-pack build (*.iso)",
                                               *pk);
                if (!strdupf(&d, "%s/%s", p, bn))
                        return -ENOMEM;
                if (exists(d))
                        return log_error_errno(-EEXIST, "--pack %s: another pack is named %s", *pk, bn);
                if ((r = link_or_copy(*pk, d)) < 0)
                        return r;
                progress("iso", d);
        }
        if ((r = iso_grub_cfg(c, &cfg)) < 0 || (r = write_text(cfgpath, cfg)) < 0)
                return r;
        if (c->answerfile && c->answerfile_url)
                return log_error_errno(-EINVAL, "iso: --answerfile takes a file to carry, not a URL (%s)", c->answerfile);
        if (c->answerfile) {
                _cleanup_free_ char *af = NULL;
                if (!strdupf(&af, "%s/answerfile.xml", root))
                        return -ENOMEM;
                r = run("Copying the answer file onto the media", (const char *[]){"cp", c->answerfile, af, NULL});
                if (r < 0)
                        return r;
        }

        progress("iso", "making the GRUB boot images (BIOS and UEFI)");
        if ((r = iso_boot_images(c, root, work)) < 0)
                return r;
        progress("iso", "making the hybrid ISO (BIOS and UEFI El Torito, USB)");
        unlink(tmp);
        if ((r = iso_write(c, root, tmp)) < 0)
                return r;
        if (rename(tmp, iso) < 0)
                return log_error_errno(negative_errno(), "Cannot rename %s: %m", tmp);
        rm_rf(root);
        rm_rf(work);
        progress("iso", iso);
        return 0;
}

/* The PXE tree is copied as a tree (rsync, tar, a TFTP root): every entry
 * is dated SOURCE_DATE_EPOCH and readable by all, so that two builds give
 * the same tree, times and modes included, and a TFTP server that is not
 * root can serve the initrd (dracut makes it 0600). Files linked into the
 * tree share these with the build's own. */
static struct timespec pxe_times[2];
static int pxe_normalize_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void) flag, (void) f;
        if (!S_ISLNK(st->st_mode) && chmod(p, S_ISDIR(st->st_mode) ? 0755 : 0644) < 0)
                return -errno;
        if (utimensat(AT_FDCWD, p, pxe_times, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}

static int pxe_normalize(const struct build_context *c, const char *dir) {
        pxe_times[0] = pxe_times[1] = (struct timespec){.tv_sec = (time_t) c->source_date_epoch};
        /* Depth first: a directory is dated after what is written in it. */
        int r = nftw(dir, pxe_normalize_one, 64, FTW_PHYS | FTW_DEPTH);
        if (r != 0)
                return log_error_errno(r < 0 ? r : -EIO, "Cannot set the dates and modes in %s: %m", dir);
        return 0;
}

/* The PXE tree's GRUB menu (BIOS core.0 and UEFI core.efi both read it).
 * With --http the kernel and the initrd come over HTTP, (http,HOST[:PORT])
 * (GRUB 2.06 takes a port there), else over TFTP from this tree. The
 * answer file's URL template gets the booting NIC's MAC from GRUB
 * ($net_default_mac: lower case, colon-separated) for {mac}; {serial} is
 * left for the installer, which reads the DMI serial. The answerfile=
 * argument is double-quoted: GRUB's script lexer ends a word at { } & | < >
 * ; (a query string, {serial}), and inside double quotes only $, " and \
 * stay special; the quotes are gone by the time the kernel sees it. */
static int pxe_grub_cfg(const struct build_context *c, char **ret) {
        _cleanup_free_ char *dev = NULL, *prefix = NULL, *af = NULL, *cfg = NULL;
        if (c->http_url) {
                const char *hp = startswith(c->http_url, "http://");
                const char *slash = hp ? strchr(hp, '/') : NULL;
                size_t hl = slash ? (size_t) (slash - hp) : strlen(hp ?: "");
                if (!hp || hl == 0 || strpbrk(c->http_url, " \t\"'$;{}&|<>\\`"))
                        return log_error_errno(-EINVAL, "--http %s: expected http://HOST[:PORT]/PATH", c->http_url);
                size_t pl = slash ? strlen(slash) : 0;
                while (pl > 0 && slash[pl - 1] == '/')
                        pl--;
                if (!strdupf(&dev, "(http,%.*s)", (int) hl, hp) || !strdupf(&prefix, "%.*s", (int) pl, slash ?: ""))
                        return -ENOMEM;
        } else if (!(dev = strdup("")) || !(prefix = strdup("")))
                return -ENOMEM;
        if (c->answerfile_url) {
                if (strpbrk(c->answerfile_url, " \t\"$\\`"))
                        return log_error_errno(-EINVAL, "--answerfile %s: not a URL GRUB can pass on", c->answerfile_url);
                /* {mac} -> ${net_default_mac}; {serial} stays for the installer. */
                size_t n = 0;
                const char *s = c->answerfile_url;
                _cleanup_free_ char *buf = malloc(strlen(s) * 4 + 32);
                if (!buf)
                        return -ENOMEM;
                while (*s) {
                        if (startswith(s, "{mac}")) {
                                n += (size_t) sprintf(buf + n, "${net_default_mac}");
                                s += 5;
                        } else
                                buf[n++] = *s++;
                }
                buf[n] = 0;
                if (!strdupf(&af, " \"answerfile=%s\"", buf))
                        return -ENOMEM;
        } else if (!(af = strdup("")))
                return -ENOMEM;
        if (!strdupf(&cfg,
                     "# xenhost PXE: core.0 (BIOS) and core.efi (UEFI) read this menu over TFTP.\n"
                     "# The kernel and the initrd come %4$s.\n"
                     "serial --unit=0 --speed=115200\n"
                     "terminal_input console serial\n"
                     "terminal_output console serial\n"
                     "set timeout=5\n"
                     "%7$s"
                     "menuentry 'Install xenhost %1$s%5$s' {\n"
                     "  echo 'Loading the xenhost installer...'\n"
                     "  linux %2$s%3$s/xenhost/vmlinuz console=tty0 console=ttyS0,115200n8%6$s\n"
                     "  initrd %2$s%3$s/xenhost/initrd.img\n"
                     "}\n"
                     "menuentry 'Install xenhost %1$s (interactive, serial console)' {\n"
                     "  echo 'Loading the xenhost installer...'\n"
                     "  linux %2$s%3$s/xenhost/vmlinuz console=tty0 console=ttyS0,115200n8\n"
                     "  initrd %2$s%3$s/xenhost/initrd.img\n"
                     "}\n",
                     c->version, dev, prefix, c->http_url ? "over HTTP from the --http URL" : "over TFTP from this tree",
                     c->answerfile_url ? " (unattended)" : " (interactive)", af, c->http_url ? "insmod http\n" : ""))
                return -ENOMEM;
        *ret = TAKE_PTR(cfg);
        return 0;
}

int build_pxe(const struct build_context *c) {
        _cleanup_free_ char *dir = NULL, *sub = NULL, *img = NULL, *man = NULL, *cfg = NULL, *pxecfg = NULL,
                            *path = NULL, *sig = NULL, *pkgs = NULL;
        int r;

        if ((r = build_image(c)) < 0 || (r = build_initrd(c)) < 0)
                return r;
        if ((r = build_image_paths(c, &img, &man)) < 0 || (r = build_packages_path(c, &pkgs)) < 0 ||
            !strdupf(&dir, "%s/pxe", c->out) ||
            !strdupf(&sub, "%s/xenhost", dir) || !strdupf(&sig, "%s.asc", man))
                return -ENOMEM;
        progress("pxe", "laying out the PXE tree");
        if ((r = rm_rf(dir)) < 0)
                return r;
        if ((r = run("Creating the PXE tree", (const char *[]){"mkdir", "-p", sub, NULL})) < 0)
                return r;
        const char *files[][2] = {
                {"installer/vmlinuz", "vmlinuz"}, {"installer/initrd.img", "initrd.img"}};
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *s = NULL, *d = NULL;
                if (!strdupf(&s, "%s/%s", c->out, files[i][0]) || !strdupf(&d, "%s/%s", sub, files[i][1]))
                        return -ENOMEM;
                if ((r = link_or_copy(s, d)) < 0)
                        return r;
        }
        const char *media[] = {img, man, pkgs, exists(sig) ? sig : NULL};
        for (size_t i = 0; i < ELEMENTSOF(media); i++) {
                _cleanup_free_ char *d = NULL, *bn = media[i] ? strdup(media[i]) : NULL;
                if (!media[i])
                        continue;
                if (!bn || !strdupf(&d, "%s/%s", sub, basename(bn)))
                        return -ENOMEM;
                if ((r = link_or_copy(media[i], d)) < 0)
                        return r;
        }
        if ((r = media_add_keyring(c, sig, sub)) < 0)
                return r;
        /* GRUB network images for BIOS (core.0) and UEFI (core.efi). */
        _cleanup_free_ char *netdir = NULL;
        if (!strdupf(&netdir, "--net-directory=%s", dir))
                return -ENOMEM;
        r = run("grub-mknetdir", (const char *[]){"grub-mknetdir", netdir, "--subdir=boot/grub", NULL});
        if (r < 0)
                return r;
        if ((r = pxe_grub_cfg(c, &cfg)) < 0)
                return r;
        if (!strdupf(&path, "%s/boot/grub/grub.cfg", dir))
                return -ENOMEM;
        if ((r = write_text(path, cfg)) < 0)
                return r;
        free(path);
        if (!strdupf(&path, "%s/pxelinux.cfg", dir) || mkdir(path, 0755) < 0)
                return log_error_errno(-EIO, "Cannot create %s/pxelinux.cfg", dir);
        free(path);
        if (!strdupf(&pxecfg,
                     "# xenhost: an example for pxelinux (BIOS), with pxelinux.0 and ldlinux.c32\n"
                     "# from the pxelinux/syslinux-common packages next to this directory.\n"
                     "# IPAPPEND 2 passes BOOTIF=, from which the installer fills {mac} in.\n"
                     "DEFAULT xenhost\n"
                     "LABEL xenhost\n"
                     "  KERNEL xenhost/vmlinuz\n"
                     "  INITRD xenhost/initrd.img\n"
                     "  IPAPPEND 2\n"
                     "  APPEND console=tty0 console=ttyS0,115200n8 answerfile=%s\n",
                     c->answerfile_url ?: "http://SERVER/hosts/{mac}.xml") ||
            !strdupf(&path, "%s/pxelinux.cfg/default", dir))
                return -ENOMEM;
        if ((r = write_text(path, pxecfg)) < 0)
                return r;
        if ((r = pxe_normalize(c, dir)) < 0)
                return r;
        progress("pxe", dir);
        return 0;
}
