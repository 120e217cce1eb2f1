/* Supplemental packs across an upgrade (DESIGN.md sections 7 and 8): the
 * packs recorded on the running system (FROM) are reinstalled into the new
 * one from their kept copies (FROM/var/lib/xenhost/packs/NAME.pack), in the
 * order they were installed, when their requirements still hold against the
 * new system: its product version and the packs carried before them. A pack
 * whose requirements no longer hold, or whose kept copy does not verify
 * (checksums, signature against the new system's keyring), is not carried
 * over and says why in one line. FROM is only read.
 *
 * The same walk decides (pack_carry_plan(): nothing written but a scratch
 * directory, for xenhost-upgrade apply --dry-run) and carries out
 * (pack_carry_apply(): into the new slot). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct pack_carry {
        char *name, *version;
        char *build;    /* may be NULL */
        bool carried;   /* plan: will be reinstalled; apply: was reinstalled */
        char *reason;   /* not carried: why, "requires xenhost < 2.0, the new version is 2.1" */
};

struct pack_carry_list {
        struct pack_carry *packs; /* in the order they are (or would be) reinstalled */
        size_t n;
};
void pack_carry_list_done(struct pack_carry_list *l);

/* "pack acme-tools 1.0 not carried over: requires xenhost < 2.0, the new
 * version is 2.1", or "pack acme-base 1.0 build 1 carried over"; free() it. */
char *pack_carry_to_string(const struct pack_carry *c);

/* Called once per recorded pack with its verdict, in order: a pack not
 * carried as soon as that is known, a carried one once it is in place. */
typedef void (*pack_carry_fn)(const struct pack_carry *c, void *userdata);

struct pack_carry_options {
        const char *new_version; /* the new system's product version ("xenhost >= ..." is tested against it) */
        const char *keyring;     /* NULL: the new system's TO/etc/xenhost/keyring.gpg when it exists (apply);
                                  * for a plan, the keyring the new system will have, or NULL for none */
        const char *work_dir;    /* where kept copies are unpacked; never on FROM (plan: required;
                                  * apply: NULL is TO/var/tmp, on the new slot) */
        pack_carry_fn each;
        void *userdata;
};

/* Decides which packs of FROM would be carried into a system of version
 * O->new_version, checking every kept copy as pack_verify() does, against
 * a scratch root under O->work_dir that stands for the new system (removed
 * again). RET lists every recorded pack. */
int pack_carry_plan(const char *from, const struct pack_carry_options *o, struct pack_carry_list *ret,
                    char **ret_reason);

/* Reinstalls the packs of FROM into the root TO (the new slot, its
 * inventory already saying the new version) with pack_install(), keeping
 * each record's original install time. A pack that is not carried is
 * skipped (and so are the packs that require it). Fails (-errno, the pack
 * and why in *RET_REASON) only when a pack that verified cannot be
 * installed (an rpm transaction or scriptlet error): what that pack put in
 * TO is taken out again by pack_install(); the packs before it stay. */
int pack_carry_apply(const char *from, const char *to, const struct pack_carry_options *o,
                     struct pack_carry_list *ret, char **ret_reason);
