/* The host image manifest: render, parse, refuse what is not one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "macro.h"
#include "manifest.h"

static const char good[] =
        "PRODUCT=xenhost\nVERSION=1.2.0\nBUILD=abc\n"
        "IMAGE_SHA256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
        "IMAGE_SIZE=240603136\nINSTALLED_SIZE=840929280\nXEN_VERSION=4.17.7\nKERNEL_VERSION=6.1.0-56-amd64\n"
        "SOURCE_DATE_EPOCH=1700000000\nMIN_UPGRADE_FROM=1.0.0\n";

static void test_roundtrip(void **state) {
        (void) state;
        struct manifest m = {};
        char *text = NULL, *reason = NULL;
        assert_int_equal(manifest_parse(good, &m, &reason), 0);
        assert_string_equal(m.version, "1.2.0");
        assert_int_equal(m.image_size, 240603136);
        assert_int_equal(m.source_date_epoch, 1700000000);
        assert_int_equal(manifest_format(&m, &text), 0);
        assert_string_equal(text, good);
        free(text);
        manifest_done(&m);
}

static void expect_bad(const char *text, const char *what) {
        struct manifest m = {};
        char *reason = NULL;
        assert_int_equal(manifest_parse(text, &m, &reason), -EBADMSG);
        assert_non_null(reason);
        assert_non_null(strstr(reason, what));
        free(reason);
}

static void test_bad(void **state) {
        (void) state;
        char buf[1024];
        expect_bad("PRODUCT=xenhost\n", "lacks");
        expect_bad("garbage\n", "not KEY=value");
        snprintf(buf, sizeof buf, "%sEXTRA=1\n", good);
        expect_bad(buf, "unknown key EXTRA");
        snprintf(buf, sizeof buf, "%sVERSION=2\n", good);
        expect_bad(buf, "given twice");
        expect_bad("PRODUCT=other\nVERSION=1\nBUILD=a\n"
                   "IMAGE_SHA256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                   "IMAGE_SIZE=1\nINSTALLED_SIZE=1\nXEN_VERSION=4\nKERNEL_VERSION=6\nSOURCE_DATE_EPOCH=1\n"
                   "MIN_UPGRADE_FROM=1\n", "not xenhost");
        snprintf(buf, sizeof buf, "%s", good);
        char *p = strstr(buf, "IMAGE_SIZE=") + strlen("IMAGE_SIZE=");
        *p = 'x';
        expect_bad(buf, "not a number");
        snprintf(buf, sizeof buf, "%s", good);
        p = strstr(buf, "IMAGE_SHA256=") + strlen("IMAGE_SHA256=");
        *p = 'Z';
        expect_bad(buf, "not a SHA-256");
}

static const char good_ext4[] =
        "PRODUCT=xenhost\nVERSION=1.3.0\nBUILD=abc\n"
        "IMAGE_SHA256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
        "IMAGE_SIZE=300000000\nIMAGE_FORMAT=ext4.zst\nINSTALLED_SIZE=840929280\nXEN_VERSION=4.17.7\n"
        "KERNEL_VERSION=6.1.0-56-amd64\nSOURCE_DATE_EPOCH=1700000000\nMIN_UPGRADE_FROM=0.1.0\n";

static void test_image_format(void **state) {
        (void) state;
        struct manifest m = {};
        char *text = NULL, *reason = NULL, buf[1024];

        assert_string_equal(image_format_to_string(IMAGE_FORMAT_SQUASHFS), "squashfs");
        assert_string_equal(image_format_to_string(IMAGE_FORMAT_EXT4_ZST), "ext4.zst");
        assert_null(image_format_to_string(_IMAGE_FORMAT_MAX));
        assert_int_equal(image_format_from_string("ext4.zst"), IMAGE_FORMAT_EXT4_ZST);
        assert_int_equal(image_format_from_string("squashfs"), IMAGE_FORMAT_SQUASHFS);
        assert_int_equal(image_format_from_string("ext4"), -EINVAL);

        /* A 0.1.0 manifest has no IMAGE_FORMAT: its image is a squashfs. */
        assert_int_equal(manifest_parse(good, &m, &reason), 0);
        assert_int_equal(m.image_format, IMAGE_FORMAT_SQUASHFS);
        manifest_done(&m);

        /* ext4.zst is parsed and rendered back in its place. */
        assert_int_equal(manifest_parse(good_ext4, &m, &reason), 0);
        assert_int_equal(m.image_format, IMAGE_FORMAT_EXT4_ZST);
        assert_int_equal(manifest_format(&m, &text), 0);
        assert_string_equal(text, good_ext4);
        free(text);
        manifest_done(&m);

        /* Said explicitly, squashfs is accepted too. */
        snprintf(buf, sizeof buf, "%sIMAGE_FORMAT=squashfs\n", good);
        assert_int_equal(manifest_parse(buf, &m, &reason), 0);
        assert_int_equal(m.image_format, IMAGE_FORMAT_SQUASHFS);
        manifest_done(&m);

        /* An unknown format is refused with one line that names it. */
        snprintf(buf, sizeof buf, "%sIMAGE_FORMAT=btrfs.xz\n", good);
        expect_bad(buf, "unknown IMAGE_FORMAT 'btrfs.xz'");
        snprintf(buf, sizeof buf, "%sIMAGE_FORMAT=ext4.zst\n", good_ext4);
        expect_bad(buf, "IMAGE_FORMAT given twice");
        snprintf(buf, sizeof buf, "%sIMAGE_FORMAT=\n", good);
        expect_bad(buf, "unknown IMAGE_FORMAT ''");
        /* Still every other key is required. */
        expect_bad("IMAGE_FORMAT=ext4.zst\n", "lacks");
}

static void test_verify(void **state) {
        (void) state;
        char dir[] = "/tmp/xh-manifest-XXXXXX", img[64], man[64], *text = NULL, *reason = NULL;
        struct manifest m = {.product = "xenhost", .version = "1", .build = "b", .xen_version = "4",
                             .kernel_version = "6", .min_upgrade_from = "1"};
        char hex[65];
        assert_non_null(mkdtemp(dir));
        snprintf(img, sizeof img, "%s/x.img", dir);
        snprintf(man, sizeof man, "%s/x.manifest", dir);
        FILE *f = fopen(img, "w");
        fputs("image bytes", f);
        fclose(f);
        assert_int_equal(sha256_file(img, hex, &m.image_size), 0);
        assert_int_equal(m.image_size, 11);
        m.image_sha256 = hex;
        assert_int_equal(manifest_format(&m, &text), 0);
        f = fopen(man, "w");
        fputs(text, f);
        fclose(f);
        free(text);
        assert_int_equal(image_verify(img, man, NULL, NULL, &reason), 0);
        /* One byte changed: refused. */
        f = fopen(img, "r+");
        fputs("I", f);
        fclose(f);
        assert_int_equal(image_verify(img, man, NULL, NULL, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "SHA-256"));
        free(reason);
        reason = NULL;
        /* A keyring that is not there says so. */
        assert_int_equal(image_verify(img, man, "/nonexistent.gpg", NULL, &reason), -ENOENT);
        assert_string_equal(reason, "keyring /nonexistent.gpg does not exist");
        free(reason);
        reason = NULL;
        /* A keyring and no signature: refused, unless let through. */
        char kr[80];
        snprintf(kr, sizeof kr, "%s/keyring.gpg", dir);
        f = fopen(kr, "w");
        fclose(f);
        assert_int_equal(image_verify(img, man, kr, NULL, &reason), -ENOKEY);
        assert_non_null(strstr(reason, "is not signed"));
        free(reason);
        reason = NULL;
        /* A longer image: refused after IMAGE_SIZE + 1 bytes. */
        f = fopen(img, "w");
        fputs("image bytes, and then a lot more", f);
        fclose(f);
        assert_int_equal(image_verify(img, man, NULL, NULL, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "is larger than the manifest's IMAGE_SIZE"));
        free(reason);
        reason = NULL;
        f = fopen(img, "w");
        fputs("image bytes", f);
        fclose(f);
        assert_int_equal(image_verify_flags(img, man, kr, MANIFEST_ALLOW_UNSIGNED, NULL, &reason),
                         MANIFEST_UNSIGNED_ALLOWED);
        free(reason);
        unlink(kr);
        unlink(img);
        unlink(man);
        rmdir(dir);
}

/* Replaces the value of KEY in the good manifest with VALUE. */
static char *with_value(const char *key, const char *value) {
        char *out = NULL;
        const char *at = strstr(good, key), *eol = strchr(at, '\n');
        size_t kl = strlen(key);
        assert_non_null(at);
        assert_true(asprintf(&out, "%.*s%s%s", (int) (at - good + kl), good, value, eol) > 0);
        return out;
}

static void expect_bad_value(const char *key, const char *value, const char *what) {
        char *text = with_value(key, value);
        struct manifest m = {};
        char *reason = NULL;
        assert_int_equal(manifest_parse(text, &m, &reason), -EBADMSG);
        assert_non_null(reason);
        if (!strstr(reason, what))
                fail_msg("reason '%s' lacks '%s'", reason, what);
        /* Nothing of the value reaches a console unescaped. */
        for (const char *c = reason; *c; c++)
                assert_true((unsigned char) *c >= 0x20 && (unsigned char) *c < 0x7f);
        free(reason);
        free(text);
}

static void test_values(void **state) {
        (void) state;
        expect_bad_value("VERSION=", "../../../etc/x", "VERSION '../../../etc/x' is not a version");
        expect_bad_value("VERSION=", "1.0/x", "is not a version");
        expect_bad_value("VERSION=", "1..0", "is not a version");
        expect_bad_value("VERSION=", "-1.0", "is not a version");
        expect_bad_value("VERSION=", "", "VERSION is empty");
        expect_bad_value("VERSION=", "1.0\x1b[2J\x1b[31mOK", "VERSION holds a control or non-ASCII character: '1.0\\x1b[2J");
        expect_bad_value("VERSION=", "1.0 rc1", "is not a version");
        expect_bad_value("VERSION=", "12345678901234567890123456789012345678901234567890123456789012345", "is not a version");
        expect_bad_value("MIN_UPGRADE_FROM=", "../x", "MIN_UPGRADE_FROM '../x' is not a version");
        expect_bad_value("XEN_VERSION=", "4.17;rm", "XEN_VERSION '4.17;rm' is not a version");
        expect_bad_value("KERNEL_VERSION=", "6.1\t", "KERNEL_VERSION holds a control");
        expect_bad_value("BUILD=", "abc\x07", "BUILD holds a control");
        expect_bad_value("BUILD=", "caf\xc3\xa9", "BUILD holds a control or non-ASCII character: 'caf\\xc3\\xa9'");
        expect_bad_value("BUILD=", "", "BUILD is empty");
        char big[200];
        memset(big, 'b', sizeof big - 1);
        big[sizeof big - 1] = 0;
        expect_bad_value("BUILD=", big, "BUILD is longer than 128 characters");
        /* An unknown key with an escape sequence is shown escaped. */
        struct manifest m = {};
        char *reason = NULL, buf[1024];
        snprintf(buf, sizeof buf, "%sX\x1b]0;pwned\x07=1\n", good);
        assert_int_equal(manifest_parse(buf, &m, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "unknown key X\\x1b]0;pwned\\x07"));
        free(reason);
        reason = NULL;
        /* The longest version there may be is fine. */
        char *ok = with_value("VERSION=", "1234567890123456789012345678901234567890123456789012345678901234");
        assert_int_equal(manifest_parse(ok, &m, &reason), 0);
        manifest_done(&m);
        free(ok);
        assert_true(manifest_version_is_valid("0.1.0"));
        assert_true(manifest_version_is_valid("4.17.7+13-g2445b30a44-0~deb12u1"));
        assert_false(manifest_version_is_valid("."));
        assert_false(manifest_version_is_valid(NULL));
}

/* A 64 MB BUILD: refused by its size before any copy is made. */
static void test_huge(void **state) {
        (void) state;
        const size_t n = 64 * 1000 * 1000;
        char *text = malloc(n + 200), *reason = NULL;
        struct manifest m = {};
        assert_non_null(text);
        int l = snprintf(text, 200, "PRODUCT=xenhost\nVERSION=1.0\nBUILD=");
        memset(text + l, 'B', n);
        strcpy(text + l + n, "\n");
        assert_int_equal(manifest_parse(text, &m, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "larger than 16 KiB"));
        assert_true(strlen(reason) < 200);
        free(reason);
        reason = NULL;

        /* The same as a file: manifest_read() stops after 16 KiB + 1. */
        char dir[] = "/tmp/xh-manifest-XXXXXX", path[64], *got = NULL;
        size_t len;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/big.manifest", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, l + n + 1, f), l + n + 1);
        fclose(f);
        free(text);
        assert_int_equal(manifest_read(path, &got, &len, &reason), -EFBIG);
        assert_non_null(strstr(reason, "is larger than 16 KiB: not a manifest"));
        free(reason);
        reason = NULL;
        assert_int_equal(manifest_load(path, NULL, 0, &m, &reason), -EFBIG);
        free(reason);
        reason = NULL;
        unlink(path);

        /* A NUL byte: what is parsed would not be all that is signed. */
        f = fopen(path, "w");
        fwrite(good, 1, 20, f);
        fputc(0, f);
        fputs("BUILD=x\n", f);
        fclose(f);
        assert_int_equal(manifest_read(path, &got, &len, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "NUL"));
        free(reason);
        reason = NULL;
        unlink(path);

        /* /dev/zero and a FIFO: refused at once, without reading. */
        assert_int_equal(manifest_read("/dev/zero", &got, &len, &reason), -EBADMSG);
        assert_string_equal(reason, "/dev/zero is not a regular file");
        free(reason);
        reason = NULL;
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(manifest_read(path, &got, &len, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "is not a regular file"));
        free(reason);
        reason = NULL;
        assert_int_equal(image_verify("/dev/null", path, NULL, NULL, &reason), -EBADMSG);
        free(reason);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_image_format),
                cmocka_unit_test(test_verify),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_huge),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
