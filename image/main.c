/* xenhost-build: the dom0 tree, the host image, the installer initrd, the
 * install ISO and the PXE tree; and verify, to check an image against its
 * manifest the way the installer and the upgrader do. */
#include <fcntl.h>
#include <getopt.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <time.h>

#include "build.h"
#include "log.h"
#include "macro.h"
#include "manifest.h"
#include "slot.h"

static const char *arg_out, *arg_version, *arg_sign_key, *arg_keyring, *arg_log, *arg_answerfile, *arg_iso, *arg_http;
static const char **arg_packs;
static size_t arg_n_packs;
static const char *arg_label = "xh-dom0-a";

static void help(void) {
        printf("Usage: xenhost-build rootfs|image|initrd|iso|pxe|all [OPTIONS]\n"
               "       xenhost-build verify IMAGE MANIFEST [--keyring FILE]\n"
               "       xenhost-build write-slot IMAGE MANIFEST DEVICE [--label L] [--keyring FILE]\n"
               "\n"
               "  rootfs   the dom0 tree (packages cached by dom0-rootfs/packages) in OUT/rootfs\n"
               "  image    the host image OUT/xenhost-V.img, its manifest and OUT/xenhost-V.packages\n"
               "           (the dom0 packages and their versions, for a rebuild to pin)\n"
               "  initrd   the installer kernel and initrd in OUT/installer\n"
               "  iso      the hybrid install ISO OUT/xenhost-V.iso (BIOS, UEFI, USB)\n"
               "  pxe      the PXE tree OUT/pxe with GRUB and pxelinux examples\n"
               "  all      image, iso and pxe\n"
               "  verify   check IMAGE against MANIFEST (size, SHA-256, signature)\n"
               "  write-slot  for developers and benchmarks: verify IMAGE, then lay it down on\n"
               "           DEVICE (a block device or a file) the way the installer writes a\n"
               "           slot, and print the time it took and the new file system UUID\n"
               "\n"
               "Options:\n"
               "  --out DIR        results (default: out/ in the source tree)\n"
               "  --version V      product version (default: the VERSION file)\n"
               "  --sign-key KEY   sign the manifest with this gpg key; its public key goes on\n"
               "                   the ISO and the PXE tree as xenhost/keyring.gpg\n"
               "  --keyring FILE   with verify: require a signature by a key in FILE (gpgv sees\n"
               "                   that file only, never ~/.gnupg)\n"
               "  --answerfile F   iso: carry answer file F and boot the unattended entry by default;\n"
               "                   pxe: the answer file's URL, where {mac} (the booting NIC) and\n"
               "                   {serial} (the DMI system serial) are filled in for each host\n"
               "  --http URL       pxe: the URL this tree is served at over HTTP: GRUB loads the\n"
               "                   kernel and the initrd from it (default: TFTP, slower)\n"
               "  --pack FILE      iso: carry the supplemental pack FILE in packs/ (repeatable);\n"
               "                   fresh installs install it by default\n"
               "  --iso PATH       iso: write the ISO to PATH\n"
               "  --label L        write-slot: the slot's ext4 label (default xh-dom0-a)\n"
               "  --log-file FILE  full log (default: OUT/build.log)\n"
               "  -v, --verbose    debug output\n"
               "Environment: XENHOST_CACHE (default /var/cache/xenhost), SOURCE_DATE_EPOCH.\n");
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_OUT = 0x100, ARG_VERSION, ARG_SIGN, ARG_KEYRING, ARG_LOG, ARG_ANSWERFILE, ARG_ISO, ARG_LABEL,
               ARG_HTTP, ARG_PACK };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},           {"verbose", no_argument, NULL, 'v'},
                {"out", required_argument, NULL, ARG_OUT},  {"version", required_argument, NULL, ARG_VERSION},
                {"sign-key", required_argument, NULL, ARG_SIGN}, {"keyring", required_argument, NULL, ARG_KEYRING},
                {"log-file", required_argument, NULL, ARG_LOG}, {"answerfile", required_argument, NULL, ARG_ANSWERFILE},
                {"iso", required_argument, NULL, ARG_ISO}, {"label", required_argument, NULL, ARG_LABEL},
                {"http", required_argument, NULL, ARG_HTTP}, {"pack", required_argument, NULL, ARG_PACK}, {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h': help(); return 0;
                case 'v': log_set_max_level(LOG_LEVEL_DEBUG); break;
                case ARG_OUT: arg_out = optarg; break;
                case ARG_VERSION: arg_version = optarg; break;
                case ARG_SIGN: arg_sign_key = optarg; break;
                case ARG_KEYRING: arg_keyring = optarg; break;
                case ARG_LOG: arg_log = optarg; break;
                case ARG_ANSWERFILE: arg_answerfile = optarg; break;
                case ARG_ISO: arg_iso = optarg; break;
                case ARG_LABEL: arg_label = optarg; break;
                case ARG_HTTP: arg_http = optarg; break;
                case ARG_PACK: {
                        const char **n = reallocarray(arg_packs, arg_n_packs + 2, sizeof *n);
                        if (!n)
                                return log_oom();
                        arg_packs = n;
                        arg_packs[arg_n_packs++] = optarg;
                        arg_packs[arg_n_packs] = NULL;
                        break;
                }
                default: return -EINVAL;
                }
        return 1;
}

static int verb_verify(int argc, char **argv) {
        _cleanup_free_ char *reason = NULL;
        struct manifest m = {};
        if (argc != 2)
                return log_error_errno(-EINVAL, "verify needs IMAGE and MANIFEST");
        int r = image_verify(argv[0], argv[1], arg_keyring, &m, &reason);
        if (r < 0)
                return log_error_errno(r, "%s", reason ? reason : "verification failed");
        printf("%s: xenhost %s build %s, SHA-256 %s%s\n", argv[0], m.version, m.build, m.image_sha256,
               arg_keyring ? ", signature good" : "");
        manifest_done(&m);
        return 0;
}

static void write_progress(uint64_t done, uint64_t total, void *userdata) {
        (void) userdata;
        log_debug("write-slot: %" PRIu64 " of %" PRIu64 " MiB", done / (1024 * 1024), total / (1024 * 1024));
}

static int verb_write_slot(int argc, char **argv) {
        _cleanup_free_ char *reason = NULL;
        struct manifest m = {};
        struct timespec t0, t1;
        char uuid[37];
        if (argc != 3)
                return log_error_errno(-EINVAL, "write-slot needs IMAGE, MANIFEST and DEVICE");
        int r = image_verify(argv[0], argv[1], arg_keyring, &m, &reason);
        if (r < 0)
                return log_error_errno(r, "%s", reason ? reason : "verification failed");
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = slot_write_image(argv[0], &m, argv[2],
                             &(struct slot_write_options){.label = arg_label, .progress = write_progress}, uuid,
                             &reason);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0) {
                manifest_done(&m);
                return log_error_errno(r, "%s", reason ? reason : "writing the slot failed");
        }
        printf("%s: %s image written in %.2f s, file system UUID %s\n", argv[2],
               image_format_to_string(m.image_format),
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9, uuid);
        manifest_done(&m);
        return 0;
}

int main(int argc, char **argv) {
        struct build_context c;
        struct timespec t0, t1;
        int r;

        log_set_program("xenhost-build");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        if (optind >= argc) {
                log_error("Expected a stage (rootfs, image, initrd, iso, pxe, all) or verify; see --help");
                return 1;
        }
        const char *verb = argv[optind];
        if (streq(verb, "verify"))
                return verb_verify(argc - optind - 1, argv + optind + 1) < 0 ? 1 : 0;
        if (streq(verb, "write-slot"))
                return verb_write_slot(argc - optind - 1, argv + optind + 1) < 0 ? 1 : 0;
        if (argc - optind != 1) {
                log_error("Expected one stage; see --help");
                return 1;
        }
        /* Inputs first: a bad one is said before minutes of building. */
        for (size_t i = 0; i < arg_n_packs; i++) {
                struct stat st;
                if (stat(arg_packs[i], &st) < 0 || !S_ISREG(st.st_mode) || access(arg_packs[i], R_OK) < 0) {
                        log_error("--pack %s: not a readable file", arg_packs[i]);
                        return 1;
                }
                size_t l = strlen(arg_packs[i]);
                if (l < 5 || strcasecmp(arg_packs[i] + l - 4, ".iso") != 0 || arg_packs[i][l - 5] == '/') {
                        log_error("--pack %s: a pack is an ISO made by xenhost-pack build (NAME.iso)", arg_packs[i]);
                        return 1;
                }
        }
        if (arg_n_packs > 0 && !streq(verb, "iso") && !streq(verb, "all")) {
                log_error("--pack is for the ISO (iso, all), not %s", verb);
                return 1;
        }
        if (streq(verb, "pxe") && arg_answerfile && !strstr(arg_answerfile, "://")) {
                log_error("pxe: --answerfile %s: expected the URL the hosts fetch it from", arg_answerfile);
                return 1;
        }
        if (arg_http && !startswith(arg_http, "http://")) {
                log_error("--http %s: GRUB loads the kernel over http:// only", arg_http);
                return 1;
        }
        if (geteuid() != 0) {
                log_error("xenhost-build needs root (mmdebstrap, chroot, mounts)");
                return 1;
        }
        r = build_context_init(&c, arg_out, arg_version, arg_sign_key);
        c.answerfile = arg_answerfile;
        c.iso_path = arg_iso;
        c.packs = arg_packs;
        c.http_url = arg_http;
        /* pxe: --answerfile is a URL the hosts fetch (iso: a file it carries). */
        if (arg_answerfile && strstr(arg_answerfile, "://"))
                c.answerfile_url = arg_answerfile;
        if (r < 0) {
                build_context_done(&c);
                return 1;
        }
        /* One build at a time per output directory: two would remove each
         * other's work trees. */
        _cleanup_free_ char *lock = NULL;
        if (asprintf(&lock, "%s/.lock", c.out) < 0)
                return 1;
        _cleanup_close_ int lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
                log_error("Another xenhost-build is working in %s", c.out);
                build_context_done(&c);
                return 1;
        }
        _cleanup_free_ char *log = NULL;
        if (!arg_log && asprintf(&log, "%s/build.log", c.out) < 0)
                return 1;
        r = log_open_file(arg_log ? arg_log : log);
        if (r < 0)
                log_warning_errno(r, "Cannot open the log file: %m");
        log_debug("xenhost-build %s: version %s build %s, SOURCE_DATE_EPOCH=%" PRIu64 ", cache %s", verb, c.version,
                  c.build_id, c.source_date_epoch, c.cache);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (streq(verb, "rootfs"))
                r = build_rootfs(&c);
        else if (streq(verb, "image"))
                r = build_image(&c);
        else if (streq(verb, "initrd"))
                r = build_initrd(&c);
        else if (streq(verb, "iso"))
                r = build_iso(&c);
        else if (streq(verb, "pxe"))
                r = build_pxe(&c);
        else if (streq(verb, "all")) {
                r = build_iso(&c);
                if (r >= 0)
                        r = build_pxe(&c);
        } else
                r = log_error_errno(-EINVAL, "Unknown stage '%s'; see --help", verb);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r >= 0)
                log_info("%s done in %.1f s", verb,
                         (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        else
                log_info("Full log: %s", arg_log ? arg_log : log);
        build_context_done(&c);
        log_close_file();
        return r < 0 ? 1 : 0;
}
