/* Carrying the preserved configuration over from the running slot into the
 * freshly written one (DESIGN.md section 8). The running slot is only read. */
#include "upgrade-internal.h"

#include <dirent.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "process.h"

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

/* Makes DST ready to receive SRC: its parents exist, and a type change (a
 * file where the image has a directory, or back) takes the running slot's
 * type. Directories are then merged by the copy: what the running slot has
 * wins, what only the new image has (new defaults) stays. */
static int prepare_dst(const char *src, const char *dst, char **ret_reason) {
        struct stat s, d;
        int r;
        if (lstat(src, &s) < 0)
                return -errno;
        if ((r = mkdir_parents(dst)) < 0)
                return reason_set(ret_reason, "cannot make the directories of %s: %s", dst, strerror(-r)), r;
        if (lstat(dst, &d) >= 0 && S_ISDIR(s.st_mode) != S_ISDIR(d.st_mode)) {
                r = spawn_run((const char *[]) {"rm", "-rf", "--one-file-system", dst, NULL}, NULL);
                if (r < 0)
                        return reason_set(ret_reason, "cannot replace %s: %s", dst, spawn_last_error()), r;
        }
        return 0;
}

/* Copies the paths in LIST (NUL-separated, relative to ROOT) into TARGET
 * with two tar runs through a file in WORK: owners, modes, times, ACLs and
 * extended attributes kept, existing files replaced, directories merged. One
 * pass instead of a cp per item (each process start is dear under
 * emulation). */
static int copy_list(const char *root, const char *target, const char *work, const char *list, size_t len,
                     char **ret_reason) {
        _cleanup_free_ char *lf = NULL, *tf = NULL;
        int r;
        if (len == 0)
                return 0;
        if (asprintf(&lf, "%s/carry.list", work) < 0 || asprintf(&tf, "%s/carry.tar", work) < 0)
                return -ENOMEM;
        if ((r = write_file_atomic(lf, list, len, 0600)) < 0)
                return reason_set(ret_reason, "cannot write %s: %s", lf, strerror(-r)), r;
        r = spawn_run((const char *[]) {"tar", "--create", "--file", tf, "--directory", root, "--null", "--files-from",
                                        lf, "--numeric-owner", "--xattrs", "--acls", NULL},
                      NULL);
        if (r >= 0)
                r = spawn_run((const char *[]) {"tar", "--extract", "--file", tf, "--directory", target,
                                                "--numeric-owner", "--same-owner", "--preserve-permissions", "--xattrs",
                                                "--acls", NULL},
                              NULL);
        if (r < 0)
                reason_set(ret_reason, "cannot copy the preserved items: %s", spawn_last_error());
        unlink(tf);
        unlink(lf);
        return r;
}

static bool line_name_in(const char *text, const char *line) {
        size_t n = strcspn(line, ":\n");
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, line, n) == 0 && l[n] == ':')
                        return true;
        return false;
}

/* The new image's own entries of the account file REL that the running
 * slot lacks (by name), before the running slot's file replaces it. */
static int account_extras(const char *root, const char *target, const char *rel, char **ret, size_t *ret_len,
                          char **ret_reason) {
        _cleanup_free_ char *src = NULL, *dst = NULL, *theirs = NULL, *ours = NULL, *extra = NULL;
        size_t extra_len = 0;
        int r;
        *ret = NULL, *ret_len = 0;
        if (asprintf(&src, "%s%s", root, rel) < 0 || asprintf(&dst, "%s%s", target, rel) < 0)
                return -ENOMEM;
        if ((r = read_full_file(src, &ours, NULL)) < 0)
                return r == -ENOENT ? 0 : (reason_set(ret_reason, "cannot read %s: %s", src, strerror(-r)), r);
        if ((r = read_full_file(dst, &theirs, NULL)) < 0 && r != -ENOENT)
                return reason_set(ret_reason, "cannot read %s: %s", dst, strerror(-r)), r;
        FILE *f = open_memstream(&extra, &extra_len);
        if (!f)
                return -ENOMEM;
        /* A running file without its last newline must not glue a line on. */
        if (ours[0] && !endswith(ours, "\n"))
                fputc('\n', f);
        size_t lead = ftell(f);
        for (char *save = NULL, *l = theirs ? strtok_r(theirs, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
                if (*l && *l != '#' && !line_name_in(ours, l))
                        fprintf(f, "%s\n", l);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (extra_len > lead) {
                *ret = TAKE_PTR(extra);
                *ret_len = extra_len;
        }
        return 0;
}

static int append_file(const char *path, const char *data, size_t len, char **ret_reason) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write(fd, data, len) != (ssize_t) len || fsync(fd) < 0)
                return reason_set(ret_reason, "cannot add the new image's accounts to %s: %m", path), -EIO;
        return 0;
}

static bool unit_known(const char *root, const char *unit) {
        static const char *const dirs[] = {"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                if (asprintf(&p, "%s%s/%s", root, dirs[i], unit) >= 0 && lstat(p, &st) == 0)
                        return true;
        }
        return false;
}

/* /etc/systemd/system was merged: what the operator enabled is enabled. A
 * unit the new image enables but the running slot had and kept disabled
 * (ssh-mode off, <service enabled="no">) is disabled again; a unit that is
 * new in this version keeps the image's choice. */
static int carry_disabled_units(const char *root, const char *target, char **ret_reason) {
        _cleanup_free_ char *sys = NULL;
        struct dirent **wants = NULL;
        if (asprintf(&sys, "%s/etc/systemd/system", target) < 0)
                return -ENOMEM;
        int n = scandir(sys, &wants, NULL, alphasort), r = 0;
        for (int i = 0; i < n; i++) {
                const char *w = wants[i]->d_name;
                _cleanup_free_ char *tdir = NULL;
                struct dirent **links = NULL;
                int k = 0;
                if ((endswith(w, ".wants") || endswith(w, ".requires")) && asprintf(&tdir, "%s/%s", sys, w) >= 0)
                        k = scandir(tdir, &links, NULL, alphasort);
                for (int j = 0; j < k; j++) {
                        const char *u = links[j]->d_name;
                        _cleanup_free_ char *in_root = NULL, *in_target = NULL;
                        struct stat st;
                        if (r >= 0 && u[0] != '.' && asprintf(&in_root, "%s/etc/systemd/system/%s/%s", root, w, u) >= 0 &&
                            asprintf(&in_target, "%s/%s", tdir, u) >= 0 && lstat(in_root, &st) < 0 && errno == ENOENT &&
                            unit_known(root, u)) {
                                log_debug("%s stays disabled in the new slot, as in the running one", u);
                                if (unlink(in_target) < 0) {
                                        r = -errno;
                                        reason_set(ret_reason, "cannot disable %s in the new slot: %m", u);
                                }
                        }
                        free(links[j]);
                }
                free(links);
                free(wants[i]);
        }
        free(wants);
        return r;
}

/* fstab names the slot's own root: the running slot's, with its slot's name. */
static int rewrite_fstab(const char *root, const char *target, char running, char new_slot, char **ret_reason) {
        _cleanup_free_ char *src = NULL, *dst = NULL, *text = NULL, *out = NULL;
        char from[16], to[16];
        size_t len = 0;
        int r;
        if (asprintf(&src, "%s/etc/fstab", root) < 0 || asprintf(&dst, "%s/etc/fstab", target) < 0)
                return -ENOMEM;
        if ((r = read_full_file(src, &text, NULL)) < 0)
                return r == -ENOENT ? 0 : (reason_set(ret_reason, "cannot read %s: %s", src, strerror(-r)), r);
        snprintf(from, sizeof from, "xh-dom0-%c", running);
        snprintf(to, sizeof to, "xh-dom0-%c", new_slot);
        char header[32];
        snprintf(header, sizeof header, "# xenhost slot %c", running);
        FILE *f = open_memstream(&out, &len);
        if (!f)
                return -ENOMEM;
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (streq(l, header)) {
                        fprintf(f, "# xenhost slot %c\n", new_slot);
                        continue;
                }
                for (char *p = l, *m; (m = strstr(p, from)); p = m + strlen(from)) {
                        fprintf(f, "%.*s%s", (int) (m - p), p, to);
                        l = m + strlen(from);
                }
                fprintf(f, "%s\n", l);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        r = write_file_atomic(dst, out, len, 0644);
        return r < 0 ? (reason_set(ret_reason, "cannot write %s: %s", dst, strerror(-r)), r) : 0;
}

/* The inventory travels with /etc/xenhost; its version and slot are the new ones. */
static int rewrite_inventory(const char *root, const char *target, char new_slot, const char *version,
                             const char *build, char **ret_reason) {
        _cleanup_free_ char *src = NULL, *dst = NULL, *text = NULL, *out = NULL;
        size_t len = 0;
        int r;
        if (asprintf(&src, "%s/etc/xenhost/inventory", root) < 0 ||
            asprintf(&dst, "%s/etc/xenhost/inventory", target) < 0)
                return -ENOMEM;
        if ((r = read_full_file(src, &text, NULL)) < 0)
                return reason_set(ret_reason, "cannot read %s: %s", src, strerror(-r)), r;
        FILE *f = open_memstream(&out, &len);
        if (!f)
                return -ENOMEM;
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (startswith(l, "PRODUCT_VERSION="))
                        fprintf(f, "PRODUCT_VERSION='%s'\n", version);
                else if (startswith(l, "BUILD_NUMBER="))
                        fprintf(f, "BUILD_NUMBER='%s'\n", build ?: "");
                else if (startswith(l, "ACTIVE_SLOT="))
                        fprintf(f, "ACTIVE_SLOT='%c'\n", new_slot);
                else
                        fprintf(f, "%s\n", l);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        r = write_file_atomic(dst, out, len, 0644);
        return r < 0 ? (reason_set(ret_reason, "cannot write %s: %s", dst, strerror(-r)), r) : 0;
}

int carry_over(const char *root, const char *target, const char *work, char running_slot, char new_slot,
               const char *new_version, const char *new_build, const struct upgrade_callbacks *cb,
               char **ret_reason) {
        static const char *const accounts[] = {"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"};
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_free_ char *list = NULL;
        char *extras[ELEMENTSOF(accounts)] = {};
        size_t extras_len[ELEMENTSOF(accounts)] = {};
        size_t n_code = 0, list_len = 0;
        int r = upgrade_preserve_list(root, &paths, ret_reason);
        if (r < 0)
                return r;
        while (upgrade_preserved_paths[n_code])
                n_code++;
        /* The accounts are merged: the new image's system accounts that the
         * running slot lacks are added after its copy arrives. */
        for (size_t i = 0; i < ELEMENTSOF(accounts) && r >= 0; i++)
                r = account_extras(root, target, accounts[i], &extras[i], &extras_len[i], ret_reason);
        FILE *lf = r >= 0 ? open_memstream(&list, &list_len) : NULL;
        if (r >= 0 && !lf)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && paths[i]; i++) {
                const char *p = paths[i];
                _cleanup_free_ char *pattern = NULL;
                glob_t g = {};
                if (streq(p, "/etc/fstab"))
                        continue; /* rewritten below */
                if (asprintf(&pattern, "%s%s", root, p) < 0) {
                        r = -ENOMEM;
                        break;
                }
                int gr = glob(pattern, GLOB_NOSORT, NULL, &g);
                if (gr == GLOB_NOMATCH) {
                        /* The code's list names what a host may have; an
                         * operator's own path that is gone is worth a line. */
                        if (i >= n_code)
                                upgrade_note(cb, "preserved path %s (preserve.d) does not exist; nothing to carry over", p);
                } else if (gr != 0)
                        r = reason_set(ret_reason, "cannot look up %s", p), r = -EIO;
                for (size_t k = 0; gr == 0 && k < g.gl_pathc && r >= 0; k++) {
                        const char *rel = g.gl_pathv[k] + strlen(root);
                        _cleanup_free_ char *dst = NULL;
                        rel += strspn(rel, "/");
                        if (asprintf(&dst, "%s/%s", target, rel) < 0)
                                r = -ENOMEM;
                        else if ((r = prepare_dst(g.gl_pathv[k], dst, ret_reason)) >= 0) {
                                fputs(rel, lf);
                                fputc(0, lf);
                        }
                }
                globfree(&g);
        }
        if (lf && fclose(lf) != 0 && r >= 0)
                r = -ENOMEM;
        if (r >= 0)
                r = copy_list(root, target, work, list, list_len, ret_reason);
        for (size_t i = 0; i < ELEMENTSOF(accounts); i++) {
                _cleanup_free_ char *dst = NULL;
                if (r >= 0 && extras[i] && asprintf(&dst, "%s%s", target, accounts[i]) >= 0)
                        r = append_file(dst, extras[i], extras_len[i], ret_reason);
                free(extras[i]);
        }
        if (r < 0)
                return r;
        if ((r = carry_disabled_units(root, target, ret_reason)) < 0 ||
            (r = rewrite_fstab(root, target, running_slot, new_slot, ret_reason)) < 0 ||
            (r = rewrite_inventory(root, target, new_slot, new_version, new_build, ret_reason)) < 0)
                return r;
        return 0;
}
