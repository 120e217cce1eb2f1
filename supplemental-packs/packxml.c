/* pack.xml: parsing and writing XenServer's XS-REPOSITORY fields with the
 * package list, requirements and their comparison. Pure: no disk. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <rpm/rpmver.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack.h"

static const char *const test_names[_PACK_TEST_MAX] = {
        [PACK_TEST_ANY] = "any", [PACK_TEST_EQ] = "eq", [PACK_TEST_NE] = "ne", [PACK_TEST_LT] = "lt",
        [PACK_TEST_LE] = "le",   [PACK_TEST_GT] = "gt", [PACK_TEST_GE] = "ge",
};
static const char *const test_operators[_PACK_TEST_MAX] = {
        [PACK_TEST_ANY] = "", [PACK_TEST_EQ] = "=",  [PACK_TEST_NE] = "!=", [PACK_TEST_LT] = "<",
        [PACK_TEST_LE] = "<=", [PACK_TEST_GT] = ">", [PACK_TEST_GE] = ">=",
};

const char *pack_test_to_string(enum pack_test t) {
        return t >= 0 && t < _PACK_TEST_MAX ? test_names[t] : NULL;
}
const char *pack_test_to_operator(enum pack_test t) {
        return t >= 0 && t < _PACK_TEST_MAX ? test_operators[t] : NULL;
}
int pack_test_from_string(const char *s) {
        for (int t = PACK_TEST_EQ; t < _PACK_TEST_MAX; t++)
                if (streq(s, test_names[t]))
                        return t;
        return -EINVAL;
}
int pack_test_from_operator(const char *s) {
        if (streq(s, "=="))
                return PACK_TEST_EQ;
        for (int t = PACK_TEST_EQ; t < _PACK_TEST_MAX; t++)
                if (streq(s, test_operators[t]))
                        return t;
        return -EINVAL;
}

int pack_version_compare(const char *a, const char *b) {
        return rpmvercmp(a, b);
}

bool pack_test_holds(enum pack_test test, const char *version, const char *want) {
        if (test == PACK_TEST_ANY)
                return true;
        if (!version || !want)
                return false;
        int c = pack_version_compare(version, want);
        switch (test) {
        case PACK_TEST_EQ: return c == 0;
        case PACK_TEST_NE: return c != 0;
        case PACK_TEST_LT: return c < 0;
        case PACK_TEST_LE: return c <= 0;
        case PACK_TEST_GT: return c > 0;
        case PACK_TEST_GE: return c >= 0;
        default: return false;
        }
}

bool pack_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 64 || !isalnum((unsigned char) s[0]))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") == n;
}

bool pack_version_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 64 || !isalnum((unsigned char) s[0]))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~^-") == n;
}

/* An RPM file name in the pack: one path component, no hidden file. */
static bool file_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 200 || s[0] == '.' || s[0] == '-' || !endswith(s, ".rpm"))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~^-") == n;
}

void pack_requirement_done(struct pack_requirement *r) {
        if (!r)
                return;
        free(r->product);
        free(r->name);
        free(r->originator);
        free(r->version);
        *r = (struct pack_requirement) {};
}

int pack_requirement_parse(const char *text, struct pack_requirement *ret, char **ret_reason) {
        _cleanup_free_ char *copy = strdup(text ?: "");
        if (!copy)
                return -ENOMEM;
        char *save = NULL, *what = strtok_r(copy, " \t", &save), *op = strtok_r(NULL, " \t", &save),
             *version = strtok_r(NULL, " \t", &save), *extra = strtok_r(NULL, " \t", &save);
        struct pack_requirement r = {};
        int t = PACK_TEST_ANY;

        if (!what || extra || (op && !version))
                return reason_set(ret_reason, "requirement '%s' is not 'xenhost OP VERSION' or 'pack:NAME [OP VERSION]'",
                                  FORMAT_VALUE(text)),
                       -EINVAL;
        if (op) {
                t = pack_test_from_operator(op);
                if (t < 0)
                        return reason_set(ret_reason, "requirement '%s': unknown operator '%s' (=, !=, <, <=, >, >=)",
                                          FORMAT_VALUE(text), FORMAT_VALUE(op)),
                               -EINVAL;
                if (!pack_version_is_valid(version))
                        return reason_set(ret_reason, "requirement '%s': '%s' is not a version", FORMAT_VALUE(text),
                                          FORMAT_VALUE(version)),
                               -EINVAL;
        }
        const char *name = startswith(what, "pack:");
        if (name) {
                if (!pack_name_is_valid(name))
                        return reason_set(ret_reason, "requirement '%s': '%s' is not a pack name", FORMAT_VALUE(text),
                                          FORMAT_VALUE(name)),
                               -EINVAL;
                r.name = strdup(name);
                if (!r.name)
                        return -ENOMEM;
        } else if (streq(what, PACK_PRODUCT)) {
                if (t == PACK_TEST_ANY)
                        return reason_set(ret_reason, "requirement '%s': a requirement on %s needs OP VERSION",
                                          FORMAT_VALUE(text), PACK_PRODUCT),
                               -EINVAL;
                r.product = strdup(PACK_PRODUCT);
                if (!r.product)
                        return -ENOMEM;
        } else
                return reason_set(ret_reason, "requirement '%s': '%s' is neither %s nor pack:NAME", FORMAT_VALUE(text),
                                  FORMAT_VALUE(what), PACK_PRODUCT),
                       -EINVAL;
        r.test = t;
        if (version && !(r.version = strdup(version))) {
                pack_requirement_done(&r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

char *pack_requirement_to_string(const struct pack_requirement *r) {
        char *s;
        const char *what = r->product ?: r->name;
        if (r->test == PACK_TEST_ANY || !r->version)
                return asprintf(&s, "%s%s", r->product ? "" : "pack:", what) < 0 ? NULL : s;
        return asprintf(&s, "%s%s %s %s", r->product ? "" : "pack:", what, pack_test_to_operator(r->test), r->version) <
                               0
                       ? NULL
                       : s;
}

void pack_info_done(struct pack_info *info) {
        if (!info)
                return;
        free(info->originator);
        free(info->name);
        free(info->product);
        free(info->version);
        free(info->build);
        free(info->description);
        for (size_t i = 0; i < info->n_requires; i++)
                pack_requirement_done(&info->requires[i]);
        free(info->requires);
        for (size_t i = 0; i < info->n_packages; i++) {
                free(info->packages[i].name);
                free(info->packages[i].file);
        }
        free(info->packages);
        *info = (struct pack_info) {};
}

/* --- parsing ------------------------------------------------------------------ */

static void xml_docp(xmlDoc **d) {
        if (*d)
                xmlFreeDoc(*d);
}
static void xml_ctxtp(xmlParserCtxt **c) {
        if (*c)
                xmlFreeParserCtxt(*c);
}

/* An attribute as a malloc'd string (NULL when absent); -ENOMEM on failure. */
static int attr(xmlNode *n, const char *name, char **ret) {
        xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        if (!v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup((const char *) v);
        xmlFree(v);
        return *ret ? 0 : -ENOMEM;
}

/* A required attribute: its absence, emptiness or a control character is
 * an error naming the element, its line and the attribute. */
static int attr_required(xmlNode *n, const char *name, char **ret, char **ret_reason) {
        _cleanup_free_ char *v = NULL;
        int r = attr(n, name, &v);
        if (r < 0)
                return r;
        if (!v || !*v)
                return reason_set(ret_reason, "pack.xml:%ld: <%s> has no %s", xmlGetLineNo(n), (const char *) n->name,
                                  name),
                       -EBADMSG;
        *ret = TAKE_PTR(v);
        return 0;
}

static bool has_control(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 && *s != '\n' && *s != '\t')
                        return true;
        return false;
}

static int parse_requirement(xmlNode *n, struct pack_requirement *ret, char **ret_reason) {
        struct pack_requirement r = {};
        _cleanup_free_ char *test = NULL;
        int k;

        if ((k = attr(n, "product", &r.product)) < 0 || (k = attr(n, "name", &r.name)) < 0 ||
            (k = attr(n, "originator", &r.originator)) < 0 || (k = attr(n, "version", &r.version)) < 0 ||
            (k = attr(n, "test", &test)) < 0)
                goto fail;
        k = -EBADMSG;
        if (!!r.product == !!r.name) {
                reason_set(ret_reason, "pack.xml:%ld: <requires> needs either product= or name=", xmlGetLineNo(n));
                goto fail;
        }
        if (r.product && !streq(r.product, PACK_PRODUCT)) {
                reason_set(ret_reason, "pack.xml:%ld: <requires> is on product '%s', not %s", xmlGetLineNo(n),
                           FORMAT_VALUE(r.product), PACK_PRODUCT);
                goto fail;
        }
        if (r.name && !pack_name_is_valid(r.name)) {
                reason_set(ret_reason, "pack.xml:%ld: <requires> name '%s' is not a pack name", xmlGetLineNo(n),
                           FORMAT_VALUE(r.name));
                goto fail;
        }
        if (test) {
                int t = pack_test_from_string(test);
                if (t < 0) {
                        reason_set(ret_reason, "pack.xml:%ld: <requires> test '%s' is not eq, ne, lt, le, gt or ge",
                                   xmlGetLineNo(n), FORMAT_VALUE(test));
                        goto fail;
                }
                r.test = t;
                if (!pack_version_is_valid(r.version)) {
                        reason_set(ret_reason, "pack.xml:%ld: <requires> version '%s' is not a version", xmlGetLineNo(n),
                                   FORMAT_VALUE(r.version));
                        goto fail;
                }
        } else if (r.version) {
                reason_set(ret_reason, "pack.xml:%ld: <requires> has a version but no test", xmlGetLineNo(n));
                goto fail;
        } else if (r.product) {
                reason_set(ret_reason, "pack.xml:%ld: <requires> on %s needs test= and version=", xmlGetLineNo(n),
                           PACK_PRODUCT);
                goto fail;
        }
        *ret = r;
        return 0;
fail:
        pack_requirement_done(&r);
        return k;
}

static int parse_package(xmlNode *n, struct pack_package *ret, char **ret_reason) {
        _cleanup_free_ char *name = NULL, *file = NULL, *size = NULL, *sha = NULL;
        int k;
        if ((k = attr_required(n, "name", &name, ret_reason)) < 0 || (k = attr_required(n, "file", &file, ret_reason)) < 0 ||
            (k = attr_required(n, "size", &size, ret_reason)) < 0 || (k = attr_required(n, "sha256", &sha, ret_reason)) < 0)
                return k;
        if (!pack_name_is_valid(name))
                return reason_set(ret_reason, "pack.xml:%ld: package name '%s' is not an RPM name", xmlGetLineNo(n),
                                  FORMAT_VALUE(name)),
                       -EBADMSG;
        if (!file_name_is_valid(file))
                return reason_set(ret_reason, "pack.xml:%ld: package file '%s' is not a file name ending in .rpm",
                                  xmlGetLineNo(n), FORMAT_VALUE(file)),
                       -EBADMSG;
        char *end;
        errno = 0;
        unsigned long long sz = strtoull(size, &end, 10);
        if (!isdigit((unsigned char) size[0]) || *end || errno)
                return reason_set(ret_reason, "pack.xml:%ld: package size '%s' is not a number", xmlGetLineNo(n),
                                  FORMAT_VALUE(size)),
                       -EBADMSG;
        if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
                return reason_set(ret_reason, "pack.xml:%ld: package sha256 '%s' is not 64 lower-case hex digits",
                                  xmlGetLineNo(n), FORMAT_VALUE(sha)),
                       -EBADMSG;
        *ret = (struct pack_package) {.name = TAKE_PTR(name), .file = TAKE_PTR(file), .size = sz};
        memcpy(ret->sha256, sha, 65);
        return 0;
}

int pack_xml_parse(const char *data, size_t len, struct pack_info *ret, char **ret_reason) {
        _cleanup_(xml_ctxtp) xmlParserCtxt *ctxt = NULL;
        _cleanup_(xml_docp) xmlDoc *doc = NULL;
        struct pack_info info = {};
        int k;

        if (len > PACK_XML_SIZE_MAX)
                return reason_set(ret_reason, "pack.xml is larger than %d KiB", PACK_XML_SIZE_MAX / 1024), -EBADMSG;
        if (memchr(data, 0, len))
                return reason_set(ret_reason, "pack.xml holds a NUL byte"), -EBADMSG;
        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        /* No network, no entity expansion, and no error printed by libxml2:
         * its last error becomes the one line. */
        doc = xmlCtxtReadMemory(ctxt, data, (int) len, PACK_XML, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
                const xmlError *e = xmlCtxtGetLastError(ctxt);
                _cleanup_free_ char *msg = strdup(e && e->message ? e->message : "not XML");
                if (!msg)
                        return -ENOMEM;
                msg[strcspn(msg, "\n")] = 0;
                return reason_set(ret_reason, "pack.xml:%d: malformed: %s", e ? e->line : 0, msg), -EBADMSG;
        }
        xmlNode *root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, (const xmlChar *) "repository"))
                return reason_set(ret_reason, "pack.xml: the root element is not <repository>"), -EBADMSG;

        if ((k = attr_required(root, "originator", &info.originator, ret_reason)) < 0 ||
            (k = attr_required(root, "name", &info.name, ret_reason)) < 0 ||
            (k = attr_required(root, "product", &info.product, ret_reason)) < 0 ||
            (k = attr_required(root, "version", &info.version, ret_reason)) < 0 || (k = attr(root, "build", &info.build)) < 0)
                goto fail;
        k = -EBADMSG;
        if (!pack_name_is_valid(info.name)) {
                reason_set(ret_reason, "pack.xml: name '%s' is not a pack name", FORMAT_VALUE(info.name));
                goto fail;
        }
        if (!pack_version_is_valid(info.version)) {
                reason_set(ret_reason, "pack.xml: version '%s' is not a version", FORMAT_VALUE(info.version));
                goto fail;
        }
        if (info.build && *info.build && !pack_version_is_valid(info.build)) {
                reason_set(ret_reason, "pack.xml: build '%s' is not a build number", FORMAT_VALUE(info.build));
                goto fail;
        }
        if (!streq(info.product, PACK_PRODUCT)) {
                reason_set(ret_reason, "pack.xml: the pack is for product '%s', not %s", FORMAT_VALUE(info.product),
                           PACK_PRODUCT);
                goto fail;
        }
        if (has_control(info.originator)) {
                reason_set(ret_reason, "pack.xml: originator holds a control character");
                goto fail;
        }

        bool seen_packages = false;
        for (xmlNode *n = root->children; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (xmlStrEqual(n->name, (const xmlChar *) "description")) {
                        xmlChar *t = xmlNodeGetContent(n);
                        free(info.description);
                        info.description = strdup(t ? (const char *) t : "");
                        xmlFree(t);
                        if (!info.description) {
                                k = -ENOMEM;
                                goto fail;
                        }
                } else if (xmlStrEqual(n->name, (const xmlChar *) "requires")) {
                        struct pack_requirement *a = reallocarray(info.requires, info.n_requires + 1, sizeof *a);
                        if (!a) {
                                k = -ENOMEM;
                                goto fail;
                        }
                        info.requires = a;
                        if ((k = parse_requirement(n, &a[info.n_requires], ret_reason)) < 0)
                                goto fail;
                        info.n_requires++;
                } else if (xmlStrEqual(n->name, (const xmlChar *) "packages")) {
                        seen_packages = true;
                        for (xmlNode *p = n->children; p; p = p->next) {
                                if (p->type != XML_ELEMENT_NODE)
                                        continue;
                                if (!xmlStrEqual(p->name, (const xmlChar *) "package")) {
                                        reason_set(ret_reason, "pack.xml:%ld: unknown element <%s> in <packages>",
                                                   xmlGetLineNo(p), FORMAT_VALUE((const char *) p->name));
                                        k = -EBADMSG;
                                        goto fail;
                                }
                                struct pack_package *a = reallocarray(info.packages, info.n_packages + 1, sizeof *a);
                                if (!a) {
                                        k = -ENOMEM;
                                        goto fail;
                                }
                                info.packages = a;
                                if ((k = parse_package(p, &a[info.n_packages], ret_reason)) < 0)
                                        goto fail;
                                for (size_t i = 0; i < info.n_packages; i++)
                                        if (streq(a[i].file, a[info.n_packages].file) ||
                                            streq(a[i].name, a[info.n_packages].name)) {
                                                reason_set(ret_reason, "pack.xml:%ld: package '%s' is listed twice",
                                                           xmlGetLineNo(p), a[i].name);
                                                info.n_packages++;
                                                k = -EBADMSG;
                                                goto fail;
                                        }
                                info.n_packages++;
                        }
                }
                /* Other elements of XenServer's format are ignored. */
        }
        k = -EBADMSG;
        if (!seen_packages || info.n_packages == 0) {
                reason_set(ret_reason, "pack.xml: no <packages> list (a pack holds at least one RPM)");
                goto fail;
        }
        for (size_t i = 0; i < info.n_requires; i++)
                if (info.requires[i].name && streq(info.requires[i].name, info.name)) {
                        reason_set(ret_reason, "pack.xml: pack %s requires itself", info.name);
                        goto fail;
                }
        *ret = info;
        return 0;
fail:
        pack_info_done(&info);
        return k;
}

/* --- writing ------------------------------------------------------------------ */

static int prop(xmlNode *n, const char *name, const char *value) {
        if (!value)
                return 0;
        return xmlNewProp(n, (const xmlChar *) name, (const xmlChar *) value) ? 0 : -ENOMEM;
}

int pack_xml_format(const struct pack_info *info, char **ret, size_t *ret_len) {
        _cleanup_(xml_docp) xmlDoc *doc = xmlNewDoc((const xmlChar *) "1.0");
        char num[32];
        if (!doc)
                return -ENOMEM;
        xmlNode *root = xmlNewNode(NULL, (const xmlChar *) "repository");
        if (!root)
                return -ENOMEM;
        xmlDocSetRootElement(doc, root);
        if (prop(root, "originator", info->originator) < 0 || prop(root, "name", info->name) < 0 ||
            prop(root, "product", info->product ?: PACK_PRODUCT) < 0 || prop(root, "version", info->version) < 0 ||
            prop(root, "build", info->build) < 0)
                return -ENOMEM;
        if (info->description && !xmlNewTextChild(root, NULL, (const xmlChar *) "description", (const xmlChar *) info->description))
                return -ENOMEM;
        for (size_t i = 0; i < info->n_requires; i++) {
                const struct pack_requirement *q = &info->requires[i];
                xmlNode *n = xmlNewChild(root, NULL, (const xmlChar *) "requires", NULL);
                if (!n || prop(n, "originator", q->originator) < 0 || prop(n, "product", q->product) < 0 ||
                    prop(n, "name", q->name) < 0 ||
                    (q->test != PACK_TEST_ANY &&
                     (prop(n, "test", pack_test_to_string(q->test)) < 0 || prop(n, "version", q->version) < 0)))
                        return -ENOMEM;
        }
        xmlNode *pk = xmlNewChild(root, NULL, (const xmlChar *) "packages", NULL);
        if (!pk)
                return -ENOMEM;
        for (size_t i = 0; i < info->n_packages; i++) {
                const struct pack_package *p = &info->packages[i];
                xmlNode *n = xmlNewChild(pk, NULL, (const xmlChar *) "package", NULL);
                snprintf(num, sizeof num, "%" PRIu64, p->size);
                if (!n || prop(n, "name", p->name) < 0 || prop(n, "file", p->file) < 0 || prop(n, "size", num) < 0 ||
                    prop(n, "sha256", p->sha256) < 0)
                        return -ENOMEM;
        }
        xmlChar *buf = NULL;
        int len = 0;
        xmlDocDumpFormatMemoryEnc(doc, &buf, &len, "UTF-8", 1);
        if (!buf)
                return -ENOMEM;
        char *s = strndup((const char *) buf, (size_t) len);
        xmlFree(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        if (ret_len)
                *ret_len = (size_t) len;
        return 0;
}

/* --- records as JSON --------------------------------------------------------- */

char *pack_info_to_json(const struct pack_info *info) {
        json_object *j = json_object_new_object(), *req = json_object_new_array(), *pk = json_object_new_array();
        json_object_object_add(j, "name", json_object_new_string(info->name));
        json_object_object_add(j, "version", json_object_new_string(info->version));
        json_object_object_add(j, "build", info->build ? json_object_new_string(info->build) : NULL);
        json_object_object_add(j, "originator", json_object_new_string(info->originator ?: ""));
        json_object_object_add(j, "description", json_object_new_string(info->description ?: ""));
        for (size_t i = 0; i < info->n_requires; i++) {
                _cleanup_free_ char *s = pack_requirement_to_string(&info->requires[i]);
                json_object_array_add(req, json_object_new_string(s ?: ""));
        }
        json_object_object_add(j, "requires", req);
        for (size_t i = 0; i < info->n_packages; i++) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "name", json_object_new_string(info->packages[i].name));
                json_object_object_add(p, "file", json_object_new_string(info->packages[i].file));
                json_object_object_add(p, "size", json_object_new_int64((int64_t) info->packages[i].size));
                json_object_object_add(p, "sha256", json_object_new_string(info->packages[i].sha256));
                json_object_array_add(pk, p);
        }
        json_object_object_add(j, "packages", pk);
        json_object_object_add(j, "installed", json_object_new_int64((int64_t) info->installed));
        char *s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return s;
}
