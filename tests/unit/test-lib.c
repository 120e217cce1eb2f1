/* lib/: child processes, atomic writes, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"

static void test_spawn_stdout(void **state) {
        (void) state;
        char *out = NULL;
        assert_int_equal(spawn_run((const char *[]){"printf", "a%sb", "-", NULL}, &out), 0);
        assert_string_equal(out, "a-b");
        free(out);
}

static void test_spawn_failure_keeps_last_line(void **state) {
        (void) state;
        char *out = NULL;
        int r = spawn_run((const char *[]){"sh", "-c", "echo one >&2; echo 'the reason' >&2; exit 3", NULL}, &out);
        assert_int_equal(r, -EPROTO);
        assert_null(out);
        assert_string_equal(spawn_last_error(), "the reason");
}

static void test_spawn_missing(void **state) {
        (void) state;
        int r = spawn_run((const char *[]){"xenhost-no-such-program", NULL}, NULL);
        assert_int_equal(r, -ENOENT);
        assert_non_null(strstr(spawn_last_error(), "xenhost-no-such-program"));
}

static void test_spawn_stdin(void **state) {
        (void) state;
        /* Larger than a pipe buffer in both directions. */
        size_t n = 1 << 20;
        char *in = malloc(n), *out = NULL;
        memset(in, 'x', n);
        assert_int_equal(spawn_run_stdin((const char *[]){"cat", NULL}, in, n, &out), 0);
        assert_int_equal(strlen(out), n);
        free(in);
        free(out);
}

static void test_spawn_signal(void **state) {
        (void) state;
        assert_int_equal(spawn_run((const char *[]){"sh", "-c", "kill -9 $$", NULL}, NULL), -EINTR);
}

static void test_atomic_write(void **state) {
        (void) state;
        char dir[] = "/tmp/xh-test-XXXXXX", path[64], *data = NULL;
        size_t len;
        struct stat st;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/inventory", dir);
        assert_int_equal(write_file_atomic(path, "A='1'\n", 6, 0644), 0);
        assert_int_equal(write_file_atomic(path, "B='2'\n", 6, 0600), 0);
        assert_int_equal(read_full_file(path, &data, &len), 0);
        assert_int_equal(len, 6);
        assert_string_equal(data, "B='2'\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        free(data);
        /* No temporary file is left behind. */
        char cmd[128];
        snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
        assert_int_equal(system(cmd), 0);
        unlink(path);
        rmdir(dir);
        /* A directory that does not exist fails cleanly. */
        assert_int_equal(write_file_atomic("/nonexistent/x", "", 0, 0644), -ENOENT);
        assert_int_equal(read_full_file("/nonexistent/x", &data, NULL), -ENOENT);
}

static void test_format(void **state) {
        (void) state;
        char b[32];
        assert_string_equal(format_iec(b, sizeof b, 512 * MiB), "512 MiB");
        assert_string_equal(format_iec(b, sizeof b, 18 * GiB), "18 GiB");
        assert_string_equal(format_iec(b, sizeof b, 1536 * MiB), "1.5 GiB");
        assert_string_equal(format_iec(b, sizeof b, 100), "100 B");
        assert_string_equal(format_si(b, sizeof b, 46 * GB), "46 GB");
}

static uint64_t ms_since(const struct timespec *t) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (uint64_t) ((now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000);
}

static void test_spawn_limited(void **state) {
        (void) state;
        struct timespec start;
        char *out = NULL;

        /* Within the limits it is spawn_run(). */
        assert_int_equal(spawn_run_limited((const char *[]){"printf", "abc", NULL}, 3, 5000, &out), 0);
        assert_string_equal(out, "abc");
        free(out);
        out = NULL;
        assert_int_equal(spawn_run_limited((const char *[]){"sh", "-c", "echo why >&2; exit 2", NULL}, 100, 5000,
                                           &out),
                         -EPROTO);
        assert_string_equal(spawn_last_error(), "why");

        /* One byte over: stopped, nothing returned. */
        assert_int_equal(spawn_run_limited((const char *[]){"printf", "abcd", NULL}, 3, 5000, &out), -EFBIG);
        assert_null(out);
        assert_non_null(strstr(spawn_last_error(), "printed more than"));

        /* Endless output: stopped as it passes the limit, long before the
         * time limit. */
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(spawn_run_limited((const char *[]){"yes", NULL}, 1 << 20, 20000, &out), -EFBIG);
        assert_null(out);
        assert_true(ms_since(&start) < 5000);

        /* Endless stderr: the time limit stops it; memory and the log stay bounded. */
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(spawn_run_limited((const char *[]){"sh", "-c", "yes >&2", NULL}, 1024, 500, &out), -ETIME);
        assert_true(ms_since(&start) < 3000);

        /* Silent and endless, with a child in the background that would keep
         * the pipe open: the whole group goes at the time limit. */
        char dir[] = "/tmp/xh-limited-XXXXXX", pidfile[64], *pid_text = NULL;
        assert_non_null(mkdtemp(dir));
        snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
        char script[256];
        snprintf(script, sizeof script, "sleep 1000 & echo $! > %s; sleep 1000", pidfile);
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(spawn_run_limited((const char *[]){"sh", "-c", script, NULL}, 1024, 500, &out), -ETIME);
        uint64_t took = ms_since(&start);
        assert_true(took >= 500 && took < 3000);
        assert_non_null(strstr(spawn_last_error(), "did not finish within 1 s"));
        assert_int_equal(read_full_file(pidfile, &pid_text, NULL), 0);
        pid_t pid = (pid_t) atoi(pid_text);
        bool gone = false;
        for (int i = 0; i < 200 && !gone; i++) {
                char path[64], *stat = NULL;
                snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
                if (read_full_file(path, &stat, NULL) < 0)
                        gone = true;
                else {
                        const char *paren = strrchr(stat, ')');
                        gone = paren && paren[2] == 'Z';
                        free(stat);
                        usleep(10000);
                }
        }
        assert_true(gone);
        free(pid_text);
        unlink(pidfile);
        rmdir(dir);

        /* spawn_run() itself keeps its output whole, limits or not. */
        assert_int_equal(spawn_run((const char *[]){"head", "-c", "2097152", "/dev/zero", NULL}, &out), 0);
        free(out);
}

static void test_read_bounded(void **state) {
        (void) state;
        char dir[] = "/tmp/xh-bounded-XXXXXX", path[64], fifo[64], *data = NULL;
        struct timespec start;
        size_t len = 0;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/a", dir);
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);

        assert_int_equal(write_file_atomic(path, "12345", 5, 0644), 0);
        assert_int_equal(read_full_file_bounded(path, 5, &data, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(data, "12345");
        free(data);
        data = NULL;
        assert_int_equal(read_full_file_bounded(path, 4, &data, &len), -EFBIG);
        assert_null(data);
        assert_int_equal(write_file_atomic(path, "", 0, 0644), 0);
        assert_int_equal(read_full_file_bounded(path, 4, &data, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(data, "");
        free(data);
        data = NULL;

        /* No size up front (/proc): the limit holds while reading. */
        assert_int_equal(read_full_file_bounded("/proc/self/status", 16, &data, &len), -EFBIG);
        assert_int_equal(read_full_file_bounded("/proc/self/status", 1 << 20, &data, &len), 0);
        assert_true(len > 16);
        free(data);
        data = NULL;

        /* Neither waited for nor read: a FIFO without a writer, endless
         * devices, a directory. */
        assert_int_equal(mkfifo(fifo, 0600), 0);
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(read_full_file_bounded(fifo, 1 << 20, &data, &len), -EBADFD);
        assert_int_equal(read_full_file_bounded("/dev/zero", 1 << 20, &data, &len), -EBADFD);
        assert_int_equal(read_full_file_bounded("/dev/urandom", 1 << 20, &data, &len), -EBADFD);
        assert_int_equal(read_full_file_bounded(dir, 1 << 20, &data, &len), -EISDIR);
        assert_int_equal(read_full_file_bounded("/nonexistent/x", 1 << 20, &data, &len), -ENOENT);
        assert_true(ms_since(&start) < 1000);
        assert_null(data);

        unlink(fifo);
        unlink(path);
        rmdir(dir);
}

static void test_format_value(void **state) {
        (void) state;
        char b[FORMAT_VALUE_SIZE], big[2000];

        assert_string_equal(format_value(b, sizeof b, "sda", 64), "sda");
        assert_string_equal(format_value(b, sizeof b, NULL, 64), "");
        /* Control characters (an escape sequence, a newline, DEL, C1) become '?'. */
        assert_string_equal(format_value(b, sizeof b, "a\x1b[31mb\nc\x7f" "d\xc2\x9b" "e", 64), "a?[31mb?c?d?e");
        /* Bytes that are not UTF-8 too; characters that are stay whole. */
        assert_string_equal(format_value(b, sizeof b, "x\xf6y\xc3\xa9z", 64), "x?y\xc3\xa9z");
        /* Long values: MAX characters and "...". */
        memset(big, 'A', sizeof big - 1);
        big[sizeof big - 1] = 0;
        format_value(b, sizeof b, big, 64);
        assert_int_equal(strlen(b), 67);
        assert_true(endswith(b, "A..."));
        assert_int_equal(strlen(FORMAT_VALUE(big)), FORMAT_VALUE_MAX + 3);
        assert_string_equal(format_value(b, sizeof b, "abcdef", 6), "abcdef");
        assert_string_equal(format_value(b, sizeof b, "abcdefg", 6), "abcdef...");
        /* Never half a character, whatever the buffer. */
        assert_string_equal(format_value(b, 9, "\xc3\xa9\xc3\xa9\xc3\xa9", 64), "\xc3\xa9\xc3\xa9...");
        assert_string_equal(format_value(b, 3, "abc", 64), "");
}

static void test_url_redact(void **state) {
        (void) state;
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"https://u:p@ss@h:8443/a.xml", "https://***@h:8443/a.xml"},
                {"nfs://user:pw@server/x", "nfs://***@server/x"},
                {"http://h/x?token=abc&n=1#frag", "http://h/x?token=***&n=***#frag"},
                {"http://h/x@y?q", "http://h/x@y?***"},
                {"user:pw@server:/export", "***@server:/export"},
                {"server:/export", "server:/export"},
                {"answers/a@b.xml", "answers/a@b.xml"},
                {"a?b=c.xml", "a?b=c.xml"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *r = NULL;
                assert_int_equal(url_redact(cases[i].in, &r), 0);
                assert_string_equal(r, cases[i].out);
                free(r);
        }
}

static void test_log_returns_error(void **state) {
        (void) state;
        char dir[] = "/tmp/xh-log-XXXXXX", path[64], *data = NULL;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/log", dir);
        assert_int_equal(log_open_file(path), 0);
        log_set_max_level(LOG_LEVEL_ERROR + 1); /* keep the test output quiet */
        assert_int_equal(log_error_errno(-ENOSPC, "disk %s: %m", "sda"), -ENOSPC);
        log_debug("debug goes to the file");
        log_close_file();
        assert_int_equal(read_full_file(path, &data, NULL), 0);
        assert_non_null(strstr(data, "disk sda: No space left on device"));
        assert_non_null(strstr(data, "debug goes to the file"));
        free(data);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spawn_stdout),
                cmocka_unit_test(test_spawn_failure_keeps_last_line),
                cmocka_unit_test(test_spawn_missing),
                cmocka_unit_test(test_spawn_stdin),
                cmocka_unit_test(test_spawn_signal),
                cmocka_unit_test(test_atomic_write),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_format_value),
                cmocka_unit_test(test_spawn_limited),
                cmocka_unit_test(test_read_bounded),
                cmocka_unit_test(test_url_redact),
                cmocka_unit_test(test_log_returns_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
