/* The boot writer: grubenv with the boot-counting state, grub.cfg on the ESP,
 * grub-install for BIOS and UEFI, and the UEFI boot entry. The installer and
 * the upgrader both go through here. */
#include "boot.h"

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"

#define ENV_SIGNATURE "# GRUB Environment Block\n"

static bool slot_is_valid(char c) {
        return c == 'a' || c == 'b';
}

static char slot_other(char c) {
        return c == 'a' ? 'b' : 'a';
}

int boot_env_render(const struct boot_state *s, char **ret) {
        char body[BOOT_ENV_SIZE];
        size_t n = 0;
        int k;

        if ((s->default_slot && !slot_is_valid(s->default_slot)) || (s->try_slot && !slot_is_valid(s->try_slot)) ||
            (s->try_failed && !slot_is_valid(s->try_failed)) || s->tries_left > BOOT_TRIES_MAX)
                return -EINVAL;
        k = snprintf(body, sizeof body, ENV_SIGNATURE);
        n += (size_t) k;
        if (s->default_slot)
                n += (size_t) snprintf(body + n, sizeof body - n, "xh_default=%c\n", s->default_slot);
        if (s->try_slot)
                n += (size_t) snprintf(body + n, sizeof body - n, "xh_try=%c\nxh_tries=%u\n", s->try_slot,
                                       s->tries_left);
        if (s->try_failed)
                n += (size_t) snprintf(body + n, sizeof body - n, "xh_try_failed=%c\n", s->try_failed);
        assert(n < BOOT_ENV_SIZE);

        char *buf = malloc(BOOT_ENV_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, body, n);
        memset(buf + n, '#', BOOT_ENV_SIZE - n);
        buf[BOOT_ENV_SIZE] = 0;
        *ret = buf;
        return 0;
}

/* "a", "b", or (when EMPTY_OK) "" for 0. */
static int parse_slot(const char *v, size_t n, bool empty_ok, char *ret) {
        if (n == 0 && empty_ok) {
                *ret = 0;
                return 0;
        }
        if (n != 1 || !slot_is_valid(v[0]))
                return -EBADMSG;
        *ret = v[0];
        return 0;
}

int boot_env_parse(const char *text, size_t len, struct boot_state *ret) {
        const size_t sig = strlen(ENV_SIGNATURE);
        struct boot_state s = {};
        bool have_tries = false;
        unsigned tries = 0;

        if (len < sig || memcmp(text, ENV_SIGNATURE, sig) != 0 || memchr(text, 0, len))
                return -EBADMSG;
        for (size_t i = sig; i < len;) {
                const char *line = text + i, *nl = memchr(line, '\n', len - i);
                size_t n = nl ? (size_t) (nl - line) : len - i;
                i += n + 1;
                if (n == 0 || line[0] == '#')
                        continue; /* padding and comments, as GRUB reads them */
                const char *eq = memchr(line, '=', n);
                if (!eq)
                        return -EBADMSG;
                size_t kn = (size_t) (eq - line), vn = n - kn - 1;
                const char *v = eq + 1;
                int r = 0;
#define KEY_IS(k) (kn == strlen(k) && memcmp(line, k, kn) == 0)
                if (KEY_IS("xh_default"))
                        r = parse_slot(v, vn, false, &s.default_slot);
                else if (KEY_IS("xh_try"))
                        r = parse_slot(v, vn, true, &s.try_slot);
                else if (KEY_IS("xh_try_failed"))
                        r = parse_slot(v, vn, true, &s.try_failed);
                else if (KEY_IS("xh_tries")) {
                        if (vn != 1 || v[0] < '0' || v[0] > '0' + (int) BOOT_TRIES_MAX)
                                return -EBADMSG;
                        tries = (unsigned) (v[0] - '0');
                        have_tries = true;
                }
#undef KEY_IS
                if (r < 0)
                        return r;
        }
        /* A try without a count is one GRUB would fall back from at once. */
        s.tries_left = s.try_slot && have_tries ? tries : 0;
        *ret = s;
        return 0;
}

static int env_path(const char *esp, char **ret) {
        return asprintf(ret, "%s/grub/grubenv", esp) < 0 ? -ENOMEM : 0;
}

int boot_state_read(const char *esp, struct boot_state *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len;
        int r;

        if ((r = env_path(esp, &path)) < 0)
                return r;
        if ((r = read_full_file(path, &text, &len)) < 0)
                return r;
        return boot_env_parse(text, len, ret);
}

static int grub_dir_make(const char *esp, char **ret_reason) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/grub", esp) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return reason_set(ret_reason, "cannot create %s: %m", dir), negative_errno();
        return 0;
}

static int env_write(const char *esp, const struct boot_state *s, char **ret_reason) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if ((r = env_path(esp, &path)) < 0 || (r = boot_env_render(s, &text)) < 0)
                return r;
        if ((r = grub_dir_make(esp, ret_reason)) < 0)
                return r;
        r = write_file_atomic(path, text, BOOT_ENV_SIZE, 0644);
        if (r >= 0)
                r = sync_file_system(path);
        if (r < 0)
                return reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
        log_debug("grubenv %s: default=%c try=%c tries=%u failed=%c", path, s->default_slot ? s->default_slot : '-',
                  s->try_slot ? s->try_slot : '-', s->tries_left, s->try_failed ? s->try_failed : '-');
        return 0;
}

/* The state before a change: a missing or unreadable grubenv starts empty,
 * since writing a good one is the way out of both. */
static int state_before(const char *esp, struct boot_state *ret, char **ret_reason) {
        struct boot_state s = {};
        int r = boot_state_read(esp, &s);
        if (r == -ENOENT || r == -EBADMSG) {
                log_debug_errno(r, "No usable grubenv on %s (%m); writing a new one", esp);
                s = (struct boot_state) {};
        } else if (r < 0)
                return reason_set(ret_reason, "cannot read %s/grub/grubenv: %s", esp, strerror(-r)), r;
        *ret = s;
        return 0;
}

int boot_set_default(const char *esp, char slot, unsigned tries, char **ret_reason) {
        struct boot_state s;
        int r;

        if (!slot_is_valid(slot))
                return reason_set(ret_reason, "'%c' is not a slot (a or b)", slot ? slot : '?'), -EINVAL;
        if (tries > BOOT_TRIES_MAX)
                return reason_set(ret_reason, "%u tries is more than the %u that grub.cfg can count", tries,
                                  BOOT_TRIES_MAX),
                       -EINVAL;
        if ((r = state_before(esp, &s, ret_reason)) < 0)
                return r;
        if (tries == 0) {
                s.default_slot = slot;
                s.try_slot = 0;
                s.tries_left = 0;
                if (s.try_failed == slot)
                        s.try_failed = 0;
        } else {
                if (!s.default_slot)
                        s.default_slot = slot_other(slot);
                if (s.default_slot == slot)
                        return reason_set(ret_reason,
                                          "slot %c is already the default: trying it leaves nothing to fall back to",
                                          slot),
                               -EINVAL;
                s.try_slot = slot;
                s.tries_left = tries;
                s.try_failed = 0;
        }
        return env_write(esp, &s, ret_reason);
}

int boot_mark_good(const char *esp, char slot, char **ret_reason) {
        return boot_set_default(esp, slot, 0, ret_reason);
}

int boot_config_write(const char *esp, const struct boot_options *o, const struct slot_boot *slots,
                      unsigned n_slots, char **ret_reason) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if ((r = grub_cfg_render(o, slots, n_slots, &text)) < 0)
                return reason_set(ret_reason, "cannot render grub.cfg: %s", strerror(-r)), r;
        if (asprintf(&path, "%s/grub/grub.cfg", esp) < 0)
                return -ENOMEM;
        if ((r = grub_dir_make(esp, ret_reason)) < 0)
                return r;
        r = write_file_atomic(path, text, strlen(text), 0644);
        if (r >= 0)
                r = sync_file_system(path);
        if (r < 0)
                return reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
        return 0;
}

bool boot_bios_bootable(unsigned sector_size) {
        /* 0: not known (not a block device); the BIOS run is kept, as before. */
        return sector_size == 0 || sector_size == 512;
}

size_t boot_grub_install_cmds(const char *root, const char *disk, unsigned sector_size,
                              struct boot_cmd ret[BOOT_GRUB_INSTALL_RUNS]) {
        size_t n = 0;
        /* BIOS: core.img into xh-bios, modules and grub.cfg on the ESP. A
         * BIOS reads disks in 512-byte sectors through int 13h, so there is
         * no BIOS boot from a disk with other logical sectors. */
        if (boot_bios_bootable(sector_size))
                ret[n++] = (struct boot_cmd) {"grub-install for BIOS",
                                              {"chroot", root, "grub-install", "--target=i386-pc",
                                               "--boot-directory=/boot/efi", "--modules=part_gpt fat ext2", disk,
                                               NULL}};
        /* UEFI: the removable path, which any firmware finds, and our own
         * entry's path; the NVRAM entry is boot_efi_register()'s. (On a 4Kn
         * disk each run takes about a minute under emulation: GRUB's
         * partition lookup misses there and asks udev for every partition on
         * every read. Debian's --force-extra-removable would make it one run,
         * but saved no time measured, so the proven two runs stay.) */
        ret[n++] = (struct boot_cmd) {"grub-install for UEFI (removable path)",
                                      {"chroot", root, "grub-install", "--target=x86_64-efi",
                                       "--efi-directory=/boot/efi", "--boot-directory=/boot/efi", "--removable",
                                       "--no-nvram", NULL}};
        ret[n++] = (struct boot_cmd) {"grub-install for UEFI",
                                      {"chroot", root, "grub-install", "--target=x86_64-efi",
                                       "--efi-directory=/boot/efi", "--boot-directory=/boot/efi",
                                       "--bootloader-id=xenhost", "--no-nvram", NULL}};
        return n;
}

/* The logical sector size of the block device DISK; 0 when DISK is not a
 * block device (nothing to ask). */
static int disk_sector_size(const char *disk, unsigned *ret) {
        _cleanup_close_ int fd = open(disk, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        int ss = 0;

        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode)) {
                *ret = 0;
                return 0;
        }
        if (ioctl(fd, BLKSSZGET, &ss) < 0)
                return negative_errno();
        if (ss <= 0)
                return -EIO;
        *ret = (unsigned) ss;
        return 0;
}

static int run_cmd(const struct boot_cmd *c, char **ret_stdout, char **ret_reason) {
        int r = spawn_run(c->argv, ret_stdout);
        if (r < 0)
                reason_set(ret_reason, "%s: %s", c->what, spawn_last_error());
        return r;
}

int boot_loader_install(const char *root, const char *disk, char **ret_reason) {
        static const char *const binds[] = {"/dev", "/proc", "/sys"};
        char *dsts[ELEMENTSOF(binds)] = {};
        size_t n_bound = 0;
        _cleanup_free_ char *real = NULL;
        struct boot_cmd cmds[BOOT_GRUB_INSTALL_RUNS];
        unsigned sector_size;
        size_t n_cmds;
        int r = 0;

        real = realpath(disk, NULL);
        if (!real)
                return reason_set(ret_reason, "cannot resolve %s: %m", disk), negative_errno();
        if ((r = disk_sector_size(real, &sector_size)) < 0)
                return reason_set(ret_reason, "cannot read the sector size of %s: %s", real, strerror(-r)), r;
        if (!boot_bios_bootable(sector_size))
                log_debug("%s has %u-byte logical sectors: a BIOS cannot boot it, so GRUB is installed for UEFI "
                          "only (no BIOS core in the BIOS boot partition)",
                          real, sector_size);
        for (size_t i = 0; i < ELEMENTSOF(binds); i++) {
                if (asprintf(&dsts[i], "%s%s", root, binds[i]) < 0) {
                        dsts[i] = NULL;
                        r = -ENOMEM;
                        goto out;
                }
                if (mkdir(dsts[i], 0755) < 0 && errno != EEXIST) {
                        r = negative_errno();
                        reason_set(ret_reason, "cannot create %s: %m", dsts[i]);
                        goto out;
                }
                if (mount(binds[i], dsts[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
                        r = negative_errno();
                        reason_set(ret_reason, "cannot bind %s to %s for grub-install: %m", binds[i], dsts[i]);
                        goto out;
                }
                n_bound++;
                /* A slave copy: detaching it below never unmounts anything of
                 * the host's own /dev, /proc or /sys. */
                if (mount(NULL, dsts[i], NULL, MS_SLAVE | MS_REC, NULL) < 0) {
                        r = negative_errno();
                        reason_set(ret_reason, "cannot make %s a slave mount: %m", dsts[i]);
                        goto out;
                }
        }
        n_cmds = boot_grub_install_cmds(root, real, sector_size, cmds);
        for (size_t i = 0; i < n_cmds; i++)
                if ((r = run_cmd(&cmds[i], NULL, ret_reason)) < 0)
                        goto out;
out:
        while (n_bound > 0) {
                const char *d = dsts[--n_bound];
                if (umount2(d, MNT_DETACH) < 0 && r >= 0) {
                        r = negative_errno();
                        reason_set(ret_reason, "cannot unmount %s after grub-install: %m", d);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(dsts); i++)
                free(dsts[i]);
        return r;
}

void boot_efi_create_cmd(const char *disk, const char *partnum, const char *label, const char *loader,
                         struct boot_cmd *ret) {
        *ret = (struct boot_cmd) {"registering the UEFI boot entry",
                                  {"efibootmgr", "-q", "-c", "-d", disk, "-p", partnum, "-L", label, "-l", loader, NULL}};
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int boot_efi_find_entries(const char *listing, const char *label, unsigned *ret, size_t n_max) {
        size_t found = 0, ll = strlen(label);

        /* "Boot0003* xenhost\tHD(2,GPT,...)/File(...)"; an inactive entry has
         * a space instead of the '*'; older efibootmgr prints no path. */
        for (const char *p = listing; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                const char *l = startswith(p, "Boot");
                if (l && n >= 10 && (l[4] == '*' || l[4] == ' ') && l[5] == ' ') {
                        unsigned num = 0;
                        bool ok = true;
                        for (int i = 0; i < 4; i++) {
                                int h = hexval(l[i]);
                                if (h < 0)
                                        ok = false;
                                num = num * 16 + (unsigned) (h < 0 ? 0 : h);
                        }
                        const char *name = l + 6;
                        size_t rest = n - 10;
                        if (ok && rest >= ll && memcmp(name, label, ll) == 0 &&
                            (rest == ll || name[ll] == '\t' || name[ll] == '\r')) {
                                if (found < n_max)
                                        ret[found] = num;
                                found++;
                        }
                }
                p = nl ? nl + 1 : NULL;
        }
        return found > INT_MAX ? INT_MAX : (int) found;
}

int boot_efi_register(const char *disk, unsigned esp_partnum, const char *label, const char *loader,
                      char **ret_reason) {
        _cleanup_free_ char *real = NULL, *listing = NULL;
        char partnum[16];
        unsigned nums[32];
        struct boot_cmd c;
        int r, n;

        real = realpath(disk, NULL);
        if (!real)
                return reason_set(ret_reason, "cannot resolve %s: %m", disk), negative_errno();
        c = (struct boot_cmd) {"listing the UEFI boot entries", {"efibootmgr", NULL}};
        if ((r = run_cmd(&c, &listing, ret_reason)) < 0)
                return r;
        n = boot_efi_find_entries(listing, label, nums, ELEMENTSOF(nums));
        if ((size_t) n > ELEMENTSOF(nums))
                return reason_set(ret_reason, "%d UEFI boot entries are called '%s'; remove them first", n, label),
                       -E2BIG;
        /* Replace rather than add: every reinstall and upgrade registers again. */
        for (int i = 0; i < n; i++) {
                char num[8];
                snprintf(num, sizeof num, "%04X", nums[i] & 0xFFFFU);
                c = (struct boot_cmd) {"removing the old UEFI boot entry", {"efibootmgr", "-q", "-b", num, "-B", NULL}};
                if ((r = run_cmd(&c, NULL, ret_reason)) < 0)
                        return r;
        }
        snprintf(partnum, sizeof partnum, "%u", esp_partnum);
        boot_efi_create_cmd(real, partnum, label, loader, &c);
        return run_cmd(&c, NULL, ret_reason);
}
