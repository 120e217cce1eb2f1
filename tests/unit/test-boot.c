/* The boot writer: grubenv's block, the boot-state transitions on an ESP in a
 * temporary directory, grub.cfg written in place, and the grub-install and
 * efibootmgr runs against stand-in programs (never the machine's own disks). */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "boot.h"
#include "fileio.h"
#include "macro.h"
#include "process.h"

static char *tmpdir_new(void) {
        char *d = strdup("/tmp/test-boot.XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

/* --one-file-system: never into a bind mount left by a failed test. */
static void rm_rf(const char *path) {
        const char *argv[] = {"rm", "-rf", "--one-file-system", path, NULL};
        pid_t pid = fork();
        if (pid == 0) {
                execvp(argv[0], (char **) argv);
                _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
}

static char *read_text(const char *dir, const char *name, size_t *ret_len) {
        _cleanup_free_ char *p = NULL;
        char *t = NULL;
        size_t len;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        if (read_full_file(p, &t, &len) < 0)
                return NULL;
        if (ret_len)
                *ret_len = len;
        return t;
}

static void write_text(const char *dir, const char *name, const char *text, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        assert_int_equal(write_file_atomic(p, text, strlen(text), mode), 0);
}

/* Entries of DIR other than . and .., and whether one is a temporary file
 * of write_file_atomic() ("NAME.tmpXXXXXX"). */
static unsigned dir_entries(const char *dir, bool *ret_tmp) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        bool tmp = false;
        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        n++;
                        tmp = tmp || strstr(de->d_name, ".tmp");
                }
        closedir(d);
        if (ret_tmp)
                *ret_tmp = tmp;
        return n;
}

/* A grubenv as GRUB leaves it: TEXT padded with '#' to 1024 bytes. */
static void write_grubenv(const char *grub, const char *text) {
        char block[BOOT_ENV_SIZE + 1];
        memset(block, '#', BOOT_ENV_SIZE);
        memcpy(block, text, strlen(text));
        block[BOOT_ENV_SIZE] = 0;
        write_text(grub, "grubenv", block, 0644);
}

static void assert_state_equal(const struct boot_state *a, const struct boot_state *b) {
        assert_int_equal(a->default_slot, b->default_slot);
        assert_int_equal(a->try_slot, b->try_slot);
        assert_int_equal(a->tries_left, b->tries_left);
        assert_int_equal(a->try_failed, b->try_failed);
}

static void test_env_render(void **state) {
        (void) state;
        struct boot_state s = {.default_slot = 'a', .try_slot = 'b', .tries_left = 3}, p;
        char *t = NULL;
        assert_int_equal(boot_env_render(&s, &t), 0);
        assert_int_equal(strlen(t), 1024);
        assert_memory_equal(t, "# GRUB Environment Block\nxh_default=a\nxh_try=b\nxh_tries=3\n#", 59);
        assert_int_equal(t[1023], '#');
        assert_int_equal(boot_env_parse(t, 1024, &p), 0);
        assert_int_equal(p.default_slot, 'a');
        assert_int_equal(p.try_slot, 'b');
        assert_int_equal(p.tries_left, 3);
        assert_int_equal(p.try_failed, 0);
        free(t);

        /* Round trip over every state the module can write. */
        const char slots[] = {0, 'a', 'b'};
        for (unsigned d = 0; d < 3; d++)
                for (unsigned y = 0; y < 3; y++)
                        for (unsigned f = 0; f < 3; f++)
                                for (unsigned n = 0; n <= BOOT_TRIES_MAX; n++) {
                                        s = (struct boot_state) {slots[d], slots[y], slots[y] ? n : 0, slots[f]};
                                        assert_int_equal(boot_env_render(&s, &t), 0);
                                        assert_int_equal(strlen(t), BOOT_ENV_SIZE);
                                        assert_int_equal(boot_env_parse(t, BOOT_ENV_SIZE, &p), 0);
                                        assert_state_equal(&s, &p);
                                        free(t);
                                }

        /* Nothing that GRUB or this module would not write. */
        s = (struct boot_state) {.default_slot = 'c'};
        assert_int_equal(boot_env_render(&s, &t), -EINVAL);
        s = (struct boot_state) {.default_slot = 'a', .try_slot = 'b', .tries_left = BOOT_TRIES_MAX + 1};
        assert_int_equal(boot_env_render(&s, &t), -EINVAL);
}

static void test_env_parse(void **state) {
        (void) state;
        struct boot_state p = {.default_slot = 'x'};
        char block[BOOT_ENV_SIZE];

        /* What grub-editenv and GRUB's save_env leave: other variables, and
         * the try cleared by GRUB after the fallback. */
        const char *grub = "# GRUB Environment Block\nsaved_entry=slot-a\nxh_default=b\nxh_try_failed=a\n";
        memset(block, '#', sizeof block);
        memcpy(block, grub, strlen(grub));
        assert_int_equal(boot_env_parse(block, sizeof block, &p), 0);
        assert_int_equal(p.default_slot, 'b');
        assert_int_equal(p.try_slot, 0);
        assert_int_equal(p.try_failed, 'a');

        /* Tries at 0: GRUB falls back on the next boot. */
        const char *zero = "# GRUB Environment Block\nxh_default=a\nxh_try=b\nxh_tries=0\n";
        assert_int_equal(boot_env_parse(zero, strlen(zero), &p), 0);
        assert_int_equal(p.try_slot, 'b');
        assert_int_equal(p.tries_left, 0);
        /* An empty block (grub-editenv create) names no default. */
        const char *empty = "# GRUB Environment Block\n";
        assert_int_equal(boot_env_parse(empty, strlen(empty), &p), 0);
        assert_int_equal(p.default_slot, 0);

        /* Garbage is refused, and RET is left alone. */
        static const char *const bad[] = {
                "",
                "# GRUB Environment Blo",
                "GRUB Environment Block\nxh_default=a\n",
                "\x7f" "ELF\x02\x01\x01",
                "# GRUB Environment Block\nxh_default=c\n",
                "# GRUB Environment Block\nxh_default=\n",
                "# GRUB Environment Block\nxh_default=ab\n",
                "# GRUB Environment Block\nxh_try=b\nxh_tries=12\n",
                "# GRUB Environment Block\nxh_try=b\nxh_tries=-1\n",
                "# GRUB Environment Block\nxh_try=z\n",
                "# GRUB Environment Block\nthis is not a variable\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct boot_state q = {.default_slot = 'x'};
                assert_int_equal(boot_env_parse(bad[i], strlen(bad[i]), &q), -EBADMSG);
                assert_int_equal(q.default_slot, 'x');
        }
        char nul[] = "# GRUB Environment Block\nxh_default=a\n\0####";
        assert_int_equal(boot_env_parse(nul, sizeof nul - 1, &p), -EBADMSG);
}

static void check_state(const char *esp, char def, char try, unsigned tries, char failed) {
        struct boot_state s;
        size_t len = 0;
        _cleanup_free_ char *grub = NULL, *t = NULL;
        assert_true(asprintf(&grub, "%s/grub", esp) > 0);
        assert_int_equal(boot_state_read(esp, &s), 0);
        assert_int_equal(s.default_slot, def);
        assert_int_equal(s.try_slot, try);
        assert_int_equal(s.tries_left, tries);
        assert_int_equal(s.try_failed, failed);
        /* GRUB's save_env rewrites the file in place: it must stay 1024 bytes. */
        t = read_text(grub, "grubenv", &len);
        assert_non_null(t);
        assert_int_equal(len, BOOT_ENV_SIZE);
        /* Replaced atomically: no temporary file left beside it. */
        bool tmp = true;
        dir_entries(grub, &tmp);
        assert_false(tmp);
}

static void test_transitions(void **state) {
        (void) state;
        _cleanup_free_ char *esp = tmpdir_new(), *reason = NULL;
        struct boot_state s;

        /* A fresh ESP: no grubenv. */
        assert_int_equal(boot_state_read(esp, &s), -ENOENT);
        /* The installer: slot a, good. */
        assert_int_equal(boot_set_default(esp, 'a', 0, &reason), 0);
        check_state(esp, 'a', 0, 0, 0);
        /* Idempotent. */
        assert_int_equal(boot_set_default(esp, 'a', 0, &reason), 0);
        check_state(esp, 'a', 0, 0, 0);

        /* An upgrade into b: tried 3 times, a stays the default. */
        assert_int_equal(boot_set_default(esp, 'b', BOOT_TRIES_DEFAULT, &reason), 0);
        check_state(esp, 'a', 'b', 3, 0);
        /* The health check of b: marked good. */
        assert_int_equal(boot_mark_good(esp, 'b', &reason), 0);
        check_state(esp, 'b', 0, 0, 0);

        /* The next upgrade, into a; GRUB used up every try and fell back. */
        assert_int_equal(boot_set_default(esp, 'a', 3, &reason), 0);
        check_state(esp, 'b', 'a', 3, 0);
        _cleanup_free_ char *grub = NULL;
        assert_true(asprintf(&grub, "%s/grub", esp) > 0);
        write_grubenv(grub, "# GRUB Environment Block\nxh_default=b\nxh_try_failed=a\n");
        check_state(esp, 'b', 0, 0, 'a');
        /* b's health check after the fallback keeps the mark for status. */
        assert_int_equal(boot_mark_good(esp, 'b', &reason), 0);
        check_state(esp, 'b', 0, 0, 'a');
        /* A new try of a clears it; a rollback to a marks it good too. */
        assert_int_equal(boot_set_default(esp, 'a', 2, &reason), 0);
        check_state(esp, 'b', 'a', 2, 0);
        assert_int_equal(boot_set_default(esp, 'b', 0, &reason), 0);
        check_state(esp, 'b', 0, 0, 0);
        assert_int_equal(boot_set_default(esp, 'a', 0, &reason), 0);
        check_state(esp, 'a', 0, 0, 0);

        /* Refused, grubenv untouched: the default itself as the try, no slot,
         * more tries than grub.cfg counts. */
        assert_int_equal(boot_set_default(esp, 'a', 3, &reason), -EINVAL);
        assert_non_null(strstr(reason, "already the default"));
        assert_int_equal(boot_set_default(esp, 'c', 0, &reason), -EINVAL);
        assert_non_null(strstr(reason, "not a slot"));
        assert_int_equal(boot_set_default(esp, 'b', BOOT_TRIES_MAX + 1, &reason), -EINVAL);
        assert_non_null(strstr(reason, "more than"));
        check_state(esp, 'a', 0, 0, 0);

        /* A garbled grubenv is replaced by a good one; a try from nothing
         * falls back to the other slot. */
        write_text(grub, "grubenv", "garbage", 0644);
        assert_int_equal(boot_state_read(esp, &s), -EBADMSG);
        assert_int_equal(boot_set_default(esp, 'b', 3, &reason), 0);
        check_state(esp, 'a', 'b', 3, 0);

        /* An ESP that cannot be written: a reason, and the old file stays. */
        if (geteuid() != 0) {
                assert_int_equal(chmod(grub, 0555), 0);
                assert_true(boot_mark_good(esp, 'b', &reason) < 0);
                assert_non_null(strstr(reason, "grubenv"));
                assert_int_equal(chmod(grub, 0755), 0);
                check_state(esp, 'a', 'b', 3, 0);
        }
        rm_rf(esp);
}

static void test_config_write(void **state) {
        (void) state;
        _cleanup_free_ char *esp = tmpdir_new(), *reason = NULL, *grub = NULL, *text = NULL, *want = NULL;
        struct boot_options o = {.host_memory_bytes = 4 * GiB, .serial = true, .default_slot = 'a'};
        struct slot_boot slots[] = {
                {'a', "1111-aaaa", "1.1.0", "xen-4.17-amd64.gz", "vmlinuz-a", "initrd-a"},
                {'b', "2222-bbbb", "1.0.0", "xen-4.17-amd64.gz", "vmlinuz-b", "initrd-b"},
        };
        assert_true(asprintf(&grub, "%s/grub", esp) > 0);
        assert_int_equal(boot_config_write(esp, &o, slots, 1, &reason), 0);
        assert_int_equal(boot_config_write(esp, &o, slots, 2, &reason), 0);
        assert_int_equal(grub_cfg_render(&o, slots, 2, &want), 0);
        text = read_text(grub, "grub.cfg", NULL);
        assert_non_null(text);
        assert_string_equal(text, want);
        assert_int_equal(dir_entries(grub, NULL), 1);
        /* The grubenv next to it is not touched. */
        assert_int_equal(boot_set_default(esp, 'a', 0, &reason), 0);
        assert_int_equal(boot_config_write(esp, &o, slots, 2, &reason), 0);
        check_state(esp, 'a', 0, 0, 0);
        rm_rf(esp);
        assert_true(boot_config_write("/nonexistent/esp", &o, slots, 2, &reason) < 0);
        assert_non_null(strstr(reason, "/nonexistent/esp/grub"));
}

static void test_cmds(void **state) {
        (void) state;
        struct boot_cmd c[BOOT_GRUB_INSTALL_RUNS], e;
        char buf[512];

        /* A 512-byte-sector disk: the same runs as the install engine has
         * made since the first release, so the end-to-end install keeps its
         * proven path. */
        assert_int_equal(boot_grub_install_cmds("/run/xenhost-install/target", "/dev/vda", 512, c), 3);
        spawn_format_argv(c[0].argv, buf, sizeof buf);
        assert_string_equal(buf, "chroot /run/xenhost-install/target grub-install --target=i386-pc "
                                 "--boot-directory=/boot/efi '--modules=part_gpt fat ext2' /dev/vda");
        spawn_format_argv(c[1].argv, buf, sizeof buf);
        assert_string_equal(buf, "chroot /run/xenhost-install/target grub-install --target=x86_64-efi "
                                 "--efi-directory=/boot/efi --boot-directory=/boot/efi --removable --no-nvram");
        spawn_format_argv(c[2].argv, buf, sizeof buf);
        assert_string_equal(buf, "chroot /run/xenhost-install/target grub-install --target=x86_64-efi "
                                 "--efi-directory=/boot/efi --boot-directory=/boot/efi --bootloader-id=xenhost "
                                 "--no-nvram");

        /* A sector size that could not be read (not a block device) keeps
         * the BIOS run. */
        assert_int_equal(boot_grub_install_cmds("/run/xenhost-install/target", "/dev/vda", 0, c), 3);
        assert_string_equal(c[0].argv[3], "--target=i386-pc");

        /* A 4Kn disk: no BIOS can boot it, so GRUB is installed for UEFI
         * only, and no run names the disk. */
        assert_true(boot_bios_bootable(512));
        assert_true(boot_bios_bootable(0));
        assert_false(boot_bios_bootable(4096));
        assert_false(boot_bios_bootable(1024));
        assert_int_equal(boot_grub_install_cmds("/run/xenhost-install/target", "/dev/nvme0n1", 4096, c), 2);
        for (size_t i = 0; i < 2; i++) {
                spawn_format_argv(c[i].argv, buf, sizeof buf);
                assert_null(strstr(buf, "i386-pc"));
                assert_null(strstr(buf, "nvme0n1"));
        }
        assert_string_equal(c[1].what, "grub-install for UEFI");

        boot_efi_create_cmd("/dev/nvme0n1", "2", "xenhost", "\\EFI\\xenhost\\grubx64.efi", &e);
        assert_string_equal(e.argv[0], "efibootmgr");
        assert_string_equal(e.argv[10], "\\EFI\\xenhost\\grubx64.efi");
        assert_null(e.argv[11]);
        spawn_format_argv(e.argv, buf, sizeof buf);
        assert_non_null(strstr(buf, "efibootmgr -q -c -d /dev/nvme0n1 -p 2 -L xenhost -l "));
}

static const char efi_listing[] = "BootCurrent: 0001\n"
                                  "Timeout: 0 seconds\n"
                                  "BootOrder: 0001,000A,0000,0002\n"
                                  "Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21)\n"
                                  "Boot0001* xenhost\tHD(2,GPT,5d1f...,0x800,0x100000)/File(\\EFI\\xenhost\\grubx64.efi)\n"
                                  "Boot0002* UEFI QEMU HARDDISK QM00001 \tPciRoot(0x0)/Pci(0x1,0x1)/Ata(0,0,0)\n"
                                  "Boot000A  xenhost\n"
                                  "Boot0003* xenhost-old\tHD(2,GPT,...)\n"
                                  "Boot0004* Xenhost\tHD(2,GPT,...)\n";

static void test_efi_find(void **state) {
        (void) state;
        unsigned nums[4] = {};
        assert_int_equal(boot_efi_find_entries(efi_listing, "xenhost", nums, 4), 2);
        assert_int_equal(nums[0], 0x1);
        assert_int_equal(nums[1], 0xA);
        assert_int_equal(boot_efi_find_entries(efi_listing, "xenhost", nums, 1), 2);
        assert_int_equal(boot_efi_find_entries(efi_listing, "UiApp", nums, 4), 1);
        assert_int_equal(nums[0], 0);
        assert_int_equal(boot_efi_find_entries(efi_listing, "nothing", nums, 4), 0);
        assert_int_equal(boot_efi_find_entries("", "xenhost", nums, 4), 0);
}

/* Stand-ins for chroot and efibootmgr, first in PATH, logging their argv. */
static char *fake_bin, *fake_log, *old_path;

static int fakes_setup(void **state) {
        (void) state;
        _cleanup_free_ char *path = NULL;
        fake_bin = tmpdir_new();
        assert_true(asprintf(&fake_log, "%s/calls.log", fake_bin) > 0);
        /* chroot: proves /dev, /proc and /sys are bound while grub-install
         * runs; fails the run named by FAKE_FAIL_AT like grub-install would. */
        write_text(fake_bin, "chroot",
                   "#!/bin/sh\n"
                   "echo \"chroot $*\" >>\"$FAKE_LOG\"\n"
                   "test -e \"$1/dev/null\" && test -e \"$1/proc/self/status\" && test -d \"$1/sys/kernel\" ||\n"
                   "        { echo 'grub-install: error: no /dev, /proc, /sys in the chroot' >&2; exit 3; }\n"
                   "if [ \"$FAKE_FAIL_AT\" = \"$(grep -c '^chroot' \"$FAKE_LOG\")\" ]; then\n"
                   "        echo 'grub-install: error: disk full.' >&2; exit 1\n"
                   "fi\n",
                   0755);
        write_text(fake_bin, "efibootmgr",
                   "#!/bin/sh\n"
                   "echo \"efibootmgr $*\" >>\"$FAKE_LOG\"\n"
                   "[ $# -eq 0 ] && cat \"$FAKE_LISTING\"\n"
                   "exit 0\n",
                   0755);
        old_path = strdup(getenv("PATH") ?: "/usr/bin:/bin");
        assert_true(asprintf(&path, "%s:%s", fake_bin, old_path) > 0);
        setenv("PATH", path, 1);
        setenv("FAKE_LOG", fake_log, 1);
        return 0;
}

static int fakes_teardown(void **state) {
        (void) state;
        setenv("PATH", old_path, 1);
        rm_rf(fake_bin);
        free(fake_bin);
        free(fake_log);
        free(old_path);
        return 0;
}

static void test_efi_register(void **state) {
        (void) state;
        _cleanup_free_ char *reason = NULL, *listing = NULL, *calls = NULL;
        assert_true(asprintf(&listing, "%s/listing", fake_bin) > 0);
        write_text(fake_bin, "listing", efi_listing, 0644);
        setenv("FAKE_LISTING", listing, 1);
        unlink(fake_log);
        assert_int_equal(boot_efi_register("/dev/null", 2, "xenhost", "\\EFI\\xenhost\\grubx64.efi", &reason), 0);
        calls = read_text(fake_bin, "calls.log", NULL);
        assert_non_null(calls);
        /* Both old "xenhost" entries go, the look-alikes stay, one new entry. */
        assert_string_equal(calls, "efibootmgr \n"
                                   "efibootmgr -q -b 0001 -B\n"
                                   "efibootmgr -q -b 000A -B\n"
                                   "efibootmgr -q -c -d /dev/null -p 2 -L xenhost -l \\EFI\\xenhost\\grubx64.efi\n");
        assert_int_equal(boot_efi_register("/nonexistent/disk", 2, "xenhost", "\\EFI\\x", &reason), -ENOENT);
        assert_non_null(strstr(reason, "/nonexistent/disk"));
}

/* Mounts only in a mount namespace of this test, so that nothing it binds
 * can show up on the machine. */
static bool private_mounts(void) {
        if (unshare(CLONE_NEWNS) < 0)
                return false;
        return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static bool is_mounted_under(const char *dir) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        assert_int_equal(read_full_file("/proc/self/mountinfo", &text, &len), 0);
        return strstr(text, dir) != NULL;
}

static void test_loader_install(void **state) {
        (void) state;
        _cleanup_free_ char *root = NULL, *reason = NULL, *calls = NULL, *want = NULL;
        if (geteuid() != 0 || !private_mounts()) {
                print_message("skipped: needs root and a private mount namespace\n");
                skip();
        }
        root = tmpdir_new();
        unlink(fake_log);
        unsetenv("FAKE_FAIL_AT");
        assert_int_equal(boot_loader_install(root, "/dev/null", &reason), 0);
        assert_false(is_mounted_under(root));
        calls = read_text(fake_bin, "calls.log", NULL);
        assert_non_null(calls);
        assert_true(asprintf(&want,
                             "chroot %1$s grub-install --target=i386-pc --boot-directory=/boot/efi --modules=part_gpt "
                             "fat ext2 /dev/null\n"
                             "chroot %1$s grub-install --target=x86_64-efi --efi-directory=/boot/efi "
                             "--boot-directory=/boot/efi --removable --no-nvram\n"
                             "chroot %1$s grub-install --target=x86_64-efi --efi-directory=/boot/efi "
                             "--boot-directory=/boot/efi --bootloader-id=xenhost --no-nvram\n",
                             root) > 0);
        assert_string_equal(calls, want);

        /* A failing run: its reason, no further runs, and the binds gone. */
        for (int n = 1; n <= BOOT_GRUB_INSTALL_RUNS; n++) {
                char at[4];
                snprintf(at, sizeof at, "%d", n);
                setenv("FAKE_FAIL_AT", at, 1);
                unlink(fake_log);
                assert_int_equal(boot_loader_install(root, "/dev/null", &reason), -EPROTO);
                assert_non_null(strstr(reason, "disk full"));
                assert_non_null(strstr(reason, n == 1 ? "grub-install for BIOS" : "grub-install for UEFI"));
                assert_false(is_mounted_under(root));
                free(calls);
                calls = read_text(fake_bin, "calls.log", NULL);
                unsigned lines = 0;
                for (const char *p = calls; (p = strchr(p, '\n')); p++)
                        lines++;
                assert_int_equal(lines, n);
        }
        unsetenv("FAKE_FAIL_AT");
        assert_int_equal(boot_loader_install(root, "/nonexistent/disk", &reason), -ENOENT);
        assert_false(is_mounted_under(root));
        rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_env_render),
                cmocka_unit_test(test_env_parse),
                cmocka_unit_test(test_transitions),
                cmocka_unit_test(test_config_write),
                cmocka_unit_test(test_cmds),
                cmocka_unit_test(test_efi_find),
                cmocka_unit_test_setup_teardown(test_efi_register, fakes_setup, fakes_teardown),
                cmocka_unit_test_setup_teardown(test_loader_install, fakes_setup, fakes_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
