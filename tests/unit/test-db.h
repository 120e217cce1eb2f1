/* For the answer-file reader and writer tests: install_config_print() into
 * a string, and a time zone and keymap database of a test's own, so that
 * what they accept does not depend on what the build machine has
 * installed: files under a temporary directory, named to the installer by
 * ZONEINFO_ROOT_ENV and KEYMAPS_ROOT_ENV (installer/config.h). For cmocka
 * group setup and teardown:
 *     static int setup(void **s) { test_db_create(); test_db_file(...); return test_db_use(); }
 *     static int teardown(void **s) { return test_db_remove(); } */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

static char test_db_dir[] = "/tmp/xh-test-db-XXXXXX";

static inline void test_db_create(void) {
        assert_non_null(mkdtemp(test_db_dir));
}

/* REL (zoneinfo/Europe/London, keymaps/i386/qwerty/us.kmap.gz) with
 * CONTENT, and every directory above it. */
static inline void test_db_file(const char *rel, const char *content) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", test_db_dir, rel);
        for (char *s = strchr(path + strlen(test_db_dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                (void) mkdir(path, 0755);
                *s = '/';
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static inline int test_db_use(void) {
        char path[512];
        snprintf(path, sizeof path, "%s/zoneinfo", test_db_dir);
        setenv(ZONEINFO_ROOT_ENV, path, 1);
        snprintf(path, sizeof path, "%s/keymaps", test_db_dir);
        setenv(KEYMAPS_ROOT_ENV, path, 1);
        return 0;
}

static inline int test_db_remove(void) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_db_dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* install_config_print() of C, as a string to free. */
static inline char *test_config_print(const struct install_config *c) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        assert_int_equal(install_config_print(c, f), 0);
        assert_int_equal(fclose(f), 0);
        return buf;
}
