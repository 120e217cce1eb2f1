/* xenhost-upgrade: upgrades a running host into its other slot, rolls back,
 * and is the health check's way to end a try (DESIGN.md section 8). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"
#include "upgrade.h"

static struct upgrade_host arg_host = {.root = "/", .esp = "/boot/efi"};
static bool arg_json, arg_reboot, arg_allow_downgrade, arg_insecure_unsigned, arg_dry_run;
static const char *arg_keyring;

static void help(void) {
        printf("Usage: xenhost-upgrade [OPTIONS] COMMAND\n"
               "\n"
               "Commands:\n"
               "  status [--json]           the running slot, the version and state of each slot,\n"
               "                            the next boot and the last operation\n"
               "  apply SOURCE [--reboot]   upgrade into the other slot; SOURCE is the path or\n"
               "                            http(s) URL of a xenhost-VERSION.manifest (the image\n"
               "                            beside it); the host keeps running until the reboot\n"
               "  apply --dry-run SOURCE    the plan: the slot written, the supplemental packs\n"
               "                            carried over and those that are not (and why);\n"
               "                            nothing is written\n"
               "  rollback [--reboot]       boot the other slot's version again, with its configuration\n"
               "  mark-good                 the running slot passed its health check\n"
               "  trying                    exit 0 when this boot is a try of a new version\n"
               "  health-failed REASON      record a failed health check; exit 0 when this boot\n"
               "                            is a try (the caller reboots)\n"
               "\n"
               "Options:\n"
               "  --json                    machine-readable output (status, apply)\n"
               "  --reboot                  reboot when apply or rollback succeeded\n"
               "  --dry-run                 apply: verify the manifest and print the plan only\n"
               "  --allow-downgrade         apply an older version than the running one\n"
               "  --keyring FILE            verify the manifest's signature with FILE\n"
               "                            (default: /etc/xenhost/keyring.gpg when it exists);\n"
               "                            with a keyring a signature is required\n"
               "  --insecure-unsigned       with a keyring, apply an unsigned manifest anyway\n"
               "                            (said on stderr and the kernel log); a bad\n"
               "                            signature is never accepted\n"
               "  --root DIR  --esp DIR  --disk DEV  --work-dir DIR\n"
               "                            the running system, its ESP, its disk (default: /,\n"
               "                            /boot/efi, PRIMARY_DISK of the inventory)\n"
               "  --slot a|b                the running slot (default: from the kernel command line)\n"
               "  -v, --verbose             debug output\n"
               "  -h, --help\n");
}

/* Lines on the console and the serial line, so that an operator (and the
 * tests) see where an upgrade is even when the SSH session is gone. */
static void kmsg(const char *fmt, ...) _printf_(1, 2);
static void kmsg(const char *fmt, ...) {
        _cleanup_free_ char *s = NULL, *line = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0 || asprintf(&line, "<5>xenhost-upgrade: XENHOST-UPGRADE: %s\n", s) < 0)
                return;
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
                (void) !write(fd, line, strlen(line));
                close(fd);
        }
}

static void on_step(enum upgrade_step s, void *userdata) {
        (void) userdata;
        static const unsigned pct[_UPGRADE_STEP_MAX] = {0, 10, 15, 75, 85, 90, 95};
        if (!arg_json)
                printf("[%3u%%] %s\n", pct[s], upgrade_step_to_string(s));
        fflush(stdout);
        kmsg("step %s", upgrade_step_to_string(s));
}

static void on_progress(enum upgrade_step s, uint64_t done, uint64_t total, void *userdata) {
        (void) userdata;
        if (arg_json || !isatty(STDOUT_FILENO) || total == 0)
                return;
        char b1[32], b2[32];
        printf("\r       %s: %s of %s", upgrade_step_to_string(s), format_iec(b1, sizeof b1, done),
               format_iec(b2, sizeof b2, total));
        if (done >= total)
                putchar('\n');
        fflush(stdout);
}

static void on_note(const char *line, void *userdata) {
        (void) userdata;
        /* Notes go with the progress lines; stderr has only the one line of a failure. */
        if (!arg_json) {
                printf("       %s\n", line);
                fflush(stdout);
        }
        kmsg("%s", line);
}

static void on_warning(const char *line, void *userdata) {
        (void) userdata;
        /* On stderr even with --json: it is about trust. */
        log_warning("%s", line);
        kmsg("warning: %s", line);
}

static int reboot_now(void) {
        fflush(stdout);
        int r = spawn_run((const char *[]) {"systemctl", "reboot", NULL}, NULL);
        if (r < 0)
                log_error("Cannot reboot: %s", spawn_last_error());
        return r < 0 ? 1 : 0;
}

static int do_status(void) {
        _cleanup_(upgrade_status_done) struct upgrade_status s = {};
        _cleanup_free_ char *why = NULL;
        int r = upgrade_status_read(&arg_host, &s, &why);
        if (r < 0) {
                log_error("%s", why ?: strerror(-r));
                return 1;
        }
        return (arg_json ? upgrade_status_print_json(&s, stdout) : upgrade_status_print(&s, stdout)) < 0;
}

/* One line per pack, the packs left behind last: the summary an operator
 * reads after the progress lines (the warnings came on the way). */
static void print_packs(const struct upgrade_result *res, bool plan) {
        size_t carried = 0;
        for (size_t i = 0; i < res->n_packs; i++)
                carried += res->packs[i].carried;
        if (res->n_packs == 0) {
                if (plan)
                        printf("  no supplemental packs are recorded on this host\n");
                return;
        }
        if (plan) {
                printf("  supplemental packs carried over%s\n", carried ? " (reinstalled in this order):" : ": none");
                for (size_t i = 0; i < res->n_packs; i++)
                        if (res->packs[i].carried)
                                printf("    %s %s%s%s\n", res->packs[i].name, res->packs[i].version,
                                       res->packs[i].build ? " build " : "", res->packs[i].build ?: "");
                if (carried == res->n_packs)
                        return;
                printf("  supplemental packs not carried over:\n");
                for (size_t i = 0; i < res->n_packs; i++)
                        if (!res->packs[i].carried)
                                printf("    %s\n", res->packs[i].line);
                return;
        }
        for (size_t i = 0; i < res->n_packs; i++)
                if (res->packs[i].carried)
                        printf("%s\n", res->packs[i].line);
        for (size_t i = 0; i < res->n_packs; i++)
                if (!res->packs[i].carried)
                        printf("%s\n", res->packs[i].line);
}

static void print_plan(const struct upgrade_result *res) {
        printf("Plan (--dry-run: nothing was written):\n"
               "  upgrade xenhost %s to %s in slot %c; the running slot is not written\n"
               "  the image is fetched and checked when applied\n",
               res->from_version, res->to_version, res->slot);
        print_packs(res, true);
}

static json_object *packs_json(const struct upgrade_result *res) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < res->n_packs; i++) {
                const struct upgrade_pack *p = &res->packs[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(p->name));
                json_object_object_add(o, "version", json_object_new_string(p->version));
                json_object_object_add(o, "build", p->build ? json_object_new_string(p->build) : NULL);
                json_object_object_add(o, "carried", json_object_new_boolean(p->carried));
                json_object_object_add(o, "line", json_object_new_string(p->line));
                json_object_array_add(a, o);
        }
        return a;
}

static int do_apply(const char *source) {
        struct upgrade_callbacks cb = {.step = on_step, .progress = on_progress, .note = on_note, .warning = on_warning};
        struct upgrade_options o = {.allow_downgrade = arg_allow_downgrade, .keyring = arg_keyring,
                                    .insecure_unsigned = arg_insecure_unsigned, .dry_run = arg_dry_run, .cb = &cb};
        _cleanup_(upgrade_result_done) struct upgrade_result res = {};
        _cleanup_free_ char *why = NULL;
        int r = upgrade_apply(&arg_host, source, &o, &res, &why);
        if (arg_json) {
                json_object *j = json_object_new_object();
                json_object_object_add(j, "result", json_object_new_string(r < 0        ? "failed"
                                                                           : res.noop     ? "no-op"
                                                                           : res.dry_run  ? "planned"
                                                                                          : "applied"));
                if (r < 0)
                        json_object_object_add(j, "reason", json_object_new_string(why ?: strerror(-r)));
                else {
                        char slot[2] = {res.slot, 0};
                        json_object_object_add(j, "from_version", json_object_new_string(res.from_version));
                        json_object_object_add(j, "to_version", json_object_new_string(res.to_version));
                        json_object_object_add(j, "slot", json_object_new_string(slot));
                        json_object_object_add(j, "changed", json_object_new_boolean(!res.noop));
                        json_object_object_add(j, "seconds", json_object_new_double(res.seconds));
                        json_object_object_add(j, "write_seconds", json_object_new_double(res.write_seconds));
                        json_object_object_add(j, "packs", packs_json(&res));
                }
                printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(j);
        }
        if (r < 0) {
                kmsg("failed: %s", why ?: strerror(-r));
                if (!arg_json)
                        log_error("%s", why ?: strerror(-r));
                return 1;
        }
        if (res.noop) {
                if (!arg_json)
                        printf("xenhost %s is already %s in slot %c: nothing to do\n", res.to_version,
                               res.slot == 0 ? "there" : "applied", res.slot);
                kmsg("no-op %s", res.to_version);
                return 0;
        }
        if (res.dry_run) {
                if (!arg_json)
                        print_plan(&res);
                return 0;
        }
        kmsg("done %s slot %c", res.to_version, res.slot);
        if (!arg_json) {
                printf("xenhost %s is in slot %c (%.1f s; the slot written in %.1f s). It is tried at the next boot;\n"
                       "the health check makes it the default, and if it fails GRUB boots %s again by itself.\n",
                       res.to_version, res.slot, res.seconds, res.write_seconds, res.from_version);
                print_packs(&res, false);
        }
        return arg_reboot ? reboot_now() : 0;
}

static int do_rollback(void) {
        _cleanup_free_ char *why = NULL;
        char slot;
        int r = upgrade_rollback(&arg_host, &slot, &why);
        if (r < 0) {
                log_error("%s", why ?: strerror(-r));
                return 1;
        }
        printf("slot %c boots next\n", slot);
        kmsg("rollback: slot %c boots next", slot);
        return arg_reboot ? reboot_now() : 0;
}

int main(int argc, char **argv) {
        enum { ARG_ROOT = 0x100, ARG_ESP, ARG_DISK, ARG_WORK, ARG_SLOT, ARG_KEYRING, ARG_DOWNGRADE, ARG_REBOOT, ARG_JSON, ARG_INSECURE_UNSIGNED, ARG_DRY_RUN };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},           {"verbose", no_argument, NULL, 'v'},
                {"json", no_argument, NULL, ARG_JSON},      {"reboot", no_argument, NULL, ARG_REBOOT},
                {"allow-downgrade", no_argument, NULL, ARG_DOWNGRADE},
                {"keyring", required_argument, NULL, ARG_KEYRING},
                {"insecure-unsigned", no_argument, NULL, ARG_INSECURE_UNSIGNED},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"root", required_argument, NULL, ARG_ROOT}, {"esp", required_argument, NULL, ARG_ESP},
                {"disk", required_argument, NULL, ARG_DISK}, {"work-dir", required_argument, NULL, ARG_WORK},
                {"slot", required_argument, NULL, ARG_SLOT},
                {},
        };
        int c;
        log_set_program("xenhost-upgrade");
        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_REBOOT:
                        arg_reboot = true;
                        break;
                case ARG_DOWNGRADE:
                        arg_allow_downgrade = true;
                        break;
                case ARG_KEYRING:
                        arg_keyring = optarg;
                        break;
                case ARG_INSECURE_UNSIGNED:
                        arg_insecure_unsigned = true;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_ROOT:
                        arg_host.root = optarg;
                        break;
                case ARG_ESP:
                        arg_host.esp = optarg;
                        break;
                case ARG_DISK:
                        arg_host.disk = optarg;
                        break;
                case ARG_WORK:
                        arg_host.work_dir = optarg;
                        break;
                case ARG_SLOT:
                        if (!streq(optarg, "a") && !streq(optarg, "b")) {
                                log_error("--slot takes a or b, not '%s'", optarg);
                                return 2;
                        }
                        arg_host.running_slot = optarg[0];
                        break;
                default:
                        return 2;
                }
        if (optind >= argc) {
                log_error("No command given; see --help");
                return 2;
        }
        const char *cmd = argv[optind];
        int nargs = argc - optind - 1;
        char **args = argv + optind + 1;
        if (geteuid() != 0 && !streq(cmd, "status")) {
                log_error("xenhost-upgrade %s needs root", cmd);
                return 1;
        }
        _cleanup_free_ char *why = NULL;
        int r;
        if (streq(cmd, "status") && nargs == 0)
                return do_status();
        if (streq(cmd, "apply") && nargs == 1)
                return do_apply(args[0]);
        if (streq(cmd, "rollback") && nargs == 0)
                return do_rollback();
        if (streq(cmd, "mark-good") && nargs == 0) {
                bool marked;
                r = upgrade_mark_good(&arg_host, &marked, &why);
                if (r < 0) {
                        log_error("%s", why ?: strerror(-r));
                        return 1;
                }
                if (marked) {
                        printf("the running slot passed its health check: it is the default now\n");
                        kmsg("mark-good: the running slot is the default now");
                }
                return 0;
        }
        if (streq(cmd, "trying") && nargs == 0) {
                r = upgrade_trying(&arg_host, &why);
                if (r < 0) {
                        log_error("%s", why ?: strerror(-r));
                        return 2;
                }
                return r ? 0 : 1;
        }
        if (streq(cmd, "health-failed") && nargs == 1) {
                r = upgrade_health_failed(&arg_host, args[0], &why);
                if (r < 0) {
                        log_error("%s", why ?: strerror(-r));
                        return 2;
                }
                return r ? 0 : 1;
        }
        log_error("Unknown command or wrong arguments: %s; see --help", cmd);
        return 2;
}
