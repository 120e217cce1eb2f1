/* install_config_validate(): what the install engine accepts, checked on
 * the struct itself as the answer-file parser and the TUI hand it over. The
 * time zone and keymap databases are small trees made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "config.h"
#include "macro.h"

#define YESCRYPT_HASH "$y$j9T$kCQgsT0Ocyv7.tz/Qo2xO1$O3O1Ur8eRIlNt5v.VfI/YmGKv4eldjBU0n9GLInLY59"
#define SHA512_HASH                                                                                         \
        "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"
#define SHA512_ROUNDS_HASH                                                                                  \
        "$6$rounds=5000$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3" \
        "fVWTMuC1"
#define SHA256_HASH "$5$saltsalt$i1q2ZQzc.tl/BQ6CHiENAcVDvEY6nJ1OWlWXKh94b1."

static char dir[] = "/tmp/test-config-XXXXXX";
static char zoneinfo[256], keymaps[256], missing[256];

static void make_file(const char *rel, const char *content) {
        char path[512], *slash;
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = 0;
                (void) mkdir(path, 0755);
                *slash = '/';
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void make_link(const char *target, const char *rel) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state) {
        (void) state;
        assert_non_null(mkdtemp(dir));
        make_file("zoneinfo/Europe/London", "TZif2 London");
        make_file("zoneinfo/Etc/UTC", "TZif2 UTC");
        make_file("zoneinfo/America/Argentina/Buenos_Aires", "TZif2 BA");
        make_file("zoneinfo/zone.tab", "GB\t+513030-0000731\tEurope/London\n");
        make_file("outside-zone", "TZif2 not part of the database");
        make_link("Europe/London", "zoneinfo/GB");
        make_link("../outside-zone", "zoneinfo/Escape");
        make_link("/etc/localtime", "zoneinfo/localtime");
        make_file("keymaps/i386/qwerty/us.kmap.gz", "");
        make_file("keymaps/i386/qwerty/uk.kmap.gz", "");
        make_file("keymaps/i386/qwertz/de-latin1.kmap.gz", "");
        make_file("keymaps/i386/azerty/fr.map", "");
        make_file("keymaps/i386/include/euro.inc.gz", "");
        make_file("keymaps/i386/include/hidden.kmap.gz", "");
        make_file("outside/evil.kmap.gz", "");
        make_link("../../outside", "keymaps/i386/linked");
        snprintf(zoneinfo, sizeof zoneinfo, "%s/zoneinfo", dir);
        snprintf(keymaps, sizeof keymaps, "%s/keymaps", dir);
        snprintf(missing, sizeof missing, "%s/no-such-directory", dir);
        setenv(ZONEINFO_ROOT_ENV, zoneinfo, 1);
        setenv(KEYMAPS_ROOT_ENV, keymaps, 1);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void set(char **field, const char *value) {
        free(*field);
        *field = value ? strdup(value) : NULL;
        assert_true(!value || *field);
}

/* A fresh install that validates without a problem. */
static struct install_config *good_config(void) {
        struct install_config *c = NULL;
        assert_int_equal(install_config_new(&c), 0);
        set(&c->primary_disk, "sda");
        assert_int_equal(install_config_add_source(c, LOCATION_LOCAL, NULL), 0);
        c->has_admin_interface = true;
        set(&c->admin.name, "eth0");
        c->admin.proto = NET_PROTO_STATIC;
        set(&c->admin.ipaddr, "192.0.2.10");
        set(&c->admin.subnet, "255.255.255.0");
        set(&c->admin.gateway, "192.0.2.1");
        set(&c->hostname, "host1.example.com");
        set(&c->timezone, "Europe/London");
        set(&c->keymap, "uk");
        c->root_password_type = ROOT_PASSWORD_HASH;
        set(&c->root_password, SHA512_HASH);
        return c;
}

/* Validates C: returns the problems (caller frees); asserts the result. */
static void validate(const struct install_config *c, int want, struct config_problems *p) {
        *p = (struct config_problems) {};
        int r = install_config_validate(c, p);
        for (size_t i = 0; i < p->n; i++)
                print_message("%s %s[%zu]: %s\n", p->items[i].warning ? "warning" : "error", p->items[i].field,
                              p->items[i].index, p->items[i].message);
        assert_int_equal(r, want);
}

/* C must have exactly one problem: of FIELD, an error unless WARNING, its
 * message WANT. */
static void expect_one(const struct install_config *c, bool warning, const char *field, const char *want) {
        struct config_problems p;
        validate(c, warning ? 0 : -EINVAL, &p);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.n_errors, warning ? 0 : 1);
        assert_int_equal(p.items[0].warning, warning);
        assert_string_equal(p.items[0].field, field);
        assert_string_equal(p.items[0].message, want);
        config_problems_done(&p);
}

static void test_good(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        struct config_problems p;
        validate(c, 0, &p);
        assert_int_equal(p.n, 0);
        config_problems_done(&p);
}

static void test_timezone_lookup(void **state) {
        (void) state;
        assert_int_equal(timezone_lookup(NULL, "Europe/London"), 0);
        assert_int_equal(timezone_lookup(zoneinfo, "Etc/UTC"), 0);
        assert_int_equal(timezone_lookup(NULL, "America/Argentina/Buenos_Aires"), 0);
        /* A link inside the database is a zone. */
        assert_int_equal(timezone_lookup(NULL, "GB"), 0);
        assert_int_equal(timezone_lookup(NULL, "Europe/Londn"), -ENOENT);
        assert_int_equal(timezone_lookup(NULL, "Europe"), -ENOENT);
        assert_int_equal(timezone_lookup(NULL, "zone.tab"), -EINVAL); /* '.' is not in zone names */
        /* Nothing outside the root, by name or by link. */
        assert_int_equal(timezone_lookup(NULL, "../../etc/passwd"), -EINVAL);
        assert_int_equal(timezone_lookup(NULL, "../outside-zone"), -EINVAL);
        assert_int_equal(timezone_lookup(NULL, "/etc/passwd"), -EINVAL);
        assert_int_equal(timezone_lookup(NULL, "Escape"), -ENOENT);
        assert_int_equal(timezone_lookup(NULL, "localtime"), -ENOENT);
        assert_int_equal(timezone_lookup(NULL, ""), -EINVAL);
        assert_int_equal(timezone_lookup(missing, "Europe/London"), -ENODATA);
}

static void test_timezone_validation(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        set(&c->timezone, "Mars/Olympus_Mons");
        expect_one(c, false, "timezone",
                   "'Mars/Olympus_Mons' is not a time zone of the tz database (Region/City, e.g. Europe/London)");
        set(&c->timezone, "../../etc/passwd");
        expect_one(c, false, "timezone", "'../../etc/passwd' is not a time zone (Region/City)");

        /* No database: nothing to check against, which is not the
         * config's fault; the installer environment carries one. */
        set(&c->timezone, "Europe/London");
        char want[512];
        setenv(ZONEINFO_ROOT_ENV, missing, 1);
        snprintf(want, sizeof want, "time zone 'Europe/London' not checked: no time zone database at %s", missing);
        expect_one(c, true, "timezone", want);
        setenv(ZONEINFO_ROOT_ENV, zoneinfo, 1);
}

static void test_keymap(void **state) {
        (void) state;
        assert_int_equal(keymap_lookup(NULL, "us"), 0);
        assert_int_equal(keymap_lookup(NULL, "uk"), 0);
        assert_int_equal(keymap_lookup(keymaps, "de-latin1"), 0);
        assert_int_equal(keymap_lookup(NULL, "fr"), 0);
        assert_int_equal(keymap_lookup(NULL, "de"), -ENOENT);
        assert_int_equal(keymap_lookup(NULL, "euro"), -ENOENT);   /* an include file */
        assert_int_equal(keymap_lookup(NULL, "hidden"), -ENOENT); /* in include/ */
        assert_int_equal(keymap_lookup(NULL, "evil"), -ENOENT);   /* behind a link out of the root */
        assert_int_equal(keymap_lookup(NULL, "../outside/evil"), -EINVAL);
        assert_int_equal(keymap_lookup(NULL, "us;rm"), -EINVAL);
        assert_int_equal(keymap_lookup(missing, "us"), -ENODATA);

        _cleanup_install_config_ struct install_config *c = good_config();
        set(&c->keymap, "dvorak-xx");
        expect_one(c, false, "keymap", "'dvorak-xx' is not a known console keymap (us, uk, de, fr, ...)");
        char want[512];
        setenv(KEYMAPS_ROOT_ENV, missing, 1);
        snprintf(want, sizeof want, "keymap 'dvorak-xx' not checked: no keymap database at %s", missing);
        expect_one(c, true, "keymap", want);
        setenv(KEYMAPS_ROOT_ENV, keymaps, 1);
}

static void test_password_hashes(void **state) {
        (void) state;
        static const char *const good[] = { YESCRYPT_HASH, SHA512_HASH, SHA512_ROUNDS_HASH, SHA256_HASH, "!!" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                const char *why = NULL;
                print_message("good: %s\n", good[i]);
                assert_int_equal(root_password_hash_check(good[i], &why), 0);
        }

        static const char form[] = "the hash is not a complete yescrypt ($y$...), SHA-512 ($6$...) or SHA-256 "
                                   "($5$...) crypt(3) string (or !! to set the password at first boot)";
        static const struct {
                const char *hash, *why;
        } bad[] = {
                { "$6$notahash", form },
                { "$6$saltsalt$hashhashhash", form },
                /* one character short, one too many, one outside the alphabet */
                { "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC", form },
                { SHA512_HASH "1", form },
                { "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMu-1", form },
                /* the last character of a SHA-512 hash carries 2 bits */
                { "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuCz", form },
                { "$6$rounds=12$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1", form },
                { "$6$salt:salt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1", form },
                { "$5$saltsalt$i1q2ZQzc.tl/BQ6CHiENAcVDvEY6nJ1OWlWXKh94b1", form },
                { "$y$j9T$abc$def", form },
                /* well formed, but a salt yescrypt does not take */
                { "$y$j9T$abcdefghijklmnopqrstuv$O3O1Ur8eRIlNt5v.VfI/YmGKv4eldjBU0n9GLInLY59", form },
                { "$y$j9T$kCQgsT0Ocyv7.tz/Qo2xO1$", form },
                { "", form },
                { "secret", form },
                { "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "MD5 password hashes are not accepted; use yescrypt or SHA-512" },
                { "abNANd1rDfiNc", "DES password hashes are not accepted; use yescrypt or SHA-512" },
                { "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                  "bcrypt password hashes are not accepted; use yescrypt or SHA-512" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *why = NULL;
                print_message("bad: %s\n", bad[i].hash);
                assert_int_equal(root_password_hash_check(bad[i].hash, &why), -EINVAL);
                assert_string_equal(why, bad[i].why);
        }

        /* Through validation: the field, and never the hash itself. */
        _cleanup_install_config_ struct install_config *c = good_config();
        set(&c->root_password, "$6$notahash");
        expect_one(c, false, "root_password", form);
        set(&c->root_password, "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/");
        expect_one(c, false, "root_password", "MD5 password hashes are not accepted; use yescrypt or SHA-512");
        /* A plaintext password is hashed by the engine: any text will do. */
        c->root_password_type = ROOT_PASSWORD_PLAINTEXT;
        struct config_problems p;
        validate(c, 0, &p);
        config_problems_done(&p);
        set(&c->root_password, "");
        expect_one(c, false, "root_password", "the plaintext password is empty");
}

static void test_urls(void **state) {
        (void) state;
        static const char *const good[] = { "http://h/x", "https://user:pw@mirror.example.com:8443/x", "ftp://h",
                                            "tftp://192.0.2.1/answer.xml", "nfs://server/export/a.xml",
                                            "file:///media/answer.xml", "http://[2001:db8::1]/x" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *why = NULL;
                print_message("good: %s\n", good[i]);
                assert_int_equal(config_url_check(good[i], &why), 0);
        }
        static const struct {
                const char *url, *why;
        } bad[] = {
                { "http:///x", "'http:///x' is not a valid URL (it needs a host)" },
                { "https://", "'https://' is not a valid URL (it needs a host)" },
                { "ftp://user:pw@/x", "'ftp://***@/x' is not a valid URL (it needs a host)" },
                { "tftp://:69/x", "'tftp://:69/x' is not a valid URL (it needs a host)" },
                { "nfs:///export", "'nfs:///export' is not a valid URL (it needs a host)" },
                { "file://x", "'file://x' is not a valid URL (file:///path)" },
                { "http://h/a b", "'http://h/a b' is not a valid URL (it needs a host)" },
                { "gopher://h/x", "'gopher://h/x' is not an http://, https://, ftp://, tftp://, nfs:// or file:// URL" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *why = NULL;
                print_message("bad: %s\n", bad[i].url);
                assert_int_equal(config_url_check(bad[i].url, &why), -EINVAL);
                assert_string_equal(why, bad[i].why);
        }

        _cleanup_install_config_ struct install_config *c = good_config();
        assert_int_equal(install_config_add_pack(c, LOCATION_URL, "http:///pack.iso"), 0);
        expect_one(c, false, "packs", "'http:///pack.iso' is not a valid URL (it needs a host)");
        assert_int_equal(install_config_add_script(c, SCRIPT_STAGE_FILESYSTEM_POPULATED, LOCATION_URL,
                                                   "https://u:secretpw@/post.sh"),
                         0);
        struct config_problems p;
        validate(c, -EINVAL, &p);
        assert_int_equal(p.n_errors, 2);
        assert_string_equal(p.items[1].field, "scripts");
        assert_int_equal(p.items[1].index, 0);
        assert_string_equal(p.items[1].message, "'https://***@/post.sh' is not a valid URL (it needs a host)");
        config_problems_done(&p);
}

/* Credentials in any location, of any scheme, and query values, never reach
 * a problem message or a printout; long values are cut. */
static void test_redaction_and_long_values(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        assert_int_equal(install_config_add_script(c, SCRIPT_STAGE_FILESYSTEM_POPULATED, LOCATION_NFS,
                                                   "user:s3cret@server/path"),
                         0);
        expect_one(c, false, "scripts", "'***@server/path' is not an NFS location (server:/path)");
        free(c->scripts[0].location.address);
        c->scripts[0].location = (struct location) {.type = LOCATION_URL,
                                                    .address = strdup("http:///post.sh?token=s3cret")};
        expect_one(c, false, "scripts", "'http:///post.sh?token=***' is not a valid URL (it needs a host)");

        /* What the config printout shows of valid ones. */
        free(c->scripts[0].location.address);
        c->scripts[0].location = (struct location) {.type = LOCATION_URL,
                                                    .address = strdup("https://h/post.sh?token=s3cret&x=1")};
        assert_int_equal(install_config_add_pack(c, LOCATION_URL, "nfs://u:s3cret@server/p.iso"), 0);
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        assert_non_null(f);
        assert_int_equal(install_config_print(c, f), 0);
        assert_int_equal(fclose(f), 0);
        assert_null(strstr(out, "s3cret"));
        assert_non_null(strstr(out, "https://h/post.sh?token=***&x=***"));
        assert_non_null(strstr(out, "nfs://***@server/p.iso"));
        free(out);

        /* A value of any length is echoed as 64 characters and "...". */
        _cleanup_install_config_ struct install_config *h = good_config();
        char name[2001], want[128];
        memset(name, 'h', 2000);
        name[1999] = '_';
        name[2000] = 0;
        set(&h->hostname, name);
        snprintf(want, sizeof want, "'%.64s...' is not a valid host name", name);
        expect_one(h, false, "hostname", want);
        char *url = NULL;
        assert_true(asprintf(&url, "htp://%s", name) > 0);
        assert_int_equal(install_config_add_pack(h, LOCATION_URL, url), 0);
        free(url);
        struct config_problems p;
        validate(h, -EINVAL, &p);
        for (size_t i = 0; i < p.n; i++)
                assert_true(strlen(p.items[i].message) < 200);
        config_problems_done(&p);
}

/* The host image comes over http(s) or from a file:// tree; ftp and NFS
 * trees are refused, saying what to do instead. */
static void test_network_sources(void **state) {
        (void) state;
        static const char hint[] = " is not supported: serve the install tree over http:// or https://, or give a "
                                   "file:// path";
        char want[256];
        _cleanup_install_config_ struct install_config *c = good_config();
        struct config_problems p;
        c->sources[0] = (struct location) { .type = LOCATION_URL, .address = strdup("http://mirror.example.com/x/") };
        validate(c, 0, &p);
        config_problems_done(&p);
        free(c->sources[0].address);
        c->sources[0] = (struct location) { .type = LOCATION_URL, .address = strdup("file:///srv/xenhost") };
        validate(c, 0, &p);
        config_problems_done(&p);
        free(c->sources[0].address);
        c->sources[0] = (struct location) { .type = LOCATION_URL, .address = strdup("ftp://mirror.example.com/x/") };
        snprintf(want, sizeof want, "installing from 'ftp://mirror.example.com/x/'%s", hint);
        expect_one(c, false, "sources", want);
        free(c->sources[0].address);
        c->sources[0] = (struct location) { .type = LOCATION_NFS, .address = strdup("server:/export/x") };
        snprintf(want, sizeof want, "installing from NFS 'server:/export/x'%s", hint);
        expect_one(c, false, "sources", want);
        /* A bad address is said once, as what is wrong with it. */
        free(c->sources[0].address);
        c->sources[0] = (struct location) { .type = LOCATION_URL, .address = strdup("http:///x") };
        expect_one(c, false, "sources", "'http:///x' is not a valid URL (it needs a host)");
}

static void test_static_ipv4(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();

        set(&c->admin.gateway, "198.51.100.1");
        expect_one(c, true, "admin.gateway", "gateway 198.51.100.1 is outside the subnet of 192.0.2.10/24");
        set(&c->admin.gateway, "192.0.2.1");

        set(&c->admin.ipaddr, "192.0.2.0");
        expect_one(c, false, "admin.ipaddr", "'192.0.2.0' is the network address of its subnet (/24)");
        set(&c->admin.ipaddr, "192.0.2.255");
        expect_one(c, false, "admin.ipaddr", "'192.0.2.255' is the broadcast address of its subnet (/24)");
        /* /31 point-to-point links use both addresses. */
        set(&c->admin.ipaddr, "192.0.2.0");
        set(&c->admin.subnet, "255.255.255.254");
        set(&c->admin.gateway, "192.0.2.1");
        struct config_problems p;
        validate(c, 0, &p);
        assert_int_equal(p.n, 0);
        config_problems_done(&p);

        set(&c->admin.ipaddr, "192.0.2.10");
        set(&c->admin.subnet, "255.255.0.255");
        expect_one(c, false, "admin.subnet", "'255.255.0.255' is not an IPv4 netmask");
        set(&c->admin.subnet, "0.0.0.0");
        expect_one(c, false, "admin.subnet", "'0.0.0.0' is not an IPv4 netmask");
        set(&c->admin.subnet, "255.255.255.0");
        set(&c->admin.ipaddr, "192.0.2.300");
        expect_one(c, false, "admin.ipaddr", "'192.0.2.300' is not an IPv4 address");
        set(&c->admin.ipaddr, NULL);
        expect_one(c, false, "admin.ipaddr", "static IPv4 needs an address (ipaddr)");
}

static void test_interface(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        c->admin.vlan = 4094;
        struct config_problems p;
        validate(c, 0, &p);
        config_problems_done(&p);
        c->admin.vlan = 4095;
        expect_one(c, false, "admin.vlan", "vlan \"4095\" is not a VLAN id from 1 to 4094");
        c->admin.vlan = 0;

        c->admin.proto6 = NET_PROTO_STATIC;
        set(&c->admin.ipv6, "2001:db8::5/64");
        set(&c->admin.gateway6, "fe80::1");
        validate(c, 0, &p);
        config_problems_done(&p);
        set(&c->admin.ipv6, "2001:db8::5/129");
        expect_one(c, false, "admin.ipv6", "'2001:db8::5/129' is not an IPv6 address with prefix length");
        set(&c->admin.ipv6, "2001:db8::g/64");
        expect_one(c, false, "admin.ipv6", "'2001:db8::g/64' is not an IPv6 address with prefix length");
        set(&c->admin.ipv6, "2001:db8::5/64");
        set(&c->admin.gateway6, "fe80::1::2");
        expect_one(c, false, "admin.gateway6", "'fe80::1::2' is not an IPv6 address");
        set(&c->admin.gateway6, NULL);
        expect_one(c, false, "admin.gateway6", "static IPv6 needs a gateway (gatewayv6)");
        c->admin.proto6 = NET_PROTO_NONE;
        set(&c->admin.ipv6, NULL);

        set(&c->admin.name, NULL);
        expect_one(c, false, "admin.name", "the management interface needs a name or a MAC address (hwaddr)");
        set(&c->admin.hwaddr, "52:54:00:12:34:5g");
        expect_one(c, false, "admin.hwaddr", "hwaddr '52:54:00:12:34:5g' is not a MAC address (aa:bb:cc:dd:ee:ff)");
        set(&c->admin.hwaddr, "52:54:00:12:34:56");
        validate(c, 0, &p);
        config_problems_done(&p);
}

static void test_hostnames_and_servers(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        char name[300];
        struct config_problems p;

        /* RFC 1123: labels of at most 63, 253 in all. */
        memset(name, 'a', 63);
        strcpy(name + 63, ".example.com");
        set(&c->hostname, name);
        validate(c, 0, &p);
        config_problems_done(&p);
        memset(name, 'a', 64);
        strcpy(name + 64, ".example.com");
        set(&c->hostname, name);
        validate(c, -EINVAL, &p);
        assert_string_equal(p.items[0].field, "hostname");
        config_problems_done(&p);
        /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters: the most. */
        memset(name, 'b', 253);
        name[63] = name[127] = name[191] = '.';
        name[253] = 0;
        set(&c->hostname, name);
        validate(c, 0, &p);
        config_problems_done(&p);
        name[253] = 'b'; /* 254 */
        name[254] = 0;
        set(&c->hostname, name);
        validate(c, -EINVAL, &p);
        config_problems_done(&p);
        set(&c->hostname, "host_1");
        expect_one(c, false, "hostname", "'host_1' is not a valid host name");
        set(&c->hostname, "-host");
        expect_one(c, false, "hostname", "'-host' is not a valid host name");
        set(&c->hostname, "host1");

        assert_int_equal(install_config_add_name_server(c, "192.0.2.53"), 0);
        assert_int_equal(install_config_add_name_server(c, "2001:db8::53"), 0);
        validate(c, 0, &p);
        config_problems_done(&p);
        assert_int_equal(install_config_add_name_server(c, "dns.example.com"), 0);
        struct config_problems q;
        validate(c, -EINVAL, &q);
        assert_int_equal(q.n, 1);
        assert_string_equal(q.items[0].field, "name_servers");
        assert_int_equal(q.items[0].index, 2);
        assert_string_equal(q.items[0].message, "'dns.example.com' is not an IP address");
        config_problems_done(&q);
        strv_free(c->name_servers);
        c->name_servers = NULL;

        c->ntp_source = NTP_SOURCE_MANUAL;
        assert_int_equal(install_config_add_ntp_server(c, "pool.ntp.org"), 0);
        assert_int_equal(install_config_add_ntp_server(c, "192.0.2.123"), 0);
        validate(c, 0, &p);
        config_problems_done(&p);
        assert_int_equal(install_config_add_ntp_server(c, "bad server"), 0);
        validate(c, -EINVAL, &q);
        assert_int_equal(q.n, 1);
        assert_string_equal(q.items[0].field, "ntp_servers");
        assert_int_equal(q.items[0].index, 2);
        config_problems_done(&q);
}

static void test_modes(void **state) {
        (void) state;
        struct install_config *c = NULL;
        struct config_problems p;

        /* Fresh: a disk, an interface and a source. */
        assert_int_equal(install_config_new(&c), 0);
        validate(c, -EINVAL, &p);
        assert_int_equal(p.n_errors, 3);
        assert_string_equal(p.items[0].field, "primary_disk");
        assert_string_equal(p.items[0].message, "primary-disk is required with mode fresh");
        assert_string_equal(p.items[1].field, "admin");
        assert_string_equal(p.items[1].message, "admin-interface is required with mode fresh");
        assert_string_equal(p.items[2].field, "sources");
        config_problems_done(&p);

        /* Upgrade and restore are valid configs; the engine says whether
         * it can do them. */
        c->mode = INSTALL_MODE_UPGRADE;
        set(&c->existing_installation, "sda");
        assert_int_equal(install_config_add_source(c, LOCATION_LOCAL, NULL), 0);
        validate(c, 0, &p);
        config_problems_done(&p);
        set(&c->existing_installation, NULL);
        expect_one(c, false, "existing_installation", "existing-installation is required with mode upgrade");

        c->mode = INSTALL_MODE_RESTORE;
        validate(c, 0, &p);
        config_problems_done(&p);
        set(&c->backup_disk, "sd b");
        expect_one(c, false, "backup_disk", "'sd b' is not a disk name");
        install_config_free(c);

        c = good_config();
        c->mode = _INSTALL_MODE_MAX;
        expect_one(c, false, "mode", "unknown install mode");
        install_config_free(c);
}

static void test_guest_storage(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        c->primary_disk_guest_storage = false;
        struct config_problems p;
        /* The plan warns that it has no effect; validation has nothing to say. */
        validate(c, 0, &p);
        assert_int_equal(p.n, 0);
        config_problems_done(&p);
        assert_int_equal(install_config_add_guest_disk(c, "sdb"), 0);
        validate(c, 0, &p);
        assert_int_equal(p.n, 0);
        config_problems_done(&p);
        assert_int_equal(install_config_add_guest_disk(c, "iscsi:192.0.2.9::3260:0:iqn.x"), 0);
        validate(c, -EINVAL, &p);
        assert_string_equal(p.items[0].field, "guest_disks");
        assert_int_equal(p.items[0].index, 1);
        assert_string_equal(p.items[0].message, "iSCSI boot disks (iscsi:...) are not supported");
        config_problems_done(&p);
}

/* Every problem is reported, not just the first. */
static void test_all_problems(void **state) {
        (void) state;
        _cleanup_install_config_ struct install_config *c = good_config();
        set(&c->timezone, "Nowhere/Special");
        set(&c->keymap, "klingon");
        set(&c->hostname, "bad_name");
        set(&c->root_password, "$6$notahash");
        c->admin.vlan = 5000;
        struct config_problems p;
        validate(c, -EINVAL, &p);
        assert_int_equal(p.n_errors, 5);
        for (size_t i = 0; i < p.n; i++)
                assert_null(strstr(p.items[i].message, "notahash"));
        config_problems_done(&p);
        config_problems_done(&p); /* twice is fine */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_timezone_lookup),
                cmocka_unit_test(test_timezone_validation),
                cmocka_unit_test(test_keymap),
                cmocka_unit_test(test_password_hashes),
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_redaction_and_long_values),
                cmocka_unit_test(test_network_sources),
                cmocka_unit_test(test_static_ipv4),
                cmocka_unit_test(test_interface),
                cmocka_unit_test(test_hostnames_and_servers),
                cmocka_unit_test(test_modes),
                cmocka_unit_test(test_guest_storage),
                cmocka_unit_test(test_all_problems),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
