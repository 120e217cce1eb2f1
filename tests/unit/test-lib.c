/* lib/: child processes, atomic writes, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

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
                cmocka_unit_test(test_log_returns_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
