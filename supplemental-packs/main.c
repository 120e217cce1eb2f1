/* xenhost-pack: builds, verifies, installs, lists and removes supplemental
 * packs (DESIGN.md section 7). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack.h"

static const char *arg_root = "/", *arg_keyring, *arg_output, *arg_sign;
static bool arg_json, arg_upgrade;
static struct pack_build_options arg_build;
static char **arg_requires;
static size_t arg_n_requires;

static void help(void) {
        printf("Usage: xenhost-pack [OPTIONS] COMMAND\n"
               "\n"
               "Commands:\n"
               "  build --name N --version V --originator O [--build B] [--description D]\n"
               "        [--requires 'xenhost >= 1.0'] [--requires 'pack:NAME >= 2'] [--sign KEY]\n"
               "        RPM... -o PACK.iso     make a pack (SOURCE_DATE_EPOCH fixes its timestamps)\n"
               "  verify PACK                  check signature, pack.xml, checksums, RPM headers,\n"
               "                               requirements and conflicts against the root\n"
               "  install PACK [--upgrade]     verify, then install its RPMs into the root and\n"
               "                               record it (--upgrade replaces another version)\n"
               "  list [--json]                the packs installed in the root\n"
               "  remove NAME                  erase a pack's RPMs and its record\n"
               "\n"
               "Options:\n"
               "  --root DIR                   the host's root (default: /)\n"
               "  --keyring FILE               check signatures with FILE (default:\n"
               "                               DIR/etc/xenhost/keyring.gpg when it exists);\n"
               "                               with a keyring a pack must be signed\n"
               "  --json                       machine-readable output (list)\n"
               "  -v, --verbose                debug output\n"
               "  -h, --help\n"
               "\n"
               "Requirements on the product are tested against PRODUCT_VERSION of\n"
               "DIR/etc/xenhost/inventory (or VERSION= of DIR/etc/xenhost-release), on\n"
               "other packs against their records in DIR/var/lib/xenhost/packs.\n");
}

static void on_progress(const char *step, const char *package, unsigned done, unsigned total, void *userdata) {
        (void) userdata;
        if (package)
                printf("[%u/%u] %s %s\n", done, total, step, package);
        else
                printf("%s\n", step);
        fflush(stdout);
}

static int fail(int r, const char *why) {
        log_error("%s", why ?: strerror(-r));
        return 1;
}

static int do_build(char **rpms) {
        _cleanup_free_ char *why = NULL;
        if (!arg_output) {
                log_error("build needs -o PACK.iso");
                return 2;
        }
        if (!arg_build.name || !arg_build.version || !arg_build.originator) {
                log_error("build needs --name, --version and --originator");
                return 2;
        }
        char **req = calloc(arg_n_requires + 1, sizeof *req);
        if (!req)
                return fail(-ENOMEM, NULL);
        if (arg_n_requires > 0)
                memcpy(req, arg_requires, arg_n_requires * sizeof *req);
        arg_build.requires = req;
        arg_build.rpms = rpms;
        arg_build.sign_key = arg_sign;
        int r = pack_build(&arg_build, arg_output, &why);
        free(req);
        if (r < 0)
                return fail(r, why);
        size_t n = 0;
        while (rpms[n])
                n++;
        printf("Wrote %s: pack %s %s, %zu RPM%s, %s\n", arg_output, arg_build.name, arg_build.version, n,
               n == 1 ? "" : "s", arg_sign ? "signed" : "unsigned");
        return 0;
}

static void print_info(const struct pack_info *in) {
        printf("Pack %s %s%s%s by %s: %zu RPM%s", in->name, in->version, in->build ? " build " : "", in->build ?: "",
               in->originator, in->n_packages, in->n_packages == 1 ? "" : "s");
}

static int do_verify(const char *path) {
        _cleanup_free_ char *why = NULL;
        struct pack *p = NULL;
        int r = pack_open(path, &p, &why);
        if (r < 0)
                return fail(r, why);
        r = pack_verify(p, arg_root, arg_keyring, arg_upgrade ? PACK_VERIFY_UPGRADE : 0, &why);
        if (r < 0) {
                pack_free(p);
                return fail(r, why);
        }
        print_info(pack_get_info(p));
        printf(", checksums good, %s%s\n", pack_is_signature_checked(p) ? "signature good" : "signature not checked (no keyring)",
               pack_is_installed(p) ? ", installed" : "");
        pack_free(p);
        return 0;
}

static int do_install(const char *path) {
        _cleanup_free_ char *why = NULL;
        enum pack_install_result res;
        struct pack *p = NULL;
        int r = pack_open(path, &p, &why);
        if (r < 0)
                return fail(r, why);
        r = pack_install(p, arg_root, arg_keyring, arg_upgrade ? PACK_VERIFY_UPGRADE : 0, on_progress, NULL, &res, &why);
        if (r < 0) {
                pack_free(p);
                return fail(r, why);
        }
        const struct pack_info *in = pack_get_info(p);
        printf("%s pack %s %s into %s\n",
               res == PACK_ALREADY_INSTALLED ? "Already installed:" : res == PACK_UPGRADED ? "Upgraded to" : "Installed",
               in->name, in->version, arg_root);
        pack_free(p);
        return 0;
}

static int do_list(void) {
        _cleanup_free_ char *why = NULL;
        struct pack_info *l = NULL;
        size_t n = 0;
        int r = packs_list(arg_root, &l, &n, &why);
        if (r < 0)
                return fail(r, why);
        if (arg_json) {
                printf("[");
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *s = pack_info_to_json(&l[i]);
                        printf("%s%s", i ? ",\n" : "\n", s ?: "null");
                }
                printf("\n]\n");
        } else {
                if (n == 0)
                        printf("No packs installed in %s\n", arg_root);
                for (size_t i = 0; i < n; i++) {
                        char when[32] = "";
                        struct tm tm;
                        if (gmtime_r(&l[i].installed, &tm))
                                strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
                        printf("%-24s %-12s %-8s %-16s %zu RPM%s, installed %s\n", l[i].name, l[i].version,
                               l[i].build ?: "-", l[i].originator, l[i].n_packages, l[i].n_packages == 1 ? "" : "s", when);
                }
        }
        packs_list_free(l, n);
        return 0;
}

static int do_remove(const char *name) {
        _cleanup_free_ char *why = NULL;
        int r = pack_remove(arg_root, name, on_progress, NULL, &why);
        if (r < 0)
                return fail(r, why);
        printf("Removed pack %s from %s\n", name, arg_root);
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_ROOT = 0x100, ARG_KEYRING, ARG_JSON, ARG_UPGRADE, ARG_NAME, ARG_VERSION, ARG_ORIGINATOR, ARG_BUILD,
               ARG_DESCRIPTION, ARG_REQUIRES, ARG_SIGN };
        static const struct option options[] = {
                {"root", required_argument, NULL, ARG_ROOT},
                {"keyring", required_argument, NULL, ARG_KEYRING},
                {"json", no_argument, NULL, ARG_JSON},
                {"upgrade", no_argument, NULL, ARG_UPGRADE},
                {"name", required_argument, NULL, ARG_NAME},
                {"version", required_argument, NULL, ARG_VERSION},
                {"originator", required_argument, NULL, ARG_ORIGINATOR},
                {"build", required_argument, NULL, ARG_BUILD},
                {"description", required_argument, NULL, ARG_DESCRIPTION},
                {"requires", required_argument, NULL, ARG_REQUIRES},
                {"sign", required_argument, NULL, ARG_SIGN},
                {"output", required_argument, NULL, 'o'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c, ret;
        log_set_program("xenhost-pack");
        while ((c = getopt_long(argc, argv, "o:vh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_ROOT: arg_root = optarg; break;
                case ARG_KEYRING: arg_keyring = optarg; break;
                case ARG_JSON: arg_json = true; break;
                case ARG_UPGRADE: arg_upgrade = true; break;
                case ARG_NAME: arg_build.name = optarg; break;
                case ARG_VERSION: arg_build.version = optarg; break;
                case ARG_ORIGINATOR: arg_build.originator = optarg; break;
                case ARG_BUILD: arg_build.build = optarg; break;
                case ARG_DESCRIPTION: arg_build.description = optarg; break;
                case ARG_REQUIRES: {
                        char **a = reallocarray(arg_requires, arg_n_requires + 1, sizeof *a);
                        if (!a)
                                return fail(-ENOMEM, NULL);
                        arg_requires = a;
                        arg_requires[arg_n_requires++] = optarg;
                        break;
                }
                case ARG_SIGN: arg_sign = optarg; break;
                case 'o': arg_output = optarg; break;
                case 'v': log_set_max_level(LOG_LEVEL_DEBUG); break;
                case 'h': help(); return 0;
                default: return 2;
                }
        }
        if (optind >= argc) {
                help();
                return 2;
        }
        const char *cmd = argv[optind];
        char **args = argv + optind + 1;
        int n = argc - optind - 1;
        if (streq(cmd, "build") && n >= 1)
                ret = do_build(args);
        else if (streq(cmd, "verify") && n == 1)
                ret = do_verify(args[0]);
        else if (streq(cmd, "install") && n == 1)
                ret = do_install(args[0]);
        else if (streq(cmd, "list") && n == 0)
                ret = do_list();
        else if (streq(cmd, "remove") && n == 1)
                ret = do_remove(args[0]);
        else {
                log_error("unknown command or wrong arguments: %s (see --help)", cmd);
                ret = 2;
        }
        free(arg_requires);
        return ret;
}
