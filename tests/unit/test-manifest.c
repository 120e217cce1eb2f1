/* The host image manifest: render, parse, refuse what is not one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
        /* A keyring without a signature: refused. */
        assert_int_equal(image_verify(img, man, "/nonexistent.gpg", NULL, &reason), -ENOENT);
        free(reason);
        unlink(img);
        unlink(man);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_image_format),
                cmocka_unit_test(test_verify),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
