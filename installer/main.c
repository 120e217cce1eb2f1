/* xenhost-install: the installer's command line. For now it reads and
 * checks answer files; installing comes with the install engine. */
#include <getopt.h>

#include "answerfile.h"
#include "config.h"
#include "log.h"
#include "macro.h"

static const char *arg_check;
static const char *arg_answerfile;
static bool arg_dry_run;

static void help(void) {
        printf("Usage: xenhost-install --check-answerfile FILE\n"
               "       xenhost-install --dry-run --answerfile FILE\n"
               "\n"
               "The xenhost installer. This version reads and checks XenServer-style answer\n"
               "files (DESIGN.md section 5); it does not install yet, has no TUI yet, and\n"
               "reads answer files from local paths only (no http://, nfs://, ... yet).\n"
               "\n"
               "  --check-answerfile FILE  check FILE without touching any disk: prints a\n"
               "                           summary and exits 0, or prints one line per problem\n"
               "                           (FILE:LINE: what is wrong) on stderr and exits 1\n"
               "  --answerfile FILE        the answer file to use (needs --dry-run for now)\n"
               "  --dry-run                print what the answer file asks for (passwords and\n"
               "                           URL credentials redacted) and stop\n"
               "  --log-file FILE          append a full log to FILE\n"
               "  -v, --verbose            debug output\n"
               "  -h, --help               this text\n");
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK = 0x100, ARG_ANSWERFILE, ARG_DRY_RUN, ARG_LOG };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"verbose", no_argument, NULL, 'v'},
                {"check-answerfile", required_argument, NULL, ARG_CHECK},
                {"answerfile", required_argument, NULL, ARG_ANSWERFILE},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"log-file", required_argument, NULL, ARG_LOG},
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
                        r = log_open_file(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Cannot open log file %s: %m", optarg);
                        break;
                default:
                        return -EINVAL;
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'; see --help", argv[optind]);
        if (arg_check && (arg_answerfile || arg_dry_run))
                return log_error_errno(-EINVAL, "--check-answerfile stands alone; use --dry-run --answerfile "
                                                "FILE to see the parsed answer file");
        if (!arg_check && !arg_answerfile)
                return log_error_errno(-EINVAL, "Nothing to do: the interactive installer is not available yet; "
                                                "use --check-answerfile FILE or --dry-run --answerfile FILE");
        if (arg_answerfile && !arg_dry_run)
                return log_error_errno(-EOPNOTSUPP, "Installing is not available yet; add --dry-run to see "
                                                    "what %s asks for", arg_answerfile);
        const char *path = arg_check ?: arg_answerfile;
        if (strstr(path, "://") && !startswith(path, "file://"))
                return log_error_errno(-EOPNOTSUPP, "Fetching answer files over the network is not available "
                                                    "yet; give a local path instead of %s", path);
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

static int load(const char *path, struct install_config **ret) {
        struct answerfile_problems problems = {};
        const char *p = startswith(path, "file://") ?: path;
        int r;

        r = answerfile_parse_file(p, &problems, ret);
        print_lines(problems.warnings);
        print_lines(problems.errors);
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
                       install_mode_to_string(c->mode), c->primary_disk, config_sr_type_to_string(c->sr_type),
                       c->primary_disk_guest_storage ? "" : ", not on the primary disk", a->name ?: a->hwaddr,
                       net_proto_to_string(a->proto != NET_PROTO_NONE ? a->proto : a->proto6), source);
                break;
        case INSTALL_MODE_UPGRADE:
                printf("%s: valid: upgrade of %s, source %s\n", path, c->existing_installation, source);
                break;
        default:
                printf("%s: valid: restore from %s\n", path, c->backup_disk ?: "the only backup found");
        }
}

static int run(void) {
        _cleanup_install_config_ struct install_config *c = NULL;
        int r;

        if (arg_check) {
                r = load(arg_check, &c);
                if (r < 0)
                        return r;
                print_summary(arg_check, c);
                return 0;
        }

        r = load(arg_answerfile, &c);
        if (r < 0)
                return r;
        log_info("Dry run: nothing is written.");
        r = install_config_print(c, stdout);
        if (r < 0)
                return log_error_errno(r, "Cannot print the configuration: %m");
        return 0;
}

int main(int argc, char **argv) {
        int r;

        log_set_program("xenhost-install");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        r = run();
        log_close_file();
        return r < 0 ? 1 : 0;
}
