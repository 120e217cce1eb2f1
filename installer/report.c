/* Install events POSTed as JSON to a fleet's endpoint (report.h). Building
 * an event and delivering it are apart, so that tests can take the events
 * without a network; delivery never fails the caller. */
#include "report.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "engine.h"
#include "fetch.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"

struct report {
        char *url, *shown;
        char install_id[37];
        unsigned seq;
        unsigned percent;            /* of the last step event, for a failure */
        unsigned failures_in_a_row;
        unsigned long long failing_ms; /* spent on undelivered events since the last delivered one */
        unsigned undelivered;
        char *last_error;
        struct json_object *host, *installer;
        struct report_transport transport;
        char *user_agent;
};

/* ---- the host's identity ---- */

static const char *sysfs(void) {
        return getenv("XENHOST_SYSFS_ROOT") ?: "/sys";
}

/* The first line of PATH, trailing blanks dropped; NULL when unreadable or empty. */
static struct json_object *read_value(const char *path) {
        _cleanup_free_ char *text = NULL;
        if (read_full_file_bounded(path, 4096, &text, NULL) < 0)
                return NULL;
        size_t n = strcspn(text, "\n");
        while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
                n--;
        text[n] = 0;
        return *text ? json_object_new_string(text) : NULL;
}

static struct json_object *host_identity(void) {
        struct json_object *h = json_object_new_object(), *macs = json_object_new_array();
        _cleanup_free_ char *net = NULL, *serial = NULL, *product = NULL;
        struct dirent **names = NULL;
        int n = -1;

        if (asprintf(&net, "%s/class/net", sysfs()) >= 0)
                n = scandir(net, &names, NULL, alphasort);
        /* Physical NICs only: they have a device; lo, bridges, bonds and
         * veths do not. By name, so that "the first" is stable. */
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *dev = NULL, *addr = NULL;
                if (names[i]->d_name[0] != '.' && asprintf(&dev, "%s/%s/device", net, names[i]->d_name) >= 0 &&
                    asprintf(&addr, "%s/%s/address", net, names[i]->d_name) >= 0 && access(dev, F_OK) == 0) {
                        struct json_object *mac = read_value(addr);
                        if (mac)
                                json_object_array_add(macs, mac);
                }
                free(names[i]);
        }
        free(names);
        struct json_object *first = json_object_array_length(macs) > 0 ? json_object_array_get_idx(macs, 0) : NULL;
        json_object_object_add(h, "mac", json_object_get(first));
        json_object_object_add(h, "macs", macs);
        if (asprintf(&serial, "%s/class/dmi/id/product_serial", sysfs()) < 0)
                serial = NULL;
        if (asprintf(&product, "%s/class/dmi/id/product_name", sysfs()) < 0)
                product = NULL;
        json_object_object_add(h, "serial", serial ? read_value(serial) : NULL);
        json_object_object_add(h, "product", product ? read_value(product) : NULL);
        return h;
}

/* ---- delivery over HTTP ---- */

static size_t discard(char *p, size_t size, size_t n, void *userdata) {
        (void) p, (void) userdata;
        return size * n;
}

/* One POST. The messages are libcurl's fixed texts, which never carry the
 * URL and so never its credentials. */
static int http_post(const char *url, const char *body, char **ret_error, void *userdata) {
        const struct report *r = userdata;
        CURL *h = curl_easy_init();
        struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
        CURLcode c;
        long code = 0, os_errno = 0;

        if (!h || !headers) {
                curl_slist_free_all(headers);
                if (h)
                        curl_easy_cleanup(h);
                return reason_set(ret_error, "out of memory"), -ENOMEM;
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_USERAGENT, r->user_agent);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long) REPORT_CONNECT_TIMEOUT_S);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long) REPORT_TIMEOUT_S);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        c = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        curl_easy_cleanup(h);
        curl_slist_free_all(headers);

        if (c == CURLE_OPERATION_TIMEDOUT)
                return reason_set(ret_error, "timed out"), -EAGAIN;
        if (c == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
                return reason_set(ret_error, "connection refused"), -EAGAIN;
        if (c != CURLE_OK)
                return reason_set(ret_error, "%s", curl_easy_strerror(c)), -EAGAIN;
        if (code >= 200 && code < 300)
                return 0;
        reason_set(ret_error, "HTTP %ld", code);
        /* The endpoint will not take this event: sending it again does not help. */
        return code >= 300 && code < 500 && code != 408 && code != 429 ? -EPROTO : -EAGAIN;
}

static void real_pause(unsigned seconds, void *userdata) {
        (void) userdata;
        sleep(seconds);
}

/* ---- the reporter ---- */

int report_new(const char *url, struct report **ret) {
        _cleanup_free_ char *version = NULL;
        uuid_t u;

        if (!url || (!startswith(url, "http://") && !startswith(url, "https://")))
                return -EINVAL;
        struct report *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        (void) install_own_version(&version);
        if (!(r->url = strdup(url)) || url_redact(url, &r->shown) < 0 ||
            asprintf(&r->user_agent, "xenhost-install/%s", version ?: "unknown") < 0) {
                r->user_agent = NULL;
                report_free(r);
                return -ENOMEM;
        }
        uuid_generate_random(u);
        uuid_unparse_lower(u, r->install_id);
        r->host = host_identity();
        r->installer = json_object_new_object();
        json_object_object_add(r->installer, "version", version ? json_object_new_string(version) : NULL);
        r->transport = (struct report_transport) {.post = http_post, .pause = real_pause, .userdata = r};
        *ret = r;
        return 0;
}

struct report *report_free(struct report *r) {
        if (!r)
                return NULL;
        json_object_put(r->host);
        json_object_put(r->installer);
        free(r->url);
        free(r->shown);
        free(r->last_error);
        free(r->user_agent);
        free(r);
        return NULL;
}

void report_set_transport(struct report *r, const struct report_transport *t) {
        if (r && t)
                r->transport = *t;
}

unsigned report_sent(const struct report *r) {
        return r ? r->seq : 0;
}

unsigned report_undelivered(const struct report *r) {
        return r ? r->undelivered : 0;
}

const char *report_last_error(const struct report *r) {
        return r ? r->last_error : NULL;
}

const char *report_url_shown(const struct report *r) {
        return r ? r->shown : NULL;
}

static unsigned long long now_ms(const struct report *r) {
        struct timespec ts;
        if (r->transport.now_ms)
                return r->transport.now_ms(r->transport.userdata);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000 + (unsigned long long) ts.tv_nsec / 1000000;
}

int report_undelivered_line(const struct report *r, char **ret) {
        if (!r || r->undelivered == 0) {
                *ret = NULL;
                return 0;
        }
        if (asprintf(ret, "%u event(s) could not be delivered to %s (of %u; last: %s)", r->undelivered, r->shown,
                     r->seq, r->last_error ?: "not tried") < 0)
                return -ENOMEM;
        return 1;
}

int report_url_from_kernel_cmdline(char **ret) {
        _cleanup_free_ char *cmdline = NULL, *url = NULL;
        int r;

        if (!install_in_installer_environment()) {
                *ret = NULL;
                return 0;
        }
        r = kernel_cmdline_read(&cmdline);
        if (r < 0)
                return r;
        r = kernel_cmdline_get(cmdline, "report", &url);
        if (r < 0)
                return r;
        if (r == 0 || !*url) {
                *ret = NULL;
                return 0;
        }
        *ret = TAKE_PTR(url);
        return 1;
}

/* FINAL: the end event, which the receiver needs most. */
static void deliver(struct report *r, const char *body, bool final) {
        /* An endpoint that took none of the last few events is taken to be
         * gone: one attempt each from then on, so that the install does not
         * wait on it; and once it has cost the install REPORT_BUDGET_S,
         * only the end event is tried. */
        unsigned attempts = r->failures_in_a_row >= REPORT_FAILURES_MAX ? 1 : REPORT_ATTEMPTS;
        int k = -EAGAIN;

        if (!final && r->failing_ms >= REPORT_BUDGET_S * 1000ULL) {
                log_debug("report: event %u to %s not tried: undelivered events took %llu s", r->seq, r->shown,
                          r->failing_ms / 1000);
                r->failures_in_a_row++;
                r->undelivered++;
                return;
        }
        unsigned long long started = now_ms(r);

        for (unsigned a = 1; a <= attempts; a++) {
                _cleanup_free_ char *error = NULL;
                k = r->transport.post(r->url, body, &error, r->transport.userdata);
                if (k >= 0)
                        break;
                free(r->last_error);
                r->last_error = TAKE_PTR(error);
                log_debug("report: event %u to %s, attempt %u of %u: %s", r->seq, r->shown, a, attempts,
                          r->last_error ?: "failed");
                if (k != -EAGAIN || a == attempts)
                        break;
                if (r->transport.pause)
                        r->transport.pause(a, r->transport.userdata);
        }
        if (k >= 0) {
                r->failures_in_a_row = 0;
                r->failing_ms = 0;
        } else {
                unsigned long long now = now_ms(r);
                r->failing_ms += now > started ? now - started : 0;
                r->failures_in_a_row++;
                r->undelivered++;
        }
}

static struct json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* Sends EVENT with FIELDS (taken) after the fields every event has. */
static void send_event(struct report *r, const char *event, struct json_object *fields) {
        char when[48];
        struct timespec ts;
        struct tm tm;

        if (!r) {
                json_object_put(fields);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t l = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + l, sizeof when - l, ".%03ldZ", ts.tv_nsec / 1000000);

        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "schema", json_object_new_int(REPORT_SCHEMA));
        json_object_object_add(o, "event", json_object_new_string(event));
        json_object_object_add(o, "install_id", json_object_new_string(r->install_id));
        json_object_object_add(o, "seq", json_object_new_int64(++r->seq));
        json_object_object_add(o, "time", json_object_new_string(when));
        json_object_object_add(o, "host", json_object_get(r->host));
        json_object_object_add(o, "installer", json_object_get(r->installer));
        json_object_object_foreach(fields, k, v) json_object_object_add(o, k, json_object_get(v));
        json_object_put(fields);
        deliver(r, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                streq(event, "success") || streq(event, "failure"));
        json_object_put(o);
}

void report_start(struct report *r, const char *mode, const char *hostname) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "mode", str_or_null(mode));
        json_object_object_add(f, "hostname", str_or_null(hostname));
        send_event(r, "start", f);
}

void report_step(struct report *r, const char *name, unsigned index, unsigned steps, unsigned percent,
                 const char *title) {
        if (!r)
                return;
        r->percent = percent;
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "step", str_or_null(name));
        json_object_object_add(f, "index", json_object_new_int64(index));
        json_object_object_add(f, "steps", json_object_new_int64(steps));
        json_object_object_add(f, "percent", json_object_new_int64(percent));
        json_object_object_add(f, "title", str_or_null(title));
        send_event(r, "step", f);
}

void report_warning(struct report *r, const char *message) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "message", str_or_null(message));
        send_event(r, "warning", f);
}

void report_success(struct report *r, const char *version) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "version", str_or_null(version));
        json_object_object_add(f, "percent", json_object_new_int64(100));
        send_event(r, "success", f);
}

/* The last REPORT_LOG_TAIL_LINES non-empty lines of PATH, from at most its
 * last 64 KiB; an empty array when it cannot be read. */
static struct json_object *log_tail(const char *path) {
        struct json_object *tail = json_object_new_array();
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (!f || fseeko(f, 0, SEEK_END) != 0)
                return tail;
        off_t size = ftello(f), from = size > 65536 ? size - 65536 : 0;
        if (size < 0 || fseeko(f, from, SEEK_SET) != 0 || !(text = malloc((size_t) (size - from) + 1)))
                return tail;
        len = fread(text, 1, (size_t) (size - from), f);
        text[len] = 0;

        /* Walk back over REPORT_LOG_TAIL_LINES line ends that close a non-empty line. */
        char *start = text + len;
        for (unsigned n = 0; start > text;) {
                char *p = start - 1;
                while (p > text && p[-1] != '\n')
                        p--;
                if (p < start - 1 || *p != '\n') /* not an empty line */
                        if (++n > REPORT_LOG_TAIL_LINES)
                                break;
                start = p;
        }
        /* Reading from the middle of the file: the first line may be cut. */
        if (from > 0 && start == text)
                start += strcspn(text, "\n");
        for (char *l = start, *e; *l; l = e ? e + 1 : l + strlen(l)) {
                e = strchr(l, '\n');
                if (e)
                        *e = 0;
                size_t n = strlen(l);
                if (n > REPORT_LOG_LINE_MAX) {
                        /* Cut at a character, not inside one: JSON is UTF-8. */
                        n = REPORT_LOG_LINE_MAX;
                        while (n > 0 && ((unsigned char) l[n] & 0xC0) == 0x80)
                                n--;
                        l[n] = 0;
                }
                if (n > 0)
                        json_object_array_add(tail, json_object_new_string_len(l, (int) n));
                if (!e)
                        break;
        }
        return tail;
}

void report_failure(struct report *r, const char *step, const char *reason, const char *log_path) {
        if (!r)
                return;
        struct json_object *f = json_object_new_object();
        _cleanup_free_ char *prefix = NULL;
        /* The engine's reason names its step; the event has a field for it. */
        if (step && reason && asprintf(&prefix, "step %s: ", step) >= 0 && startswith(reason, prefix))
                reason += strlen(prefix);
        json_object_object_add(f, "step", str_or_null(step));
        json_object_object_add(f, "percent", json_object_new_int64(r->percent));
        json_object_object_add(f, "reason", str_or_null(reason));
        json_object_object_add(f, "log_tail", log_tail(log_path));
        send_event(r, "failure", f);
}
