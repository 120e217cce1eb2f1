/* xenhost-install: the installer's command line. With an answer file it
 * installs unattended; it also checks answer files offline. */
#include <fcntl.h>
#include <getopt.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include "answerfile.h"
#include "config.h"
#include "engine.h"
#include "fetch.h"
#include "report.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "plan.h"
#include "tui.h"

static const char *arg_check;
static const char *arg_answerfile;
static bool arg_dry_run;
static const char *arg_media;
static const char *arg_image;
static const char *arg_keyring;
static bool arg_insecure_unsigned;
static const char *arg_log = "/var/log/xenhost-install.log";
static bool arg_log_given;
static bool arg_serial;
static bool arg_generator;
static bool arg_json;
static const char *arg_facts;
static const char *arg_work_dir;
static bool arg_tui;
static const char *arg_report;
static const char *arg_txt_record;

/* The fleet's report endpoint, when there is one (report.h). */
static struct report *reporter;
static char last_step_name[64];        /* for a failure event */
static char *installed_version;        /* the plan's, for the success event */
static char *load_problem;             /* why the answer file cannot be used */

static void help(void) {
        printf("Usage: xenhost-install --answerfile FILE|URL [--media DIR] [--serial]\n"
               "       xenhost-install --check-answerfile FILE|URL\n"
               "       xenhost-install --dry-run --answerfile FILE|URL\n"
               "       xenhost-install --tui [--media DIR] [--serial]\n"
               "\n"
               "The xenhost installer: installs unattended from a XenServer-style answer file\n"
               "(DESIGN.md section 5), or interactively (--tui).\n"
               "Outside the installer environment it writes nothing but loop devices.\n"
               "An answer file is a local file, file://PATH, an absolute path looked up on\n"
               "the install media (" FETCH_MEDIA_ROOT_DEFAULT ") and then on the root file\n"
               "system, or an http://, https://, ftp://, tftp:// or nfs://SERVER/PATH URL.\n"
               "Network fetches are retried for 60 s (XENHOST_FETCH_TIMEOUT=SECONDS).\n"
               "However it comes, an answer file is at most 1 MiB and a regular file (a FIFO\n"
               "or a device is refused); a generator is stopped after 60 s\n"
               "(XENHOST_GENERATOR_TIMEOUT=SECONDS) or when it prints more than 1 MiB.\n"
               "At most 20 problems are listed, then how many more there are.\n"
               "\n"
               "  --check-answerfile FILE  check FILE without touching any disk: prints a\n"
               "                           summary and exits 0, or prints one line per problem\n"
               "                           (FILE:LINE: what is wrong) on stderr and exits 1\n"
               "  --answerfile FILE|URL    install unattended as the answer file says\n"
               "                           (@FILE: the location is the first line of FILE)\n"
               "  --tui                    the interactive installer (80x24 terminal or larger, keyboard only);\n"
               "                           outside the installer environment it offers only the\n"
               "                           disks named in " TUI_DISKS_ENV " (loop devices)\n"
               "  --answerfile-generator FILE|URL\n"
               "                           run this script; what it prints is the answer file\n"
               "  --media DIR              the mounted install media (host image, answer file paths)\n"
               "  --image IMG              install this host image instead of the media's\n"
               "  --keyring FILE           require the image manifest to be signed by a key in FILE\n"
               "                           (default: the media's xenhost/keyring.gpg when there is one);\n"
               "                           the host keeps it as /etc/xenhost/keyring.gpg\n"
               "  --insecure-unsigned      with a keyring, install an unsigned image anyway (said\n"
               "                           on stderr and in the log); a bad signature is never accepted\n"
               "  --serial                 the install runs on the serial console: so will the host\n"
               "  --dry-run                print the install plan (disks erased and what they\n"
               "                           hold, layout, every file written on the host, boot\n"
               "                           entries, what became of every setting) and stop;\n"
               "                           exits 1 when the plan has errors. No secret is shown\n"
               "  --json                   with --dry-run: the plan as JSON, with the probed facts\n"
               "  --facts FILE             with --dry-run: plan for the machine described in FILE\n"
               "                           (the JSON of an earlier --dry-run --json) instead of\n"
               "                           probing this one\n"
               "  --work-dir DIR           where the new slot is mounted while installing\n"
               "                           (default /run/xenhost-install)\n"
               "  --log-file FILE          append a full log to FILE (installs: default\n"
               "                           /var/log/xenhost-install.log, copied onto the host)\n"
               "  --report URL             POST the install's events as JSON to URL (as <report url=>\n"
               "                           in the answer file, which wins, or report= on the\n"
               "                           installer's kernel command line)\n"
               "  --txt-record NAME        print the first string of NAME's DNS TXT record (for\n"
               "                           answerfile=auto) and exit\n"
               "  -v, --verbose            debug output\n"
               "  -h, --help               this text\n");
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK = 0x100, ARG_ANSWERFILE, ARG_DRY_RUN, ARG_LOG, ARG_MEDIA, ARG_IMAGE, ARG_KEYRING, ARG_SERIAL, ARG_GENERATOR, ARG_JSON, ARG_FACTS, ARG_WORK_DIR,
               ARG_INSECURE_UNSIGNED, ARG_TUI, ARG_REPORT, ARG_TXT_RECORD };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"verbose", no_argument, NULL, 'v'},
                {"check-answerfile", required_argument, NULL, ARG_CHECK},
                {"answerfile", required_argument, NULL, ARG_ANSWERFILE},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"log-file", required_argument, NULL, ARG_LOG},
                {"media", required_argument, NULL, ARG_MEDIA},
                {"image", required_argument, NULL, ARG_IMAGE},
                {"keyring", required_argument, NULL, ARG_KEYRING},
                {"insecure-unsigned", no_argument, NULL, ARG_INSECURE_UNSIGNED},
                {"serial", no_argument, NULL, ARG_SERIAL},
                {"answerfile-generator", required_argument, NULL, ARG_GENERATOR},
                {"json", no_argument, NULL, ARG_JSON},
                {"facts", required_argument, NULL, ARG_FACTS},
                {"work-dir", required_argument, NULL, ARG_WORK_DIR},
                {"tui", no_argument, NULL, ARG_TUI},
                {"report", required_argument, NULL, ARG_REPORT},
                {"txt-record", required_argument, NULL, ARG_TXT_RECORD},
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case ARG_CHECK:
                        arg_check = optarg;
                        break;
                case ARG_ANSWERFILE:
                        arg_answerfile = optarg;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_LOG:
                        arg_log = optarg;
                        arg_log_given = true;
                        r = log_open_file(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Cannot open log file %s: %m", optarg);
                        break;
                case ARG_MEDIA:
                        arg_media = optarg;
                        break;
                case ARG_IMAGE:
                        arg_image = optarg;
                        break;
                case ARG_KEYRING:
                        arg_keyring = optarg;
                        break;
                case ARG_INSECURE_UNSIGNED:
                        arg_insecure_unsigned = true;
                        break;
                case ARG_SERIAL:
                        arg_serial = true;
                        break;
                case ARG_GENERATOR:
                        arg_answerfile = optarg;
                        arg_generator = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_FACTS:
                        arg_facts = optarg;
                        break;
                case ARG_WORK_DIR:
                        arg_work_dir = optarg;
                        break;
                case ARG_TUI:
                        arg_tui = true;
                        break;
                case ARG_REPORT:
                        arg_report = optarg;
                        break;
                case ARG_TXT_RECORD:
                        arg_txt_record = optarg;
                        break;
                default:
                        return -EINVAL;
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'; see --help", argv[optind]);
        if (arg_check && (arg_answerfile || arg_dry_run))
                return log_error_errno(-EINVAL, "--check-answerfile stands alone; use --dry-run --answerfile "
                                                "FILE to see the parsed answer file");
        if ((arg_json || arg_facts) && !arg_dry_run)
                return log_error_errno(-EINVAL, "--json and --facts go with --dry-run");
        if (arg_tui && (arg_check || arg_answerfile || arg_dry_run))
                return log_error_errno(-EINVAL, "--tui stands alone: the answers come from the screen");
        if (arg_report && (arg_tui || arg_check || arg_dry_run))
                return log_error_errno(-EINVAL, "--report goes with --answerfile: an install reports its events");
        if (arg_report && !startswith(arg_report, "http://") && !startswith(arg_report, "https://"))
                return log_error_errno(-EINVAL, "--report needs an http:// or https:// URL");
        if (arg_txt_record)
                return 1;
        if (!arg_check && !arg_answerfile && !arg_tui)
                return log_error_errno(-EINVAL, "Nothing to do: use --tui, --answerfile FILE, "
                                                "--check-answerfile FILE or --dry-run --answerfile FILE");
        return 1;
}

/* Problem lines are already complete sentences with FILE:LINE; they go to
 * stderr as they are, and into the log file. */
static void print_lines(char **lines) {
        for (char **l = lines; l && *l; l++) {
                fprintf(stderr, "%s\n", *l);
                log_file_write("answerfile:", *l, strlen(*l));
        }
}

/* A relative path is the operator's local file; anything else is a location
 * as answerfile= takes it: a URL, or an absolute path on the media. Every
 * way in reads at most ANSWERFILE_SIZE_MAX bytes and never waits on a FIFO. */
static int load(const char *location, struct install_config **ret) {
        struct answerfile_problems problems = {};
        _cleanup_free_ char *p = NULL, *text = NULL, *reason = NULL, *from_file = NULL;
        size_t len = 0;
        int r;

        /* @FILE: the location is in FILE, so that a URL with credentials
         * need not be on the command line, where every process sees it. */
        if (location[0] == '@') {
                r = read_full_file_bounded(location + 1, ANSWERFILE_SIZE_MAX, &from_file, NULL);
                if (r < 0) {
                        log_error("Cannot read the answer file's location from %s: %s", location + 1,
                                  answerfile_read_error(r));
                        return r;
                }
                from_file[strcspn(from_file, "\r\n")] = 0;
                location = from_file;
        }
        r = url_redact(location, &p);
        if (r < 0)
                return log_oom();
        if (location[0] != '/' && !strstr(location, "://") && !arg_generator) {
                r = answerfile_parse_file(location, &problems, ret);
                if (r < 0 && r != -EINVAL && r != -ENOMEM) {
                        log_error("Cannot read answer file %s: %s", p, answerfile_read_error(r));
                        return r;
                }
        } else {
                struct fetch_options o = FETCH_OPTIONS_DEFAULT;
                if (arg_media)
                        o.media_root = arg_media;
                r = fetch_options_from_environment(&o);
                if (r < 0)
                        return log_error_errno(r, "Invalid XENHOST_FETCH_TIMEOUT, XENHOST_FETCH_TLS_VERIFY or "
                                                  "XENHOST_GENERATOR_TIMEOUT");
                r = arg_generator ? answerfile_generate(location, &o, &text, &len, &reason)
                                  : answerfile_fetch(location, &o, &text, &len, &reason);
                if (r < 0) {
                        log_error("%s", reason ?: "cannot fetch the answer file");
                        load_problem = TAKE_PTR(reason);
                        return r;
                }
                r = answerfile_parse_memory(p, text, len, &problems, ret);
                /* The text may hold the root password in clear. */
                explicit_bzero(text, len);
        }
        print_lines(problems.warnings);
        print_lines(problems.errors);
        if (problems.errors && problems.errors[0] && !load_problem)
                load_problem = strdup(problems.errors[0]);
        if (r >= 0 && *ret) {
                /* The packs the install media carry go in with a fresh
                 * install unless the answer file chose otherwise. */
                _cleanup_strv_free_ char **bundled = NULL;
                int n = install_media_packs(arg_media, &bundled);
                if (n < 0)
                        log_warning_errno(n, "Cannot list the packs of the install media: %m");
                else if (install_config_add_bundled_packs(*ret, n > 0) < 0)
                        r = log_oom();
        }
        if (r == -EINVAL && problems.n_errors > 0)
                log_debug("%s: %zu problem(s)", p, problems.n_errors);
        else if (r < 0)
                log_error_errno(r, "Cannot read answer file %s: %m", p);
        answerfile_problems_done(&problems);
        return r;
}

static void print_summary(const char *path, const struct install_config *c) {
        const struct admin_interface *a = &c->admin;
        const char *source = c->n_sources > 0 ? location_type_to_string(c->sources[0].type) : "none";

        switch (c->mode) {
        case INSTALL_MODE_FRESH:
        case INSTALL_MODE_REINSTALL:
                printf("%s: valid: %s install onto %s (SR %s%s), management on %s (%s), source %s\n", path,
                       install_mode_to_string(c->mode), c->primary_disk, sr_type_to_string(c->sr_type),
                       c->primary_disk_guest_storage ? "" : ", not on the primary disk", a->name ?: a->hwaddr,
                       net_proto_to_string(a->proto != NET_PROTO_NONE ? a->proto : a->proto6), source);
                break;
        case INSTALL_MODE_UPGRADE:
                printf("%s: valid: upgrade of %s, source %s\n", path,
                       c->existing_installation ?: "the only xenhost installation found", source);
                break;
        default:
                printf("%s: valid: restore of %s\n", path, c->backup_disk ?: "the only xenhost installation found");
        }
}

/* ---- the answer-file front end ------------------------------------------ */

static void kmsg(const char *line) {
        char buf[512];
        /* One write() a record: /dev/kmsg takes each write as one line (and
         * dprintf's stream cannot seek on it). */
        int n = snprintf(buf, sizeof buf, "%s\n", line);
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (n > 0 && write(fd, buf, (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1) < 0)
                        log_debug_errno(-errno, "Cannot write to /dev/kmsg: %m");
                close(fd);
        }
}

/* Each step once on the console, with its percentage, and as a
 * machine-readable XENHOST-PROGRESS line on the kernel log, which reaches
 * the serial line for fleets watching it. Byte counts within a step are
 * shown on a terminal only. */
static unsigned last_n_steps = _INSTALL_STEP_MAX;
static void on_progress(const struct install_progress *p, void *userdata) {
        static int last_step = -1;
        (void) userdata;
        last_n_steps = p->n_steps;
        if ((int) p->index == last_step) {
                if (p->total && isatty(STDOUT_FILENO)) {
                        char a[32], b[32];
                        printf("\r[%3u%%]   %s of %s", p->percent, format_iec(a, sizeof a, p->done),
                               format_iec(b, sizeof b, p->total));
                        fflush(stdout);
                }
                return;
        }
        if (last_step >= 0 && isatty(STDOUT_FILENO))
                printf("\n");
        last_step = (int) p->index;
        snprintf(last_step_name, sizeof last_step_name, "%s", p->name ?: "?");
        report_step(reporter, p->name, p->index, p->n_steps, p->percent, p->title);
        char line[256];
        printf("[%3u%%] %s\n", p->percent, p->title);
        fflush(stdout);
        snprintf(line, sizeof line, "XENHOST-PROGRESS step=%u/%u name=%s percent=%u", p->index, p->n_steps, p->name,
                 p->percent);
        kmsg(line);
}

static void on_warning(const char *line, void *userdata) {
        (void) userdata;
        report_warning(reporter, line);
        fprintf(stderr, "%s%s\n", startswith(line, "error: ") ? "" : "warning: ", line);
}

/* The answer file naming the disks is the consent to erase them; with
 * <ui-confirmation-prompt> the operator confirms on the console anyway. */
static int on_confirm(const struct install_plan *plan, void *userdata) {
        const struct install_config *c = userdata;
        char s[32], answer[16] = "";
        free(installed_version);
        installed_version = plan->image.version ? strdup(plan->image.version) : NULL;
        /* An upgrade or a restore says what it does to the installed host,
         * asked or not: which disk, which slot, which version. */
        if (install_mode_keeps_host(plan->mode)) {
                const struct plan_setting *ps = install_plan_setting(
                        plan, plan->mode == INSTALL_MODE_UPGRADE ? "existing_installation" : "backup_disk");
                printf("%s: %s\n", install_mode_to_string(plan->mode), ps ? ps->detail : plan->disk);
                fflush(stdout);
        }
        if (!c->confirm_before_writing)
                return 1;
        _cleanup_fclose_ FILE *tty = fopen("/dev/tty", "r+e");
        FILE *in = tty ?: stdin, *out = tty ?: stdout;
        if (install_mode_keeps_host(plan->mode)) {
                const struct plan_disk *d = &plan->disks[0];
                fprintf(out, "\nThe %s keeps the installed host on %s (%s): nothing is erased, the SR is kept.\n",
                        install_mode_to_string(plan->mode), d->path, d->holds);
                if (plan->mode == INSTALL_MODE_UPGRADE)
                        fprintf(out, "Slot %c is written with xenhost %s and tried at the next boot.\n", plan->slot,
                                plan->image.version ?: "?");
                else
                        fprintf(out, "Slot %c (%s) boots next.\n", plan->slot,
                                plan->slot_versions[plan->slot - 'a'] ?: "?");
                fprintf(out, "Type 'yes' to go on, anything else to stop: ");
                fflush(out);
                if (!fgets(answer, sizeof answer, in))
                        return 0;
                answer[strcspn(answer, "\n")] = 0;
                return streq(answer, "yes");
        }
        fprintf(out, "\nThe install erases:\n");
        for (size_t i = 0; i < plan->n_disks; i++) {
                const struct plan_disk *d = &plan->disks[i];
                fprintf(out, "  %s  %s  %s%s%s\n    holds: %s%s\n", d->path, format_si(s, sizeof s, d->size_bytes),
                        d->model ?: "", d->serial ? "  serial " : "", d->serial ?: "", d->holds,
                        d->keep_sr ? " (its SR is kept)" : "");
        }
        fprintf(out, "Type 'yes' to install, anything else to stop: ");
        fflush(out);
        if (!fgets(answer, sizeof answer, in))
                return 0;
        answer[strcspn(answer, "\n")] = 0;
        return streq(answer, "yes");
}

/* What every front end hands the engine: the media, image, keyring, log
 * and console options of the command line, and the firmware booted. */
static struct install_env env_from_args(void) {
        return (struct install_env) {
                .media_root = arg_media,
                .image = arg_image,
                .keyring = arg_keyring,
                .insecure_unsigned = arg_insecure_unsigned,
                .log_path = arg_log,
                .work_dir = arg_work_dir,
                .serial = arg_serial,
                .efi = access("/sys/firmware/efi", F_OK) == 0,
        };
}

static int install(const struct install_config *c) {
        _cleanup_free_ char *reason = NULL;
        struct install_env env = env_from_args();
        struct install_frontend fe = {.confirm = on_confirm, .progress = on_progress, .warning = on_warning,
                                      .userdata = (void *) c};
        int r;

        /* Every install keeps a full log; it ends up on the host. */
        r = log_open_file(arg_log);
        if (r < 0)
                log_warning_errno(r, "Cannot open the log file %s: %m", arg_log);
        /* The engine's own lines go to the log; the console gets the
         * front end's progress and warnings. */
        if (log_get_max_level() > LOG_LEVEL_DEBUG)
                log_set_max_level(LOG_LEVEL_ERROR);
        log_info("xenhost installer: %s install, %s boot%s", install_mode_to_string(c->mode), env.efi ? "UEFI" : "BIOS",
                 env.serial ? ", serial console" : "");
        report_start(reporter, install_mode_to_string(c->mode), c->hostname);
        r = install_run(c, &env, &fe, &reason);
        if (r < 0) {
                kmsg("XENHOST-PROGRESS failed");
                log_error_errno(r, "Installation failed: %s (full log: %s)", reason ?: "unknown error", arg_log);
                /* Before the first step the engine was planning. */
                report_failure(reporter, last_step_name[0] ? last_step_name : "plan", reason ?: strerror(-r),
                               arg_log);
                return r;
        }
        report_success(reporter, installed_version);
        switch (c->mode) {
        case INSTALL_MODE_UPGRADE:
                printf("[100%%] the upgrade is written: the new version is tried at the next boot\n");
                break;
        case INSTALL_MODE_RESTORE:
                printf("[100%%] the previous version boots next\n");
                break;
        default:
                printf("[100%%] xenhost is installed\n");
        }
        char line[128];
        snprintf(line, sizeof line, "XENHOST-PROGRESS step=%u/%u name=done percent=100", last_n_steps, last_n_steps);
        kmsg(line);
        return 0;
}

/* --dry-run: the plan, for this machine (probed, reading only) or for the
 * one --facts describes. */
static int dry_run(const struct install_config *c) {
        _cleanup_(install_facts_freep) struct install_facts *facts = NULL;
        _cleanup_(install_plan_freep) struct install_plan *plan = NULL;
        _cleanup_free_ char *reason = NULL, *text = NULL;
        int r;

        if (arg_facts) {
                r = read_full_file_bounded(arg_facts, 4u << 20, &text, NULL);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the facts %s: %m", arg_facts);
                r = install_facts_from_json(text, &facts, &reason);
                if (r < 0)
                        return log_error_errno(r, "%s: %s", arg_facts, reason ?: "bad facts");
        } else {
                struct install_env env = {.media_root = arg_media, .image = arg_image, .serial = arg_serial,
                                          .efi = access("/sys/firmware/efi", F_OK) == 0,
                                          .probe_all_disks = install_in_installer_environment()};
                r = install_facts_probe(c, &env, &facts, &reason);
                if (r < 0)
                        return log_error_errno(r, "Cannot probe this machine: %s", reason ?: strerror(-r));
        }
        r = install_plan_compute(c, facts, &plan);
        if (r < 0)
                return log_oom();
        r = arg_json ? install_plan_print_json(plan, facts, stdout) : install_plan_print(plan, stdout);
        if (r < 0)
                return log_error_errno(r, "Cannot print the plan: %m");
        return plan->n_errors > 0 ? -EINVAL : 0;
}

/* --tui: the interactive front end, with the same engine. */
static int tui(void) {
        _cleanup_free_ char *reason = NULL;
        struct install_env env = env_from_args();
        int r = tui_run(&env, &reason);
        if (r == -ECANCELED)
                return log_error_errno(r, "Installer left: %s", reason ?: "nothing was written");
        if (r < 0)
                return log_error_errno(r, "Installation failed: %s", reason ?: strerror(-r));
        printf("xenhost is installed\n");
        return 0;
}

/* A report that cannot be made or delivered is a warning, never a reason
 * to stop: the install goes on without it. */
static void open_reporter(const char *url) {
        int r;
        if (!url)
                return;
        r = report_new(url, &reporter);
        if (r < 0) {
                _cleanup_free_ char *shown = NULL;
                log_warning_errno(r, "Cannot report to %s, installing without a report: %m",
                                  url_redact(url, &shown) >= 0 ? shown : "the report URL");
        }
}

static void close_reporter(void) {
        _cleanup_free_ char *line = NULL;
        if (report_undelivered_line(reporter, &line) > 0) {
                fprintf(stderr, "warning: %s\n", line);
                log_file_write("report:", line, strlen(line));
        }
        reporter = report_free(reporter);
}

static int run(void) {
        _cleanup_install_config_ struct install_config *c = NULL;
        int r;

        if (arg_tui)
                return tui();

        if (arg_check) {
                _cleanup_free_ char *shown = NULL;
                r = load(arg_check, &c);
                if (r < 0)
                        return r;
                if (url_redact(arg_check, &shown) < 0)
                        return log_oom();
                print_summary(shown, c);
                return 0;
        }

        /* Where the install's events go: the answer file's <report>, else
         * --report, else report= on the installer's kernel command line
         * (read in the installer environment only: elsewhere it is the
         * command line of the machine the test or the operator runs on). */
        _cleanup_free_ char *from_cmdline = NULL;
        if (!arg_report && !arg_dry_run && report_url_from_kernel_cmdline(&from_cmdline) > 0)
                arg_report = from_cmdline;

        r = load(arg_answerfile, &c);
        if (r < 0) {
                /* A fleet hears of a host whose answer file is no good:
                 * the install stops before it starts. */
                if (!arg_dry_run && arg_report)
                        open_reporter(arg_report);
                report_start(reporter, NULL, NULL);
                report_failure(reporter, "answerfile", load_problem ?: "the answer file cannot be used",
                               arg_log_given ? arg_log : NULL);
                close_reporter();
                load_problem = mfree(load_problem);
                return r;
        }
        load_problem = mfree(load_problem);
        if (arg_dry_run)
                return dry_run(c);
        open_reporter(c->report_url ?: arg_report);
        r = install(c);
        close_reporter();
        installed_version = mfree(installed_version);
        return r;
}

/* --txt-record NAME: the first string of NAME's TXT record. */
static int txt_record(const char *name) {
        unsigned char answer[4096];
        ns_msg msg;
        ns_rr rr;
        if (res_init() < 0)
                return log_error_errno(-EIO, "Cannot read the resolver configuration");
        int n = res_query(name, ns_c_in, ns_t_txt, answer, sizeof answer);
        if (n < 0 || ns_initparse(answer, n, &msg) < 0)
                return log_error_errno(-ENOENT, "No TXT record for %s", name);
        for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
                if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt || ns_rr_rdlen(rr) < 1)
                        continue;
                const unsigned char *d = ns_rr_rdata(rr);
                size_t len = d[0] < ns_rr_rdlen(rr) ? d[0] : (size_t) ns_rr_rdlen(rr) - 1;
                printf("%.*s\n", (int) len, (const char *) d + 1);
                return 0;
        }
        return log_error_errno(-ENOENT, "No TXT record for %s", name);
}

int main(int argc, char **argv) {
        int r;

        log_set_program("xenhost-install");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        if (arg_txt_record)
                return txt_record(arg_txt_record) < 0 ? 1 : 0;
        r = run();
        log_close_file();
        return r < 0 ? 1 : 0;
}
