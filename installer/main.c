/* xenhost-install: the installer's command line. With an answer file it
 * installs unattended; it also checks answer files offline. */
#include <getopt.h>

#include "answerfile.h"
#include "config.h"
#include "engine.h"
#include "fetch.h"
#include "log.h"
#include "macro.h"

static const char *arg_check;
static const char *arg_answerfile;
static bool arg_dry_run;
static const char *arg_media;
static const char *arg_image;
static const char *arg_keyring;
static const char *arg_log = "/var/log/xenhost-install.log";
static bool arg_serial;
static bool arg_generator;

static void help(void) {
        printf("Usage: xenhost-install --answerfile FILE|URL [--media DIR] [--serial]\n"
               "       xenhost-install --check-answerfile FILE|URL\n"
               "       xenhost-install --dry-run --answerfile FILE|URL\n"
               "\n"
               "The xenhost installer: installs unattended from a XenServer-style answer file\n"
               "(DESIGN.md section 5). The interactive installer (TUI) is not built yet.\n"
               "An answer file is a local file, file://PATH, an absolute path looked up on\n"
               "the install media (" FETCH_MEDIA_ROOT_DEFAULT ") and then on the root file\n"
               "system, or an http://, https://, ftp://, tftp:// or nfs://SERVER/PATH URL.\n"
               "Network fetches are retried for 60 s (XENHOST_FETCH_TIMEOUT=SECONDS).\n"
               "\n"
               "  --check-answerfile FILE  check FILE without touching any disk: prints a\n"
               "                           summary and exits 0, or prints one line per problem\n"
               "                           (FILE:LINE: what is wrong) on stderr and exits 1\n"
               "  --answerfile FILE|URL    install unattended as the answer file says\n"
               "  --answerfile-generator FILE|URL\n"
               "                           run this script; what it prints is the answer file\n"
               "  --media DIR              the mounted install media (host image, answer file paths)\n"
               "  --image IMG              install this host image instead of the media's\n"
               "  --keyring FILE           require the image manifest to be signed by a key in FILE\n"
               "  --serial                 the install runs on the serial console: so will the host\n"
               "  --dry-run                print what the answer file asks for (passwords and\n"
               "                           URL credentials redacted) and stop\n"
               "  --log-file FILE          append a full log to FILE (installs: default\n"
               "                           /var/log/xenhost-install.log, copied onto the host)\n"
               "  -v, --verbose            debug output\n"
               "  -h, --help               this text\n");
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK = 0x100, ARG_ANSWERFILE, ARG_DRY_RUN, ARG_LOG, ARG_MEDIA, ARG_IMAGE, ARG_KEYRING, ARG_SERIAL, ARG_GENERATOR };
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
                {"serial", no_argument, NULL, ARG_SERIAL},
                {"answerfile-generator", required_argument, NULL, ARG_GENERATOR},
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
                case ARG_SERIAL:
                        arg_serial = true;
                        break;
                case ARG_GENERATOR:
                        arg_answerfile = optarg;
                        arg_generator = true;
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
 * as answerfile= takes it: a URL, or an absolute path on the media. */
static int load(const char *location, struct install_config **ret) {
        struct answerfile_problems problems = {};
        _cleanup_free_ char *p = NULL, *text = NULL, *reason = NULL;
        size_t len = 0;
        int r;

        r = url_redact(location, &p);
        if (r < 0)
                return log_oom();
        if (location[0] != '/' && !strstr(location, "://") && !arg_generator)
                r = answerfile_parse_file(p, &problems, ret);
        else {
                struct fetch_options o = FETCH_OPTIONS_DEFAULT;
                if (arg_media)
                        o.media_root = arg_media;
                r = fetch_options_from_environment(&o);
                if (r < 0)
                        return log_error_errno(r, "Invalid XENHOST_FETCH_TIMEOUT or XENHOST_FETCH_TLS_VERIFY");
                r = arg_generator ? answerfile_generate(location, &o, &text, &len, &reason)
                                  : answerfile_fetch(location, &o, &text, &len, &reason);
                if (r < 0) {
                        log_error("%s", reason ?: "cannot fetch the answer file");
                        return r;
                }
                r = answerfile_parse_memory(p, text, len, &problems, ret);
        }
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
                       install_mode_to_string(c->mode), c->primary_disk, sr_type_to_string(c->sr_type),
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

static int install(const struct install_config *c) {
        _cleanup_free_ char *reason = NULL;
        struct install_env env = {
                .media_root = arg_media,
                .image = arg_image,
                .keyring = arg_keyring,
                .log_path = arg_log,
                .serial = arg_serial,
                .efi = access("/sys/firmware/efi", F_OK) == 0,
        };
        int r;

        /* Every install keeps a full log; it ends up on the host. */
        r = log_open_file(arg_log);
        if (r < 0)
                log_warning_errno(r, "Cannot open the log file %s: %m", arg_log);
        log_info("xenhost installer: %s install, %s boot%s", install_mode_to_string(c->mode), env.efi ? "UEFI" : "BIOS",
                 env.serial ? ", serial console" : "");
        r = install_run(c, &env, &reason);
        if (r < 0)
                return log_error_errno(r, "Installation failed: %s (full log: %s)", reason ? reason : "unknown error",
                                       arg_log);
        return 0;
}

static int run(void) {
        _cleanup_install_config_ struct install_config *c = NULL;
        int r;

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

        r = load(arg_answerfile, &c);
        if (r < 0)
                return r;
        if (!arg_dry_run)
                return install(c);
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
