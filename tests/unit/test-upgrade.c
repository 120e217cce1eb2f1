/* The upgrade module's pure parts: version order, the inventory, the
 * preserved list with an operator's preserve.d, and the status contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "upgrade.h"

static void test_version_order(void **state) {
        (void) state;
        assert_true(version_compare("0.10.0", "0.9.1") > 0);
        assert_true(version_compare("0.9.1", "0.10.0") < 0);
        assert_int_equal(version_compare("1.2.3", "1.2.3"), 0);
        assert_true(version_compare("1.0", "1.0.1") < 0);
        assert_true(version_compare("1.0.1", "1.0") > 0);
        assert_true(version_compare("99.1.0", "0.1.0") > 0);
        assert_true(version_compare("1.0.0-rc2", "1.0.0-rc10") < 0);
        assert_true(version_compare("2", "10") < 0);
}

static void test_inventory(void **state) {
        (void) state;
        const char *inv = "PRODUCT_VERSION='0.1.0'\nBUILD_NUMBER='abc'\nACTIVE_SLOT='b'\nPRODUCT_VERSION_X='no'\n";
        char *v = inventory_get(inv, "PRODUCT_VERSION");
        assert_string_equal(v, "0.1.0");
        free(v);
        v = inventory_get(inv, "ACTIVE_SLOT");
        assert_string_equal(v, "b");
        free(v);
        assert_null(inventory_get(inv, "SR_UUID"));
        assert_null(inventory_get(inv, "PRODUCT"));
}

static char *make_root(const char *list) {
        char *root = strdup("/tmp/xh-upgrade-unit.XXXXXX"), *p = NULL;
        assert_non_null(mkdtemp(root));
        assert_true(asprintf(&p, "mkdir -p %s/etc/xenhost/preserve.d", root) > 0);
        assert_int_equal(system(p), 0);
        free(p);
        if (list) {
                assert_true(asprintf(&p, "%s/etc/xenhost/preserve.d/site.list", root) > 0);
                FILE *f = fopen(p, "w");
                assert_non_null(f);
                fputs(list, f);
                fclose(f);
                free(p);
        }
        return root;
}

static void remove_root(char *root) {
        char *p = NULL;
        assert_true(asprintf(&p, "rm -rf %s", root) > 0);
        assert_int_equal(system(p), 0);
        free(p);
        free(root);
}

static void test_preserve_list(void **state) {
        (void) state;
        char *root = make_root("# the site's files\n/etc/site.conf   # main\n\n  /srv/data/x\n");
        char **l = NULL, *why = NULL;
        size_t n = 0;
        assert_int_equal(upgrade_preserve_list(root, &l, &why), 0);
        while (l[n])
                n++;
        /* The code's list first, in its order, then the operator's. */
        assert_string_equal(l[0], upgrade_preserved_paths[0]);
        assert_string_equal(l[n - 2], "/etc/site.conf");
        assert_string_equal(l[n - 1], "/srv/data/x");
        bool passwd = false, xen = false, ssh = false;
        for (size_t i = 0; i < n; i++) {
                passwd |= strcmp(l[i], "/etc/shadow") == 0;
                xen |= strcmp(l[i], "/etc/xen") == 0;
                ssh |= strcmp(l[i], "/root/.ssh") == 0;
        }
        assert_true(passwd && xen && ssh);
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
        remove_root(root);
}

static void test_preserve_list_refuses(void **state) {
        (void) state;
        static const char *const bad[] = {"etc/relative\n", "/proc/self/environ\n", "/etc/../root/x\n",
                                          "/var/log/messages\n", "/\n", "/run\n", "/boot/grub\n"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *root = make_root(bad[i]), **l = NULL, *why = NULL;
                assert_int_equal(upgrade_preserve_list(root, &l, &why), -EINVAL);
                assert_non_null(why);
                assert_non_null(strstr(why, "preserve.d/site.list:1:"));
                free(why);
                remove_root(root);
        }
}

static void test_status_json(void **state) {
        (void) state;
        struct upgrade_status s = {
                .active_slot = 'a', .default_slot = 'b',
                .slots = {{.slot = 'a', .version = "0.1.0", .state = SLOT_STATE_GOOD},
                          {.slot = 'b', .version = "0.2.0", .state = SLOT_STATE_TRYING, .tries_left = 3}},
                .last_kind = "upgrade", .last_result = "succeeded", .last_time = "2026-11-26T11:00:00Z",
                .last_version = "0.2.0", .last_slot = 'b',
        };
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_int_equal(upgrade_status_print_json(&s, f), 0);
        fclose(f);
        json_object *o = json_tokener_parse(text), *x, *b;
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "active_slot", &x));
        assert_string_equal(json_object_get_string(x), "a");
        assert_true(json_object_object_get_ex(o, "default_slot", &x));
        assert_string_equal(json_object_get_string(x), "b");
        assert_true(json_object_object_get_ex(o, "slots", &x) && json_object_object_get_ex(x, "b", &b));
        assert_true(json_object_object_get_ex(b, "state", &x));
        assert_string_equal(json_object_get_string(x), "trying");
        assert_true(json_object_object_get_ex(b, "tries_left", &x));
        assert_int_equal(json_object_get_int(x), 3);
        assert_true(json_object_object_get_ex(o, "last_operation", &x) && json_object_object_get_ex(x, "kind", &b));
        assert_string_equal(json_object_get_string(b), "upgrade");
        json_object_put(o);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_version_order),
                cmocka_unit_test(test_inventory),
                cmocka_unit_test(test_preserve_list),
                cmocka_unit_test(test_preserve_list_refuses),
                cmocka_unit_test(test_status_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
