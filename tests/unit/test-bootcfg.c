/* Xen command line and grub.cfg. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "boot.h"
#include "macro.h"

static void test_dom0_memory(void **state) {
        (void) state;
        assert_int_equal(dom0_memory_mib(1 * GiB), 816);   /* 752 + 51 -> 803 -> 816 */
        assert_int_equal(dom0_memory_mib(3 * GiB), 912);   /* 752 + 153 = 905 -> 912 */
        assert_int_equal(dom0_memory_mib(64 * GiB), 4032); /* 752 + 3276 = 4028 -> 4032 */
        assert_int_equal(dom0_memory_mib(1 * TiB), 8192);  /* capped */
        assert_int_equal(dom0_memory_mib(0), 768);         /* floor */
        for (uint64_t g = 1; g < 512; g *= 2)
                assert_int_equal(dom0_memory_mib(g * GiB) % 16, 0);
}

static void test_xen_cmdline(void **state) {
        (void) state;
        struct boot_options o = {.host_memory_bytes = 3 * GiB, .serial = true, .serial_speed = 115200};
        char *s = NULL;
        assert_int_equal(xen_cmdline(&o, &s), 0);
        assert_non_null(strstr(s, "dom0_mem=912M,max:912M"));
        assert_non_null(strstr(s, "console=com1,vga com1=115200,8n1"));
        free(s);
        o.serial = false;
        assert_int_equal(xen_cmdline(&o, &s), 0);
        assert_null(strstr(s, "com1"));
        assert_non_null(strstr(s, "console=vga"));
        free(s);
        assert_int_equal(dom0_cmdline(&o, 'b', &s), 0);
        assert_non_null(strstr(s, "root=PARTLABEL=xh-dom0-b"));
        assert_non_null(strstr(s, "console=hvc0"));
        free(s);
}

static void test_grub_cfg(void **state) {
        (void) state;
        struct boot_options o = {.host_memory_bytes = 4 * GiB, .serial = true, .default_slot = 'a'};
        struct slot_boot slots[] = {
                {'a', "1111-aaaa", "1.1.0", "xen-4.17-amd64.gz", "vmlinuz-6.1.0-56-amd64", "initrd.img-6.1.0-56-amd64"},
                {'b', "2222-bbbb", "1.0.0", "xen-4.17-amd64.gz", "vmlinuz-6.1.0-50-amd64", "initrd.img-6.1.0-50-amd64"},
        };
        char *s = NULL;
        assert_int_equal(grub_cfg_render(&o, slots, 2, &s), 0);
        assert_non_null(strstr(s, "set default=slot-a"));
        assert_null(strstr(s, "saved_entry"));
        assert_non_null(strstr(s, "set timeout=1\n"));
        assert_non_null(strstr(s, "--id slot-a"));
        assert_non_null(strstr(s, "--id slot-b"));
        assert_non_null(strstr(s, "search --no-floppy --fs-uuid --set=root 2222-bbbb"));
        assert_non_null(strstr(s, "multiboot2 /boot/xen-4.17-amd64.gz dom0_mem="));
        assert_non_null(strstr(s, "module2 /boot/vmlinuz-6.1.0-50-amd64 root=PARTLABEL=xh-dom0-b"));
        assert_non_null(strstr(s, "module2 --nounzip /boot/initrd.img-6.1.0-56-amd64"));
        assert_non_null(strstr(s, "terminal_output console serial"));
        assert_non_null(strstr(s, "xenhost 1.0.0 (slot b)"));
        free(s);
}

/* The count-down GRUB runs: grubenv's default, the chain 3 -> 2 -> 1 -> 0
 * saved before the try boots, and the fallback with its mark. */
static void test_grub_cfg_counting(void **state) {
        (void) state;
        struct boot_options o = {.host_memory_bytes = 4 * GiB, .default_slot = 'b'};
        struct slot_boot slots[] = {
                {'a', "1111-aaaa", "1.1.0", "xen-4.17-amd64.gz", "vmlinuz-a", "initrd-a"},
                {'b', "2222-bbbb", "1.0.0", "xen-4.17-amd64.gz", "vmlinuz-b", "initrd-b"},
        };
        char *s = NULL;
        assert_int_equal(grub_cfg_render(&o, slots, 2, &s), 0);
        const char *load = strstr(s, "load_env xh_default xh_try xh_tries\n");
        const char *def = strstr(s, "set default=slot-b\n");
        const char *env_def = strstr(s, "set default=\"slot-${xh_default}\"");
        const char *c3 = strstr(s, "[ \"${xh_tries}\" = 3 ]; then set xh_next=2\n");
        const char *c2 = strstr(s, "[ \"${xh_tries}\" = 2 ]; then set xh_next=1\n");
        const char *c1 = strstr(s, "[ \"${xh_tries}\" = 1 ]; then set xh_next=0\n");
        const char *save = strstr(s, "if save_env xh_tries; then\n");
        const char *try = strstr(s, "set default=\"slot-${xh_try}\"");
        const char *failed = strstr(s, "set xh_try_failed=\"${xh_try}\"");
        const char *save_failed = strstr(s, "save_env xh_try_failed xh_try xh_tries\n");
        const char *entry_a = strstr(s, "--id slot-a {");
        const char *entry_b = strstr(s, "--id slot-b {");
        assert_non_null(load);
        assert_non_null(def);
        assert_non_null(env_def);
        assert_non_null(c3);
        assert_non_null(c2);
        assert_non_null(c1);
        assert_non_null(save);
        assert_non_null(try);
        assert_non_null(failed);
        assert_non_null(save_failed);
        assert_non_null(entry_a);
        assert_non_null(entry_b);
        /* In GRUB's order: compiled-in default, grubenv, the chain, the try
         * booted only once its count is saved, then the entries. */
        assert_true(def < load && load < env_def && env_def < c3 && c3 < c2 && c2 < c1 && c1 < save);
        assert_true(save < try && try < failed && failed < save_failed && save_failed < entry_a);
        assert_null(strstr(s, "xh_next=-"));
        assert_non_null(strstr(s, "[ \"${xh_tries}\" = 9 ]; then set xh_next=8\n"));
        assert_non_null(strstr(s, "xenhost 1.0.0 (slot b)"));
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dom0_memory),
                cmocka_unit_test(test_xen_cmdline),
                cmocka_unit_test(test_grub_cfg),
                cmocka_unit_test(test_grub_cfg_counting),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
