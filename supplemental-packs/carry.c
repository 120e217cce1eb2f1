/* Carrying the recorded packs of a running system into a new one (carry.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carry.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack-internal.h"

DEFINE_CLEANUP(struct pack, pack_free);

void pack_carry_list_done(struct pack_carry_list *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->packs[i].name);
                free(l->packs[i].version);
                free(l->packs[i].build);
                free(l->packs[i].reason);
        }
        free(l->packs);
        *l = (struct pack_carry_list) {};
}

char *pack_carry_to_string(const struct pack_carry *c) {
        char *s;
        if (asprintf(&s, "pack %s %s%s%s %s%s%s", c->name, c->version, c->build ? " build " : "", c->build ?: "",
                     c->carried ? "carried over" : "not carried over", c->carried ? "" : ": ",
                     c->carried ? "" : c->reason ?: "?") < 0)
                return NULL;
        return s;
}

/* ---- the order -------------------------------------------------------------------- */

static bool requires_pack(const struct pack_info *p, const char *name) {
        for (size_t k = 0; k < p->n_requires; k++)
                if (p->requires[k].name && streq(p->requires[k].name, name))
                        return true;
        return false;
}

static int by_install_time(const void *x, const void *y) {
        const struct pack_info *a = x, *b = y;
        if (a->installed != b->installed)
                return a->installed < b->installed ? -1 : 1;
        return strcmp(a->name, b->name);
}

/* The records in the order they were installed, and so that a pack comes
 * after every recorded pack it requires: install times alone do not do
 * (the installer records several packs within one second, and a required
 * pack upgraded later has the later time). */
static int carry_order(struct pack_info *l, size_t n, size_t **ret) {
        _cleanup_free_ size_t *order = calloc(n ?: 1, sizeof *order);
        _cleanup_free_ bool *placed = calloc(n ?: 1, sizeof *placed);
        if (!order || !placed)
                return -ENOMEM;
        if (n > 0)
                qsort(l, n, sizeof *l, by_install_time);
        for (size_t k = 0; k < n; k++) {
                size_t pick = n;
                for (size_t i = 0; i < n && pick == n; i++) {
                        if (placed[i])
                                continue;
                        bool ready = true;
                        for (size_t j = 0; j < n && ready; j++)
                                if (j != i && !placed[j] && requires_pack(&l[i], l[j].name))
                                        ready = false;
                        if (ready)
                                pick = i;
                }
                /* A loop of requirements (no install makes one): time order. */
                for (size_t i = 0; i < n && pick == n; i++)
                        if (!placed[i])
                                pick = i;
                placed[pick] = true;
                order[k] = pick;
        }
        *ret = TAKE_PTR(order);
        return 0;
}

/* ---- the walk ----------------------------------------------------------------------- */

struct walk {
        const char *from, *to;
        const struct pack_carry_options *o;
        bool install;
        struct pack_info *records;
        size_t n_records;
        struct pack_carry_list list;
        const char *tmp; /* where kept copies are unpacked */
};

static const struct pack_carry *verdict_of(const struct walk *w, const char *name) {
        for (size_t i = 0; i < w->list.n; i++)
                if (streq(w->list.packs[i].name, name))
                        return &w->list.packs[i];
        return NULL;
}

/* The record's requirements against the new system, in the words an
 * operator reads before an upgrade: the new version, the packs carried. */
static int check_requirements(const struct walk *w, const struct pack_info *p, char **ret_why) {
        for (size_t k = 0; k < p->n_requires; k++) {
                const struct pack_requirement *q = &p->requires[k];
                _cleanup_free_ char *text = pack_requirement_to_string(q);
                if (!text)
                        return -ENOMEM;
                if (q->product) {
                        if (!pack_test_holds(q->test, w->o->new_version, q->version))
                                return reason_set(ret_why, "requires %s, the new version is %s", text,
                                                  w->o->new_version),
                                       -ENOPKG;
                        continue;
                }
                const struct pack_carry *other = verdict_of(w, q->name);
                bool recorded = false;
                for (size_t i = 0; i < w->n_records; i++)
                        recorded = recorded || streq(w->records[i].name, q->name);
                if (!other || !other->carried)
                        return reason_set(ret_why, "requires %s, which is %s", text,
                                          recorded ? "not carried over" : "not installed"),
                               -ENOPKG;
                if (!pack_test_holds(q->test, other->version, q->version))
                        return reason_set(ret_why, "requires %s, and %s %s is carried over", text, other->name,
                                          other->version),
                               -ENOPKG;
        }
        return 0;
}

/* pack_open() unpacks into $TMPDIR: point it at W->tmp for the call, so
 * that nothing is written on the running system (its /var/tmp). */
static int open_kept_copy(const struct walk *w, const char *path, struct pack **ret, char **ret_why) {
        _cleanup_free_ char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
        if (setenv("TMPDIR", w->tmp, 1) < 0)
                return -errno;
        int r = pack_open(path, ret, ret_why);
        if (saved)
                (void) setenv("TMPDIR", saved, 1);
        else
                (void) unsetenv("TMPDIR");
        return r;
}

/* The record as it was: pack_install() stamps the time of this install,
 * and the order of later upgrades is the order of the first installs. */
static int keep_install_time(const char *to, const struct pack_info *rec, char **ret_reason) {
        struct pack_info now = {};
        _cleanup_free_ char *dir = pack_root_path(to, PACK_RECORD_DIR), *path = NULL, *json = NULL;
        int r = pack_record_read(to, rec->name, &now, ret_reason);
        if (r < 0)
                return r;
        now.installed = rec->installed;
        json = pack_info_to_json(&now);
        pack_info_done(&now);
        if (!dir || !json || asprintf(&path, "%s/%s.json", dir, rec->name) < 0)
                return -ENOMEM;
        size_t len = strlen(json);
        json[len] = '\n'; /* written with its length */
        r = write_file_atomic(path, json, len + 1, 0644);
        json[len] = 0;
        if (r < 0)
                return reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
        return 0;
}

/* In a plan, what the next packs are checked against: this one recorded
 * in the scratch root, as pack_install() records it in the new slot. */
static int record_in_scratch(const struct walk *w, const struct pack_info *info, char **ret_reason) {
        _cleanup_free_ char *dir = pack_root_path(w->to, PACK_RECORD_DIR), *path = NULL, *json = pack_info_to_json(info);
        int r;
        if (!dir || !json || asprintf(&path, "%s/%s.json", dir, info->name) < 0)
                return -ENOMEM;
        if ((r = write_file_atomic(path, json, strlen(json), 0644)) < 0)
                return reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
        return 0;
}

/* One pack: its verdict in C (carried or why not). A negative return is a
 * failure of the whole walk (an install that failed, out of memory). */
static int carry_one(struct walk *w, const struct pack_info *rec, struct pack_carry *c, char **ret_reason) {
        _cleanup_free_ char *why = NULL, *dir = pack_root_path(w->from, PACK_RECORD_DIR), *kept = NULL;
        _cleanup_(pack_freep) struct pack *p = NULL;
        struct stat st;
        int r;

        if (!dir || asprintf(&kept, "%s/%s.pack", dir, rec->name) < 0)
                return -ENOMEM;
        if ((r = check_requirements(w, rec, &why)) == -ENOMEM)
                return r;
        if (r < 0)
                goto not_carried;
        if (stat(kept, &st) < 0 || !S_ISDIR(st.st_mode)) {
                reason_set(&why, "its kept copy %s is missing", kept);
                goto not_carried;
        }
        if ((r = open_kept_copy(w, kept, &p, &why)) == -ENOMEM)
                return r;
        if (r < 0) {
                reason_set(&why, "its kept copy cannot be read: %s", why ?: strerror(-r));
                goto not_carried;
        }
        /* The signature against the new system's keyring, the checksums,
         * the RPM headers, and the requirements once more from the signed
         * pack.xml, against the new system itself. */
        r = pack_verify(p, w->to, w->o->keyring, 0, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                reason_set(&why, "its kept copy does not verify: %s", why ?: strerror(-r));
                goto not_carried;
        }
        const struct pack_info *info = pack_get_info(p);
        if (!streq(info->name, rec->name) || !streq(info->version, rec->version) ||
            !streq_ptr(info->build, rec->build)) {
                reason_set(&why, "its kept copy is %s %s%s%s, not the recorded version", info->name, info->version,
                           info->build ? " build " : "", info->build ?: "");
                goto not_carried;
        }
        if (!w->install) {
                if ((r = record_in_scratch(w, info, ret_reason)) < 0)
                        return r;
        } else {
                enum pack_install_result res;
                r = pack_install(p, w->to, w->o->keyring, 0, NULL, NULL, &res, &why);
                if (r < 0)
                        return reason_set(ret_reason, "pack %s %s cannot be installed into the new system: %s",
                                          rec->name, rec->version, why ?: strerror(-r)),
                               r;
                log_debug("pack %s %s reinstalled into %s (%s)", rec->name, rec->version, w->to,
                          res == PACK_ALREADY_INSTALLED ? "it was there already" : "installed");
                if ((r = keep_install_time(w->to, rec, ret_reason)) < 0)
                        return r;
        }
        c->carried = true;
        return 0;
not_carried:
        log_debug("pack %s %s not carried over: %s", rec->name, rec->version, why ?: "?");
        c->carried = false;
        c->reason = TAKE_PTR(why);
        if (!c->reason && !(c->reason = strdup("it does not verify")))
                return -ENOMEM;
        return 0;
}

static int walk_run(struct walk *w, char **ret_reason) {
        _cleanup_free_ size_t *order = NULL;
        int r;

        if ((r = packs_list(w->from, &w->records, &w->n_records, ret_reason)) < 0)
                return r;
        if ((r = carry_order(w->records, w->n_records, &order)) < 0)
                return r;
        w->list.packs = calloc(w->n_records ?: 1, sizeof *w->list.packs);
        if (!w->list.packs)
                return -ENOMEM;
        for (size_t k = 0; k < w->n_records; k++) {
                const struct pack_info *rec = &w->records[order[k]];
                struct pack_carry *c = &w->list.packs[w->list.n++];
                if (!(c->name = strdup(rec->name)) || !(c->version = strdup(rec->version)) ||
                    (rec->build && !(c->build = strdup(rec->build))))
                        return -ENOMEM;
                if ((r = carry_one(w, rec, c, ret_reason)) < 0)
                        return r;
                if (w->o->each)
                        w->o->each(c, w->o->userdata);
        }
        return 0;
}

static void walk_done(struct walk *w) {
        packs_list_free(w->records, w->n_records);
        pack_carry_list_done(&w->list);
}

int pack_carry_plan(const char *from, const struct pack_carry_options *o, struct pack_carry_list *ret,
                    char **ret_reason) {
        _cleanup_free_ char *scratch = NULL, *etc = NULL, *records = NULL, *inv = NULL, *text = NULL;
        struct walk w = {.from = from, .o = o, .tmp = o->work_dir};
        int r;

        if (!o->work_dir || !o->new_version)
                return -EINVAL;
        if (asprintf(&scratch, "%s/packs-plan-XXXXXX", o->work_dir) < 0)
                return -ENOMEM;
        if (!mkdtemp(scratch))
                return r = negative_errno(), reason_set(ret_reason, "cannot create a directory in %s: %s", o->work_dir,
                                                        strerror(-r)),
                       r;
        w.to = scratch;
        /* The scratch root stands for the new system: its product version,
         * and the records of the packs carried so far. */
        if (asprintf(&etc, "%s/etc/xenhost", scratch) < 0 || asprintf(&inv, "%s/inventory", etc) < 0 ||
            !(records = pack_root_path(scratch, PACK_RECORD_DIR)) ||
            asprintf(&text, "PRODUCT_VERSION='%s'\n", o->new_version) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        if ((r = mkdir_all(etc, 0755)) < 0 || (r = mkdir_all(records, 0755)) < 0 ||
            (r = write_file_atomic(inv, text, strlen(text), 0644)) < 0) {
                reason_set(ret_reason, "cannot prepare %s for checking the packs: %s", scratch, strerror(-r));
                goto finish;
        }
        if ((r = walk_run(&w, ret_reason)) < 0)
                goto finish;
        *ret = w.list;
        w.list = (struct pack_carry_list) {};
        r = 0;
finish:
        pack_rm_rf(scratch);
        walk_done(&w);
        return r;
}

int pack_carry_apply(const char *from, const char *to, const struct pack_carry_options *o,
                     struct pack_carry_list *ret, char **ret_reason) {
        _cleanup_free_ char *tmp = NULL;
        struct walk w = {.from = from, .to = to, .o = o, .install = true, .tmp = o->work_dir};
        int r;

        if (!o->new_version)
                return -EINVAL;
        if (!w.tmp) {
                /* The new slot has the room the kept copies need; the
                 * running system is not written. */
                if (!(tmp = pack_root_path(to, "/var/tmp")))
                        return -ENOMEM;
                if ((r = mkdir_all(tmp, 01777)) < 0)
                        return reason_set(ret_reason, "cannot create %s: %s", tmp, strerror(-r)), r;
                w.tmp = tmp;
        }
        r = walk_run(&w, ret_reason);
        if (r >= 0) {
                *ret = w.list;
                w.list = (struct pack_carry_list) {};
                r = 0;
        }
        walk_done(&w);
        return r;
}
