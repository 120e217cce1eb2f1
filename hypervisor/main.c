/* xenhost-boot: shows and changes the boot state in grubenv on the ESP and
 * renders grub.cfg. The installer and xenhost-upgrade call the library; this
 * is for operators, the health check and the tests. */
#include <getopt.h>
#include <inttypes.h>

#include "boot.h"
#include "log.h"
#include "macro.h"

static void help(void) {
        printf("Usage: xenhost-boot show ESP\n"
               "       xenhost-boot set-default ESP SLOT [TRIES]\n"
               "       xenhost-boot mark-good ESP SLOT\n"
               "       xenhost-boot grub-cfg [--esp ESP] [--serial] [--default SLOT] [--memory BYTES]\n"
               "                             SLOT:FS-UUID:VERSION:XEN:KERNEL:INITRD...\n"
               "\n"
               "ESP is where the EFI system partition is mounted (/boot/efi on a host).\n"
               "  show         the boot state in ESP/grub/grubenv as KEY=value lines\n"
               "  set-default  make SLOT (a or b) the default; with TRIES, try it that many\n"
               "               boots and then fall back to the current default\n"
               "  mark-good    the running SLOT passed its health check: make it the default\n"
               "  grub-cfg     print grub.cfg for the given slots, or with --esp write it\n"
               "  -v           debug output\n");
}

static int slot_arg(const char *s, char *ret) {
        if (!streq(s, "a") && !streq(s, "b"))
                return log_error_errno(-EINVAL, "'%s' is not a slot (a or b)", s);
        *ret = s[0];
        return 0;
}

static int do_show(const char *esp) {
        struct boot_state s;
        int r = boot_state_read(esp, &s);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s/grub/grubenv: %s", esp,
                                       r == -EBADMSG ? "not a GRUB environment block" : strerror(-r));
        /* An absent slot prints as an empty value. */
        printf("default_slot=%.*s\ntry_slot=%.*s\ntries_left=%u\ntry_failed=%.*s\n", s.default_slot ? 1 : 0,
               &s.default_slot, s.try_slot ? 1 : 0, &s.try_slot, s.tries_left, s.try_failed ? 1 : 0, &s.try_failed);
        return 0;
}

static int do_grub_cfg(int argc, char **argv) {
        static const struct option options[] = {
                {"esp", required_argument, NULL, 'e'},
                {"serial", no_argument, NULL, 's'},
                {"default", required_argument, NULL, 'd'},
                {"memory", required_argument, NULL, 'm'},
                {}
        };
        struct boot_options o = {.host_memory_bytes = 4 * GiB, .serial_speed = 115200, .default_slot = 'a'};
        struct slot_boot slots[2];
        char *fields[2][6];
        const char *esp = NULL;
        unsigned n = 0;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'e': esp = optarg; break;
                case 's': o.serial = true; break;
                case 'd':
                        if ((r = slot_arg(optarg, &o.default_slot)) < 0)
                                return r;
                        break;
                case 'm': o.host_memory_bytes = strtoull(optarg, NULL, 0); break;
                default: return -EINVAL;
                }
        for (; optind < argc; optind++) {
                char *p = argv[optind];
                unsigned k = 0;
                if (n == ELEMENTSOF(slots))
                        return log_error_errno(-EINVAL, "At most two slots");
                for (char *t; k < 6 && (t = strsep(&p, ":")); k++)
                        fields[n][k] = t;
                if (k != 6 || p || (r = slot_arg(fields[n][0], &slots[n].slot)) < 0)
                        return log_error_errno(-EINVAL, "Expected SLOT:FS-UUID:VERSION:XEN:KERNEL:INITRD, got '%s'",
                                               argv[optind]);
                slots[n] = (struct slot_boot) {fields[n][0][0], fields[n][1], fields[n][2], fields[n][3], fields[n][4],
                                               fields[n][5]};
                n++;
        }
        if (esp) {
                _cleanup_free_ char *reason = NULL;
                r = boot_config_write(esp, &o, slots, n, &reason);
                return r < 0 ? log_error_errno(r, "%s", reason ? reason : "cannot write grub.cfg") : 0;
        }
        _cleanup_free_ char *text = NULL;
        if ((r = grub_cfg_render(&o, slots, n, &text)) < 0)
                return log_error_errno(r, "Cannot render grub.cfg: %m");
        fputs(text, stdout);
        return 0;
}

static int run(int argc, char **argv) {
        _cleanup_free_ char *reason = NULL;
        const char *verb;
        char slot;
        int r;

        if (argc > 1 && streq(argv[1], "-v")) {
                log_set_max_level(LOG_LEVEL_DEBUG);
                argv++, argc--;
        }
        if (argc < 2 || streq(argv[1], "-h") || streq(argv[1], "--help")) {
                help();
                return argc < 2 ? -EINVAL : 0;
        }
        verb = argv[1];
        if (streq(verb, "grub-cfg"))
                return do_grub_cfg(argc - 1, argv + 1);
        if (streq(verb, "show") && argc == 3)
                return do_show(argv[2]);
        if (streq(verb, "mark-good") && argc == 4) {
                if ((r = slot_arg(argv[3], &slot)) < 0)
                        return r;
                r = boot_mark_good(argv[2], slot, &reason);
        } else if (streq(verb, "set-default") && (argc == 4 || argc == 5)) {
                unsigned long tries = 0;
                char *end = NULL;
                if ((r = slot_arg(argv[3], &slot)) < 0)
                        return r;
                if (argc == 5) {
                        errno = 0;
                        tries = strtoul(argv[4], &end, 10);
                        if (errno || !*argv[4] || *end || tries > BOOT_TRIES_MAX)
                                return log_error_errno(-EINVAL, "TRIES must be 0..%u, got '%s'", BOOT_TRIES_MAX, argv[4]);
                }
                r = boot_set_default(argv[2], slot, (unsigned) tries, &reason);
        } else {
                help();
                return -EINVAL;
        }
        if (r < 0)
                return log_error_errno(r, "%s", reason ? reason : strerror(-r));
        return 0;
}

int main(int argc, char **argv) {
        log_set_program("xenhost-boot");
        return run(argc, argv) < 0 ? 1 : 0;
}
