/* Packs across an upgrade (supplemental-packs/carry.h): the order packs are
 * reinstalled in, and the one line that says why a pack is not carried
 * over, planned from records alone (no kept copies: those packs whose
 * requirements hold are then left out for want of their copy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "carry.h"
#include "fileio.h"
#include "macro.h"
#include "pack.h"

static char *dir_new(void) {
        char *d = strdup("/tmp/test-pack-carry-XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *d) {
        char *cmd;
        assert_true(asprintf(&cmd, "rm -rf -- '%s'", d) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

static void record(const char *root, const char *name, const char *version, long installed, const char *requires) {
        char *dir, *path, *json;
        assert_true(asprintf(&dir, "%s%s", root, PACK_RECORD_DIR) > 0);
        assert_int_equal(mkdir_all(dir, 0755), 0);
        assert_true(asprintf(&path, "%s/%s.json", dir, name) > 0);
        assert_true(asprintf(&json,
                             "{\"name\":\"%s\",\"version\":\"%s\",\"build\":\"1\",\"originator\":\"acme\","
                             "\"installed\":%ld,\"requires\":[%s],\"packages\":[]}\n",
                             name, version, installed, requires) > 0);
        assert_int_equal(write_file_atomic(path, json, strlen(json), 0644), 0);
        free(dir), free(path), free(json);
}

static void test_order_and_reasons(void **state) {
        (void) state;
        char *from = dir_new(), *work = dir_new(), *reason = NULL;
        struct pack_carry_list l = {};
        /* acme-base was upgraded after acme-tools was installed: its time is
         * later, yet it goes first. acme-zed came in the same second as
         * acme-tools. */
        record(from, "acme-tools", "1.0", 100, "\"pack:acme-base >= 1.0\"");
        record(from, "acme-zed", "1.0", 100, "");
        record(from, "acme-base", "2.0", 200, "\"xenhost >= 0.1\"");
        record(from, "acme-old", "1.0", 50, "\"xenhost < 2.0\"");
        record(from, "acme-dep", "1.0", 60, "\"pack:acme-old\"");
        record(from, "acme-lost", "1.0", 70, "\"pack:acme-gone >= 3\"");
        const struct pack_carry_options o = {.new_version = "2.1", .work_dir = work};
        assert_int_equal(pack_carry_plan(from, &o, &l, &reason), 0);
        assert_int_equal(l.n, 6);
        const char *order[] = {"acme-old", "acme-dep", "acme-lost", "acme-zed", "acme-base", "acme-tools"};
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                assert_string_equal(l.packs[i].name, order[i]);
        for (size_t i = 0; i < l.n; i++)
                assert_false(l.packs[i].carried);
        char *line = pack_carry_to_string(&l.packs[0]);
        assert_string_equal(line,
                            "pack acme-old 1.0 build 1 not carried over: requires xenhost < 2.0, the new version is 2.1");
        free(line);
        assert_string_equal(l.packs[1].reason, "requires pack:acme-old, which is not carried over");
        assert_string_equal(l.packs[2].reason, "requires pack:acme-gone >= 3, which is not installed");
        /* Requirements that hold: then the kept copy is looked at. */
        assert_non_null(strstr(l.packs[4].reason, "its kept copy"));
        assert_non_null(strstr(l.packs[4].reason, "acme-base.pack is missing"));
        assert_string_equal(l.packs[5].reason, "requires pack:acme-base >= 1.0, which is not carried over");
        /* The scratch root is gone again; nothing was written in FROM. */
        assert_int_equal(rmdir(work), 0);
        pack_carry_list_done(&l);
        free(reason);
        rm_rf(from);
        free(from), free(work);
}

static void test_nothing_recorded(void **state) {
        (void) state;
        char *from = dir_new(), *work = dir_new();
        struct pack_carry_list l = {};
        const struct pack_carry_options o = {.new_version = "2.1", .work_dir = work};
        assert_int_equal(pack_carry_plan(from, &o, &l, NULL), 0);
        assert_int_equal(l.n, 0);
        pack_carry_list_done(&l);
        assert_int_equal(rmdir(work), 0);
        assert_int_equal(rmdir(from), 0);
        free(from), free(work);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_and_reasons),
                cmocka_unit_test(test_nothing_recorded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
