/* Writing answer files: what answerfile_write() makes of a config reads
 * back, through the same parser the unattended installer uses, into the
 * same config (install_config_print() of both is equal), for every mode and
 * every setting; writing again gives the same bytes; text that XML would
 * take for markup is escaped, not passed through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "answerfile-write.h"
#include "answerfile.h"
#include "config.h"
#include "macro.h"
#include "test-db.h"

#define SHA512_HASH "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"

static int db_setup(void **state) {
        (void) state;
        test_db_create();
        test_db_file("zoneinfo/Europe/Berlin", "TZif2");
        test_db_file("zoneinfo/Etc/UTC", "TZif2");
        test_db_file("keymaps/i386/qwerty/us.kmap.gz", "");
        test_db_file("keymaps/i386/qwertz/de.kmap.gz", "");
        return test_db_use();
}

static int db_teardown(void **state) {
        (void) state;
        return test_db_remove();
}

static struct install_config *parse(const char *xml) {
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        int r = answerfile_parse_memory("test.xml", xml, strlen(xml), &problems, &c);
        for (char **e = problems.errors; e && *e; e++)
                print_message("error: %s\n", *e);
        if (r < 0)
                print_message("in:\n%s\n", xml);
        assert_int_equal(r, 0);
        assert_non_null(c);
        answerfile_problems_done(&problems);
        return c;
}

static char *format(const struct install_config *c) {
        char *xml = NULL;
        assert_int_equal(answerfile_format(c, &xml), 0);
        assert_non_null(xml);
        return xml;
}

/* XML -> config -> written -> config: the two configs print the same, and
 * the written file, parsed and written again, is the same text. */
static void round_trip(const char *xml) {
        struct install_config *a = parse(xml), *b = NULL, *c = NULL;
        char *pa = test_config_print(a), *w1 = format(a), *pb = NULL, *w2 = NULL;

        b = parse(w1);
        pb = test_config_print(b);
        if (strcmp(pa, pb) != 0)
                print_message("written:\n%s\n", w1);
        assert_string_equal(pa, pb);
        w2 = format(b);
        assert_string_equal(w1, w2);
        c = parse(w2);
        free(test_config_print(c));
        install_config_free(a);
        install_config_free(b);
        install_config_free(c);
        free(pa);
        free(pb);
        free(w1);
        free(w2);
}

static void test_fresh_every_setting(void **state) {
        (void) state;
        round_trip("<?xml version=\"1.0\"?>\n"
                   "<installation mode=\"fresh\" srtype=\"ext\">\n"
                   "  <primary-disk guest-storage=\"yes\">sda</primary-disk>\n"
                   "  <guest-disk>sdb</guest-disk>\n"
                   "  <guest-disk>/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_XH4KN</guest-disk>\n"
                   "  <keymap>de</keymap>\n"
                   "  <root-password type=\"hash\">" SHA512_HASH "</root-password>\n"
                   "  <source type=\"local\"/>\n"
                   "  <pack type=\"local\">acme-agent.iso</pack>\n"
                   "  <pack type=\"url\">http://packs.example.com/acme-tools.iso</pack>\n"
                   "  <bundled-packs>no</bundled-packs>\n"
                   "  <admin-interface hwaddr=\"52:54:00:12:34:56\" proto=\"static\" protov6=\"static\" vlan=\"42\">\n"
                   "    <ipaddr>192.0.2.10</ipaddr>\n"
                   "    <subnet>255.255.255.0</subnet>\n"
                   "    <gateway>192.0.2.1</gateway>\n"
                   "    <ipv6>2001:db8::10/64</ipv6>\n"
                   "    <gatewayv6>2001:db8::1</gatewayv6>\n"
                   "  </admin-interface>\n"
                   "  <name-server>192.0.2.53</name-server>\n"
                   "  <name-server>192.0.2.54</name-server>\n"
                   "  <hostname>rack7-host3.example.com</hostname>\n"
                   "  <timezone>Europe/Berlin</timezone>\n"
                   "  <ntp source=\"manual\"/>\n"
                   "  <ntp-server>192.0.2.123</ntp-server>\n"
                   "  <ntp-server>ntp.example.com</ntp-server>\n"
                   "  <ssh-mode>off</ssh-mode>\n"
                   "  <service name=\"xendomains\" state=\"disabled\"/>\n"
                   "  <bootloader write-boot-entry=\"false\"/>\n"
                   "  <report url=\"https://fleet:s3cret@deploy.example.com/report?rack=7&amp;row=2\"/>\n"
                   "</installation>\n");
}

static void test_fresh_defaults_and_dhcp(void **state) {
        (void) state;
        round_trip("<installation>\n"
                   "  <primary-disk>vda</primary-disk>\n"
                   "  <root-password type=\"plaintext\">plain-Test-pw1</root-password>\n"
                   "  <source type=\"local\"/>\n"
                   "  <admin-interface name=\"eth0\" proto=\"dhcp\"/>\n"
                   "</installation>\n");
}

static void test_other_modes(void **state) {
        (void) state;
        round_trip("<installation mode=\"reinstall\">\n"
                   "  <primary-disk>vda</primary-disk>\n"
                   "  <root-password type=\"hash\">" SHA512_HASH "</root-password>\n"
                   "  <source type=\"local\"/>\n"
                   "  <admin-interface name=\"eth0\" proto=\"dhcp\"/>\n"
                   "</installation>\n");
        round_trip("<installation mode=\"upgrade\">\n"
                   "  <existing-installation>vda</existing-installation>\n"
                   "  <source type=\"local\"/>\n"
                   "</installation>\n");
        round_trip("<restore>\n"
                   "  <backup-disk>vda</backup-disk>\n"
                   "</restore>\n");
}

/* Markup in a value stays text: a password and a script's URL full of it. */
static void test_markup_is_escaped(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *a =
                parse("<installation>\n"
                      "  <primary-disk>vda</primary-disk>\n"
                      "  <root-password type=\"plaintext\">a&lt;b&gt;c&amp;d&quot;e&apos;f-Pw1</root-password>\n"
                      "  <source type=\"local\"/>\n"
                      "  <admin-interface name=\"eth0\" proto=\"dhcp\"/>\n"
                      "  <script stage=\"filesystem-populated\" type=\"url\">http://example.com/s?a=1&amp;b=&lt;2&gt;</script>\n"
                      "</installation>\n");
        _cleanup_free_ char *w = format(a);
        assert_null(strstr(w, "<b>"));
        assert_non_null(strstr(w, "a&lt;b&gt;c&amp;d&quot;e&apos;f-Pw1"));
        assert_non_null(strstr(w, "a=1&amp;b=&lt;2&gt;"));
        _cleanup_install_config_ struct install_config *b = parse(w);
        _cleanup_free_ char *pa = test_config_print(a), *pb = test_config_print(b);
        assert_string_equal(pa, pb);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_every_setting),
                cmocka_unit_test(test_fresh_defaults_and_dhcp),
                cmocka_unit_test(test_other_modes),
                cmocka_unit_test(test_markup_is_escaped),
        };
        return cmocka_run_group_tests(tests, db_setup, db_teardown);
}
