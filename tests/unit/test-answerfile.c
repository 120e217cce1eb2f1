/* Answer-file parsing: XenServer-style files for every mode, the deprecated
 * spellings XenServer still accepts, every kind of bad input with its
 * FILE:LINE message, warnings for what has no effect, and redaction. */
#include <fcntl.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "answerfile.h"
#include "config.h"
#include "macro.h"
#include "test-db.h"

#define F "test.xml"

/* Real crypt(3) strings (of "secret"): validation checks their form. */
#define YESCRYPT_HASH "$y$j9T$kCQgsT0Ocyv7.tz/Qo2xO1$O3O1Ur8eRIlNt5v.VfI/YmGKv4eldjBU0n9GLInLY59"
#define SHA512_HASH "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"

static int db_setup(void **state) {
        (void) state;
        test_db_create();
        test_db_file("zoneinfo/Europe/London", "TZif2 London");
        test_db_file("zoneinfo/Etc/UTC", "TZif2 UTC");
        test_db_file("keymaps/i386/qwerty/us.kmap.gz", "");
        test_db_file("keymaps/i386/qwerty/uk.kmap.gz", "");
        test_db_file("keymaps/i386/qwertz/de-latin1.kmap.gz", "");
        return test_db_use();
}

static int db_teardown(void **state) {
        (void) state;
        return test_db_remove();
}

static struct install_config *parse_ok_with(const char *xml, struct answerfile_problems *problems) {
        struct install_config *c = NULL;
        int r = answerfile_parse_memory(F, xml, strlen(xml), problems, &c);
        for (char **e = problems->errors; e && *e; e++)
                print_message("unexpected: %s\n", *e);
        assert_int_equal(r, 0);
        assert_int_equal(problems->n_errors, 0);
        assert_non_null(c);
        return c;
}

/* Parses XML that must be accepted without any warning. */
static struct install_config *parse_ok(const char *xml) {
        struct answerfile_problems problems = {};
        struct install_config *c = parse_ok_with(xml, &problems);
        size_t n = 0;
        for (char **w = problems.warnings; w && *w; w++, n++)
                print_message("unexpected: %s\n", *w);
        assert_int_equal(n, 0);
        answerfile_problems_done(&problems);
        return c;
}

/* Parses XML that must be rejected with exactly the errors listed, in order. */
static void expect_errors(const char *xml, const char *const *want, size_t n_want) {
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        int r = answerfile_parse_memory(F, xml, strlen(xml), &problems, &c);
        for (char **e = problems.errors; e && *e; e++)
                print_message("got: %s\n", *e);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_int_equal(problems.n_errors, n_want);
        for (size_t i = 0; i < n_want; i++)
                assert_string_equal(problems.errors[i], want[i]);
        assert_null(problems.errors[n_want]);
        answerfile_problems_done(&problems);
}

#define EXPECT_ERRORS(xml, ...)                                                          \
        do {                                                                             \
                const char *const want_[] = { __VA_ARGS__ };                             \
                expect_errors((xml), want_, ELEMENTSOF(want_));                          \
        } while (0)

/* Parses XML that must be accepted with exactly one warning, WANT. */
static struct install_config *expect_warning(const char *xml, const char *want) {
        struct answerfile_problems problems = {};
        struct install_config *c = parse_ok_with(xml, &problems);
        const char *got = NULL;
        size_t n = 0;
        for (char **w = problems.warnings; w && *w; w++) {
                print_message("got: %s\n", *w);
                if (n++ == 0)
                        got = *w;
        }
        assert_int_equal(n, 1);
        assert_string_equal(got, want);
        answerfile_problems_done(&problems);
        return c;
}

/* The smallest fresh install XenServer accepts; tests splice in one line. */
#define FRESH_HEAD "<installation>\n<primary-disk>sda</primary-disk>\n<source type=\"local\"/>\n"
#define FRESH_IF "<admin-interface name=\"eth0\" proto=\"dhcp\"/>\n"
#define FRESH(line4) FRESH_HEAD FRESH_IF line4 "\n</installation>\n"

static void test_fresh_full(void **state) {
        (void) state;
        static const char xml[] =
                "<?xml version=\"1.0\"?>\n"
                "<installation mode=\"fresh\" sr-type=\"ext\">\n"
                "  <primary-disk guest-storage=\"no\">/dev/disk/by-id/wwn-0x5000c500a1b2c3d4</primary-disk>\n"
                "  <guest-disk>sdb</guest-disk>\n"
                "  <guest-disks><guest-disk>nvme0n1</guest-disk></guest-disks>\n"
                "  <keymap>de-latin1</keymap>\n"
                "  <root-password type=\"hash\">" YESCRYPT_HASH "</root-password>\n"
                "  <source type=\"local\"/>\n"
                "  <driver-source type=\"url\">https://example.com/drivers.iso</driver-source>\n"
                "  <pack type=\"url\">http://example.com/vendor-pack.iso</pack>\n"
                "  <admin-interface name=\"eth1\" proto=\"dhcp\" vlan=\"42\"/>\n"
                "  <name-server>192.0.2.53</name-server>\n"
                "  <name-server>2001:db8::53</name-server>\n"
                "  <hostname>host1.example.com</hostname>\n"
                "  <timezone>Europe/London</timezone>\n"
                "  <ntp source=\"manual\"/>\n"
                "  <ntp-server>pool.ntp.org</ntp-server>\n"
                "  <ntp-server>192.0.2.123</ntp-server>\n"
                "  <ssh-mode>OFF</ssh-mode>\n"
                "  <service name=\"sshd\" state=\"disabled\"/>\n"
                "  <service name=\"snmpd\" state=\"enabled\"/>\n"
                "  <script stage=\"filesystem-populated\" type=\"url\">http://example.com/post.sh</script>\n"
                "  <script stage=\"Installation-Start\" type=\"NFS\">server:/scripts/start.sh</script>\n"
                "  <ui-confirmation-prompt>true</ui-confirmation-prompt>\n"
                "  <bootloader write-boot-entry=\"false\">grub2</bootloader>\n"
                "</installation>\n";
        _cleanup_install_config_ struct install_config *c = parse_ok(xml);

        assert_int_equal(c->mode, INSTALL_MODE_FRESH);
        assert_int_equal(c->sr_type, SR_EXT);
        assert_string_equal(c->primary_disk, "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4");
        assert_false(c->primary_disk_guest_storage);
        assert_string_equal(c->guest_disks[0], "sdb");
        assert_string_equal(c->guest_disks[1], "nvme0n1");
        assert_null(c->guest_disks[2]);
        assert_string_equal(c->keymap, "de-latin1");
        assert_int_equal(c->root_password_type, ROOT_PASSWORD_HASH);
        assert_string_equal(c->root_password, YESCRYPT_HASH);
        assert_int_equal(c->n_sources, 1);
        assert_int_equal(c->sources[0].type, LOCATION_LOCAL);
        assert_int_equal(c->n_packs, 2);
        assert_string_equal(c->packs[0].address, "https://example.com/drivers.iso");
        assert_string_equal(c->packs[1].address, "http://example.com/vendor-pack.iso");
        assert_true(c->has_admin_interface);
        assert_string_equal(c->admin.name, "eth1");
        assert_null(c->admin.hwaddr);
        assert_int_equal(c->admin.proto, NET_PROTO_DHCP);
        assert_int_equal(c->admin.proto6, NET_PROTO_NONE);
        assert_int_equal(c->admin.vlan, 42);
        assert_string_equal(c->name_servers[0], "192.0.2.53");
        assert_string_equal(c->name_servers[1], "2001:db8::53");
        assert_string_equal(c->hostname, "host1.example.com");
        assert_string_equal(c->timezone, "Europe/London");
        assert_int_equal(c->ntp_source, NTP_SOURCE_MANUAL);
        assert_string_equal(c->ntp_servers[0], "pool.ntp.org");
        assert_string_equal(c->ntp_servers[1], "192.0.2.123");
        assert_int_equal(c->ssh_mode, SSH_MODE_OFF);
        assert_int_equal(c->n_services, 2);
        assert_string_equal(c->services[0].name, "sshd");
        assert_false(c->services[0].enabled);
        assert_true(c->services[1].enabled);
        assert_int_equal(c->n_scripts, 2);
        assert_int_equal(c->scripts[0].stage, SCRIPT_STAGE_FILESYSTEM_POPULATED);
        assert_int_equal(c->scripts[0].location.type, LOCATION_URL);
        assert_int_equal(c->scripts[1].stage, SCRIPT_STAGE_INSTALLATION_START);
        assert_int_equal(c->scripts[1].location.type, LOCATION_NFS);
        assert_string_equal(c->scripts[1].location.address, "server:/scripts/start.sh");
        assert_true(c->confirm_before_writing);
        assert_false(c->write_boot_entry);
}

static void test_fresh_defaults(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = parse_ok(FRESH(""));
        assert_int_equal(c->mode, INSTALL_MODE_FRESH);
        assert_int_equal(c->sr_type, SR_LVM);
        assert_true(c->primary_disk_guest_storage);
        assert_null(c->guest_disks);
        assert_int_equal(c->root_password_type, ROOT_PASSWORD_UNSET);
        assert_null(c->root_password);
        assert_int_equal(c->n_sources, 1);
        assert_int_equal(c->sources[0].type, LOCATION_LOCAL);
        assert_null(c->sources[0].address);
        assert_null(c->hostname);
        assert_null(c->timezone);
        /* No <ntp>, no servers, DHCP interface: NTP from DHCP, as XenServer. */
        assert_int_equal(c->ntp_source, NTP_SOURCE_DHCP);
        assert_int_equal(c->ssh_mode, SSH_MODE_ON);
        assert_true(c->write_boot_entry);
        assert_false(c->confirm_before_writing);
}

static void test_reinstall(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = parse_ok(
                "<installation mode=\"reinstall\" srtype=\"lvm\">\n<primary-disk>nvme0n1</primary-disk>\n"
                "<source type=\"local\"/>\n" FRESH_IF "</installation>\n");
        assert_int_equal(c->mode, INSTALL_MODE_REINSTALL);
        assert_int_equal(c->sr_type, SR_LVM);
        assert_string_equal(c->primary_disk, "nvme0n1");
}

static void test_upgrade(void **state) {
        (void) state;
        static const char *const files[] = {
                "<installation mode=\"upgrade\">\n"
                "  <existing-installation>sda</existing-installation>\n"
                "  <source type=\"local\"/>\n"
                "</installation>\n",
                "<upgrade>\n"
                "  <existing-installation>sda</existing-installation>\n"
                "  <source type=\"local\"/>\n"
                "</upgrade>\n",
                "<upgrade mode=\"upgrade\">\n"
                "  <existing-installation fs-type=\"ext4\">sda</existing-installation>\n"
                "  <source type=\"local\"/>\n"
                "  <pack type=\"url\">nfs://server:/packs/p.iso</pack>\n"
                "</upgrade>\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct answerfile_problems problems = {};
                _cleanup_install_config_ struct install_config *c = parse_ok_with(files[i], &problems);
                assert_int_equal(c->mode, INSTALL_MODE_UPGRADE);
                assert_string_equal(c->existing_installation, "sda");
                assert_int_equal(c->n_sources, 1);
                answerfile_problems_done(&problems);
        }
        /* A url that is nfs:// becomes an NFS source, as in XenServer. */
        _cleanup_install_config_ struct install_config *c = expect_warning(
                files[2], F ":2: warning: fs-type on <existing-installation> has no effect: dom0 slots are always ext4");
        assert_int_equal(c->packs[0].type, LOCATION_NFS);
        assert_string_equal(c->packs[0].address, "server:/packs/p.iso");
}

static void test_upgrade_ignores_fresh_settings(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = expect_warning(
                "<installation mode=\"upgrade\">\n"
                "  <existing-installation>sda</existing-installation>\n"
                "  <source type=\"local\"/>\n"
                "  <hostname>other</hostname>\n"
                "</installation>\n",
                F ":4: warning: <hostname> has no effect with mode upgrade: an upgrade keeps the host's "
                  "configuration");
        assert_null(c->hostname);
}

static void test_restore(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *a =
                parse_ok("<restore>\n  <backup-disk>sda</backup-disk>\n</restore>\n");
        assert_int_equal(a->mode, INSTALL_MODE_RESTORE);
        assert_string_equal(a->backup_disk, "sda");

        _cleanup_install_config_ struct install_config *b =
                parse_ok("<installation mode=\"restore\"><backup-disk>/dev/sdb</backup-disk></installation>");
        assert_int_equal(b->mode, INSTALL_MODE_RESTORE);
        assert_string_equal(b->backup_disk, "/dev/sdb");

        /* XenServer finds the only backup when none is named. */
        _cleanup_install_config_ struct install_config *c = parse_ok("<restore/>");
        assert_int_equal(c->mode, INSTALL_MODE_RESTORE);
        assert_null(c->backup_disk);

        _cleanup_install_config_ struct install_config *d = expect_warning(
                "<restore>\n<primary-disk>sda</primary-disk>\n</restore>\n",
                F ":2: warning: <primary-disk> has no effect with mode restore: a restore boots the previous "
                  "version as it was");
        assert_null(d->primary_disk);
}

static void test_deprecated_spellings(void **state) {
        (void) state;
        static const char xml[] =
                "<installation srtype=\"ext\">\n"
                "  <primary-disk gueststorage=\"false\">sda</primary-disk>\n"
                "  <source type=\"local\"/>\n"
                "  <admin-interface hwaddr=\"00:16:3E:AA:bb:01\" proto=\"static\">\n"
                "    <ip>192.0.2.10</ip>\n"
                "    <subnet-mask>255.255.254.0</subnet-mask>\n"
                "    <gateway>192.0.2.1</gateway>\n"
                "  </admin-interface>\n"
                "  <nameserver>192.0.2.53</nameserver>\n"
                "  <ntp-servers>ntp.example.com</ntp-servers>\n"
                "  <root-password>plain pass</root-password>\n"
                "  <post-install-script>http://example.com/post.sh</post-install-script>\n"
                "  <install-failed-script type=\"nfs\">nfs://server:/failed.sh</install-failed-script>\n"
                "</installation>\n";
        /* guest-storage="no" is for the plan to judge (it has no effect:
         * the SR always takes the rest of the primary disk). */
        _cleanup_install_config_ struct install_config *c = parse_ok(xml);
        assert_int_equal(c->sr_type, SR_EXT);
        assert_false(c->primary_disk_guest_storage);
        assert_null(c->admin.name);
        assert_string_equal(c->admin.hwaddr, "00:16:3e:aa:bb:01");
        assert_int_equal(c->admin.proto, NET_PROTO_STATIC);
        assert_string_equal(c->admin.ipaddr, "192.0.2.10");
        assert_string_equal(c->admin.subnet, "255.255.254.0");
        assert_string_equal(c->admin.gateway, "192.0.2.1");
        assert_string_equal(c->name_servers[0], "192.0.2.53");
        assert_int_equal(c->ntp_source, NTP_SOURCE_MANUAL);
        assert_string_equal(c->ntp_servers[0], "ntp.example.com");
        /* No type: plaintext, as XenServer's code does. */
        assert_int_equal(c->root_password_type, ROOT_PASSWORD_PLAINTEXT);
        assert_string_equal(c->root_password, "plain pass");
        assert_int_equal(c->n_scripts, 2);
        assert_int_equal(c->scripts[0].stage, SCRIPT_STAGE_FILESYSTEM_POPULATED);
        assert_int_equal(c->scripts[0].location.type, LOCATION_URL);
        assert_int_equal(c->scripts[1].stage, SCRIPT_STAGE_INSTALLATION_COMPLETE);
        assert_int_equal(c->scripts[1].location.type, LOCATION_NFS);
        assert_string_equal(c->scripts[1].location.address, "server:/failed.sh");

        /* Both spellings agreeing is fine; disagreeing is not. */
        _cleanup_install_config_ struct install_config *d = parse_ok(
                "<installation sr-type=\"ext\" srtype=\"ext\">\n<primary-disk>sda</primary-disk>\n"
                "<source type=\"local\"/>\n" FRESH_IF "</installation>\n");
        assert_int_equal(d->sr_type, SR_EXT);
        EXPECT_ERRORS("<installation sr-type=\"ext\" srtype=\"lvm\">\n<primary-disk>sda</primary-disk>\n"
                      "<source type=\"local\"/>\n" FRESH_IF "</installation>\n",
                      F ":1: <installation> has both sr-type=\"ext\" and srtype=\"lvm\"");
}

static void test_static_and_ipv6(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = parse_ok(
                FRESH_HEAD
                "<admin-interface name=\"eno1\" proto=\"static\" protov6=\"static\">\n"
                "  <ipaddr>10.0.0.5</ipaddr><subnet>255.0.0.0</subnet><gateway>10.0.0.1</gateway>\n"
                "  <ipv6>2001:db8::5/64</ipv6><gatewayv6>fe80::1</gatewayv6>\n"
                "</admin-interface>\n"
                "</installation>\n");
        assert_int_equal(c->admin.proto, NET_PROTO_STATIC);
        assert_string_equal(c->admin.ipaddr, "10.0.0.5");
        assert_int_equal(c->admin.proto6, NET_PROTO_STATIC);
        assert_string_equal(c->admin.ipv6, "2001:db8::5/64");
        assert_string_equal(c->admin.gateway6, "fe80::1");
        /* Static without <ntp>: the default servers, not DHCP's. */
        assert_int_equal(c->ntp_source, NTP_SOURCE_DEFAULT);

        _cleanup_install_config_ struct install_config *d = parse_ok(
                FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"none\" protov6=\"autoconf\"/>\n</installation>\n");
        assert_int_equal(d->admin.proto, NET_PROTO_NONE);
        assert_int_equal(d->admin.proto6, NET_PROTO_AUTOCONF);

        /* Addresses with DHCP are accepted, and said to do nothing. */
        _cleanup_install_config_ struct install_config *e = expect_warning(
                FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"dhcp\">\n<ipaddr>10.0.0.5</ipaddr>\n"
                           "</admin-interface>\n</installation>\n",
                F ":5: warning: <ipaddr> has no effect unless proto=\"static\"");
        assert_int_equal(e->admin.proto, NET_PROTO_DHCP);
}

static void test_hwaddr(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c =
                parse_ok(FRESH_HEAD "<admin-interface hwaddr=\"52:54:00:12:34:56\" proto=\"dhcp\"/>\n</installation>");
        assert_null(c->admin.name);
        assert_string_equal(c->admin.hwaddr, "52:54:00:12:34:56");

        static const char *const bad[] = { "52:54:00:12:34", "52-54-00-12-34-56", "52:54:00:12:34:5g",
                                           "5254.0012.3456", "" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char xml[512], want[256];
                snprintf(xml, sizeof xml, FRESH_HEAD "<admin-interface hwaddr=\"%s\" proto=\"dhcp\"/>\n</installation>",
                         bad[i]);
                snprintf(want, sizeof want,
                         F ":4: <admin-interface>: hwaddr '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", bad[i]);
                EXPECT_ERRORS(xml, want);
        }
}

/* One bad thing per file, and the exact line that names it. */
static void test_bad_values(void **state) {
        (void) state;
        static const struct {
                const char *xml;
                const char *error;
        } cases[] = {
                { "<installation mode=\"sideways\"/>", F ":1: unknown mode \"sideways\" (fresh, reinstall, upgrade or restore)" },
                { "<upgrade mode=\"fresh\"/>", F ":1: <upgrade> cannot have mode=\"fresh\"; use <installation mode=\"fresh\">" },
                { "<install/>", F ":1: root element is <install>; expected <installation>, <upgrade> or <restore>" },
                { "<installation sr-type=\"zfs\">\n<primary-disk>sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF "</installation>",
                  F ":1: unknown sr-type \"zfs\" (lvm or ext)" },
                { FRESH("<hostname>-host</hostname>"), F ":5: <hostname>: '-host' is not a valid host name" },
                { FRESH("<hostname>host_1</hostname>"), F ":5: <hostname>: 'host_1' is not a valid host name" },
                { FRESH("<hostname>a..b</hostname>"), F ":5: <hostname>: 'a..b' is not a valid host name" },
                { FRESH("<hostname></hostname>"), F ":5: <hostname> is empty; it needs a valid host name" },
                { FRESH("<name-server>192.0.2.300</name-server>"), F ":5: <name-server>: '192.0.2.300' is not an IP address" },
                { FRESH("<ntp-server>bad server</ntp-server>"), F ":5: <ntp-server>: 'bad server' is not a host name or IP address" },
                { FRESH("<ntp source=\"sometimes\"/>"), F ":5: <ntp>: unknown source \"sometimes\" (dhcp, default, manual or none)" },
                { FRESH("<ntp source=\"manual\"/>"), F ":5: <ntp>: NTP source manual needs at least one NTP server" },
                { FRESH("<ntp source=\"dhcp\"/><ntp-server>pool.ntp.org</ntp-server>"),
                  F ":5: <ntp-server>: NTP servers need NTP source manual (the source is dhcp)" },
                { FRESH("<timezone>../../etc/passwd</timezone>"), F ":5: <timezone>: '../../etc/passwd' is not a time zone (Region/City)" },
                { FRESH("<keymap>us;rm</keymap>"), F ":5: <keymap>: 'us;rm' is not a keymap name" },
                { FRESH("<ssh-mode>maybe</ssh-mode>"), F ":5: <ssh-mode>: unknown mode 'maybe' (on or off)" },
                { FRESH("<root-password type=\"md5\">x</root-password>"), F ":5: <root-password>: unknown type \"md5\" (plaintext or hash)" },
                { FRESH("<root-password></root-password>"), F ":5: <root-password>: the plaintext password is empty" },
                { FRESH("<script stage=\"later\" type=\"url\">http://x/s</script>"),
                  F ":5: <script>: unknown stage \"later\" (installation-start, packages-installed, filesystem-populated or installation-complete)" },
                { FRESH("<script stage=\"installation-start\" type=\"local\">x</script>"), F ":5: <script>: unknown type \"local\" (url or nfs)" },
                { FRESH("<script stage=\"installation-start\">http://x/s</script>"), F ":5: <script> needs a type attribute (url or nfs)" },
                { FRESH("<pack type=\"url\">gopher://x/p.iso</pack>"),
                  F ":5: <pack>: 'gopher://x/p.iso' is not an http://, https://, ftp://, file:// or nfs:// URL" },
                { FRESH("<pack type=\"url\">http:///p.iso</pack>"), F ":5: <pack>: 'http:///p.iso' is not a valid URL (it needs a host)" },
                { FRESH("<pack type=\"local\">../p.iso</pack>"),
                  F ":5: <pack>: '../p.iso' is not the file name of a pack in the install media's packs/" },
                { FRESH("<bundled-packs>some</bundled-packs>"), F ":5: <bundled-packs>: 'some' is not yes, no, true or false" },
                { FRESH("<report url=\"ftp://fleet/report\"/>"),
                  F ":5: <report>: 'ftp://fleet/report' is not an http:// or https:// URL" },
                { FRESH("<report/>"), F ":5: <report> needs a url attribute (http:// or https://)" },
                { FRESH("<driver-source type=\"nfs\">server/path</driver-source>"),
                  F ":5: <driver-source>: 'server/path' is not an NFS location (server:/path)" },
                { FRESH("<driver-source>http://x/d.iso</driver-source>"), F ":5: <driver-source> needs a type attribute (local, url or nfs)" },
                { FRESH("<service name=\"sshd\" state=\"on\"/>"), F ":5: <service> needs state=\"enabled\" or state=\"disabled\"" },
                { FRESH("<service name=\"a\" state=\"enabled\"/>\n<service name=\"a\" state=\"disabled\"/>"),
                  F ":6: <service name=\"a\"> is given more than once" },
                { FRESH("<ui-confirmation-prompt>perhaps</ui-confirmation-prompt>"),
                  F ":5: <ui-confirmation-prompt>: 'perhaps' is not yes, no, true or false" },
                { FRESH("<bootloader>extlinux</bootloader>"), F ":5: <bootloader>: 'extlinux' is not supported (only grub2)" },
                { FRESH("<network-backend>tokenring</network-backend>"),
                  F ":5: <network-backend>: unknown backend 'tokenring' (bridge, openvswitch or vswitch)" },
                { FRESH("<guest-disk>sd b</guest-disk>"), F ":5: <guest-disk>: 'sd b' is not a disk name" },
                { FRESH("<guest-disk>iscsi:192.0.2.9::3260:0:iqn.x</guest-disk>"),
                  F ":5: <guest-disk>: iSCSI boot disks (iscsi:...) are not supported" },
                { FRESH("<guest-disks><disk>sdb</disk></guest-disks>"), F ":5: unknown element <disk> in <guest-disks>" },
                { FRESH("<hostname>a</hostname><hostname>b</hostname>"), F ":5: <hostname> appears more than once (first on line 5)" },
                { FRESH("<hostname>a<b/></hostname>"), F ":5: <b> is not allowed inside <hostname>" },
                { FRESH("stray"), F ":5: text outside any element in <installation>" },
                { "<installation>\n<primary-disk swraid=\"yes\">sda,sdb</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF "</installation>",
                  F ":2: <primary-disk swraid=\"yes\">: software RAID is not supported" },
                { "<installation>\n<primary-disk preserve-first-partition=\"always\">sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF "</installation>",
                  F ":2: <primary-disk>: preserve-first-partition=\"always\" is not yes, no or if-utility" },
                { "<installation>\n<primary-disk fs-type=\"btrfs\">sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF "</installation>",
                  F ":2: <primary-disk>: unknown fs-type \"btrfs\" (ext3 or ext4)" },
                { "<installation>\n<primary-disk>sda</primary-disk>\n<source type=\"cdrom\"/>\n" FRESH_IF "</installation>",
                  F ":3: <source>: unknown type \"cdrom\" (local, url or nfs)" },
                /* the network */
                { FRESH_HEAD "<admin-interface proto=\"dhcp\"/>\n</installation>",
                  F ":4: the management interface needs a name or a MAC address (hwaddr)" },
                { FRESH_HEAD "<admin-interface name=\"eth0\"/>\n</installation>", F ":4: <admin-interface> needs a proto attribute (dhcp, static or none)" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"bootp\"/>\n</installation>",
                  F ":4: <admin-interface>: unknown proto \"bootp\" (dhcp, static or none)" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"dhcp\" protov6=\"slaac\"/>\n</installation>",
                  F ":4: <admin-interface>: unknown protov6 \"slaac\" (dhcp, static, autoconf or none)" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"none\"/>\n</installation>",
                  F ":4: <admin-interface>: with proto none the interface needs protov6 (dhcp, static or autoconf)" },
                { FRESH_HEAD "<admin-interface name=\"eth0/1\" proto=\"dhcp\"/>\n</installation>",
                  F ":4: <admin-interface>: 'eth0/1' is not a network interface name" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"dhcp\" vlan=\"4095\"/>\n</installation>",
                  F ":4: <admin-interface>: vlan \"4095\" is not a VLAN id from 1 to 4094" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\">\n<ipaddr>10.0.0.5</ipaddr>\n"
                             "<subnet>255.0.255.0</subnet>\n<gateway>10.0.0.1</gateway>\n</admin-interface>\n</installation>",
                  F ":6: <subnet>: '255.0.255.0' is not an IPv4 netmask" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\">\n<ipaddr>10.0.0.256</ipaddr>\n"
                             "<subnet>255.0.0.0</subnet>\n<gateway>10.0.0.1</gateway>\n</admin-interface>\n</installation>",
                  F ":5: <ipaddr>: '10.0.0.256' is not an IPv4 address" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"dhcp\" protov6=\"static\">\n<ipv6>2001:db8::5</ipv6>\n"
                             "<gatewayv6>2001:db8::1</gatewayv6>\n</admin-interface>\n</installation>",
                  F ":5: <ipv6>: '2001:db8::5' is not an IPv6 address with prefix length" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"dhcp\" protov6=\"static\">\n<ipv6>2001:db8::5/64</ipv6>\n"
                             "</admin-interface>\n</installation>",
                  F ":4: static IPv6 needs a gateway (gatewayv6)" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\">\n<ip>10.0.0.5</ip>\n<ipaddr>10.0.0.6</ipaddr>\n"
                             "<subnet>255.0.0.0</subnet>\n<gateway>10.0.0.1</gateway>\n</admin-interface>\n</installation>",
                  F ":6: <admin-interface> has more than one <ipaddr>" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"dhcp\">\n<mtu>9000</mtu>\n</admin-interface>\n</installation>",
                  F ":5: unknown element <mtu> in <admin-interface>" },
                /* what each mode requires */
                { "<installation>\n<source type=\"local\"/>\n" FRESH_IF "</installation>", F ":1: primary-disk is required with mode fresh" },
                { "<installation mode=\"reinstall\">\n<primary-disk>sda</primary-disk>\n" FRESH_IF "</installation>",
                  F ":1: source is required with mode reinstall (source type local for the install media)" },
                { "<upgrade>\n<source type=\"local\"/>\n</upgrade>", F ":1: existing-installation is required with mode upgrade" },
                /* not XML, or XML we do not expand */
                { "", F ": not an XML document" },
                { "<installation>\n<hostname>h</hostname>\n", F ":3: Premature end of data in tag installation line 1" },
                { "<?xml version=\"1.0\"?>\n<!DOCTYPE installation [<!ENTITY e SYSTEM \"file:///etc/hostname\">]>\n"
                  "<installation>\n<primary-disk>sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF
                  "<hostname>&e;</hostname>\n</installation>",
                  F ":7: entity &e; is not supported in <hostname>" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                print_message("case %zu: %s\n", i, cases[i].error);
                expect_errors(cases[i].xml, &cases[i].error, 1);
        }
}

/* Entities are never expanded: neither a file (XXE) nor an exponential
 * blow-up (billion laughs) gets into a value. */
static void test_entities_are_not_expanded(void **state) {
        (void) state;
        static const char xml[] =
                "<?xml version=\"1.0\"?>\n"
                "<!DOCTYPE installation [\n"
                " <!ENTITY a \"aaaaaaaaaa\">\n"
                " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
                " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
                " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
                " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
                " <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
                " <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
                " <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
                "]>\n"
                "<installation>\n<primary-disk>sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF
                "<hostname>&h;</hostname>\n</installation>\n";
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        assert_int_equal(answerfile_parse_memory(F, xml, strlen(xml), &problems, &c), -EINVAL);
        assert_null(c);
        assert_true(problems.n_errors >= 1);
        for (char **e = problems.errors; *e; e++)
                assert_non_null(startswith(*e, F ":"));
        answerfile_problems_done(&problems);
}

static void test_static_needs_addresses(void **state) {
        (void) state;
        EXPECT_ERRORS(FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\"/>\n</installation>",
                      F ":4: static IPv4 needs an address (ipaddr)",
                      F ":4: static IPv4 needs a netmask (subnet)",
                      F ":4: static IPv4 needs a gateway");
}

static void test_unknown_element_and_attribute(void **state) {
        (void) state;
        EXPECT_ERRORS(FRESH("<frobnicate>yes</frobnicate>"), F ":5: unknown element <frobnicate>");
        EXPECT_ERRORS(FRESH("<hostname colour=\"red\">h</hostname>"), F ":5: unknown attribute colour on <hostname>");
        EXPECT_ERRORS("<installation flavour=\"x\">\n<primary-disk>sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF
                      "</installation>",
                      F ":1: unknown attribute flavour on <installation>");
        /* Something XenServer dropped long ago is not known either. */
        EXPECT_ERRORS(FRESH("<rootfs-writable/>"), F ":5: unknown element <rootfs-writable>");
}

static void test_known_but_ineffective(void **state) {
        (void) state;
        static const struct {
                const char *line;
                const char *warning;
        } cases[] = {
                { "<network-backend>openvswitch</network-backend>",
                  F ":5: warning: <network-backend> has no effect: the management network is always a Linux bridge" },
                { "<bootloader location=\"partition\">grub2</bootloader>",
                  F ":5: warning: location on <bootloader> has no effect: GRUB always goes to the BIOS boot partition and the ESP" },
                { "<fcoe-interface name=\"eth2\"/>", F ":5: warning: <fcoe-interface> has no effect: FCoE is not supported" },
                { "<selected-multiversion-drivers><driver name=\"igb\">v2</driver></selected-multiversion-drivers>",
                  F ":5: warning: <selected-multiversion-drivers> has no effect: drivers come from the dom0 kernel and packs" },
                { "<ssh-mode>auto</ssh-mode>",
                  F ":5: warning: <ssh-mode>auto</ssh-mode> is taken as on: sshd always runs unless ssh-mode is off" },
                { "<backup-disk>sda</backup-disk>",
                  F ":5: warning: <backup-disk> has no effect with mode fresh: it belongs to another mode" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char xml[1024];
                snprintf(xml, sizeof xml, FRESH("%s"), cases[i].line);
                install_config_free(expect_warning(xml, cases[i].warning));
        }
        install_config_free(expect_warning(
                FRESH_HEAD "<admin-interface name=\"eth0\" hwaddr=\"52:54:00:12:34:56\" proto=\"dhcp\"/>\n</installation>",
                F ":4: warning: hwaddr on <admin-interface> has no effect when name is given"));
        install_config_free(expect_warning(
                "<installation>\n<primary-disk sr-at-end=\"false\">sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF
                "</installation>",
                F ":2: warning: sr-at-end on <primary-disk> has no effect: the SR is always the last partition"));
}

static void test_many_problems_at_once(void **state) {
        (void) state;
        static const char xml[] =
                "<installation mode=\"fresh\" srtype=\"zfs\">\n"                          /* 1 */
                "  <primary-disk gueststorage=\"maybe\">sda</primary-disk>\n"             /* 2 */
                "  <admin-interface hwaddr=\"00:11:22:33:44\" proto=\"static\">\n"        /* 3 */
                "    <ip>300.1.2.3</ip>\n"                                                /* 4 */
                "  </admin-interface>\n"                                                  /* 5 */
                "  <hostname>-bad_host</hostname>\n"                                      /* 6 */
                "  <script stage=\"whenever\" type=\"url\">http://x/y</script>\n"         /* 7 */
                "  <frobnicate/>\n"                                                       /* 8 */
                "  <network-backend>bridge</network-backend>\n"                           /* 9 */
                "</installation>\n";
        /* In the order of the file, whichever check found them. */
        EXPECT_ERRORS(xml,
                      F ":1: unknown sr-type \"zfs\" (lvm or ext)",
                      F ":1: source is required with mode fresh (source type local for the install media)",
                      F ":2: <primary-disk>: gueststorage=\"maybe\" is not yes or no",
                      F ":3: <admin-interface>: hwaddr '00:11:22:33:44' is not a MAC address (aa:bb:cc:dd:ee:ff)",
                      F ":3: static IPv4 needs a netmask (subnet)",
                      F ":3: static IPv4 needs a gateway",
                      F ":4: <ip>: '300.1.2.3' is not an IPv4 address",
                      F ":6: <hostname>: '-bad_host' is not a valid host name",
                      F ":7: <script>: unknown stage \"whenever\" (installation-start, packages-installed, "
                        "filesystem-populated or installation-complete)",
                      F ":8: unknown element <frobnicate>");

        /* Warnings are still reported next to errors. */
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        assert_int_equal(answerfile_parse_memory(F, xml, strlen(xml), &problems, &c), -EINVAL);
        assert_int_equal(problems.n_warnings, 1);
        assert_non_null(strstr(problems.warnings[0], F ":9: warning: <network-backend>"));
        answerfile_problems_done(&problems);
}

static void test_redaction(void **state) {
        (void) state;
        static const char xml[] =
                "<installation>\n"
                "  <primary-disk>sda</primary-disk>\n"
                "  <root-password>Sup3rS3cret</root-password>\n"
                "  <source type=\"local\"/>\n"
                "  <pack type=\"url\">https://alice:Pa55w0rd@mirror.example.com/xenhost/pack.iso</pack>\n"
                "  <pack type=\"url\">ftp://bob:B0bPass@ftp.example.com/pack.iso</pack>\n"
                "  <script stage=\"installation-complete\" type=\"url\">http://carol:C4rolPw@x.example.com/s</script>\n"
                FRESH_IF
                "</installation>\n";
        _cleanup_install_config_ struct install_config *c = parse_ok(xml);
        /* The engine gets the real values... */
        assert_string_equal(c->root_password, "Sup3rS3cret");
        assert_string_equal(c->packs[0].address, "https://alice:Pa55w0rd@mirror.example.com/xenhost/pack.iso");

        /* ...the log does not. */
        _cleanup_free_ char *out = test_config_print(c);
        static const char *const secrets[] = { "Sup3rS3cret", "Pa55w0rd", "B0bPass", "C4rolPw", "alice", "bob:",
                                               "carol" };
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++) {
                if (strstr(out, secrets[i]))
                        print_message("leaked %s in:\n%s", secrets[i], out);
                assert_null(strstr(out, secrets[i]));
        }
        assert_non_null(strstr(out, "root-password: plaintext (redacted)\n"));
        assert_non_null(strstr(out, "pack: url https://***@mirror.example.com/xenhost/pack.iso\n"));
        assert_non_null(strstr(out, "pack: url ftp://***@ftp.example.com/pack.iso\n"));

        _cleanup_install_config_ struct install_config *h = parse_ok(FRESH("<root-password type=\"hash\">" SHA512_HASH "</root-password>"));
        _cleanup_free_ char *out2 = test_config_print(h);
        assert_null(strstr(out2, "saltsalt"));
        assert_non_null(strstr(out2, "root-password: hash (redacted)\n"));

        /* Problem lines never show a password or URL credentials either. */
        EXPECT_ERRORS(FRESH("<root-password type=\"hash\">NotAHash</root-password>"),
                      F ":5: <root-password>: the hash is not a complete yescrypt ($y$...), SHA-512 ($6$...) or "
                        "SHA-256 ($5$...) crypt(3) string (or !! to set the password at first boot)");
        EXPECT_ERRORS(FRESH("<root-password type=\"hash\">$1$saltsalt$qjXMvbEw8oaL.CzflDugX/</root-password>"),
                      F ":5: <root-password>: MD5 password hashes are not accepted; use yescrypt or SHA-512");
        EXPECT_ERRORS("<installation>\n<primary-disk>sda</primary-disk>\n"
                      "<source type=\"url\">ftp://erin:3r1nPw@mirror.example.com/x/</source>\n" FRESH_IF "</installation>",
                      F ":3: <source>: installing from 'ftp://***@mirror.example.com/x/' is not supported: serve the "
                        "install tree over http:// or https://, or give a file:// path");
        EXPECT_ERRORS(FRESH("<pack type=\"url\">htp://dave:D4vePw@x/p.iso</pack>"),
                      F ":5: <pack>: 'htp://***@x/p.iso' is not an http://, https://, ftp://, file:// or nfs:// URL");
}

/* What install_config_validate() finds is reported at the element that set
 * the field: a list entry at its own element, a missing value at the
 * element it belongs in, a missing element at the root element. */
static void test_validation_lines(void **state) {
        (void) state;
        static const struct {
                const char *xml;
                const char *error;
        } cases[] = {
                { FRESH("<timezone>Mars/Olympus_Mons</timezone>"),
                  F ":5: <timezone>: 'Mars/Olympus_Mons' is not a time zone of the tz database (Region/City, e.g. "
                    "Europe/London)" },
                { FRESH("<keymap>klingon</keymap>"),
                  F ":5: <keymap>: 'klingon' is not a known console keymap (us, uk, de, fr, ...)" },
                { FRESH("<root-password type=\"hash\">$6$notahash</root-password>"),
                  F ":5: <root-password>: the hash is not a complete yescrypt ($y$...), SHA-512 ($6$...) or "
                    "SHA-256 ($5$...) crypt(3) string (or !! to set the password at first boot)" },
                { FRESH("<name-server>192.0.2.1</name-server>\n<name-server>dns.example.com</name-server>"),
                  F ":6: <name-server>: 'dns.example.com' is not an IP address" },
                { FRESH("<guest-disk>sdb</guest-disk>\n<guest-disk>sd c</guest-disk>"),
                  F ":6: <guest-disk>: 'sd c' is not a disk name" },
                { FRESH("<script stage=\"installation-start\" type=\"url\">http://x/s</script>\n"
                        "<script stage=\"installation-start\" type=\"url\">ftp:///s</script>"),
                  F ":6: <script>: 'ftp:///s' is not a valid URL (it needs a host)" },
                { "<installation>\n<primary-disk>sda</primary-disk>\n<source type=\"nfs\">server:/x</source>\n"
                  FRESH_IF "</installation>",
                  F ":3: <source>: installing from NFS 'server:/x' is not supported: serve the install tree over "
                    "http:// or https://, or give a file:// path" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\">\n<ipaddr>192.0.2.255</ipaddr>\n"
                             "<subnet>255.255.255.0</subnet>\n<gateway>192.0.2.1</gateway>\n</admin-interface>\n"
                             "</installation>",
                  F ":5: <ipaddr>: '192.0.2.255' is the broadcast address of its subnet (/24)" },
                /* An element the parser already refused is not reported
                 * again as missing. */
                { "<installation>\n<primary-disk></primary-disk>\n<source type=\"local\"/>\n" FRESH_IF
                  "</installation>",
                  F ":2: <primary-disk> is empty; it needs a disk name" },
                { FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\">\n<ipaddr></ipaddr>\n"
                             "<subnet>255.255.255.0</subnet>\n<gateway>192.0.2.1</gateway>\n</admin-interface>\n"
                             "</installation>",
                  F ":5: <ipaddr> is empty; it needs an IPv4 address" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                print_message("case %zu: %s\n", i, cases[i].error);
                expect_errors(cases[i].xml, &cases[i].error, 1);
        }

        install_config_free(expect_warning(
                FRESH_HEAD "<admin-interface name=\"eth0\" proto=\"static\">\n<ipaddr>192.0.2.10</ipaddr>\n"
                           "<subnet>255.255.255.0</subnet>\n<gateway>198.51.100.1</gateway>\n</admin-interface>\n"
                           "</installation>",
                F ":7: warning: <gateway>: gateway 198.51.100.1 is outside the subnet of 192.0.2.10/24"));
        _cleanup_install_config_ struct install_config *c = parse_ok(FRESH("<keymap>uk</keymap>\n<timezone>Etc/UTC</timezone>"));
        assert_string_equal(c->keymap, "uk");
        assert_string_equal(c->timezone, "Etc/UTC");
}

static void test_url_redact(void **state) {
        (void) state;
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "http://u:p@h/x", "http://***@h/x" },
                { "http://u@h", "http://***@h" },
                { "https://u:p@ss@h:8080/x@y", "https://***@h:8080/x@y" },
                { "http://h/x@y", "http://h/x@y" },
                { "server:/path", "server:/path" },
                /* A query's values are redacted, '@' in them or not. */
                { "ftp://h?q=a@b", "ftp://h?q=***" },
                { "http://h/x?token=abc123&user=me", "http://h/x?token=***&user=***" },
                /* NFS, with its scheme and in the stored server:/path form. */
                { "nfs://user:password@server/path", "nfs://***@server/path" },
                { "user:password@server:/path", "***@server:/path" },
                { "user:password@server/path", "***@server/path" },
                { "a@b.xml", "a@b.xml" },
                { "dir/a@b.xml", "dir/a@b.xml" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *r = NULL;
                assert_int_equal(url_redact(cases[i].in, &r), 0);
                assert_string_equal(r, cases[i].out);
        }
}

static void test_line_numbers_and_control_chars(void **state) {
        (void) state;
        /* A value with a newline stays on one problem line. */
        EXPECT_ERRORS(FRESH("<guest-disk>sd\nb</guest-disk>"), F ":5: <guest-disk>: 'sd?b' is not a disk name");

        /* Far down a long file the line is still right. */
        size_t n = 70000 * 2 + 256;
        _cleanup_free_ char *xml = malloc(n);
        assert_non_null(xml);
        char *p = stpcpy(xml, FRESH_HEAD FRESH_IF);
        for (int i = 0; i < 70000; i++)
                p = stpcpy(p, "\n");
        stpcpy(p, "<hostname>_</hostname>\n</installation>\n");
        EXPECT_ERRORS(xml, F ":70005: <hostname>: '_' is not a valid host name");
}

static void test_parse_file(void **state) {
        (void) state;
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        assert_int_equal(answerfile_parse_file("/nonexistent/answer.xml", &problems, &c), -ENOENT);
        assert_null(c);
        assert_int_equal(problems.n_errors, 0);

        char path[] = "/tmp/test-answerfile-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        static const char xml[] = FRESH("<hostname>h</hostname>");
        assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t) strlen(xml));
        close(fd);
        assert_int_equal(answerfile_parse_file(path, &problems, &c), 0);
        assert_string_equal(c->hostname, "h");
        install_config_free(c);

        /* Errors name the file as given. */
        static const char bad[] = FRESH("<hostname>_</hostname>");
        fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t) strlen(bad));
        close(fd);
        c = NULL;
        assert_int_equal(answerfile_parse_file(path, &problems, &c), -EINVAL);
        assert_null(c);
        char want[128];
        snprintf(want, sizeof want, "%s:5: <hostname>: '_' is not a valid host name", path);
        assert_string_equal(problems.errors[0], want);
        answerfile_problems_done(&problems);
        unlink(path);
}

/* ---- bounded problem reports ---- */

static void test_many_problems_are_capped(void **state) {
        (void) state;
        /* 20,000 references to an undefined entity: one mistake, 20 lines
         * and a count, not 20,000 lines. */
        size_t n = 20000;
        _cleanup_free_ char *xml = malloc(n * 7 + 512);
        assert_non_null(xml);
        char *p = stpcpy(xml, FRESH_HEAD FRESH_IF "<hostname>");
        for (size_t i = 0; i < n; i++)
                p = stpcpy(p, "&undef;");
        stpcpy(p, "</hostname>\n</installation>\n");

        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        assert_int_equal(answerfile_parse_memory(F, xml, strlen(xml), &problems, &c), -EINVAL);
        assert_null(c);
        assert_int_equal(problems.n_errors, 21);
        for (size_t i = 0; i < 20; i++)
                assert_non_null(startswith(problems.errors[i], F ":5: "));
        assert_non_null(startswith(problems.errors[20], F ": and "));
        assert_non_null(endswith(problems.errors[20], " more problems"));
        size_t more = strtoul(problems.errors[20] + strlen(F ": and "), NULL, 10);
        assert_true(more >= n - 20);
        assert_int_equal(problems.n_warnings, 0);
        answerfile_problems_done(&problems);

        /* Errors come before warnings within the 20: 30 warnings and one error. */
        p = stpcpy(xml, "<installation>\n<primary-disk>sda</primary-disk>\n<source type=\"local\"/>\n" FRESH_IF);
        for (int i = 0; i < 30; i++)
                p = stpcpy(p, "<fcoe-interface name=\"eth1\"/>\n");
        stpcpy(p, "<hostname>_</hostname>\n</installation>\n");
        assert_int_equal(answerfile_parse_memory(F, xml, strlen(xml), &problems, &c), -EINVAL);
        assert_int_equal(problems.n_errors + problems.n_warnings, 21);
        assert_true(problems.n_errors >= 2);
        assert_non_null(strstr(problems.errors[0], "'_' is not a valid host name"));
        assert_non_null(startswith(problems.errors[problems.n_errors - 1], F ": and "));
        answerfile_problems_done(&problems);

        /* Up to 20 is not capped. */
        p = stpcpy(xml, FRESH_HEAD FRESH_IF);
        for (int i = 0; i < 20; i++)
                p = stpcpy(p, "<colour/>\n");
        stpcpy(p, "</installation>\n");
        assert_int_equal(answerfile_parse_memory(F, xml, strlen(xml), &problems, &c), -EINVAL);
        assert_int_equal(problems.n_errors, 20);
        assert_string_equal(problems.errors[19], F ":24: unknown element <colour>");
        answerfile_problems_done(&problems);
}

static void test_long_values_are_cut(void **state) {
        (void) state;
        /* A 1 MB attribute value is echoed as 64 characters and "...". */
        size_t n = 1000000;
        _cleanup_free_ char *xml = malloc(n + 512), *want = NULL;
        assert_non_null(xml);
        char *p = stpcpy(xml, "<installation mode=\"");
        memset(p, 'A', n);
        p += n;
        stpcpy(p, "\">\n</installation>\n");
        char a64[65];
        memset(a64, 'A', 64);
        a64[64] = 0;
        assert_true(asprintf(&want, F ":1: unknown mode \"%s...\" (fresh, reinstall, upgrade or restore)", a64) > 0);
        EXPECT_ERRORS(xml, want);

        /* The same for element names, text validation echoes, URLs. */
        p = stpcpy(xml, FRESH_HEAD FRESH_IF "<");
        memset(p, 'x', 5000);
        p += 5000;
        stpcpy(p, "/>\n</installation>\n");
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        assert_int_equal(answerfile_parse_memory(F, xml, strlen(xml), &problems, &c), -EINVAL);
        for (char **e = problems.errors; *e; e++)
                assert_true(strlen(*e) < 200);
        answerfile_problems_done(&problems);

        p = stpcpy(xml, FRESH_HEAD FRESH_IF "<hostname>");
        memset(p, 'h', 3000);
        p += 3000;
        stpcpy(p, "_</hostname>\n</installation>\n");
        free(want);
        char h64[65];
        memset(h64, 'h', 64);
        h64[64] = 0;
        assert_true(asprintf(&want, F ":5: <hostname>: '%s...' is not a valid host name", h64) > 0);
        EXPECT_ERRORS(xml, want);

        /* An escape sequence in a value does not reach the terminal. */
        EXPECT_ERRORS(FRESH("<ntp source=\"x&#x9;y\"/>"),
                      F ":5: <ntp>: unknown source \"x?y\" (dhcp, default, manual or none)");
}

/* libxml2 would print the bytes of a bad character, and they may be the
 * root password's. */
static void test_encoding_errors_hide_the_bytes(void **state) {
        (void) state;
        static const char *const files[] = {
                /* Latin-1 in a UTF-8 file */
                FRESH("<root-password type=\"plaintext\">pa\xf6yZss</root-password>"),
                /* a character XML does not allow, and a reference to one */
                FRESH("<root-password type=\"plaintext\">pa\x01yZss</root-password>"),
                FRESH("<root-password type=\"plaintext\">pa&#1;yZss</root-password>"),
                /* an encoding that is not there */
                "<?xml version=\"1.0\" encoding=\"no-such\"?>\n" FRESH("<root-password>pa\xf6yZss</root-password>"),
        };
        static const char *const want[] = {
                F ":5: invalid UTF-8 at line 5",
                F ":5: invalid character (one XML does not allow) at line 5",
                F ":5: invalid character (one XML does not allow) at line 5",
                F ":1: an encoding this installer does not read (use UTF-8) at line 1",
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct answerfile_problems problems = {};
                struct install_config *c = NULL;
                assert_int_equal(answerfile_parse_memory(F, files[i], strlen(files[i]), &problems, &c), -EINVAL);
                assert_true(problems.n_errors >= 1);
                for (char **e = problems.errors; *e; e++)
                        print_message("got: %s\n", *e);
                assert_string_equal(problems.errors[0], want[i]);
                for (char **e = problems.errors; *e; e++) {
                        assert_null(strstr(*e, "0x"));
                        assert_null(strstr(*e, "Bytes"));
                        assert_null(strstr(*e, "yZ"));
                        assert_null(strstr(*e, "value 1"));
                }
                answerfile_problems_done(&problems);
        }
}

static void test_nfs_credentials_are_not_echoed(void **state) {
        (void) state;
        EXPECT_ERRORS(FRESH("<script stage=\"filesystem-populated\" type=\"nfs\">nfs://user:password@server/path</script>"),
                      F ":5: <script>: '***@server/path' is not an NFS location (server:/path)");
        EXPECT_ERRORS(FRESH("<script stage=\"filesystem-populated\" type=\"url\">nfs://user:password@server/p</script>"),
                      F ":5: <script>: '***@server/p' is not an NFS location (server:/path)");
        EXPECT_ERRORS(FRESH("<source type=\"nfs\">user:password@server:/path</source>"),
                      F ":5: <source>: '***@server:/path' is not an NFS location (server:/path)");
        /* A token in a query string neither. */
        _cleanup_install_config_ struct install_config *t =
                parse_ok(FRESH("<script stage=\"filesystem-populated\" type=\"url\">http://h/s.sh?token=abc123"
                               "</script>"));
        _cleanup_free_ char *out2 = test_config_print(t);
        assert_null(strstr(out2, "abc123"));
        assert_non_null(strstr(out2, "http://h/s.sh?token=***"));
}

/* Whatever the path names, at most ANSWERFILE_SIZE_MAX bytes of a regular
 * file are read, and nothing waits on a FIFO. */
static void test_parse_file_bounds(void **state) {
        (void) state;
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;
        char dir[] = "/tmp/test-answerfile-XXXXXX", fifo[64], big[64];
        assert_non_null(mkdtemp(dir));
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        snprintf(big, sizeof big, "%s/big", dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(answerfile_parse_file(fifo, &problems, &c), -EBADFD);
        assert_int_equal(answerfile_parse_file("/dev/zero", &problems, &c), -EBADFD);
        assert_int_equal(answerfile_parse_file(dir, &problems, &c), -EISDIR);
        int fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
        close(fd);
        assert_int_equal(answerfile_parse_file(big, &problems, &c), -EFBIG);
        assert_null(c);
        assert_int_equal(problems.n_errors, 0);
        unlink(fifo);
        unlink(big);
        rmdir(dir);
}

/* The packs the install media carry go in with a fresh install when the
 * answer file names no local pack and does not say <bundled-packs>no; a
 * local pack of its own (all, or one by name) is what it chose instead. */
static void test_bundled_packs(void **state) {
        (void) state;
        static const struct {
                const char *xml;
                bool media_has_packs;
                int added;
                const char *printed;
        } cases[] = {
                { FRESH(""), true, 1, "pack: local (install media)\n" },
                { FRESH(""), false, 0, NULL },
                { FRESH("<bundled-packs>no</bundled-packs>"), true, 0, "bundled-packs: no\n" },
                { FRESH("<pack type=\"local\">acme.iso</pack>"), true, 0, "pack: local packs/acme.iso (install media)\n" },
                { FRESH("<pack type=\"url\">http://x/p.iso</pack>"), true, 1, "pack: local (install media)\n" },
                { "<installation mode=\"upgrade\">\n<existing-installation>sda</existing-installation>\n"
                  "<source type=\"local\"/>\n</installation>\n", true, 0, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct answerfile_problems problems = {};
                _cleanup_install_config_ struct install_config *c = NULL;
                assert_int_equal(answerfile_parse_memory("t.xml", cases[i].xml, strlen(cases[i].xml), &problems, &c), 0);
                answerfile_problems_done(&problems);
                size_t before = c->n_packs;
                assert_int_equal(install_config_add_bundled_packs(c, cases[i].media_has_packs), cases[i].added);
                assert_int_equal(c->n_packs, before + (size_t) cases[i].added);
                /* Twice is once. */
                assert_int_equal(install_config_add_bundled_packs(c, cases[i].media_has_packs), 0);
                _cleanup_free_ char *out = test_config_print(c);
                if (cases[i].printed)
                        assert_non_null(strstr(out, cases[i].printed));
                else
                        assert_null(strstr(out, "pack"));
        }
}

static void test_string_tables(void **state) {
        (void) state;
        for (int m = 0; m < _INSTALL_MODE_MAX; m++)
                assert_int_equal(install_mode_from_string(install_mode_to_string((enum install_mode) m)), m);
        for (int s = 0; s < _SCRIPT_STAGE_MAX; s++)
                assert_int_equal(script_stage_from_string(script_stage_to_string((enum script_stage) s)), s);
        for (int t = 0; t < _SR_TYPE_MAX; t++)
                assert_int_equal(sr_type_from_string(sr_type_to_string((enum sr_type) t)), t);
        assert_int_equal(install_mode_from_string("sideways"), _INSTALL_MODE_MAX);
        assert_int_equal(sr_type_from_string("zfs"), _SR_TYPE_MAX);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_full),
                cmocka_unit_test(test_fresh_defaults),
                cmocka_unit_test(test_reinstall),
                cmocka_unit_test(test_upgrade),
                cmocka_unit_test(test_upgrade_ignores_fresh_settings),
                cmocka_unit_test(test_restore),
                cmocka_unit_test(test_deprecated_spellings),
                cmocka_unit_test(test_static_and_ipv6),
                cmocka_unit_test(test_hwaddr),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_entities_are_not_expanded),
                cmocka_unit_test(test_static_needs_addresses),
                cmocka_unit_test(test_unknown_element_and_attribute),
                cmocka_unit_test(test_known_but_ineffective),
                cmocka_unit_test(test_many_problems_at_once),
                cmocka_unit_test(test_redaction),
                cmocka_unit_test(test_validation_lines),
                cmocka_unit_test(test_url_redact),
                cmocka_unit_test(test_line_numbers_and_control_chars),
                cmocka_unit_test(test_parse_file),
                cmocka_unit_test(test_many_problems_are_capped),
                cmocka_unit_test(test_long_values_are_cut),
                cmocka_unit_test(test_encoding_errors_hide_the_bytes),
                cmocka_unit_test(test_nfs_credentials_are_not_echoed),
                cmocka_unit_test(test_parse_file_bounds),
                cmocka_unit_test(test_bundled_packs),
                cmocka_unit_test(test_string_tables),
        };
        return cmocka_run_group_tests(tests, db_setup, db_teardown);
}
