/* Downloads (lib/download.h) against a small HTTP server on 127.0.0.1 in a
 * thread of this program: a whole file and its SHA-256; a transfer cut
 * halfway and resumed with a Range request; a server that answers the
 * Range request with the whole file (read again from the start); 404 given
 * up at once, 503 tried again; a file larger than allowed; the signature
 * beside a manifest; the URL of a sibling file; the memory check before a
 * staging tmpfs. The installer and the upgrader over real trees are in
 * tests/integration/net-source.sh and upgrade.sh. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "download.h"
#include "fileio.h"
#include "macro.h"
#include "process.h"

#define BODY_SIZE (256 * 1024)

enum behaviour {
        SERVE_WHOLE,        /* 200, all of it */
        SERVE_CUT_THEN_206, /* the first request cut halfway, then 206 for a Range */
        SERVE_CUT_THEN_200, /* the first request cut halfway, then 200 with all of it for a Range */
        SERVE_503_ONCE,     /* 503, then 200 */
        SERVE_404,
};

static struct server {
        int listen_fd;
        uint16_t port;
        pthread_t thread;
        bool stop;
        enum behaviour behaviour;
        unsigned requests;        /* for the image */
        unsigned range_requests;  /* of them, with a Range header */
        uint64_t range_from;      /* the last Range's first byte */
        unsigned char body[BODY_SIZE];
        char body_sha256[65];
} srv;

static void send_all(int fd, const void *p, size_t n) {
        const char *c = p;
        while (n > 0) {
                ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
                if (w <= 0)
                        return;
                c += w, n -= (size_t) w;
        }
}

static void reply(int fd, const char *status, const char *extra, const void *body, size_t len, size_t content_length) {
        char head[512];
        int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
                         content_length, extra ?: "");
        send_all(fd, head, (size_t) n);
        send_all(fd, body, len);
}

static void serve_one(int fd) {
        char req[4096] = "";
        size_t got = 0;
        while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
                ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
                if (r <= 0)
                        return;
                got += (size_t) r;
                req[got] = 0;
        }
        char path[256] = "";
        if (sscanf(req, "GET %255s", path) != 1)
                return;
        /* Two manifests: /x/ with a signature, /y/ without. */
        if (streq(path, "/x/a.manifest") || streq(path, "/y/b.manifest") || streq(path, "/x/a.manifest.asc")) {
                reply(fd, "200 OK", NULL, "PRODUCT=xenhost\n", 16, 16);
                return;
        }
        if (!streq(path, "/x/a.img")) {
                reply(fd, "404 Not Found", NULL, "", 0, 0);
                return;
        }
        unsigned nth = ++srv.requests;
        const char *range = strcasestr(req, "\r\nRange: bytes=");
        uint64_t from = 0;
        if (range) {
                srv.range_requests++;
                from = srv.range_from = strtoull(range + strlen("\r\nRange: bytes="), NULL, 10);
        }
        switch (srv.behaviour) {
        case SERVE_404:
                reply(fd, "404 Not Found", NULL, "", 0, 0);
                return;
        case SERVE_503_ONCE:
                if (nth == 1) {
                        reply(fd, "503 Service Unavailable", NULL, "", 0, 0);
                        return;
                }
                break;
        case SERVE_CUT_THEN_206:
        case SERVE_CUT_THEN_200:
                if (nth == 1) {
                        /* Half of what was announced, then the connection ends. */
                        reply(fd, "200 OK", NULL, srv.body, BODY_SIZE / 2, BODY_SIZE);
                        return;
                }
                if (range && srv.behaviour == SERVE_CUT_THEN_206 && from < BODY_SIZE) {
                        char cr[128];
                        snprintf(cr, sizeof cr, "Content-Range: bytes %" PRIu64 "-%d/%d\r\n", from, BODY_SIZE - 1,
                                 BODY_SIZE);
                        reply(fd, "206 Partial Content", cr, srv.body + from, BODY_SIZE - from, BODY_SIZE - from);
                        return;
                }
                break;
        case SERVE_WHOLE:
                break;
        }
        reply(fd, "200 OK", NULL, srv.body, BODY_SIZE, BODY_SIZE);
}

static void *server_main(void *unused) {
        (void) unused;
        for (;;) {
                int fd = accept(srv.listen_fd, NULL, NULL);
                if (fd < 0)
                        continue;
                if (__atomic_load_n(&srv.stop, __ATOMIC_SEQ_CST)) {
                        close(fd);
                        return NULL;
                }
                serve_one(fd);
                /* A graceful end: what the client still sends is read, so
                 * that closing does not reset the connection (which would
                 * drop what the client has not read yet). */
                shutdown(fd, SHUT_WR);
                struct timeval tv = {.tv_sec = 5};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                char sink[4096];
                while (recv(fd, sink, sizeof sink, 0) > 0)
                        ;
                close(fd);
        }
}

static char scratch[] = "/tmp/xh-test-download-XXXXXX";

static char *path_in(const char *sub) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", scratch, sub) > 0);
        return p;
}

static char *url_of(const char *path) {
        char *u;
        assert_true(asprintf(&u, "http://127.0.0.1:%u%s", srv.port, path) > 0);
        return u;
}

static int setup(void **state) {
        (void) state;
        assert_non_null(mkdtemp(scratch));
        /* A body whose halves differ, so that a wrong offset shows in the SHA-256. */
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < BODY_SIZE; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                srv.body[i] = (unsigned char) x;
        }
        unsigned char md[32];
        unsigned len = 0;
        assert_int_equal(EVP_Digest(srv.body, BODY_SIZE, md, &len, EVP_sha256(), NULL), 1);
        for (unsigned i = 0; i < 32; i++)
                sprintf(srv.body_sha256 + 2 * i, "%02x", md[i]);

        srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(srv.listen_fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof a;
        assert_int_equal(bind(srv.listen_fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(listen(srv.listen_fd, 8), 0);
        assert_int_equal(getsockname(srv.listen_fd, (struct sockaddr *) &a, &alen), 0);
        srv.port = ntohs(a.sin_port);
        assert_int_equal(pthread_create(&srv.thread, NULL, server_main, NULL), 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        __atomic_store_n(&srv.stop, true, __ATOMIC_SEQ_CST);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(srv.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        (void) connect(fd, (struct sockaddr *) &a, sizeof a);
        close(fd);
        pthread_join(srv.thread, NULL);
        close(srv.listen_fd);
        (void) spawn_run((const char *[]) {"rm", "-rf", "--", scratch, NULL}, NULL);
        return 0;
}

static void reset(enum behaviour b) {
        srv.behaviour = b;
        srv.requests = srv.range_requests = 0;
        srv.range_from = 0;
}

/* Downloads /x/a.img into a file; returns what download_file() did. */
static int fetch_image(uint64_t max, char sha[65], uint64_t *size, char **reason) {
        _cleanup_free_ char *url = url_of("/x/a.img"), *dst = path_in("a.img");
        return download_file(url, dst, max, NULL, NULL, sha, size, reason);
}

static void assert_file_is_body(void) {
        _cleanup_free_ char *dst = path_in("a.img"), *data = NULL;
        size_t len = 0;
        assert_int_equal(read_full_file(dst, &data, &len), 0);
        assert_int_equal(len, BODY_SIZE);
        assert_memory_equal(data, srv.body, BODY_SIZE);
}

static void test_whole(void **state) {
        (void) state;
        char sha[65] = "";
        uint64_t size = 0;
        _cleanup_free_ char *reason = NULL;
        reset(SERVE_WHOLE);
        assert_int_equal(fetch_image(BODY_SIZE, sha, &size, &reason), 0);
        assert_string_equal(sha, srv.body_sha256);
        assert_int_equal(size, BODY_SIZE);
        assert_int_equal(srv.requests, 1);
        assert_file_is_body();
}

static void test_resume(void **state) {
        (void) state;
        char sha[65] = "";
        uint64_t size = 0;
        _cleanup_free_ char *reason = NULL;
        reset(SERVE_CUT_THEN_206);
        assert_int_equal(fetch_image(BODY_SIZE, sha, &size, &reason), 0);
        /* The second request asked for the rest only, and the digest
         * covers the whole file all the same. */
        assert_int_equal(srv.requests, 2);
        assert_int_equal(srv.range_requests, 1);
        assert_true(srv.range_from > 0 && srv.range_from <= BODY_SIZE / 2);
        assert_string_equal(sha, srv.body_sha256);
        assert_int_equal(size, BODY_SIZE);
        assert_file_is_body();
}

static void test_resume_refused(void **state) {
        (void) state;
        char sha[65] = "";
        uint64_t size = 0;
        _cleanup_free_ char *reason = NULL;
        reset(SERVE_CUT_THEN_200);
        assert_int_equal(fetch_image(BODY_SIZE, sha, &size, &reason), 0);
        /* 200 to the Range request: from the start, without a Range. */
        assert_int_equal(srv.requests, 3);
        assert_int_equal(srv.range_requests, 1);
        assert_string_equal(sha, srv.body_sha256);
        assert_int_equal(size, BODY_SIZE);
        assert_file_is_body();
}

static void test_retry_5xx(void **state) {
        (void) state;
        char sha[65] = "";
        _cleanup_free_ char *reason = NULL;
        reset(SERVE_503_ONCE);
        assert_int_equal(fetch_image(BODY_SIZE, sha, NULL, &reason), 0);
        assert_int_equal(srv.requests, 2);
        assert_string_equal(sha, srv.body_sha256);
}

static void test_404_is_final(void **state) {
        (void) state;
        _cleanup_free_ char *reason = NULL;
        reset(SERVE_404);
        assert_int_equal(fetch_image(BODY_SIZE, NULL, NULL, &reason), -ENOENT);
        assert_int_equal(srv.requests, 1);
        assert_non_null(reason);
        assert_non_null(strstr(reason, "HTTP 404"));
        assert_non_null(strstr(reason, "/x/a.img"));
}

static void test_too_big(void **state) {
        (void) state;
        _cleanup_free_ char *reason = NULL;
        reset(SERVE_WHOLE);
        assert_int_equal(fetch_image(BODY_SIZE - 1, NULL, NULL, &reason), -EFBIG);
        assert_non_null(strstr(reason, "larger than"));
}

static void test_credentials_not_shown(void **state) {
        (void) state;
        _cleanup_free_ char *url = NULL, *dst = path_in("c.img"), *reason = NULL;
        assert_true(asprintf(&url, "http://user:secret@127.0.0.1:%u/none?token=secret", srv.port) > 0);
        reset(SERVE_WHOLE);
        assert_int_equal(download_file(url, dst, 100, NULL, NULL, NULL, NULL, &reason), -ENOENT);
        assert_null(strstr(reason, "secret"));
}

static void test_signed_file(void **state) {
        (void) state;
        _cleanup_free_ char *u1 = url_of("/x/a.manifest"), *u2 = url_of("/y/b.manifest");
        _cleanup_free_ char *p1 = path_in("a.manifest"), *p2 = path_in("b.manifest"), *s2 = path_in("b.manifest.asc");
        _cleanup_free_ char *reason = NULL;
        struct stat st;
        /* A stale signature of an earlier run must not stay beside a new manifest. */
        assert_int_equal(write_file_atomic(s2, "old", 3, 0600), 0);
        assert_int_equal(download_signed_file(u2, p2, 4096, &reason), 0);
        assert_int_equal(stat(p2, &st), 0);
        assert_int_equal(stat(s2, &st), -1);
        /* No manifest at all: the error is the manifest's. */
        _cleanup_free_ char *u3 = url_of("/x/none.manifest");
        assert_int_equal(download_signed_file(u3, p1, 4096, &reason), -ENOENT);
        assert_non_null(strstr(reason, "HTTP 404"));
        assert_int_equal(download_signed_file(u1, p1, 4096, &reason), 0);
        _cleanup_free_ char *s1 = path_in("a.manifest.asc");
        assert_int_equal(stat(s1, &st), 0);
}

static void test_sibling_url(void **state) {
        (void) state;
        static const struct {
                const char *url, *name, *want;
        } cases[] = {
                {"http://h/x/a.manifest", "a.img", "http://h/x/a.img"},
                {"https://h:8080/pxe/xenhost/xenhost-1.manifest", "xenhost-1.img", "https://h:8080/pxe/xenhost/xenhost-1.img"},
                {"http://h/a.manifest?sig=a/b", "a.img", "http://h/a.img"},
                {"http://h/", "a.img", "http://h/a.img"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = NULL;
                assert_int_equal(download_sibling_url(cases[i].url, cases[i].name, &got), 0);
                assert_string_equal(got, cases[i].want);
        }
        char *got = NULL;
        assert_int_equal(download_sibling_url("http://h", "a.img", &got), -EINVAL);
        assert_int_equal(download_sibling_url("a.manifest", "a.img", &got), -EINVAL);
        assert_null(got);
}

static void test_stage_memory(void **state) {
        (void) state;
        _cleanup_free_ char *dir = path_in("stage"), *reason = NULL;
        struct stat st;
        setenv("XENHOST_TEST_MEMORY_AVAILABLE", "104857600", 1); /* 100 MiB */
        assert_int_equal(download_memory_available(), 100 * MiB);
        assert_int_equal(download_stage_mount(dir, 200 * MiB, 0, "host image", "more memory", &reason), -ENOMEM);
        assert_string_equal(reason, "not enough memory to hold the 200 MiB host image (100 MiB available): more memory");
        /* Refused before anything was made. */
        assert_int_equal(stat(dir, &st), -1);
        /* The reserve counts. */
        assert_int_equal(download_stage_mount(dir, 50 * MiB, 64 * MiB, "download", NULL, &reason), -ENOMEM);
        assert_string_equal(reason, "not enough memory to hold the 50 MiB download (100 MiB available)");
        unsetenv("XENHOST_TEST_MEMORY_AVAILABLE");
        assert_true(download_memory_available() > 0);
        download_stage_unmount(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_whole),
                cmocka_unit_test(test_resume),
                cmocka_unit_test(test_resume_refused),
                cmocka_unit_test(test_retry_5xx),
                cmocka_unit_test(test_404_is_final),
                cmocka_unit_test(test_too_big),
                cmocka_unit_test(test_credentials_not_shown),
                cmocka_unit_test(test_signed_file),
                cmocka_unit_test(test_sibling_url),
                cmocka_unit_test(test_stage_memory),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
