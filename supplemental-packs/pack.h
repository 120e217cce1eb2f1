/* Supplemental packs (DESIGN.md section 7): build, read, verify, install,
 * list and remove packs of RPMs that vendors add to a host.
 *
 * A pack is an ISO9660 image (or a directory) holding, at its top level:
 *   pack.xml      XenServer's XS-REPOSITORY fields and the package list with
 *                 the SHA-256 and size of every RPM;
 *   pack.xml.asc  optional armored detached OpenPGP signature over pack.xml:
 *                 since the checksums are inside pack.xml, it covers the RPMs;
 *   *.rpm         the RPMs named in the package list.
 *
 *   <repository originator="acme" name="acme-tools" product="xenhost"
 *               version="1.2" build="7">
 *     <description>Acme tools</description>
 *     <requires product="xenhost" test="ge" version="1.0"/>
 *     <requires name="acme-base" test="ge" version="2"/>
 *     <packages>
 *       <package name="acme-tools" file="acme-tools-1.2-7.x86_64.rpm"
 *                size="1234" sha256="..."/>
 *     </packages>
 *   </repository>
 *
 * On a host (any root DIR):
 *   DIR/etc/xenhost/keyring.gpg        once it exists, packs must be signed;
 *   DIR/etc/xenhost/inventory          PRODUCT_VERSION is what "product"
 *                                      requirements are tested against
 *                                      (DIR/etc/xenhost-release VERSION= when
 *                                      there is no inventory);
 *   DIR/var/lib/xenhost/packs/NAME.json   one record per installed pack;
 *   DIR/var/lib/xenhost/packs/NAME.pack/  the pack as verified (a directory
 *                                      pack), for reinstalling it elsewhere
 *                                      (the upgrader, into the new slot);
 *   DIR/var/lib/rpm                    the rpm database (created on first
 *                                      install: a Debian dom0 has none).
 *
 * Every function that can fail returns -errno and, when RET_REASON is not
 * NULL, one line saying why (the caller prints it once). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PACK_PRODUCT "xenhost"
#define PACK_XML "pack.xml"
#define PACK_XML_SIG "pack.xml.asc"
#define PACK_RECORD_DIR "/var/lib/xenhost/packs"
#define PACK_KEYRING "/etc/xenhost/keyring.gpg"
#define PACK_RPM_DBPATH "/var/lib/rpm"
/* pack.xml is metadata: anything bigger is not one. */
#define PACK_XML_SIZE_MAX (1024 * 1024)

enum pack_test {
        PACK_TEST_ANY, /* no test: installed at any version */
        PACK_TEST_EQ,
        PACK_TEST_NE,
        PACK_TEST_LT,
        PACK_TEST_LE,
        PACK_TEST_GT,
        PACK_TEST_GE,
        _PACK_TEST_MAX,
};
/* "eq", "ge", ... as in XenServer's XS-REPOSITORY, and their operators. */
const char *pack_test_to_string(enum pack_test t);
const char *pack_test_to_operator(enum pack_test t);
int pack_test_from_string(const char *s);   /* "ge" -> PACK_TEST_GE, or -EINVAL */
int pack_test_from_operator(const char *s); /* ">=" -> PACK_TEST_GE, or -EINVAL */

/* A requirement on the product (product != NULL) or on another pack (name). */
struct pack_requirement {
        char *product; /* "xenhost", or NULL */
        char *name;    /* the other pack's name, or NULL */
        char *originator;
        enum pack_test test;
        char *version; /* NULL with PACK_TEST_ANY */
};

struct pack_package {
        char *name; /* the RPM's NAME tag */
        char *file; /* its file name in the pack */
        uint64_t size;
        char sha256[65];
};

/* What pack.xml says (and, for an installed pack, its record). */
struct pack_info {
        char *originator;
        char *name;
        char *product;
        char *version;
        char *build; /* may be NULL */
        char *description;
        struct pack_requirement *requires;
        size_t n_requires;
        struct pack_package *packages;
        size_t n_packages;
        time_t installed; /* records only */
};
void pack_info_done(struct pack_info *info);

/* Version order of rpm (rpmvercmp()): <0, 0, >0. */
int pack_version_compare(const char *a, const char *b);
/* Whether VERSION passes "TEST WANT". */
bool pack_test_holds(enum pack_test test, const char *version, const char *want);
/* "xenhost >= 1.0", "pack:acme-base >= 2", "pack:acme-base" -> a requirement. */
int pack_requirement_parse(const char *text, struct pack_requirement *ret, char **ret_reason);
/* The same text back ("xenhost >= 1.0"); free() it. */
char *pack_requirement_to_string(const struct pack_requirement *r);
void pack_requirement_done(struct pack_requirement *r);

/* pack.xml <-> struct pack_info. Parsing is strict: a missing or malformed
 * field, an unknown test, a bad checksum or a file name with '/' is an error
 * naming the field. */
int pack_xml_parse(const char *data, size_t len, struct pack_info *ret, char **ret_reason);
int pack_xml_format(const struct pack_info *info, char **ret, size_t *ret_len);
/* Names and versions that may appear in file names and records. */
bool pack_name_is_valid(const char *s);
bool pack_version_is_valid(const char *s);

/* --- building ---------------------------------------------------------------- */
struct pack_build_options {
        const char *originator, *name, *version, *build, *description;
        char **requires;        /* strings for pack_requirement_parse(), NULL-terminated */
        char **rpms;            /* paths, NULL-terminated */
        const char *sign_key;   /* gpg key to sign with (gpg --local-user), or NULL */
};
/* Writes the pack ISO to OUTPUT (atomically: a temporary file renamed).
 * Timestamps come from SOURCE_DATE_EPOCH when set, so the same inputs make
 * the same bytes. */
int pack_build(const struct pack_build_options *o, const char *output, char **ret_reason);

/* --- reading, verifying, installing ------------------------------------------- */
struct pack;

enum pack_verify_flags {
        /* Same name installed at another version: replace it instead of refusing. */
        PACK_VERIFY_UPGRADE = 1 << 0,
};

/* Opens a pack (ISO or directory): its files are copied into a private
 * working directory, checksums computed on the way. Nothing is trusted yet. */
int pack_open(const char *path, struct pack **ret, char **ret_reason);
struct pack *pack_free(struct pack *p);
/* Reads only PATH's pack.xml (ISO or directory) into RET: what a pack says
 * it is, for showing it before choosing it. Nothing is verified: the
 * signature, the checksums and the requirements are pack_verify()'s. */
int pack_peek(const char *path, struct pack_info *ret, char **ret_reason);
/* The parsed pack.xml: NULL before pack_verify() succeeded. */
const struct pack_info *pack_get_info(const struct pack *p);
/* Whether the signature was checked (false: no keyring to check it with). */
bool pack_is_signature_checked(const struct pack *p);
/* Whether pack_verify() found this very pack (name, version, build) installed. */
bool pack_is_installed(const struct pack *p);

/* Checks, in this order: the signature (KEYRING, or ROOT/etc/xenhost/keyring.gpg
 * when it exists; with a keyring a signature is required), pack.xml, every
 * RPM's checksum and size, every RPM's header (readable by librpm, its NAME
 * as in the package list), the requirements against ROOT, and conflicts with
 * the packs installed in ROOT. */
int pack_verify(struct pack *p, const char *root, const char *keyring, unsigned flags, char **ret_reason);

/* Progress of an install or a removal: STEP is "verifying", "installing",
 * "removing", "recording", "done"; PACKAGE the RPM or NULL. */
typedef void (*pack_progress_fn)(const char *step, const char *package, unsigned done, unsigned total,
                                 void *userdata);

enum pack_install_result {
        PACK_INSTALLED,
        PACK_UPGRADED,
        PACK_ALREADY_INSTALLED, /* same name, version and build: nothing done */
};

/* Verifies (as pack_verify()), then installs the RPMs into ROOT in one rpm
 * transaction (a test run first: file conflicts and unmet rpm dependencies
 * stop it before anything is written), keeps a copy of the pack as
 * NAME.pack/ and records the pack. A failed
 * install leaves no package and no record: what a failed scriptlet left
 * installed is erased again; an rpm database this call created is removed. */
int pack_install(struct pack *p, const char *root, const char *keyring, unsigned flags, pack_progress_fn progress,
                 void *userdata, enum pack_install_result *ret_result, char **ret_reason);

/* The records of ROOT/var/lib/xenhost/packs, sorted by name. */
int packs_list(const char *root, struct pack_info **ret, size_t *ret_n, char **ret_reason);
void packs_list_free(struct pack_info *l, size_t n);
/* One record; -ENOENT when NAME is not installed. */
int pack_record_read(const char *root, const char *name, struct pack_info *ret, char **ret_reason);
/* A record as JSON text (what list --json prints for each pack); free() it. */
char *pack_info_to_json(const struct pack_info *info);

/* Erases the pack's RPMs (one rpm transaction) and drops its record and its
 * kept copy. Refused
 * while another installed pack requires it. */
int pack_remove(const char *root, const char *name, pack_progress_fn progress, void *userdata, char **ret_reason);
