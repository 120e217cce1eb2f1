/* XenServer's answer-file XML into struct install_config.
 *
 * The element set is XenServer's (host-installer's answerfile.py and
 * doc/answerfile.txt) plus our <pack>: an existing fleet's answer files must
 * keep working. What XenServer knows but xenhost cannot honour is accepted
 * with a warning; what neither knows, or a bad value, is an error. Every
 * problem is collected, so the operator sees the whole list in one run. */
#include "answerfile.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "fetch.h" /* ANSWERFILE_SIZE_MAX */
#include "fileio.h"
#include "format.h"

DEFINE_CLEANUP(xmlDoc, xmlFreeDoc)

/* A value from the file as a problem line echoes it: at most
 * FORMAT_VALUE_MAX characters, control characters as '?'. A file may hold a
 * megabyte in one attribute; the operator needs to recognise it, no more. */
#define V(s) FORMAT_VALUE(s)

/* How many problems are handed out: the first few tell the operator what is
 * wrong (20,000 references to one undefined entity are one mistake), and
 * the rest are counted in one line, "FILE: and N more problems". */
#define PROBLEMS_SHOWN_MAX 20
/* How many are kept to pick those from, so that memory stays bounded
 * whatever the file holds; they come roughly in the order of the file. */
#define PROBLEMS_KEPT_MAX 1000
/* The longest problem line, whatever slipped through uncut (libxml2's
 * messages name entities and elements of any length). */
#define PROBLEM_TEXT_MAX 400

static inline void xml_charp_free(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}
#define _cleanup_xml_char_ _cleanup_(xml_charp_free)

#define MODE_BIT(m) (1u << (m))
#define MODES_FRESH (MODE_BIT(INSTALL_MODE_FRESH) | MODE_BIT(INSTALL_MODE_REINSTALL))
#define MODES_UPGRADE MODE_BIT(INSTALL_MODE_UPGRADE)
#define MODES_RESTORE MODE_BIT(INSTALL_MODE_RESTORE)
#define MODES_INSTALL (MODES_FRESH | MODES_UPGRADE)
#define MODES_ALL (MODES_INSTALL | MODES_RESTORE)

struct parser;
typedef void (*element_parse_fn)(struct parser *p, xmlNode *n);

struct element_rule {
        const char *name;
        unsigned modes;  /* where it means something; elsewhere it only warns */
        bool multiple;   /* may appear more than once */
        element_parse_fn parse;
        const char *const *attributes; /* NULL-terminated; NULL: none allowed */
};

/* The parser records problems and goes on; an allocation failure anywhere
 * only sets 'oom', which turns the final result into -ENOMEM. That keeps
 * every element handler a straight line of checks. */
struct pending_problem {
        long line;
        size_t seq;
        bool error;
        char *text;
};

/* Where each install_config field was set: install_config_validate()
 * names fields, the operator wants the element and its line. BAD: the
 * element was there but its value could not be stored (the parser said why),
 * so what validation says about the missing value is not repeated. */
struct field_record {
        const char *field;
        size_t index;
        const char *element;
        long line;
        bool bad;
};

struct parser {
        const char *name;
        struct answerfile_problems *problems;
        struct install_config *config;
        bool oom;
        bool mode_known;
        size_t n_errors;

        long root_line;
        bool ntp_given;
        char *last_xml_error;
        bool admin_has_ipaddr, admin_has_subnet, admin_has_gateway, admin_has_ipv6, admin_has_gateway6;

        struct field_record *records;
        size_t n_records;

        /* Problems are put in the order of the file before they are handed
         * out: the parser's and validation's come at different times. */
        struct pending_problem *pending;
        size_t n_pending;
        size_t n_dropped; /* found beyond PROBLEMS_KEPT_MAX: only counted */
};

/* ---- problems ---- */

static int strv_push_take(char ***l, size_t *n, char *s) {
        char **nl = reallocarray(*l, *n + 2, sizeof(char *));
        if (!nl)
                return -ENOMEM;
        nl[(*n)++] = s;
        nl[*n] = NULL;
        *l = nl;
        return 0;
}

void answerfile_problems_done(struct answerfile_problems *p) {
        if (!p)
                return;
        strv_free(p->errors);
        strv_free(p->warnings);
        *p = (struct answerfile_problems) {};
}

_printf_(4, 0) static void add_problem(struct parser *p, bool error, long line, const char *format, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        char line_text[32] = "";
        char *s;

        if (vasprintf(&msg, format, ap) < 0) {
                p->oom = true;
                return;
        }
        if (error)
                p->n_errors++;
        if (p->n_pending >= PROBLEMS_KEPT_MAX) {
                p->n_dropped++;
                return;
        }
        /* One problem is one line, whatever the file put into a value. */
        char shown[PROBLEM_TEXT_MAX * 4 + 4];
        format_value(shown, sizeof shown, msg, PROBLEM_TEXT_MAX);
        if (line > 0)
                snprintf(line_text, sizeof line_text, ":%ld", line);
        if (asprintf(&s, "%s%s: %s%s", p->name, line_text, error ? "" : "warning: ", shown) < 0) {
                p->oom = true;
                return;
        }
        struct pending_problem *np = reallocarray(p->pending, p->n_pending + 1, sizeof *np);
        if (!np) {
                free(s);
                p->oom = true;
                return;
        }
        p->pending = np;
        p->pending[p->n_pending] = (struct pending_problem) {
                .line = line, .seq = p->n_pending, .error = error, .text = s,
        };
        p->n_pending++;
}

static int pending_compare(const void *a, const void *b) {
        const struct pending_problem *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the problems out, by line, and in the order found on one line: the
 * first PROBLEMS_SHOWN_MAX, errors before warnings, then one line that
 * counts the rest (among the errors when there are any). */
static void problems_flush(struct parser *p) {
        size_t n_errors = 0, shown_errors, shown_warnings, n_more;

        if (p->n_pending > 0)
                qsort(p->pending, p->n_pending, sizeof *p->pending, pending_compare);
        for (size_t i = 0; i < p->n_pending; i++)
                n_errors += p->pending[i].error;
        shown_errors = n_errors < PROBLEMS_SHOWN_MAX ? n_errors : PROBLEMS_SHOWN_MAX;
        shown_warnings = p->n_pending - n_errors;
        if (shown_warnings > PROBLEMS_SHOWN_MAX - shown_errors)
                shown_warnings = PROBLEMS_SHOWN_MAX - shown_errors;
        n_more = p->n_pending - shown_errors - shown_warnings + p->n_dropped;

        for (size_t i = 0; i < p->n_pending; i++) {
                struct pending_problem *q = &p->pending[i];
                size_t *budget = q->error ? &shown_errors : &shown_warnings;
                if (*budget == 0) {
                        free(q->text);
                        continue;
                }
                (*budget)--;
                if (!p->oom && (q->error ? strv_push_take(&p->problems->errors, &p->problems->n_errors, q->text)
                                         : strv_push_take(&p->problems->warnings, &p->problems->n_warnings,
                                                          q->text)) == 0)
                        continue;
                p->oom = true;
                free(q->text);
        }
        if (n_more > 0 && !p->oom) {
                char *s;
                bool errors = p->n_errors > 0;
                if (asprintf(&s, "%s: and %zu more problem%s", p->name, n_more, n_more == 1 ? "" : "s") < 0)
                        p->oom = true;
                else if ((errors ? strv_push_take(&p->problems->errors, &p->problems->n_errors, s)
                                 : strv_push_take(&p->problems->warnings, &p->problems->n_warnings, s)) < 0) {
                        free(s);
                        p->oom = true;
                }
        }
        free(p->pending);
        p->pending = NULL;
        p->n_pending = 0;
}

_printf_(4, 5) static void problem_at(struct parser *p, bool error, long line, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        add_problem(p, error, line, format, ap);
        va_end(ap);
}

static long node_line(xmlNode *n) {
        if (!n)
                return 0;
        long line = xmlGetLineNo(n);
        if (n->type == XML_TEXT_NODE && n->content && line > 0) {
                /* libxml2 numbers a text node by the line where it ends; the
                 * operator wants the line where the stray text starts. */
                const char *c = (const char *) n->content;
                const char *first = c + strspn(c, " \t\r\n");
                for (const char *i = first; *i; i++)
                        if (*i == '\n')
                                line--;
                if (n->parent && line < xmlGetLineNo(n->parent))
                        line = xmlGetLineNo(n->parent);
        }
        return line;
}

_printf_(3, 4) static void bad(struct parser *p, xmlNode *n, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        add_problem(p, true, node_line(n), format, ap);
        va_end(ap);
}

_printf_(3, 4) static void bad_at(struct parser *p, long line, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        add_problem(p, true, line, format, ap);
        va_end(ap);
}

_printf_(3, 4) static void warn(struct parser *p, xmlNode *n, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        add_problem(p, false, node_line(n), format, ap);
        va_end(ap);
}

static void check_oom(struct parser *p, int r) {
        if (r < 0)
                p->oom = true;
}

static const char *name_of(xmlNode *n);

/* ---- which element set which field ---- */

static struct field_record *record_find(struct parser *p, const char *field, size_t index) {
        /* The last one: a later element replaced an earlier bad one. */
        for (size_t i = p->n_records; i > 0; i--)
                if (streq(p->records[i - 1].field, field) && p->records[i - 1].index == index)
                        return &p->records[i - 1];
        return NULL;
}

/* N sets FIELD (entry INDEX of a list field). */
static void record(struct parser *p, const char *field, size_t index, xmlNode *n) {
        struct field_record *nr = reallocarray(p->records, p->n_records + 1, sizeof *nr);
        if (!nr) {
                p->oom = true;
                return;
        }
        p->records = nr;
        p->records[p->n_records++] = (struct field_record) {
                .field = field, .index = index, .element = name_of(n), .line = node_line(n),
        };
}

/* N meant to set FIELD, but had a problem the parser reported. */
static void record_bad(struct parser *p, const char *field, size_t index, xmlNode *n) {
        record(p, field, index, n);
        if (!p->oom)
                p->records[p->n_records - 1].bad = true;
}

/* ---- values ---- */

static const char *name_of(xmlNode *n) {
        return (const char *) n->name;
}

/* The attribute's value, or NULL when it is absent. */
static char *attr(struct parser *p, xmlNode *n, const char *name) {
        _cleanup_xml_char_ xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *) name);
        if (!v)
                return NULL;
        char *s = strdup((const char *) v);
        if (!s)
                p->oom = true;
        return s;
}

/* XenServer reads the first of two spellings that is present; both at once
 * with different values is a contradiction we would rather point out. */
static char *attr_alias(struct parser *p, xmlNode *n, const char *name, const char *old_name) {
        _cleanup_free_ char *a = attr(p, n, name), *b = attr(p, n, old_name);
        if (a && b && !streq(a, b))
                bad(p, n, "<%s> has both %s=\"%s\" and %s=\"%s\"", name_of(n), name, V(a), old_name, V(b));
        return a ? TAKE_PTR(a) : TAKE_PTR(b);
}

static bool attr_is_allowed(const struct element_rule *rule, const char *name) {
        for (const char *const *a = rule->attributes; a && *a; a++)
                if (streq(*a, name))
                        return true;
        return false;
}

static void check_attributes(struct parser *p, xmlNode *n, const struct element_rule *rule) {
        for (xmlAttr *a = n->properties; a; a = a->next)
                if (!attr_is_allowed(rule, (const char *) a->name))
                        bad(p, n, "unknown attribute %s on <%s>", V((const char *) a->name), name_of(n));
}

static char *strip(char *s) {
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        char *b = s;
        while (isspace((unsigned char) *b))
                b++;
        memmove(s, b, strlen(b) + 1);
        return s;
}

/* The text of an element that holds only text, stripped of surrounding
 * white space as XenServer does. NULL (with the problem recorded) when the
 * element holds other elements or an entity that was not expanded. */
static char *text_of(struct parser *p, xmlNode *n) {
        size_t len = 0;
        char *buf = NULL;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &len);
        if (!f) {
                p->oom = true;
                return NULL;
        }
        bool ok = true;
        for (xmlNode *c = n->children; c; c = c->next)
                switch (c->type) {
                case XML_TEXT_NODE:
                case XML_CDATA_SECTION_NODE:
                        fputs((const char *) c->content, f);
                        break;
                case XML_ELEMENT_NODE:
                        bad(p, c, "<%s> is not allowed inside <%s>", V(name_of(c)), name_of(n));
                        ok = false;
                        break;
                case XML_ENTITY_REF_NODE:
                        /* Entities are never expanded (no DTD is loaded), so
                         * the value would silently lose a piece. */
                        bad(p, c, "entity &%s; is not supported in <%s>", V(name_of(c)), name_of(n));
                        ok = false;
                        break;
                default:
                        break;
                }
        if (fclose(TAKE_PTR(f)) != 0) {
                free(buf);
                p->oom = true;
                return NULL;
        }
        if (!ok) {
                free(buf);
                return NULL;
        }
        return strip(buf);
}

static char *text_of_nonempty(struct parser *p, xmlNode *n, const char *what) {
        char *t = text_of(p, n);
        if (t && !*t) {
                bad(p, n, "<%s> is empty; it needs %s", name_of(n), what);
                free(t);
                return NULL;
        }
        return t;
}

static int parse_bool(const char *s) {
        if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0)
                return 1;
        if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0)
                return 0;
        return -EINVAL;
}

static void lowercase(char *s) {
        for (; *s; s++)
                *s = (char) tolower((unsigned char) *s);
}

static bool chars_in(const char *s, const char *extra) {
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr(extra, *s))
                        return false;
        return true;
}

static bool is_service_name(const char *s) {
        return *s && strlen(s) < 256 && chars_in(s, "-_.@:\\");
}

/* Text that may hold a secret (a password, credentials in a URL) is
 * overwritten before it is freed. */
static void erase_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}
#define _cleanup_erase_ _cleanup_(erase_freep)

/* ---- locations: <source>, <driver-source>, <pack>, <script> ---- */

/* Brings ADDRESS into the stored form: "nfs://" is dropped from NFS
 * addresses, and a url that is really nfs:// becomes NFS, as XenServer
 * does. Whether the address is any good is install_config_validate()'s
 * business. */
static void normalise_location(enum location_type *type, char *address) {
        const char *rest = startswith(address, "nfs://");
        if (rest && (*type == LOCATION_URL || *type == LOCATION_NFS)) {
                memmove(address, rest, strlen(rest) + 1);
                *type = LOCATION_NFS;
        }
}

/* TYPE_VALUE is the type attribute, which XenServer requires. */
static bool parse_location(struct parser *p, xmlNode *n, const char *type_value, const char *const *allowed,
                           const char *allowed_text, enum location_type *ret_type, char **ret_address) {
        if (!type_value) {
                bad(p, n, "<%s> needs a type attribute (%s)", name_of(n), allowed_text);
                return false;
        }
        enum location_type type = location_type_from_string(type_value);
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
                ok = ok || streq(*a, type_value);
        if (type == _LOCATION_TYPE_MAX || !ok) {
                bad(p, n, "<%s>: unknown type \"%s\" (%s)", name_of(n), V(type_value), allowed_text);
                return false;
        }
        _cleanup_erase_ char *address = NULL;
        if (type == LOCATION_LOCAL) {
                /* XenServer ignores the text of a local source; so do we. */
                *ret_type = type;
                *ret_address = NULL;
                return true;
        }
        address = text_of_nonempty(p, n, type == LOCATION_NFS ? "server:/path" : "a URL");
        if (!address)
                return false;
        normalise_location(&type, address);
        *ret_type = type;
        *ret_address = TAKE_PTR(address);
        return true;
}

static const char *const repo_types[] = { "local", "url", "nfs", NULL };

static void parse_repo(struct parser *p, xmlNode *n, bool is_pack) {
        _cleanup_free_ char *type = attr(p, n, "type");
        _cleanup_erase_ char *address = NULL;
        const char *field = is_pack ? "packs" : "sources";
        size_t index = is_pack ? p->config->n_packs : p->config->n_sources;
        enum location_type t;
        if (!parse_location(p, n, type, repo_types, "local, url or nfs", &t, &address)) {
                record_bad(p, field, index, n);
                return;
        }
        /* A local pack may name one pack of the media's packs/ directory;
         * without a name it is every pack there. */
        if (is_pack && t == LOCATION_LOCAL && streq(name_of(n), "pack")) {
                address = text_of(p, n);
                if (address && !*address)
                        address = mfree(address);
        }
        record(p, field, index, n);
        check_oom(p, is_pack ? install_config_add_pack(p->config, t, address)
                             : install_config_add_source(p->config, t, address));
}

static void parse_source(struct parser *p, xmlNode *n) {
        parse_repo(p, n, false);
}

static void parse_pack(struct parser *p, xmlNode *n) {
        parse_repo(p, n, true);
}

static const char *const script_types[] = { "url", "nfs", NULL };

static void add_script(struct parser *p, xmlNode *n, enum script_stage stage, const char *type) {
        enum location_type t;
        _cleanup_erase_ char *address = NULL;
        if (!parse_location(p, n, type, script_types, "url or nfs", &t, &address))
                return;
        record(p, "scripts", p->config->n_scripts, n);
        check_oom(p, install_config_add_script(p->config, stage, t, address));
}

static void parse_script(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *stage_value = attr(p, n, "stage"), *type = attr(p, n, "type");
        enum script_stage stage = _SCRIPT_STAGE_MAX;
        if (!stage_value)
                bad(p, n, "<script> needs a stage attribute (installation-start, packages-installed, "
                          "filesystem-populated or installation-complete)");
        else {
                lowercase(stage_value);
                stage = script_stage_from_string(stage_value);
                if (stage == _SCRIPT_STAGE_MAX)
                        bad(p, n, "<script>: unknown stage \"%s\" (installation-start, packages-installed, "
                                  "filesystem-populated or installation-complete)", V(stage_value));
        }
        if (type)
                lowercase(type);
        if (stage == _SCRIPT_STAGE_MAX) {
                if (!type)
                        bad(p, n, "<script> needs a type attribute (url or nfs)");
                return;
        }
        add_script(p, n, stage, type);
}

/* The two deprecated forms: the type is optional and means url. */
static void parse_old_script(struct parser *p, xmlNode *n, enum script_stage stage) {
        _cleanup_free_ char *type = attr(p, n, "type");
        if (type)
                lowercase(type);
        add_script(p, n, stage, type && *type ? type : "url");
}

static void parse_post_install_script(struct parser *p, xmlNode *n) {
        parse_old_script(p, n, SCRIPT_STAGE_FILESYSTEM_POPULATED);
}

static void parse_install_failed_script(struct parser *p, xmlNode *n) {
        parse_old_script(p, n, SCRIPT_STAGE_INSTALLATION_COMPLETE);
}

/* ---- disks ---- */

/* The disk N names, recorded as FIELD (entry INDEX); NULL when empty. */
static char *disk_text(struct parser *p, xmlNode *n, const char *field, size_t index) {
        char *d = text_of_nonempty(p, n, "a disk name");
        if (d)
                record(p, field, index, n);
        else
                record_bad(p, field, index, n);
        return d;
}

static void check_fs_type(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *fs = attr(p, n, "fs-type");
        if (!fs)
                return;
        if (!streq(fs, "ext3") && !streq(fs, "ext4"))
                bad(p, n, "<%s>: unknown fs-type \"%s\" (ext3 or ext4)", name_of(n), V(fs));
        else
                warn(p, n, "fs-type on <%s> has no effect: dom0 slots are always ext4", name_of(n));
}

static void parse_primary_disk(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *guest = attr_alias(p, n, "guest-storage", "gueststorage");
        _cleanup_free_ char *sr_at_end = attr(p, n, "sr-at-end");
        _cleanup_free_ char *preserve = attr(p, n, "preserve-first-partition");
        _cleanup_free_ char *swraid = attr(p, n, "swraid");

        if (guest) {
                int b = parse_bool(guest);
                if (b < 0)
                        record_bad(p, "primary_disk_guest_storage", 0, n);
                else
                        record(p, "primary_disk_guest_storage", 0, n);
                if (b < 0)
                        bad(p, n, "<primary-disk>: %s=\"%s\" is not yes or no",
                            xmlHasProp(n, (const xmlChar *) "guest-storage") ? "guest-storage" : "gueststorage",
                            V(guest));
                else
                        p->config->primary_disk_guest_storage = b;
        }
        if (sr_at_end) {
                if (parse_bool(sr_at_end) < 0)
                        bad(p, n, "<primary-disk>: sr-at-end=\"%s\" is not yes or no", V(sr_at_end));
                else
                        warn(p, n, "sr-at-end on <primary-disk> has no effect: the SR is always the last "
                                   "partition");
        }
        if (preserve) {
                if (parse_bool(preserve) < 0 && !streq(preserve, "if-utility"))
                        bad(p, n, "<primary-disk>: preserve-first-partition=\"%s\" is not yes, no or if-utility",
                            V(preserve));
                else
                        warn(p, n, "preserve-first-partition on <primary-disk> has no effect: the disk gets "
                                   "the xenhost layout");
        }
        check_fs_type(p, n);
        if (swraid) {
                int b = parse_bool(swraid);
                if (b < 0)
                        bad(p, n, "<primary-disk>: swraid=\"%s\" is not yes or no", V(swraid));
                else if (b > 0) {
                        /* Installing onto one disk when a mirror was asked
                         * for would lose redundancy the operator counts on. */
                        bad(p, n, "<primary-disk swraid=\"%s\">: software RAID is not supported", V(swraid));
                        record_bad(p, "primary_disk", 0, n);
                        return;
                }
        }
        if (!guest)
                record(p, "primary_disk_guest_storage", 0, n);
        char *d = disk_text(p, n, "primary_disk", 0);
        if (d) {
                free(p->config->primary_disk);
                p->config->primary_disk = d;
        }
}

static void parse_guest_disk(struct parser *p, xmlNode *n) {
        size_t index = 0;
        while (p->config->guest_disks && p->config->guest_disks[index])
                index++;
        _cleanup_free_ char *d = disk_text(p, n, "guest_disks", index);
        if (d)
                check_oom(p, install_config_add_guest_disk(p->config, d));
}

static void parse_existing_installation(struct parser *p, xmlNode *n) {
        check_fs_type(p, n);
        char *d = disk_text(p, n, "existing_installation", 0);
        if (d) {
                free(p->config->existing_installation);
                p->config->existing_installation = d;
        }
}

static void parse_backup_disk(struct parser *p, xmlNode *n) {
        char *d = disk_text(p, n, "backup_disk", 0);
        if (d) {
                free(p->config->backup_disk);
                p->config->backup_disk = d;
        }
}

/* ---- network ---- */

/* The text of N into *TARGET, recorded as FIELD; its syntax is
 * install_config_validate()'s business. */
static void set_string(struct parser *p, char **target, xmlNode *n, const char *field, const char *what) {
        _cleanup_free_ char *v = text_of_nonempty(p, n, what);
        if (!v) {
                record_bad(p, field, 0, n);
                return;
        }
        record(p, field, 0, n);
        free(*target);
        *target = TAKE_PTR(v);
}

static void parse_admin_child(struct parser *p, xmlNode *c) {
        struct admin_interface *a = &p->config->admin;
        const char *name = name_of(c);
        bool *seen;
        const char *canonical = name;

        if (streq(name, "ipaddr") || streq(name, "ip"))
                seen = &p->admin_has_ipaddr, canonical = "ipaddr";
        else if (streq(name, "subnet") || streq(name, "subnet-mask"))
                seen = &p->admin_has_subnet, canonical = "subnet";
        else if (streq(name, "gateway"))
                seen = &p->admin_has_gateway;
        else if (streq(name, "ipv6"))
                seen = &p->admin_has_ipv6;
        else if (streq(name, "gatewayv6"))
                seen = &p->admin_has_gateway6;
        else {
                bad(p, c, "unknown element <%s> in <admin-interface>", V(name));
                return;
        }
        if (c->properties)
                bad(p, c, "unknown attribute %s on <%s>", V((const char *) c->properties->name), name);
        if (*seen) {
                bad(p, c, "<admin-interface> has more than one <%s>", canonical);
                return;
        }
        *seen = true;

        if (streq(canonical, "ipaddr"))
                set_string(p, &a->ipaddr, c, "admin.ipaddr", "an IPv4 address");
        else if (streq(canonical, "subnet"))
                set_string(p, &a->subnet, c, "admin.subnet", "an IPv4 netmask");
        else if (streq(canonical, "gateway"))
                set_string(p, &a->gateway, c, "admin.gateway", "an IPv4 address");
        else if (streq(canonical, "ipv6"))
                set_string(p, &a->ipv6, c, "admin.ipv6", "an IPv6 address with prefix length");
        else
                set_string(p, &a->gateway6, c, "admin.gateway6", "an IPv6 address");

        bool v6 = streq(canonical, "ipv6") || streq(canonical, "gatewayv6");
        if (v6 ? a->proto6 != NET_PROTO_STATIC : a->proto != NET_PROTO_STATIC)
                warn(p, c, "<%s> has no effect unless %s=\"static\"", name, v6 ? "protov6" : "proto");
}

static void parse_admin_interface(struct parser *p, xmlNode *n) {
        struct admin_interface *a = &p->config->admin;
        _cleanup_free_ char *name = attr(p, n, "name"), *hwaddr = attr(p, n, "hwaddr");
        _cleanup_free_ char *proto = attr(p, n, "proto"), *proto6 = attr(p, n, "protov6");
        _cleanup_free_ char *vlan = attr(p, n, "vlan");

        p->config->has_admin_interface = true;
        record(p, "admin", 0, n);

        if (name && hwaddr)
                warn(p, n, "hwaddr on <admin-interface> has no effect when name is given");
        if (name) {
                record(p, "admin.name", 0, n);
                a->name = TAKE_PTR(name);
        } else if (hwaddr) {
                record(p, "admin.hwaddr", 0, n);
                lowercase(hwaddr);
                a->hwaddr = TAKE_PTR(hwaddr);
        }

        record(p, "admin.proto", 0, n);
        if (!proto) {
                bad(p, n, "<admin-interface> needs a proto attribute (dhcp, static or none)");
                record_bad(p, "admin.proto", 0, n);
        } else if (streq(proto, "dhcp"))
                a->proto = NET_PROTO_DHCP;
        else if (streq(proto, "static"))
                a->proto = NET_PROTO_STATIC;
        else if (streq(proto, "none"))
                a->proto = NET_PROTO_NONE;
        else {
                bad(p, n, "<admin-interface>: unknown proto \"%s\" (dhcp, static or none)", V(proto));
                record_bad(p, "admin.proto", 0, n);
        }

        if (!proto6 || streq(proto6, "none"))
                a->proto6 = NET_PROTO_NONE;
        else if (streq(proto6, "dhcp"))
                a->proto6 = NET_PROTO_DHCP;
        else if (streq(proto6, "static"))
                a->proto6 = NET_PROTO_STATIC;
        else if (streq(proto6, "autoconf"))
                a->proto6 = NET_PROTO_AUTOCONF;
        else {
                bad(p, n, "<admin-interface>: unknown protov6 \"%s\" (dhcp, static, autoconf or none)", V(proto6));
                /* Neither says what the interface does now. */
                record_bad(p, "admin.proto6", 0, n);
                record_bad(p, "admin.proto", 0, n);
        }

        if (vlan) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(vlan, &end, 10);
                record(p, "admin.vlan", 0, n);
                /* 0 would mean untagged; 1 to 4094 is checked by validation. */
                if (!isdigit((unsigned char) vlan[0]) || *end || errno || v < 1 || v > UINT16_MAX)
                        bad(p, n, "<admin-interface>: vlan \"%s\" is not a VLAN id from 1 to 4094", V(vlan));
                else
                        a->vlan = (unsigned) v;
        }

        for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type == XML_ELEMENT_NODE)
                        parse_admin_child(p, c);
                else if (c->type == XML_TEXT_NODE && !xmlIsBlankNode(c))
                        bad(p, n, "<admin-interface> holds text; the address goes into <ipaddr>");
        }
}

static size_t strv_count(char **l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static void parse_name_server(struct parser *p, xmlNode *n) {
        size_t index = strv_count(p->config->name_servers);
        _cleanup_free_ char *v = text_of_nonempty(p, n, "an IP address");
        if (!v) {
                record_bad(p, "name_servers", index, n);
                return;
        }
        record(p, "name_servers", index, n);
        check_oom(p, install_config_add_name_server(p->config, v));
}

static void parse_hostname(struct parser *p, xmlNode *n) {
        set_string(p, &p->config->hostname, n, "hostname", "a valid host name");
}

static void parse_fcoe_interface(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *name = attr(p, n, "name"), *hwaddr = attr(p, n, "hwaddr");
        if (!name && !hwaddr)
                bad(p, n, "<fcoe-interface> needs a name or a hwaddr attribute");
        else if (hwaddr && !hwaddr_is_valid(hwaddr))
                bad(p, n, "<fcoe-interface>: hwaddr '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", V(hwaddr));
        else
                warn(p, n, "<fcoe-interface> has no effect: FCoE is not supported");
}

static void parse_network_backend(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *v = text_of(p, n);
        if (!v)
                return;
        if (!streq(v, "bridge") && !streq(v, "openvswitch") && !streq(v, "vswitch"))
                bad(p, n, "<network-backend>: unknown backend '%s' (bridge, openvswitch or vswitch)", V(v));
        else
                warn(p, n, "<network-backend> has no effect: the management network is always a Linux bridge");
}

/* ---- time, keyboard, password, services ---- */

static void parse_timezone(struct parser *p, xmlNode *n) {
        set_string(p, &p->config->timezone, n, "timezone", "a time zone (Region/City)");
}

static void parse_ntp(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *source = attr(p, n, "source");
        p->ntp_given = true;
        if (!source) {
                bad(p, n, "<ntp> needs a source attribute (dhcp, default, manual or none)");
                record_bad(p, "ntp_source", 0, n);
                p->ntp_given = false;
                return;
        }
        enum ntp_source s = ntp_source_from_string(source);
        if (s == _NTP_SOURCE_MAX) {
                bad(p, n, "<ntp>: unknown source \"%s\" (dhcp, default, manual or none)", V(source));
                record_bad(p, "ntp_source", 0, n);
                p->ntp_given = false;
                return;
        }
        record(p, "ntp_source", 0, n);
        p->config->ntp_source = s;
}

static void parse_ntp_server(struct parser *p, xmlNode *n) {
        size_t index = strv_count(p->config->ntp_servers);
        _cleanup_free_ char *v = text_of_nonempty(p, n, "a host name or IP address");
        if (!v) {
                record_bad(p, "ntp_servers", index, n);
                return;
        }
        record(p, "ntp_servers", index, n);
        check_oom(p, install_config_add_ntp_server(p->config, v));
}

static void parse_keymap(struct parser *p, xmlNode *n) {
        set_string(p, &p->config->keymap, n, "keymap", "a keymap name");
}

static void parse_root_password(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *type = attr(p, n, "type");
        enum root_password_type t;

        /* Without a type XenServer's code takes the text as plaintext. */
        if (!type || streq(type, "plaintext"))
                t = ROOT_PASSWORD_PLAINTEXT;
        else if (streq(type, "hash"))
                t = ROOT_PASSWORD_HASH;
        else {
                bad(p, n, "<root-password>: unknown type \"%s\" (plaintext or hash)", V(type));
                record_bad(p, "root_password", 0, n);
                return;
        }

        /* What the password looks like is validation's business, and it
         * never describes more than its shape. */
        char *pw = text_of(p, n);
        if (!pw) {
                record_bad(p, "root_password", 0, n);
                return;
        }
        record(p, "root_password", 0, n);
        if (p->config->root_password)
                explicit_bzero(p->config->root_password, strlen(p->config->root_password));
        free(p->config->root_password);
        p->config->root_password = pw;
        p->config->root_password_type = t;
}

static void parse_ssh_mode(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *v = text_of(p, n);
        if (!v)
                return;
        lowercase(v);
        if (streq(v, "on"))
                p->config->ssh_mode = SSH_MODE_ON;
        else if (streq(v, "off"))
                p->config->ssh_mode = SSH_MODE_OFF;
        else if (streq(v, "auto")) {
                p->config->ssh_mode = SSH_MODE_ON;
                warn(p, n, "<ssh-mode>auto</ssh-mode> is taken as on: sshd always runs unless ssh-mode is off");
        } else
                bad(p, n, "<ssh-mode>: unknown mode '%s' (on or off)", V(v));
}

static void parse_service(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *name = attr(p, n, "name"), *state = attr(p, n, "state");
        bool ok = true;
        if (!name || !is_service_name(name)) {
                bad(p, n, "<service> needs a name attribute naming a service");
                ok = false;
        }
        if (!state || (!streq(state, "enabled") && !streq(state, "disabled"))) {
                bad(p, n, "<service> needs state=\"enabled\" or state=\"disabled\"");
                ok = false;
        }
        if (!ok)
                return;
        for (size_t i = 0; i < p->config->n_services; i++)
                if (streq(p->config->services[i].name, name)) {
                        bad(p, n, "<service name=\"%s\"> is given more than once", V(name));
                        return;
                }
        check_oom(p, install_config_add_service(p->config, name, streq(state, "enabled")));
}

/* ---- the rest ---- */

static void parse_ui_confirmation_prompt(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *v = text_of(p, n);
        if (!v)
                return;
        int b = parse_bool(v);
        if (b < 0)
                bad(p, n, "<ui-confirmation-prompt>: '%s' is not yes, no, true or false", V(v));
        else
                p->config->confirm_before_writing = b;
}

/* <report url="..."/>: where the install's events go (DESIGN.md section 9). */
static void parse_report(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *url = attr(p, n, "url");
        if (!url || !*url) {
                bad(p, n, "<report> needs a url attribute (http:// or https://)");
                return;
        }
        record(p, "report_url", 0, n);
        free(p->config->report_url);
        p->config->report_url = TAKE_PTR(url);
}

static void parse_bundled_packs(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *v = text_of(p, n);
        if (!v)
                return;
        int b = parse_bool(v);
        if (b < 0)
                bad(p, n, "<bundled-packs>: '%s' is not yes, no, true or false", V(v));
        else
                p->config->bundled_packs = b;
}

static void parse_bootloader(struct parser *p, xmlNode *n) {
        _cleanup_free_ char *location = attr(p, n, "location"), *wbe = attr(p, n, "write-boot-entry");
        _cleanup_free_ char *v = text_of(p, n);
        if (v && *v && !streq(v, "grub2"))
                bad(p, n, "<bootloader>: '%s' is not supported (only grub2)", V(v));
        if (location) {
                if (!streq(location, "mbr") && !streq(location, "partition"))
                        bad(p, n, "<bootloader>: unknown location \"%s\" (mbr or partition)", V(location));
                else
                        warn(p, n, "location on <bootloader> has no effect: GRUB always goes to the BIOS boot "
                                   "partition and the ESP");
        }
        if (wbe) {
                int b = parse_bool(wbe);
                if (b < 0)
                        bad(p, n, "<bootloader>: write-boot-entry=\"%s\" is not yes or no", V(wbe));
                else
                        p->config->write_boot_entry = b;
        }
}

static void parse_multiversion_drivers(struct parser *p, xmlNode *n) {
        for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if (!streq(name_of(c), "driver"))
                        bad(p, c, "unknown element <%s> in <selected-multiversion-drivers>", V(name_of(c)));
                else
                        for (xmlAttr *a = c->properties; a; a = a->next)
                                if (!streq((const char *) a->name, "name"))
                                        bad(p, c, "unknown attribute %s on <driver>", V((const char *) a->name));
        }
        warn(p, n, "<selected-multiversion-drivers> has no effect: drivers come from the dom0 kernel and packs");
}

static void parse_guest_disks(struct parser *p, xmlNode *n);

static const char *const attrs_type[] = { "type", NULL };
static const char *const attrs_script[] = { "stage", "type", NULL };
static const char *const attrs_primary_disk[] = {
        "guest-storage", "gueststorage", "sr-at-end", "preserve-first-partition", "swraid", "fs-type", NULL,
};
static const char *const attrs_fs_type[] = { "fs-type", NULL };
static const char *const attrs_admin[] = { "name", "hwaddr", "proto", "protov6", "vlan", NULL };
static const char *const attrs_iface[] = { "name", "hwaddr", NULL };
static const char *const attrs_ntp[] = { "source", NULL };
static const char *const attrs_service[] = { "name", "state", NULL };
static const char *const attrs_bootloader[] = { "location", "write-boot-entry", NULL };
static const char *const attrs_report[] = { "url", NULL };

static const struct element_rule element_rules[] = {
        { "primary-disk", MODES_FRESH, false, parse_primary_disk, attrs_primary_disk },
        { "guest-disk", MODES_FRESH, true, parse_guest_disk, NULL },
        { "guest-disks", MODES_FRESH, true, parse_guest_disks, NULL },
        { "admin-interface", MODES_FRESH, false, parse_admin_interface, attrs_admin },
        { "root-password", MODES_FRESH, false, parse_root_password, attrs_type },
        { "name-server", MODES_FRESH, true, parse_name_server, NULL },
        { "nameserver", MODES_FRESH, true, parse_name_server, NULL },
        { "hostname", MODES_FRESH, false, parse_hostname, NULL },
        { "timezone", MODES_FRESH, false, parse_timezone, NULL },
        { "ntp", MODES_FRESH, false, parse_ntp, attrs_ntp },
        { "ntp-server", MODES_FRESH, true, parse_ntp_server, NULL },
        { "ntp-servers", MODES_FRESH, true, parse_ntp_server, NULL },
        { "keymap", MODES_FRESH, false, parse_keymap, NULL },
        { "ssh-mode", MODES_FRESH, false, parse_ssh_mode, NULL },
        { "service", MODES_FRESH, true, parse_service, attrs_service },
        { "source", MODES_INSTALL, true, parse_source, attrs_type },
        { "driver-source", MODES_INSTALL, true, parse_pack, attrs_type },
        { "pack", MODES_INSTALL, true, parse_pack, attrs_type },
        { "bundled-packs", MODES_FRESH, false, parse_bundled_packs, NULL },
        { "report", MODES_ALL, false, parse_report, attrs_report },
        { "bootloader", MODES_INSTALL, false, parse_bootloader, attrs_bootloader },
        { "network-backend", MODES_INSTALL, false, parse_network_backend, NULL },
        { "existing-installation", MODES_UPGRADE, false, parse_existing_installation, attrs_fs_type },
        { "backup-disk", MODES_RESTORE, false, parse_backup_disk, NULL },
        { "script", MODES_ALL, true, parse_script, attrs_script },
        { "post-install-script", MODES_ALL, true, parse_post_install_script, attrs_type },
        { "install-failed-script", MODES_ALL, true, parse_install_failed_script, attrs_type },
        { "ui-confirmation-prompt", MODES_ALL, false, parse_ui_confirmation_prompt, NULL },
        { "selected-multiversion-drivers", MODES_ALL, false, parse_multiversion_drivers, NULL },
        { "fcoe-interface", MODES_ALL, true, parse_fcoe_interface, attrs_iface },
};

static const struct element_rule *rule_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(element_rules); i++)
                if (streq(element_rules[i].name, name))
                        return &element_rules[i];
        return NULL;
}

static const char *mode_hint(enum install_mode m) {
        switch (m) {
        case INSTALL_MODE_UPGRADE:
                return "an upgrade keeps the host's configuration";
        case INSTALL_MODE_RESTORE:
                return "a restore boots the previous version as it was";
        default:
                return "it belongs to another mode";
        }
}

static void parse_element(struct parser *p, xmlNode *n, const struct element_rule *rule, long *first_line) {
        check_attributes(p, n, rule);
        if (!rule->multiple) {
                if (*first_line > 0) {
                        bad(p, n, "<%s> appears more than once (first on line %ld)", rule->name, *first_line);
                        return;
                }
                *first_line = node_line(n);
        }
        if (!p->mode_known)
                return;
        if (!(rule->modes & MODE_BIT(p->config->mode))) {
                warn(p, n, "<%s> has no effect with mode %s: %s", rule->name,
                     install_mode_to_string(p->config->mode), mode_hint(p->config->mode));
                return;
        }
        rule->parse(p, n);
}

static void parse_guest_disks(struct parser *p, xmlNode *n) {
        const struct element_rule *rule = rule_find("guest-disk");
        long unused = 0;
        for (xmlNode *c = n->children; c; c = c->next) {
                if (c->type == XML_ELEMENT_NODE && streq(name_of(c), "guest-disk"))
                        parse_element(p, c, rule, &unused);
                else if (c->type == XML_ELEMENT_NODE)
                        bad(p, c, "unknown element <%s> in <guest-disks>", V(name_of(c)));
                else if (c->type == XML_TEXT_NODE && !xmlIsBlankNode(c))
                        bad(p, n, "<guest-disks> holds text; each disk goes into its own <guest-disk>");
        }
}

/* ---- the root element and what needs the whole file ---- */

static void parse_root(struct parser *p, xmlNode *root) {
        const char *root_name = name_of(root);
        _cleanup_free_ char *mode = attr(p, root, "mode");
        _cleanup_free_ char *sr_type = attr_alias(p, root, "sr-type", "srtype");
        struct install_config *c = p->config;

        p->root_line = node_line(root);
        p->mode_known = true;
        for (xmlAttr *a = root->properties; a; a = a->next) {
                const char *an = (const char *) a->name;
                if (!streq(an, "mode") && !streq(an, "sr-type") && !streq(an, "srtype"))
                        bad(p, root, "unknown attribute %s on <%s>", V(an), root_name);
        }

        if (streq(root_name, "installation")) {
                c->mode = INSTALL_MODE_FRESH;
                if (mode) {
                        c->mode = install_mode_from_string(mode);
                        if (c->mode == _INSTALL_MODE_MAX) {
                                bad(p, root, "unknown mode \"%s\" (fresh, reinstall, upgrade or restore)", V(mode));
                                c->mode = INSTALL_MODE_FRESH;
                                p->mode_known = false;
                        }
                }
        } else {
                /* <upgrade> and <restore> say the mode themselves; a
                 * different mode attribute is a contradiction, and guessing
                 * wrong here could wipe a disk. */
                c->mode = streq(root_name, "upgrade") ? INSTALL_MODE_UPGRADE : INSTALL_MODE_RESTORE;
                if (mode && !streq(mode, install_mode_to_string(c->mode))) {
                        bad(p, root, "<%s> cannot have mode=\"%s\"; use <installation mode=\"%s\">", root_name,
                            V(mode), V(mode));
                        p->mode_known = false;
                }
        }

        if (sr_type) {
                enum sr_type t = sr_type_from_string(sr_type);
                if (t == _SR_TYPE_MAX)
                        bad(p, root, "unknown sr-type \"%s\" (lvm or ext)", V(sr_type));
                else if (p->mode_known && c->mode != INSTALL_MODE_FRESH && c->mode != INSTALL_MODE_REINSTALL)
                        warn(p, root, "sr-type has no effect with mode %s: %s", install_mode_to_string(c->mode),
                             mode_hint(c->mode));
                else
                        c->sr_type = t;
        }

        long first_line[ELEMENTSOF(element_rules)] = {};
        for (xmlNode *n = root->children; n; n = n->next) {
                if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
                        if (!xmlIsBlankNode(n))
                                bad(p, n, "text outside any element in <%s>", root_name);
                        continue;
                }
                if (n->type == XML_ENTITY_REF_NODE) {
                        bad(p, n, "entity &%s; is not supported", V(name_of(n)));
                        continue;
                }
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                const struct element_rule *rule = rule_find(name_of(n));
                if (!rule) {
                        bad(p, n, "unknown element <%s>", V(name_of(n)));
                        continue;
                }
                parse_element(p, n, rule, &first_line[rule - element_rules]);
        }
}

/* The parent of "admin.gateway" is "admin". */
static const struct field_record *record_or_parent(struct parser *p, const char *field, size_t index,
                                                   bool *ret_exact) {
        const struct field_record *r = record_find(p, field, index);
        *ret_exact = r != NULL;
        if (r)
                return r;
        const char *dot = strrchr(field, '.');
        if (!dot)
                return NULL;
        char parent[64];
        snprintf(parent, sizeof parent, "%.*s", (int) (dot - field), field);
        return record_find(p, parent, 0);
}

/* What needs the whole file, then install_config_validate(): each of its
 * problems at the line of the element that set the field (the root
 * element's line for a field nothing set, such as a missing disk). */
static void check_whole_file(struct parser *p) {
        struct install_config *c = p->config;

        if (!p->mode_known)
                return;

        /* XenServer's rule for a file without <ntp>: servers listed mean
         * manual, a DHCP interface means DHCP. */
        if ((c->mode == INSTALL_MODE_FRESH || c->mode == INSTALL_MODE_REINSTALL) && !p->ntp_given) {
                if (c->ntp_servers)
                        c->ntp_source = NTP_SOURCE_MANUAL;
                else if (c->has_admin_interface && c->admin.proto == NET_PROTO_DHCP)
                        c->ntp_source = NTP_SOURCE_DHCP;
                else
                        c->ntp_source = NTP_SOURCE_DEFAULT;
        }

        struct config_problems vp = {};
        int r = install_config_validate(c, &vp);
        if (r == -ENOMEM)
                p->oom = true;
        for (size_t i = 0; i < vp.n; i++) {
                const struct config_problem *q = &vp.items[i];
                bool exact;
                const struct field_record *rec = record_or_parent(p, q->field, q->index, &exact);
                /* The element was there and the parser already said what
                 * was wrong with it. */
                if (rec && rec->bad)
                        continue;
                if (exact)
                        problem_at(p, !q->warning, rec->line, "<%s>: %s", rec->element, q->message);
                else
                        problem_at(p, !q->warning, rec ? rec->line : p->root_line, "%s", q->message);
        }
        config_problems_done(&vp);
}

/* libxml2's messages about bad characters quote them ("Bytes: 0xF6 0x79
 * 0x5A", "invalid xmlChar value 1"), and what is inside a value may be a
 * secret. These get a message of ours; NULL for the others. */
#if LIBXML_VERSION >= 21200
static const char *xml_error_without_bytes(const xmlError *e) {
#else
static const char *xml_error_without_bytes(xmlErrorPtr e) {
#endif
        /* libxml2 2.9 reports bad UTF-8 as an invalid character. */
        if (e->code == XML_ERR_INVALID_ENCODING || (e->message && strstr(e->message, "UTF-8")))
                return "invalid UTF-8";
        switch (e->code) {
        case XML_ERR_INVALID_CHAR:
                return "invalid character (one XML does not allow)";
        case XML_ERR_INVALID_HEX_CHARREF:
        case XML_ERR_INVALID_DEC_CHARREF:
        case XML_ERR_INVALID_CHARREF:
                return "an invalid character reference";
        case XML_ERR_UNKNOWN_ENCODING:
        case XML_ERR_UNSUPPORTED_ENCODING:
                return "an encoding this installer does not read (use UTF-8)";
        default:
                break;
        }
        if (e->domain == XML_FROM_I18N)
                return "text that is not valid in the file's encoding";
        if (e->message && (strstr(e->message, "Bytes:") || strstr(e->message, "Char 0x") ||
                           strstr(e->message, "Char value")))
                return "invalid character (one XML does not allow)";
        return NULL;
}

/* libxml2 reports well-formedness problems here instead of on stderr. */
#if LIBXML_VERSION >= 21200
static void xml_error(void *userdata, const xmlError *e) {
#else
static void xml_error(void *userdata, xmlErrorPtr e) {
#endif
        struct parser *p = userdata;
        _cleanup_free_ char *msg = NULL;
        const char *what = xml_error_without_bytes(e);
        int r;
        if (what)
                /* libxml2 would show the bytes, and they may be the root
                 * password's: the line is enough to find them. */
                r = asprintf(&msg, "%s at line %d", what, e->line);
        else
                r = (msg = strdup(e->message ? e->message : "malformed XML")) ? 0 : -1;
        if (r < 0 || !msg) {
                msg = NULL;
                p->oom = true;
                return;
        }
        strip(msg);
        /* libxml2 repeats some errors for every reference (an entity loop
         * gives one per level); once is enough for the operator. */
        if (streq_ptr(p->last_xml_error, msg))
                return;
        free(p->last_xml_error);
        p->last_xml_error = strdup(msg);
        /* Warnings (an odd XML declaration, say) do not stop the parse. */
        problem_at(p, e->level != XML_ERR_WARNING, e->line, "%s", msg);
}

/* The tree holds copies of the password and of URL credentials: they are
 * overwritten before the document is freed. */
static void doc_erase(xmlNode *n) {
        for (; n; n = n->next) {
                if (n->content && (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE ||
                                   n->type == XML_COMMENT_NODE))
                        explicit_bzero(n->content, xmlStrlen(n->content));
                if (n->type == XML_ELEMENT_NODE) {
                        for (xmlAttr *a = n->properties; a; a = a->next)
                                doc_erase(a->children);
                        doc_erase(n->children);
                }
        }
}

int answerfile_parse_memory(const char *name, const char *data, size_t len, struct answerfile_problems *problems,
                            struct install_config **ret) {
        _cleanup_install_config_ struct install_config *c = NULL;
        int r;

        assert(name && data && problems && ret);
        if (len > INT32_MAX)
                return -EFBIG;
        r = install_config_new(&c);
        if (r < 0)
                return r;

        struct parser p = { .name = name, .problems = problems, .config = c };

        /* No DTD loading, no entity substitution, no network: an answer file
         * may come from anywhere, and reading it must not reach out. */
        xmlSetStructuredErrorFunc(&p, xml_error);
        _cleanup_(xmlFreeDocp) xmlDoc *doc = xmlReadMemory(data, (int) len, name, NULL,
                                                          XML_PARSE_NONET | XML_PARSE_BIG_LINES |
                                                                  XML_PARSE_NODICT);
        xmlSetStructuredErrorFunc(NULL, NULL);
        free(p.last_xml_error);
        p.last_xml_error = NULL;

        if (doc) {
                xmlNode *root = xmlDocGetRootElement(doc);
                if (!root)
                        bad_at(&p, 1, "no root element; expected <installation>, <upgrade> or <restore>");
                else if (!streq(name_of(root), "installation") && !streq(name_of(root), "upgrade") &&
                         !streq(name_of(root), "restore"))
                        bad(&p, root, "root element is <%s>; expected <installation>, <upgrade> or <restore>",
                            V(name_of(root)));
                else {
                        parse_root(&p, root);
                        check_whole_file(&p);
                }
                doc_erase(xmlDocGetRootElement(doc));
        } else if (p.n_errors == 0)
                bad_at(&p, 0, "not an XML document");
        free(p.records);
        problems_flush(&p);

        if (p.oom)
                return -ENOMEM;
        if (p.n_errors > 0)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

int answerfile_parse_file(const char *path, struct answerfile_problems *problems, struct install_config **ret) {
        char *data = NULL;
        size_t len;
        int r = read_full_file_bounded(path, ANSWERFILE_SIZE_MAX, &data, &len);
        if (r < 0)
                return r;
        r = answerfile_parse_memory(path, data, len, problems, ret);
        /* The file may hold the root password. */
        explicit_bzero(data, len);
        free(data);
        return r;
}
