/* The install report's events (installer/report.h): what each event holds,
 * as a fleet's receiver parses it, and how delivery is bounded: attempts,
 * pauses, no retry for an endpoint that refuses the event, one attempt
 * once the endpoint is taken to be gone. The events are taken by a test
 * transport; tests/integration/report.sh POSTs them over HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json.h>

#include "macro.h"
#include "report.h"

static char root[] = "/tmp/xh-test-report-XXXXXX";

/* What the test transport saw, and how it answers. */
struct wire {
        char *bodies[64];
        size_t n_bodies;
        unsigned attempts;
        unsigned pauses[64];
        size_t n_pauses;
        int answer;              /* 0, -EAGAIN, -EPROTO */
        unsigned fail_first;     /* fail this many attempts, then answer 0 */
        unsigned long long clock_ms; /* a clock of the test's own, when post_ms is set */
        unsigned post_ms;            /* what one attempt costs */
};

static int wire_post(const char *url, const char *body, char **ret_error, void *userdata) {
        struct wire *w = userdata;
        assert_non_null(url);
        w->attempts++;
        w->clock_ms += w->post_ms;
        assert_true(w->n_bodies < ELEMENTSOF(w->bodies));
        w->bodies[w->n_bodies++] = strdup(body);
        if (w->fail_first > 0) {
                w->fail_first--;
                *ret_error = strdup("connection refused");
                return -EAGAIN;
        }
        if (w->answer < 0)
                *ret_error = strdup(w->answer == -EPROTO ? "HTTP 400" : "HTTP 500");
        return w->answer;
}

static void wire_pause(unsigned seconds, void *userdata) {
        struct wire *w = userdata;
        assert_true(w->n_pauses < ELEMENTSOF(w->pauses));
        w->pauses[w->n_pauses++] = seconds;
        w->clock_ms += seconds * 1000ULL;
}

static unsigned long long wire_now(void *userdata) {
        struct wire *w = userdata;
        return w->clock_ms;
}

static void wire_reset(struct wire *w) {
        for (size_t i = 0; i < w->n_bodies; i++)
                free(w->bodies[i]);
        *w = (struct wire) {};
}

static void put(const char *rel, const char *content) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", root, rel);
        for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                (void) mkdir(path, 0755);
                *s = '/';
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

/* A machine of the test's own: two NICs (named so that the first by name
 * is not the first created), a bridge and lo without a device, DMI. */
static int setup(void **state) {
        (void) state;
        char path[600];
        assert_non_null(mkdtemp(root));
        put("sys/class/net/eth1/address", "52:54:00:00:00:02\n");
        put("sys/class/net/eth1/device/uevent", "");
        put("sys/class/net/eth0/address", "52:54:00:00:00:01\n");
        put("sys/class/net/eth0/device/uevent", "");
        put("sys/class/net/lo/address", "00:00:00:00:00:00\n");
        put("sys/class/net/xenbr0/address", "52:54:00:00:00:01\n");
        put("sys/class/dmi/id/product_serial", "XH-SERIAL-0042  \n");
        put("sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
        put("release", "NAME=xenhost\nVERSION=\"1.2.3\"\n");
        snprintf(path, sizeof path, "%s/sys", root);
        setenv("XENHOST_SYSFS_ROOT", path, 1);
        snprintf(path, sizeof path, "%s/release", root);
        setenv("XENHOST_RELEASE_FILE", path, 1);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static struct report *reporter(struct wire *w) {
        struct report *r = NULL;
        assert_int_equal(report_new("https://fleet:s3cret@deploy.example.com/events?token=abc", &r), 0);
        assert_non_null(r);
        report_set_transport(r, &(struct report_transport) {.post = wire_post, .pause = wire_pause, .userdata = w});
        return r;
}

static struct json_object *event(struct wire *w, size_t i) {
        assert_true(i < w->n_bodies);
        struct json_object *o = json_tokener_parse(w->bodies[i]);
        if (!o)
                print_message("not JSON: %s\n", w->bodies[i]);
        assert_non_null(o);
        return o;
}

static const char *str(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
        return v ? json_object_get_string(v) : NULL;
}

static int64_t num(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                fail_msg("no number \"%s\" in %s", key, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static struct json_object *obj(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
        return v;
}

static void test_url(void **state) {
        (void) state;
        struct report *r = NULL;
        assert_int_equal(report_new("ftp://deploy.example.com/events", &r), -EINVAL);
        assert_int_equal(report_new("deploy.example.com/events", &r), -EINVAL);
        assert_int_equal(report_new(NULL, &r), -EINVAL);
        assert_null(r);
        assert_int_equal(report_new("https://fleet:s3cret@deploy.example.com/events", &r), 0);
        assert_null(strstr(report_url_shown(r), "s3cret"));
        assert_non_null(strstr(report_url_shown(r), "deploy.example.com/events"));
        report_free(r);
        /* No reporter: every call does nothing. */
        report_start(NULL, "fresh", NULL);
        report_step(NULL, "partition", 3, 8, 32, "Partitioning");
        report_warning(NULL, "x");
        report_success(NULL, "1.0");
        report_failure(NULL, "partition", "x", NULL);
        assert_int_equal(report_undelivered(NULL), 0);
        assert_null(report_free(NULL));
        char *line = (char *) "unset";
        assert_int_equal(report_undelivered_line(NULL, &line), 0);
        assert_null(line);
        /* Outside the installer environment, this machine's own kernel
         * command line is not the installer's. */
        if (access("/usr/sbin/xenhost-installer-run", X_OK) != 0) {
                char *url = (char *) "unset";
                assert_int_equal(report_url_from_kernel_cmdline(&url), 0);
                assert_null(url);
        }
}

/* Every event: schema, event, install_id, seq, time, host, installer. */
static void test_start_and_identity(void **state) {
        (void) state;
        struct wire w = {};
        struct report *r = reporter(&w);
        report_start(r, "fresh", "rack7-host3");
        assert_int_equal(w.n_bodies, 1);
        assert_null(strstr(w.bodies[0], "s3cret"));
        assert_null(strchr(w.bodies[0], '\n'));

        struct json_object *e = event(&w, 0), *host = obj(e, "host"), *macs = obj(host, "macs");
        assert_int_equal(num(e, "schema"), 1);
        assert_string_equal(str(e, "event"), "start");
        assert_int_equal(num(e, "seq"), 1);
        const char *id = str(e, "install_id");
        assert_int_equal(strlen(id), 36);
        assert_int_equal(strspn(id, "0123456789abcdef-"), 36);
        const char *t = str(e, "time");
        /* 2026-11-27T01:02:03.456Z */
        assert_int_equal(strlen(t), 24);
        assert_true(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
        assert_string_equal(str(e, "mode"), "fresh");
        assert_string_equal(str(e, "hostname"), "rack7-host3");
        /* The NICs with a device, by name; lo and the bridge are not NICs. */
        assert_string_equal(str(host, "mac"), "52:54:00:00:00:01");
        assert_int_equal(json_object_array_length(macs), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(macs, 0)), "52:54:00:00:00:01");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(macs, 1)), "52:54:00:00:00:02");
        assert_string_equal(str(host, "serial"), "XH-SERIAL-0042");
        assert_string_equal(str(host, "product"), "Standard PC (Q35 + ICH9, 2009)");
        assert_string_equal(str(obj(e, "installer"), "version"), "1.2.3");
        json_object_put(e);
        report_free(r);
        wire_reset(&w);
}

/* Steps in order, seq without gaps, one install_id; the end events. */
static void test_steps_success(void **state) {
        (void) state;
        struct wire w = {};
        struct report *r = reporter(&w);
        report_start(r, "fresh", NULL);
        report_step(r, "checks", 1, 8, 0, "Checking the machine");
        report_step(r, "verify-image", 2, 8, 2, "Verifying the host image");
        report_warning(r, "<network-backend> has no effect");
        report_success(r, "1.2.4");
        assert_int_equal(w.n_bodies, 5);
        assert_int_equal(report_sent(r), 5);
        assert_int_equal(report_undelivered(r), 0);

        struct json_object *first = event(&w, 0);
        assert_null(obj(first, "hostname"));
        for (size_t i = 0; i < w.n_bodies; i++) {
                struct json_object *e = event(&w, i);
                assert_int_equal(num(e, "seq"), (int64_t) i + 1);
                assert_string_equal(str(e, "install_id"), str(first, "install_id"));
                json_object_put(e);
        }
        struct json_object *s = event(&w, 2);
        assert_string_equal(str(s, "event"), "step");
        assert_string_equal(str(s, "step"), "verify-image");
        assert_int_equal(num(s, "index"), 2);
        assert_int_equal(num(s, "steps"), 8);
        assert_int_equal(num(s, "percent"), 2);
        assert_string_equal(str(s, "title"), "Verifying the host image");
        struct json_object *wn = event(&w, 3);
        assert_string_equal(str(wn, "event"), "warning");
        assert_string_equal(str(wn, "message"), "<network-backend> has no effect");
        struct json_object *ok = event(&w, 4);
        assert_string_equal(str(ok, "event"), "success");
        assert_string_equal(str(ok, "version"), "1.2.4");
        assert_int_equal(num(ok, "percent"), 100);
        json_object_put(first);
        json_object_put(s);
        json_object_put(wn);
        json_object_put(ok);

        /* Another run is another install: its own id, seq from 1. */
        struct wire w2 = {};
        struct report *r2 = reporter(&w2);
        report_start(r2, "fresh", NULL);
        struct json_object *a = event(&w, 0), *b = event(&w2, 0);
        assert_int_equal(num(b, "seq"), 1);
        assert_string_not_equal(str(a, "install_id"), str(b, "install_id"));
        json_object_put(a);
        json_object_put(b);
        report_free(r2);
        wire_reset(&w2);
        report_free(r);
        wire_reset(&w);
}

/* The failure: its step, the reason without the engine's "step NAME: ",
 * the percentage reached, and the log's last 20 non-empty lines. */
static void test_failure(void **state) {
        (void) state;
        struct wire w = {};
        char log[600];
        snprintf(log, sizeof log, "%s/install.log", root);
        FILE *f = fopen(log, "w");
        assert_non_null(f);
        for (int i = 1; i <= 30; i++)
                fprintf(f, "line %d\n%s", i, i == 25 ? "\n" : "");
        /* A long line is cut at a character, not inside one. */
        fputs("x", f);
        for (int i = 0; i < 700; i++)
                fputs("\xc3\xa9", f);
        fputs("\n", f);
        fclose(f);

        struct report *r = reporter(&w);
        report_step(r, "partition", 3, 8, 17, "Partitioning");
        report_failure(r, "partition", "step partition: failure injected by XENHOST_TEST_FAIL_STEP", log);
        struct json_object *e = event(&w, 1), *tail = obj(e, "log_tail");
        assert_string_equal(str(e, "event"), "failure");
        assert_string_equal(str(e, "step"), "partition");
        assert_string_equal(str(e, "reason"), "failure injected by XENHOST_TEST_FAIL_STEP");
        assert_int_equal(num(e, "percent"), 17);
        assert_int_equal(json_object_array_length(tail), REPORT_LOG_TAIL_LINES);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(tail, 0)), "line 12");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(tail, 18)), "line 30");
        const char *last = json_object_get_string(json_object_array_get_idx(tail, 19));
        assert_true(strlen(last) <= REPORT_LOG_LINE_MAX && strlen(last) >= REPORT_LOG_LINE_MAX - 1);
        assert_int_equal(strlen(last) % 2, 1); /* "x" and whole two-byte characters */
        json_object_put(e);

        /* A reason of another step is kept whole; no log: an empty tail. */
        report_failure(r, "plan", "step checks: no such disk", "/nonexistent/log");
        e = event(&w, 2);
        assert_string_equal(str(e, "reason"), "step checks: no such disk");
        assert_int_equal(json_object_array_length(obj(e, "log_tail")), 0);
        json_object_put(e);
        report_free(r);
        wire_reset(&w);

        /* A short log goes whole. */
        f = fopen(log, "w");
        assert_non_null(f);
        fputs("only line", f);
        fclose(f);
        r = reporter(&w);
        report_failure(r, "checks", "why", log);
        e = event(&w, 0);
        tail = obj(e, "log_tail");
        assert_int_equal(json_object_array_length(tail), 1);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(tail, 0)), "only line");
        assert_int_equal(num(e, "percent"), 0);
        json_object_put(e);
        report_free(r);
        wire_reset(&w);
}

/* 3 attempts, 1 s then 2 s apart; after REPORT_FAILURES_MAX events in a
 * row failed, one attempt each and no pause; one delivered event starts
 * over. The same body goes again, seq unchanged. */
static void test_delivery_bounded(void **state) {
        (void) state;
        struct wire w = {.answer = -EAGAIN};
        struct report *r = reporter(&w);

        report_start(r, "fresh", NULL);
        assert_int_equal(w.attempts, REPORT_ATTEMPTS);
        assert_int_equal(w.n_pauses, 2);
        assert_int_equal(w.pauses[0], 1);
        assert_int_equal(w.pauses[1], 2);
        assert_string_equal(w.bodies[0], w.bodies[2]);
        for (unsigned i = 1; i < REPORT_FAILURES_MAX; i++)
                report_step(r, "checks", 1, 8, 0, "Checking");
        assert_int_equal(w.attempts, REPORT_ATTEMPTS * REPORT_FAILURES_MAX);
        assert_int_equal(w.n_pauses, 2 * REPORT_FAILURES_MAX);
        for (unsigned i = 0; i < 5; i++)
                report_step(r, "partition", 3, 8, 17, "Partitioning");
        report_failure(r, "partition", "x", NULL);
        assert_int_equal(w.attempts, REPORT_ATTEMPTS * REPORT_FAILURES_MAX + 6);
        assert_int_equal(w.n_pauses, 2 * REPORT_FAILURES_MAX);
        assert_int_equal(report_undelivered(r), REPORT_FAILURES_MAX + 6);
        assert_string_equal(report_last_error(r), "HTTP 500");
        /* The front end's line: counts, the URL without credentials or the token. */
        _cleanup_free_ char *line = NULL;
        assert_int_equal(report_undelivered_line(r, &line), 1);
        assert_string_equal(line, "8 event(s) could not be delivered to https://***@deploy.example.com/events?token=*** "
                                  "(of 8; last: HTTP 500)");

        /* The endpoint is back: delivered, and the next failure gets every attempt again. */
        w.answer = 0;
        report_step(r, "write-slot", 4, 8, 32, "Writing");
        unsigned before = w.attempts;
        line = mfree(line);
        assert_int_equal(report_undelivered(r), REPORT_FAILURES_MAX + 6);
        w.answer = -EAGAIN;
        report_step(r, "configure", 5, 8, 67, "Configuring");
        assert_int_equal(w.attempts - before, REPORT_ATTEMPTS);
        report_free(r);
        wire_reset(&w);

        /* A second attempt that works: delivered, one pause. */
        w = (struct wire) {.fail_first = 1};
        r = reporter(&w);
        report_start(r, "fresh", NULL);
        assert_int_equal(w.attempts, 2);
        assert_int_equal(w.n_pauses, 1);
        assert_int_equal(report_undelivered(r), 0);
        assert_int_equal(report_undelivered_line(r, &line), 0);
        assert_null(line);
        report_free(r);
        wire_reset(&w);

        /* An endpoint that refuses the event (4xx) is not asked again. */
        w = (struct wire) {.answer = -EPROTO};
        r = reporter(&w);
        report_start(r, "fresh", NULL);
        assert_int_equal(w.attempts, 1);
        assert_int_equal(w.n_pauses, 0);
        assert_int_equal(report_undelivered(r), 1);
        assert_string_equal(report_last_error(r), "HTTP 400");
        report_free(r);
        wire_reset(&w);
}

/* An endpoint whose packets are dropped: each attempt costs the connect
 * timeout. Once undelivered events cost REPORT_BUDGET_S, steps and
 * warnings are not tried; the end event still is, once. */
static void test_delivery_budget(void **state) {
        (void) state;
        struct wire w = {.answer = -EAGAIN, .post_ms = REPORT_CONNECT_TIMEOUT_S * 1000};
        struct report *r = NULL;
        assert_int_equal(report_new("http://192.0.2.1/events", &r), 0);
        report_set_transport(r, &(struct report_transport) {.post = wire_post, .pause = wire_pause,
                                                            .now_ms = wire_now, .userdata = &w});
        report_start(r, "fresh", NULL);
        report_step(r, "checks", 1, 8, 0, "Checking");
        assert_int_equal(w.attempts, 2 * REPORT_ATTEMPTS);
        assert_true(w.clock_ms >= REPORT_BUDGET_S * 1000ULL);
        for (unsigned i = 2; i <= 8; i++)
                report_step(r, "partition", i, 8, 10 * i, "Step");
        report_warning(r, "x");
        assert_int_equal(w.attempts, 2 * REPORT_ATTEMPTS);
        report_failure(r, "bootloader", "mounting the ESP", NULL);
        assert_int_equal(w.attempts, 2 * REPORT_ATTEMPTS + 1);
        assert_int_equal(report_sent(r), 11);
        assert_int_equal(report_undelivered(r), 11);
        /* The whole install waited about 27 s on this endpoint, not minutes. */
        assert_true(w.clock_ms <= 30 * 1000ULL);
        struct json_object *e = event(&w, w.n_bodies - 1);
        assert_string_equal(str(e, "event"), "failure");
        assert_int_equal(num(e, "seq"), 11);
        json_object_put(e);
        report_free(r);
        wire_reset(&w);

        /* The endpoint comes back for the end event: it is delivered. */
        w = (struct wire) {.answer = -EAGAIN, .post_ms = REPORT_TIMEOUT_S * 1000};
        assert_int_equal(report_new("http://192.0.2.1/events", &r), 0);
        report_set_transport(r, &(struct report_transport) {.post = wire_post, .pause = wire_pause,
                                                            .now_ms = wire_now, .userdata = &w});
        report_start(r, "fresh", NULL);
        report_step(r, "checks", 1, 8, 0, "Checking");
        assert_int_equal(w.attempts, REPORT_ATTEMPTS);
        w.answer = 0;
        report_success(r, "1.2.4");
        assert_int_equal(w.attempts, REPORT_ATTEMPTS + 1);
        assert_int_equal(report_undelivered(r), 2);
        e = event(&w, w.n_bodies - 1);
        assert_string_equal(str(e, "event"), "success");
        json_object_put(e);
        report_free(r);
        wire_reset(&w);
}

/* The real transport against a port nobody listens on: bounded, and the
 * message names neither the credentials nor the URL. */
static void test_http_refused(void **state) {
        (void) state;
        struct report *r = NULL;
        struct timespec a, b;
        assert_int_equal(report_new("http://fleet:s3cret@127.0.0.1:9/events", &r), 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        report_start(r, "fresh", NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_int_equal(report_undelivered(r), 1);
        assert_string_equal(report_last_error(r), "connection refused");
        /* Three refused attempts, 1 s and 2 s apart. */
        double s = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
        assert_true(s >= 2.9 && s < 6);
        report_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_url),
                cmocka_unit_test(test_start_and_identity),
                cmocka_unit_test(test_steps_success),
                cmocka_unit_test(test_failure),
                cmocka_unit_test(test_delivery_bounded),
                cmocka_unit_test(test_delivery_budget),
                cmocka_unit_test(test_http_refused),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
