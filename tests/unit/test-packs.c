/* Supplemental packs: pack.xml written and read back, what it refuses, and
 * requirements with their version comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "pack.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static const char good[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<repository originator=\"acme\" name=\"acme-tools\" product=\"xenhost\" version=\"1.2\" build=\"7\">\n"
        "  <description>Acme tools</description>\n"
        "  <requires product=\"xenhost\" test=\"ge\" version=\"1.0\"/>\n"
        "  <requires name=\"acme-base\" test=\"ge\" version=\"2\"/>\n"
        "  <packages>\n"
        "    <package name=\"acme-tools\" file=\"acme-tools-1.2-7.x86_64.rpm\" size=\"1234\" sha256=\"" SHA_A "\"/>\n"
        "    <package name=\"acme-libs\" file=\"acme-libs-1.2-7.x86_64.rpm\" size=\"99\" sha256=\"" SHA_B "\"/>\n"
        "  </packages>\n"
        "</repository>\n";

static void test_parse(void **state) {
        (void) state;
        struct pack_info in = {};
        char *reason = NULL;
        assert_int_equal(pack_xml_parse(good, strlen(good), &in, &reason), 0);
        assert_string_equal(in.originator, "acme");
        assert_string_equal(in.name, "acme-tools");
        assert_string_equal(in.product, "xenhost");
        assert_string_equal(in.version, "1.2");
        assert_string_equal(in.build, "7");
        assert_string_equal(in.description, "Acme tools");
        assert_int_equal(in.n_requires, 2);
        assert_string_equal(in.requires[0].product, "xenhost");
        assert_null(in.requires[0].name);
        assert_int_equal(in.requires[0].test, PACK_TEST_GE);
        assert_string_equal(in.requires[0].version, "1.0");
        assert_string_equal(in.requires[1].name, "acme-base");
        assert_int_equal(in.n_packages, 2);
        assert_string_equal(in.packages[1].name, "acme-libs");
        assert_string_equal(in.packages[1].file, "acme-libs-1.2-7.x86_64.rpm");
        assert_int_equal(in.packages[1].size, 99);
        assert_string_equal(in.packages[1].sha256, SHA_B);
        pack_info_done(&in);
        assert_null(reason);
}

static void test_roundtrip(void **state) {
        (void) state;
        struct pack_info in = {}, again = {};
        char *text = NULL, *text2 = NULL;
        size_t len = 0, len2 = 0;
        assert_int_equal(pack_xml_parse(good, strlen(good), &in, NULL), 0);
        /* Markup in values is escaped, and read back as it was. */
        free(in.description);
        in.description = strdup("a <b> & \"c\"");
        assert_int_equal(pack_xml_format(&in, &text, &len), 0);
        assert_int_equal(strlen(text), len);
        assert_null(strstr(text, "<b>"));
        assert_int_equal(pack_xml_parse(text, len, &again, NULL), 0);
        assert_string_equal(again.description, "a <b> & \"c\"");
        assert_string_equal(again.requires[1].name, "acme-base");
        assert_string_equal(again.packages[0].sha256, SHA_A);
        /* Formatting is deterministic: the same info, the same bytes. */
        assert_int_equal(pack_xml_format(&again, &text2, &len2), 0);
        assert_string_equal(text, text2);
        free(text);
        free(text2);
        pack_info_done(&in);
        pack_info_done(&again);
}

static void expect_bad(const char *from, const char *to, const char *what) {
        char buf[4096];
        const char *at = strstr(good, from);
        assert_non_null(at);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int) (at - good), good, to, at + strlen(from));
        struct pack_info in = {};
        char *reason = NULL;
        assert_int_equal(pack_xml_parse(buf, strlen(buf), &in, &reason), -EBADMSG);
        assert_non_null(reason);
        if (!strstr(reason, what))
                fail_msg("reason '%s' lacks '%s'", reason, what);
        free(reason);
        assert_null(in.name);
}

static void test_bad(void **state) {
        (void) state;
        expect_bad("name=\"acme-tools\" product", "name=acme-tools product", "malformed");
        expect_bad(" name=\"acme-tools\"", "", "<repository> has no name");
        expect_bad("originator=\"acme\"", "originator=\"\"", "<repository> has no originator");
        expect_bad("product=\"xenhost\" version=\"1.2\"", "product=\"XenServer\" version=\"1.2\"",
                   "for product 'XenServer', not xenhost");
        expect_bad("version=\"1.2\" build", "version=\"../1\" build", "version '../1' is not a version");
        expect_bad("name=\"acme-tools\" product", "name=\"a/b\" product", "'a/b' is not a pack name");
        expect_bad("test=\"ge\" version=\"1.0\"", "test=\"gte\" version=\"1.0\"", "test 'gte' is not eq");
        expect_bad("test=\"ge\" version=\"1.0\"", "", "needs test= and version=");
        expect_bad("<requires name=\"acme-base\"", "<requires product=\"xenhost\" name=\"acme-base\"",
                   "either product= or name=");
        expect_bad("name=\"acme-base\" test", "name=\"acme-tools\" test", "requires itself");
        expect_bad("file=\"acme-tools-1.2-7.x86_64.rpm\"", "file=\"../../etc/passwd.rpm\"", "is not a file name");
        expect_bad("file=\"acme-tools-1.2-7.x86_64.rpm\"", "file=\"acme-tools.tar\"", "is not a file name");
        expect_bad("size=\"1234\"", "size=\"-1\"", "size '-1' is not a number");
        expect_bad("sha256=\"" SHA_A "\"", "sha256=\"" SHA_B "0\"", "not 64 lower-case hex digits");
        expect_bad("sha256=\"" SHA_A "\"", "", "<package> has no sha256");
        expect_bad("name=\"acme-libs\"", "name=\"acme-tools\"", "listed twice");
        expect_bad("<package name=\"acme-tools\"", "<pkg name=\"acme-tools\"", "unknown element <pkg>");
        expect_bad("<repository", "<repo", "malformed");
        expect_bad("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repository", "<?xml version=\"1.0\"?><foo/><x", "malformed");
}

static void test_not_xml(void **state) {
        (void) state;
        struct pack_info in = {};
        char *reason = NULL;
        assert_int_equal(pack_xml_parse("", 0, &in, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "malformed"));
        free(reason);
        reason = NULL;
        assert_int_equal(pack_xml_parse("<repository>\0</repository>", 26, &in, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "NUL"));
        free(reason);
        reason = NULL;
        const char *empty = "<repository originator=\"a\" name=\"n\" product=\"xenhost\" version=\"1\"><packages/></repository>";
        assert_int_equal(pack_xml_parse(empty, strlen(empty), &in, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "no <packages> list"));
        free(reason);
}

/* An external entity is never read: nothing of the file reaches a field. */
static void test_no_external_entities(void **state) {
        (void) state;
        const char *x = "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/hostname\">]>\n"
                        "<repository originator=\"a\" name=\"n\" product=\"xenhost\" version=\"1\">"
                        "<description>&e;</description><packages>"
                        "<package name=\"n\" file=\"n.rpm\" size=\"1\" sha256=\"" SHA_A "\"/>"
                        "</packages></repository>";
        struct pack_info in = {};
        char *reason = NULL;
        if (pack_xml_parse(x, strlen(x), &in, &reason) == 0) {
                assert_string_equal(in.description, "");
                pack_info_done(&in);
        }
        free(reason);
}

static void test_version_compare(void **state) {
        (void) state;
        assert_true(pack_version_compare("1.0", "1.0") == 0);
        assert_true(pack_version_compare("1.0", "1.0.1") < 0);
        assert_true(pack_version_compare("1.10", "1.9") > 0);
        assert_true(pack_version_compare("2", "1.99") > 0);
        assert_true(pack_version_compare("1.0~rc1", "1.0") < 0);
        assert_true(pack_version_compare("1.0a", "1.0") > 0);
        assert_true(pack_version_compare("1.01", "1.1") == 0);
        assert_true(pack_version_compare("7.1.0", "7.0.99") > 0);
}

static void test_tests(void **state) {
        (void) state;
        assert_true(pack_test_holds(PACK_TEST_GE, "1.2", "1.0"));
        assert_true(pack_test_holds(PACK_TEST_GE, "1.0", "1.0"));
        assert_false(pack_test_holds(PACK_TEST_GE, "0.9", "1.0"));
        assert_true(pack_test_holds(PACK_TEST_GT, "1.0.1", "1.0"));
        assert_false(pack_test_holds(PACK_TEST_GT, "1.0", "1.0"));
        assert_true(pack_test_holds(PACK_TEST_LE, "1.0", "1.0"));
        assert_true(pack_test_holds(PACK_TEST_LT, "1.9", "1.10"));
        assert_true(pack_test_holds(PACK_TEST_EQ, "2.0", "2.0"));
        assert_false(pack_test_holds(PACK_TEST_EQ, "2.0", "2.0.1"));
        assert_true(pack_test_holds(PACK_TEST_NE, "2.0", "2.1"));
        assert_true(pack_test_holds(PACK_TEST_ANY, "2.0", NULL));
        assert_false(pack_test_holds(PACK_TEST_GE, NULL, "1"));
        for (int t = PACK_TEST_EQ; t < _PACK_TEST_MAX; t++) {
                assert_int_equal(pack_test_from_string(pack_test_to_string(t)), t);
                assert_int_equal(pack_test_from_operator(pack_test_to_operator(t)), t);
        }
        assert_int_equal(pack_test_from_operator("=="), PACK_TEST_EQ);
        assert_int_equal(pack_test_from_operator("=>"), -EINVAL);
        assert_int_equal(pack_test_from_string("gte"), -EINVAL);
}

static void expect_requirement(const char *text, const char *product, const char *name, enum pack_test t,
                               const char *version) {
        struct pack_requirement r = {};
        assert_int_equal(pack_requirement_parse(text, &r, NULL), 0);
        if (product)
                assert_string_equal(r.product, product);
        else
                assert_null(r.product);
        if (name)
                assert_string_equal(r.name, name);
        else
                assert_null(r.name);
        assert_int_equal(r.test, t);
        if (version)
                assert_string_equal(r.version, version);
        else
                assert_null(r.version);
        char *back = pack_requirement_to_string(&r);
        struct pack_requirement r2 = {};
        assert_int_equal(pack_requirement_parse(back, &r2, NULL), 0);
        assert_int_equal(r2.test, r.test);
        free(back);
        pack_requirement_done(&r);
        pack_requirement_done(&r2);
}

static void expect_requirement_bad(const char *text, const char *what) {
        struct pack_requirement r = {};
        char *reason = NULL;
        assert_int_equal(pack_requirement_parse(text, &r, &reason), -EINVAL);
        if (!reason || !strstr(reason, what))
                fail_msg("reason '%s' lacks '%s'", reason ?: "(null)", what);
        free(reason);
}

static void test_requirements(void **state) {
        (void) state;
        expect_requirement("xenhost >= 1.0", "xenhost", NULL, PACK_TEST_GE, "1.0");
        expect_requirement("pack:acme-base >= 2", NULL, "acme-base", PACK_TEST_GE, "2");
        expect_requirement("pack:acme-base", NULL, "acme-base", PACK_TEST_ANY, NULL);
        expect_requirement("  pack:acme-base   =   2.0 ", NULL, "acme-base", PACK_TEST_EQ, "2.0");
        expect_requirement("xenhost != 1.5", "xenhost", NULL, PACK_TEST_NE, "1.5");
        expect_requirement_bad("xenhost", "needs OP VERSION");
        expect_requirement_bad("xenhost >=", "is not 'xenhost OP VERSION'");
        expect_requirement_bad("xenhost => 1", "unknown operator '=>'");
        expect_requirement_bad("xenhost >= 1 2", "is not 'xenhost OP VERSION'");
        expect_requirement_bad("XenServer >= 7", "neither xenhost nor pack:NAME");
        expect_requirement_bad("pack:../x >= 1", "'../x' is not a pack name");
        expect_requirement_bad("pack:x >= ../1", "'../1' is not a version");
        expect_requirement_bad("", "is not 'xenhost OP VERSION'");
}

static void test_names(void **state) {
        (void) state;
        assert_true(pack_name_is_valid("acme-tools_2.0+x"));
        assert_false(pack_name_is_valid(""));
        assert_false(pack_name_is_valid("-x"));
        assert_false(pack_name_is_valid(".hidden"));
        assert_false(pack_name_is_valid("a/b"));
        assert_false(pack_name_is_valid("a b"));
        assert_false(pack_name_is_valid("a\nb"));
        assert_true(pack_version_is_valid("1.0~rc1"));
        assert_false(pack_version_is_valid("1.0 "));
        assert_false(pack_version_is_valid("../1"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_not_xml),
                cmocka_unit_test(test_no_external_entities),
                cmocka_unit_test(test_version_compare),
                cmocka_unit_test(test_tests),
                cmocka_unit_test(test_requirements),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
