/* Fetching answer files: kernel command-line parsing (quotes, keys that are
 * prefixes of others, missing keys), path resolution on the install media,
 * file:// and plain paths, the size limit, redaction of credentials in
 * reasons, the retry loop, NFS against a stand-in mount(8), and generators.
 * Network fetches against real servers are in tests/integration/fetch.sh. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "answerfile.h"
#include "config.h"
#include "fetch.h"
#include "fileio.h"
#include "macro.h"
#include "process.h"

static char scratch[] = "/tmp/xh-test-fetch-XXXXXX";

static char *path_in(const char *sub) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", scratch, sub) > 0);
        return p;
}

static void write_text(const char *path, const char *text, mode_t mode) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        size_t len = strlen(text);
        assert_int_equal(write(fd, text, len), (ssize_t) len);
        assert_int_equal(fchmod(fd, mode), 0);
}

static void mkdir_p(const char *path) {
        const char *argv[] = {"mkdir", "-p", path, NULL};
        assert_int_equal(spawn_run(argv, NULL), 0);
}

static bool dir_is_empty(const char *path) {
        _cleanup_free_ char *cmd = NULL;
        assert_true(asprintf(&cmd, "test -z \"$(ls -A '%s')\"", path) > 0);
        return system(cmd) == 0;
}

/* Options for tests: no waiting unless a test asks for it. */
static struct fetch_options quick(void) {
        struct fetch_options o = FETCH_OPTIONS_DEFAULT;
        o.media_root = NULL;
        o.retry_total_ms = 0;
        o.backoff_initial_ms = 50;
        o.backoff_max_ms = 200;
        o.attempt_timeout_ms = 5000;
        return o;
}

#define XML "<installation><primary-disk>sda</primary-disk></installation>\n"

static int setup(void **state) {
        (void) state;
        if (!mkdtemp(scratch))
                return -1;
        _cleanup_free_ char *tmp = path_in("tmp");
        if (mkdir(tmp, 0700) < 0)
                return -1;
        /* Generators and NFS mount points go here, so tests can see that
         * nothing is left behind. */
        setenv("TMPDIR", tmp, 1);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        const char *argv[] = {"rm", "-rf", scratch, NULL};
        return spawn_run(argv, NULL) < 0 ? -1 : 0;
}

/* ---- kernel command line ---- */

static void expect_cmdline(const char *cmdline, const char *key, const char *want) {
        char *v = (char *) 0x1;
        int r = kernel_cmdline_get(cmdline, key, &v);
        if (!want) {
                assert_int_equal(r, 0);
                assert_null(v);
                return;
        }
        assert_int_equal(r, 1);
        assert_non_null(v);
        assert_string_equal(v, want);
        free(v);
}

static void test_cmdline_plain(void **state) {
        (void) state;
        const char *c = "BOOT_IMAGE=/boot/vmlinuz root=live:CDLABEL=XENHOST answerfile=http://192.0.2.1/a.xml quiet";
        expect_cmdline(c, "answerfile", "http://192.0.2.1/a.xml");
        expect_cmdline(c, "root", "live:CDLABEL=XENHOST");
        expect_cmdline(c, "quiet", "");
        expect_cmdline(c, "BOOT_IMAGE", "/boot/vmlinuz");
        /* A value may hold '=' and '?' of its own. */
        expect_cmdline("answerfile=http://h/gen?host=a&x=1", "answerfile", "http://h/gen?host=a&x=1");
        expect_cmdline("answerfile=", "answerfile", "");
        /* Leading, trailing and repeated whitespace of every kind, as /proc/cmdline has. */
        expect_cmdline("  \tquiet   answerfile=/a.xml\t\n", "answerfile", "/a.xml");
}

static void test_cmdline_quotes(void **state) {
        (void) state;
        /* Quoted value: the kernel drops the quotes and keeps the spaces. */
        expect_cmdline("quiet answerfile=\"http://h/my answers.xml\" console=ttyS0", "answerfile",
                       "http://h/my answers.xml");
        expect_cmdline("quiet answerfile=\"http://h/my answers.xml\" console=ttyS0", "console", "ttyS0");
        /* The whole argument quoted. */
        expect_cmdline("\"answerfile=/a b.xml\" quiet", "answerfile", "/a b.xml");
        /* Quotes inside a value group words but stay, as in the kernel. */
        expect_cmdline("x=a\"b c\"d answerfile=/y", "x", "a\"b c\"d");
        expect_cmdline("x=a\"b c\"d answerfile=/y", "answerfile", "/y");
        /* A quoted word that looks like a key is not one. */
        expect_cmdline("foo=\"answerfile=/evil\" bar", "answerfile", NULL);
        /* An unterminated quote runs to the end, like the kernel. */
        expect_cmdline("answerfile=\"/a b quiet", "answerfile", "/a b quiet");
        expect_cmdline("answerfile=\"\"", "answerfile", "");
}

static void test_cmdline_prefix_keys(void **state) {
        (void) state;
        const char *c = "answerfile_generator=http://h/gen.sh answerfile2=/x answerfiles=/y";
        expect_cmdline(c, "answerfile", NULL);
        expect_cmdline(c, "answerfile_generator", "http://h/gen.sh");
        expect_cmdline("answerfile=/a.xml", "answerfile_generator", NULL);
        expect_cmdline("answerfile=/a.xml answerfile_generator=/g", "answerfile", "/a.xml");
        expect_cmdline("xanswerfile=/a.xml", "answerfile", NULL);
        /* The kernel treats '-' and '_' in names alike. */
        expect_cmdline("answerfile-generator=/g", "answerfile_generator", "/g");
}

static void test_cmdline_missing_and_last_wins(void **state) {
        (void) state;
        expect_cmdline("", "answerfile", NULL);
        expect_cmdline("   ", "answerfile", NULL);
        expect_cmdline("quiet splash", "answerfile", NULL);
        expect_cmdline("answerfile=/a.xml answerfile=/b.xml", "answerfile", "/b.xml");
}

static void test_location_from_cmdline(void **state) {
        (void) state;
        char *loc = (char *) 0x1;
        bool gen = true;

        assert_int_equal(answerfile_location_from_cmdline("quiet", &loc, &gen), 0);
        assert_null(loc);
        assert_false(gen);
        assert_int_equal(answerfile_location_from_cmdline("answerfile=http://h/a.xml", &loc, &gen), 1);
        assert_string_equal(loc, "http://h/a.xml");
        assert_false(gen);
        free(loc);
        assert_int_equal(answerfile_location_from_cmdline("answerfile_generator=nfs://h/x/g.sh", &loc, &gen), 1);
        assert_string_equal(loc, "nfs://h/x/g.sh");
        assert_true(gen);
        free(loc);
        assert_int_equal(answerfile_location_from_cmdline("answerfile=/a answerfile_generator=/g", &loc, &gen),
                         -EINVAL);
        assert_int_equal(answerfile_location_from_cmdline("answerfile=", &loc, &gen), -EINVAL);
}

static void test_cmdline_read(void **state) {
        (void) state;
        _cleanup_free_ char *c = NULL;
        assert_int_equal(kernel_cmdline_read(&c), 0);
        assert_non_null(c);
        assert_false(endswith(c, "\n"));
}

/* ---- redaction ---- */

static void test_url_redact(void **state) {
        (void) state;
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"http://admin:s3cret@192.0.2.1/a.xml", "http://***@192.0.2.1/a.xml"},
                {"ftp://anonymous@ftp.example.com/pub/a.xml", "ftp://***@ftp.example.com/pub/a.xml"},
                {"https://u:p@ss@h:8443/a.xml", "https://***@h:8443/a.xml"},
                {"http://h/a@b.xml", "http://h/a@b.xml"},
                {"/answers/a.xml", "/answers/a.xml"},
                {"nfs://server/exports/a.xml", "nfs://server/exports/a.xml"},
                /* Every scheme's userinfo, and every query value. */
                {"nfs://user:password@server/path/a.xml", "nfs://***@server/path/a.xml"},
                {"tftp://u:p@192.0.2.1/a.xml", "tftp://***@192.0.2.1/a.xml"},
                {"https://h/a.xml?token=s3cret", "https://h/a.xml?token=***"},
                {"http://u:p@h/a.xml?token=s3cret&expires=99#part", "http://***@h/a.xml?token=***&expires=***#part"},
                {"http://h/a.xml?s3cret", "http://h/a.xml?***"},
                {"http://h/a.xml?", "http://h/a.xml?"},
                {"file:///a.xml", "file:///a.xml"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *r = NULL;
                assert_int_equal(url_redact(cases[i].in, &r), 0);
                assert_string_equal(r, cases[i].out);
        }
}

/* A port on loopback that nobody listens on: bound, read back, released. */
static unsigned free_port(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        close(fd);
        return ntohs(a.sin_port);
}

static void test_reason_never_has_credentials(void **state) {
        (void) state;
        struct fetch_options o = quick();
        _cleanup_free_ char *url = NULL, *want = NULL, *reason = NULL;
        char *text = NULL;
        unsigned port = free_port();

        assert_true(asprintf(&url, "http://admin:s3cret@127.0.0.1:%u/a.xml", port) > 0);
        assert_true(asprintf(&want, "cannot fetch http://***@127.0.0.1:%u/a.xml: connection refused", port) > 0);
        assert_int_equal(answerfile_fetch(url, &o, &text, NULL, &reason), -ECONNREFUSED);
        assert_null(text);
        assert_string_equal(reason, want);

        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("gopher://u:s3cret@h/a.xml", &o, &text, NULL, &reason), -EPROTONOSUPPORT);
        assert_null(strstr(reason, "s3cret"));
        assert_non_null(strstr(reason, "gopher://***@h/a.xml"));

        /* A token in the query is a credential too, and NFS's userinfo. */
        free(url);
        free(want);
        free(reason);
        reason = NULL;
        assert_true(asprintf(&url, "http://127.0.0.1:%u/a.xml?token=s3cret&x=1", port) > 0);
        assert_true(asprintf(&want, "cannot fetch http://127.0.0.1:%u/a.xml?token=***&x=***: connection refused",
                             port) > 0);
        assert_int_equal(answerfile_fetch(url, &o, &text, NULL, &reason), -ECONNREFUSED);
        assert_string_equal(reason, want);
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("nfs://user:s3cret@", &o, &text, NULL, &reason), -EINVAL);
        assert_null(strstr(reason, "s3cret"));
        assert_null(strstr(reason, "user"));
}

/* ---- the retry loop ---- */

static uint64_t elapsed_ms(const struct timespec *since) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (uint64_t) (now.tv_sec - since->tv_sec) * 1000 + (uint64_t) (now.tv_nsec / 1000000) -
               (uint64_t) (since->tv_nsec / 1000000);
}

static void test_retries(void **state) {
        (void) state;
        struct fetch_options o = quick();
        _cleanup_free_ char *url = NULL, *reason = NULL, *want = NULL;
        char *text = NULL;
        struct timespec start;

        assert_true(asprintf(&url, "http://127.0.0.1:%u/a.xml", free_port()) > 0);

        /* A count: 3 attempts, waits of 50 and 100 ms between them. */
        o.retry_total_ms = 10000;
        o.max_attempts = 3;
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(answerfile_fetch(url, &o, &text, NULL, &reason), -ECONNREFUSED);
        assert_true(asprintf(&want, "cannot fetch %s: connection refused after 3 attempts", url) > 0);
        assert_string_equal(reason, want);
        assert_true(elapsed_ms(&start) >= 150);
        assert_true(elapsed_ms(&start) < 3000);

        /* A total: 50, 100, 200, 200 ... ms apart until 700 ms have passed. */
        free(reason);
        reason = NULL;
        o.max_attempts = 0;
        o.retry_total_ms = 700;
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(answerfile_fetch(url, &o, &text, NULL, &reason), -ECONNREFUSED);
        uint64_t t = elapsed_ms(&start);
        assert_true(t >= 690);
        assert_true(t < 3000);
        unsigned n = 0;
        assert_int_equal(sscanf(strstr(reason, "after ") ?: "", "after %u attempts", &n), 1);
        assert_in_range(n, 4, 7);

        /* What cannot get better is not retried. */
        free(reason);
        reason = NULL;
        o.retry_total_ms = 10000;
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(answerfile_fetch("/nonexistent/a.xml", &o, &text, NULL, &reason), -ENOENT);
        assert_true(elapsed_ms(&start) < 1000);
        assert_string_equal(reason, "cannot fetch /nonexistent/a.xml: no such file");
}

static void test_options_from_environment(void **state) {
        (void) state;
        struct fetch_options o = FETCH_OPTIONS_DEFAULT;

        assert_int_equal(o.retry_total_ms, 60000);
        assert_true(o.tls_verify);
        setenv("XENHOST_FETCH_TIMEOUT", "5", 1);
        setenv("XENHOST_FETCH_TLS_VERIFY", "0", 1);
        assert_int_equal(fetch_options_from_environment(&o), 0);
        assert_int_equal(o.retry_total_ms, 5000);
        assert_false(o.tls_verify);
        /* A bad value changes nothing. */
        setenv("XENHOST_FETCH_TIMEOUT", "1", 1);
        setenv("XENHOST_FETCH_TLS_VERIFY", "maybe", 1);
        assert_int_equal(fetch_options_from_environment(&o), -EINVAL);
        assert_int_equal(o.retry_total_ms, 5000);
        setenv("XENHOST_FETCH_TIMEOUT", "-1", 1);
        unsetenv("XENHOST_FETCH_TLS_VERIFY");
        assert_int_equal(fetch_options_from_environment(&o), -EINVAL);
        setenv("XENHOST_FETCH_TIMEOUT", "10s", 1);
        assert_int_equal(fetch_options_from_environment(&o), -EINVAL);
        unsetenv("XENHOST_FETCH_TIMEOUT");

        /* The generator's time limit: 60 s, or whole seconds from the
         * environment; never none. */
        assert_int_equal(o.generator_timeout_ms, 60000);
        setenv("XENHOST_GENERATOR_TIMEOUT", "3", 1);
        assert_int_equal(fetch_options_from_environment(&o), 0);
        assert_int_equal(o.generator_timeout_ms, 3000);
        setenv("XENHOST_GENERATOR_TIMEOUT", "0", 1);
        assert_int_equal(fetch_options_from_environment(&o), -EINVAL);
        setenv("XENHOST_GENERATOR_TIMEOUT", "x", 1);
        assert_int_equal(fetch_options_from_environment(&o), -EINVAL);
        assert_int_equal(o.generator_timeout_ms, 3000);
        unsetenv("XENHOST_GENERATOR_TIMEOUT");
}

/* ---- local files: the media, the root file system, file:// ---- */

static void test_resolve_path(void **state) {
        (void) state;
        _cleanup_free_ char *media = path_in("media"), *on_media = path_in("media/answers/a.xml"),
                            *answers = path_in("media/answers"), *root_only = path_in("root-only.xml");
        char *p = NULL;

        mkdir_p(answers);
        write_text(on_media, XML, 0644);
        write_text(root_only, XML, 0644);

        /* On the media first. */
        assert_int_equal(answerfile_resolve_path("/answers/a.xml", media, &p), 0);
        assert_string_equal(p, on_media);
        free(p);
        /* Else the root file system. */
        assert_int_equal(answerfile_resolve_path(root_only, media, &p), 0);
        assert_string_equal(p, root_only);
        free(p);
        /* A file on both: the media wins. */
        _cleanup_free_ char *shadow_dir = NULL, *shadow = NULL;
        assert_true(asprintf(&shadow_dir, "%s%s", media, answers) > 0);
        assert_true(asprintf(&shadow, "%s%s", media, on_media) > 0);
        mkdir_p(shadow_dir);
        write_text(shadow, XML, 0644);
        assert_int_equal(answerfile_resolve_path(on_media, media, &p), 0);
        assert_string_equal(p, shadow);
        free(p);
        /* No media. */
        assert_int_equal(answerfile_resolve_path(root_only, NULL, &p), 0);
        assert_string_equal(p, root_only);
        free(p);
        p = NULL;
        assert_int_equal(answerfile_resolve_path("/answers/a.xml", NULL, &p), -ENOENT);
        assert_int_equal(answerfile_resolve_path("/answers/none.xml", media, &p), -ENOENT);
        assert_int_equal(answerfile_resolve_path("answers/a.xml", media, &p), -EINVAL);
        assert_null(p);
}

static void test_fetch_local(void **state) {
        (void) state;
        _cleanup_free_ char *media = path_in("media2"), *file = path_in("media2/a.xml"), *url = NULL,
                            *url_localhost = NULL, *reason = NULL, *want = NULL;
        struct fetch_options o = quick();
        char *text = NULL;
        size_t len = 0;

        mkdir_p(media);
        write_text(file, XML, 0644);
        o.media_root = media;

        assert_int_equal(answerfile_fetch("/a.xml", &o, &text, &len, NULL), 0);
        assert_string_equal(text, XML);
        assert_int_equal(len, strlen(XML));
        free(text);

        assert_true(asprintf(&url, "file://%s", file) > 0);
        assert_int_equal(answerfile_fetch(url, &o, &text, &len, NULL), 0);
        assert_string_equal(text, XML);
        free(text);
        assert_true(asprintf(&url_localhost, "file://localhost%s", file) > 0);
        assert_int_equal(answerfile_fetch(url_localhost, &o, &text, &len, NULL), 0);
        assert_string_equal(text, XML);
        free(text);
        text = NULL;

        /* file:// is the root file system, never the media. */
        assert_int_equal(answerfile_fetch("file:///a.xml", &o, &text, &len, &reason), -ENOENT);
        assert_string_equal(reason, "cannot fetch file:///a.xml: no such file");
        free(reason);
        reason = NULL;

        assert_int_equal(answerfile_fetch("/none.xml", &o, &text, &len, &reason), -ENOENT);
        assert_true(asprintf(&want, "cannot fetch /none.xml: no such file on the install media (%s) or the root "
                                    "file system", media) > 0);
        assert_string_equal(reason, want);
        free(reason);
        reason = NULL;

        assert_int_equal(answerfile_fetch("file://a.xml", &o, &text, &len, &reason), -EINVAL);
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("a.xml", &o, &text, &len, &reason), -EINVAL);
        assert_string_equal(reason, "cannot fetch a.xml: neither a URL nor an absolute path");
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch(media, &o, &text, &len, &reason), -EISDIR);
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("", &o, &text, &len, NULL), -EINVAL);
        assert_null(text);

        /* An empty file is returned as it is; the parser says what is wrong. */
        _cleanup_free_ char *empty = path_in("empty.xml");
        write_text(empty, "", 0644);
        assert_int_equal(answerfile_fetch(empty, &o, &text, &len, NULL), 0);
        assert_string_equal(text, "");
        assert_int_equal(len, 0);
        free(text);
}

static void write_size(const char *path, size_t size) {
        _cleanup_free_ char *data = malloc(size);
        assert_non_null(data);
        memset(data, 'x', size);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
}

static void test_size_limit(void **state) {
        (void) state;
        _cleanup_free_ char *big = path_in("big.xml"), *max = path_in("max.xml"), *reason = NULL, *want = NULL;
        struct fetch_options o = quick();
        char *text = NULL;
        size_t len = 0;

        write_size(max, ANSWERFILE_SIZE_MAX);
        assert_int_equal(answerfile_fetch(max, &o, &text, &len, NULL), 0);
        assert_int_equal(len, ANSWERFILE_SIZE_MAX);
        free(text);
        text = NULL;

        write_size(big, ANSWERFILE_SIZE_MAX + 1);
        assert_int_equal(answerfile_fetch(big, &o, &text, &len, &reason), -EFBIG);
        assert_true(asprintf(&want, "cannot fetch %s: larger than 1024 KiB", big) > 0);
        assert_string_equal(reason, want);
        assert_null(text);

        /* A FIFO is never waited on (nobody writes to this one) nor read:
         * refused at once, as a plain path, a file:// URL and on the media. */
        _cleanup_free_ char *fifo = path_in("fifo.xml"), *fifo_url = NULL, *media = path_in("media-fifo"),
                            *media_fifo = path_in("media-fifo/fifo.xml");
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_true(asprintf(&fifo_url, "file://%s", fifo) > 0);
        mkdir_p(media);
        assert_int_equal(mkfifo(media_fifo, 0600), 0);
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        const char *const fifos[] = {fifo, fifo_url};
        for (size_t i = 0; i < ELEMENTSOF(fifos); i++) {
                free(reason);
                free(want);
                reason = want = NULL;
                assert_int_equal(answerfile_fetch(fifos[i], &o, &text, &len, &reason), -EBADFD);
                assert_true(asprintf(&want, "cannot fetch %s: not a regular file (a FIFO, a device or a socket)",
                                     fifos[i]) > 0);
                assert_string_equal(reason, want);
                assert_null(text);
        }
        o.media_root = media;
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("/fifo.xml", &o, &text, &len, &reason), -EBADFD);
        assert_string_equal(reason, "cannot fetch /fifo.xml: not a regular file (a FIFO, a device or a socket)");
        o.media_root = NULL;

        /* A device that never ends. */
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("file:///dev/zero", &o, &text, &len, &reason), -EBADFD);
        assert_string_equal(reason,
                            "cannot fetch file:///dev/zero: not a regular file (a FIFO, a device or a socket)");
        assert_true(elapsed_ms(&start) < 2000);
}

/* ---- NFS, against a stand-in for mount(8) and umount(8) ---- */

static void install_fake_mount(const char *bin) {
        mkdir_p(bin);
        _cleanup_free_ char *mount = NULL, *umount = NULL;
        assert_true(asprintf(&mount, "%s/mount", bin) > 0);
        assert_true(asprintf(&umount, "%s/umount", bin) > 0);
        /* Records its arguments and copies the "export" into the mount point. */
        write_text(mount,
                   "#!/bin/sh\n"
                   "echo \"mount $*\" >> \"$FAKE_NFS_LOG\"\n"
                   "if [ -n \"$FAKE_NFS_FAIL\" ]; then echo 'mount.nfs: Connection refused' >&2; exit 32; fi\n"
                   "for dir; do :; done\n"
                   "cp -R \"$FAKE_NFS_EXPORT\"/. \"$dir\"/\n",
                   0755);
        write_text(umount,
                   "#!/bin/sh\n"
                   "echo \"umount $*\" >> \"$FAKE_NFS_LOG\"\n"
                   "find \"$1\" -mindepth 1 -delete\n",
                   0755);
}

static void test_nfs(void **state) {
        (void) state;
        _cleanup_free_ char *bin = path_in("fakebin"), *export = path_in("export"), *file = path_in("export/a.xml"),
                            *log = path_in("nfs.log"), *tmp = path_in("tmp"), *old_path = strdup(getenv("PATH")),
                            *new_path = NULL, *logged = NULL, *reason = NULL;
        struct fetch_options o = quick();
        char *text = NULL;

        install_fake_mount(bin);
        mkdir_p(export);
        write_text(file, XML, 0644);
        assert_true(asprintf(&new_path, "%s:%s", bin, old_path) > 0);
        setenv("PATH", new_path, 1);
        setenv("FAKE_NFS_EXPORT", export, 1);
        setenv("FAKE_NFS_LOG", log, 1);

        assert_int_equal(answerfile_fetch("nfs://nfs.example.com/exports/xenhost/a.xml", &o, &text, NULL, NULL), 0);
        assert_string_equal(text, XML);
        free(text);
        assert_int_equal(read_full_file(log, &logged, NULL), 0);
        /* mount -t nfs -o ro,nolock server:/export DIR, then umount DIR, and
         * the mount point is gone. */
        char dir[256];
        assert_int_equal(sscanf(logged, "mount -t nfs -o ro,nolock,retry=0 nfs.example.com:/exports/xenhost %255s",
                                dir),
                         1);
        assert_non_null(startswith(dir, tmp));
        _cleanup_free_ char *want_umount = NULL;
        assert_true(asprintf(&want_umount, "umount %s\n", dir) > 0);
        assert_non_null(strstr(logged, want_umount));
        assert_true(dir_is_empty(tmp));
        unlink(log);

        /* XenServer's spelling, nfs://server:/path, and a file at the top of the export. */
        assert_int_equal(answerfile_fetch("nfs://nfs.example.com:/a.xml", &o, &text, NULL, NULL), 0);
        free(text);
        text = NULL;
        free(logged);
        assert_int_equal(read_full_file(log, &logged, NULL), 0);
        assert_non_null(strstr(logged, " nfs.example.com:/ "));
        unlink(log);

        /* A file missing from the export: unmounted all the same. */
        assert_int_equal(answerfile_fetch("nfs://nfs.example.com/exports/b.xml", &o, &text, NULL, &reason), -ENOENT);
        assert_string_equal(reason, "cannot fetch nfs://nfs.example.com/exports/b.xml: no such file in "
                                    "nfs.example.com:/exports");
        assert_true(dir_is_empty(tmp));
        free(reason);
        reason = NULL;

        /* A server that is not there yet is retried. */
        setenv("FAKE_NFS_FAIL", "1", 1);
        o.max_attempts = 2;
        o.retry_total_ms = 5000;
        assert_int_equal(answerfile_fetch("nfs://nfs.example.com/exports/a.xml", &o, &text, NULL, &reason), -EIO);
        assert_string_equal(reason, "cannot fetch nfs://nfs.example.com/exports/a.xml: cannot mount "
                                    "nfs.example.com:/exports: mount.nfs: Connection refused after 2 attempts");
        assert_true(dir_is_empty(tmp));
        free(reason);
        reason = NULL;

        assert_int_equal(answerfile_fetch("nfs://nfs.example.com", &o, &text, NULL, &reason), -EINVAL);
        free(reason);
        reason = NULL;
        assert_int_equal(answerfile_fetch("nfs:///a.xml", &o, &text, NULL, &reason), -EINVAL);
        assert_null(text);

        unsetenv("FAKE_NFS_FAIL");
        setenv("PATH", old_path, 1);
}

/* ---- answerfile_generator= ---- */

static void test_generate(void **state) {
        (void) state;
        _cleanup_free_ char *media = path_in("media3"), *gen = path_in("media3/gen.sh"),
                            *fail = path_in("media3/fail.sh"), *flood = path_in("media3/flood.sh"),
                            *tmp = path_in("tmp"), *reason = NULL;
        struct fetch_options o = quick();
        char *text = NULL;
        size_t len = 0;

        mkdir_p(media);
        o.media_root = media;
        /* Not executable, as on a FAT stick or an ISO: runs all the same. */
        write_text(gen, "#!/bin/sh\necho '<installation mode=\"fresh\">'\necho \"$# $(id -u)\"\n"
                        "echo '</installation>'\n", 0644);
        assert_int_equal(answerfile_generate("/gen.sh", &o, &text, &len, &reason), 0);
        /* No arguments. */
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "<installation mode=\"fresh\">\n0 %u\n</installation>\n", (unsigned) getuid()) >
                    0);
        assert_string_equal(text, want);
        assert_int_equal(len, strlen(want));
        free(text);
        text = NULL;
        assert_true(dir_is_empty(tmp));

        write_text(fail, "#!/bin/sh\necho partial\necho 'no inventory for this host' >&2\nexit 3\n", 0755);
        assert_int_equal(answerfile_generate("/fail.sh", &o, &text, &len, &reason), -EPROTO);
        assert_string_equal(reason, "answer file generator /fail.sh failed: no inventory for this host");
        assert_null(text);
        assert_true(dir_is_empty(tmp));
        free(reason);
        reason = NULL;

        write_text(flood, "#!/bin/sh\nhead -c 1048577 /dev/zero | tr '\\0' x\n", 0755);
        assert_int_equal(answerfile_generate("/flood.sh", &o, &text, &len, &reason), -EFBIG);
        assert_string_equal(reason, "answer file generator /flood.sh printed more than 1024 KiB: stopped");
        free(reason);
        reason = NULL;
        assert_true(dir_is_empty(tmp));

        /* Fetching the script fails: the same reason as for an answer file. */
        assert_int_equal(answerfile_generate("/none.sh", &o, &text, &len, &reason), -ENOENT);
        assert_non_null(startswith(reason, "cannot fetch /none.sh: no such file"));
        assert_true(dir_is_empty(tmp));
}

/* Is process PID gone (or a zombie nobody reaped yet)? Waits up to 2 s for it. */
static bool process_is_gone(pid_t pid) {
        for (int i = 0; i < 200; i++) {
                _cleanup_free_ char *path = NULL, *stat = NULL;
                assert_true(asprintf(&path, "/proc/%d/stat", (int) pid) > 0);
                if (read_full_file(path, &stat, NULL) < 0)
                        return true;
                const char *paren = strrchr(stat, ')');
                if (paren && paren[1] == ' ' && paren[2] == 'Z')
                        return true;
                usleep(10000);
        }
        return false;
}

static void test_generate_limits(void **state) {
        (void) state;
        _cleanup_free_ char *media = path_in("media4"), *forever = path_in("media4/forever.sh"),
                            *sleeper = path_in("media4/sleeper.sh"), *pidfile = path_in("sleeper.pid"),
                            *tmp = path_in("tmp"), *reason = NULL, *script = NULL, *pid_text = NULL;
        struct fetch_options o = quick();
        struct timespec start;
        char *text = NULL;
        size_t len = 0;

        mkdir_p(media);
        o.media_root = media;
        o.generator_timeout_ms = 1000;

        /* Prints for ever: stopped when it passes the limit, not when the
         * machine runs out of memory. */
        write_text(forever, "#!/bin/sh\nwhile :; do echo '<installation mode=\"fresh\"/>'; done\n", 0755);
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(answerfile_generate("/forever.sh", &o, &text, &len, &reason), -EFBIG);
        assert_string_equal(reason, "answer file generator /forever.sh printed more than 1024 KiB: stopped");
        assert_null(text);
        assert_true(elapsed_ms(&start) < 1000);
        assert_true(dir_is_empty(tmp));
        free(reason);
        reason = NULL;

        /* Sleeps for ever, with a child of its own: both are stopped at the
         * time limit. */
        assert_true(asprintf(&script, "#!/bin/sh\nsleep 1000 &\necho $! > '%s'\nsleep 1000\n", pidfile) > 0);
        write_text(sleeper, script, 0755);
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(answerfile_generate("/sleeper.sh", &o, &text, &len, &reason), -ETIME);
        uint64_t took = elapsed_ms(&start);
        assert_string_equal(reason, "answer file generator /sleeper.sh did not finish within 1 s: stopped");
        assert_null(text);
        assert_true(took >= 1000 && took < 3000);
        assert_true(dir_is_empty(tmp));
        assert_int_equal(read_full_file(pidfile, &pid_text, NULL), 0);
        assert_true(process_is_gone((pid_t) atoi(pid_text)));
        free(reason);
        reason = NULL;

        /* Closes its output and lingers: the time limit still holds. */
        write_text(sleeper, "#!/bin/sh\necho '<installation/>'\nexec >&- 2>&-\nsleep 1000\n", 0755);
        assert_int_equal(answerfile_generate("/sleeper.sh", &o, &text, &len, &reason), -ETIME);
        assert_true(dir_is_empty(tmp));
}

/* Run by tests/integration/fetch.sh with a web server that serves
 * generator.sh; skipped on its own. */
static void test_generate_http(void **state) {
        (void) state;
        const char *base = getenv("XH_FETCH_TEST_BASE_URL");
        _cleanup_free_ char *url = NULL, *text = NULL, *reason = NULL;
        struct fetch_options o = quick();

        if (!base)
                skip();
        assert_true(asprintf(&url, "%s/generator.sh", base) > 0);
        size_t len = 0;
        assert_int_equal(answerfile_generate(url, &o, &text, &len, &reason), 0);

        /* What it printed is an answer file the parser takes. */
        struct answerfile_problems problems = {};
        _cleanup_install_config_ struct install_config *c = NULL;
        assert_int_equal(answerfile_parse_memory(url, text, len, &problems, &c), 0);
        assert_string_equal(c->hostname, "generated-host");
        assert_string_equal(c->primary_disk, "sda");
        answerfile_problems_done(&problems);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cmdline_plain),
                cmocka_unit_test(test_cmdline_quotes),
                cmocka_unit_test(test_cmdline_prefix_keys),
                cmocka_unit_test(test_cmdline_missing_and_last_wins),
                cmocka_unit_test(test_location_from_cmdline),
                cmocka_unit_test(test_cmdline_read),
                cmocka_unit_test(test_url_redact),
                cmocka_unit_test(test_reason_never_has_credentials),
                cmocka_unit_test(test_retries),
                cmocka_unit_test(test_options_from_environment),
                cmocka_unit_test(test_resolve_path),
                cmocka_unit_test(test_fetch_local),
                cmocka_unit_test(test_size_limit),
                cmocka_unit_test(test_nfs),
                cmocka_unit_test(test_generate),
                cmocka_unit_test(test_generate_limits),
                cmocka_unit_test(test_generate_http),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
