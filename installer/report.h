/* Reporting an install to a fleet's endpoint (DESIGN.md section 9):
 * <report url="..."/> in the answer file, report=URL on the installer's
 * kernel command line, or --report URL (the answer file wins). Each event
 * is one HTTP POST of one JSON object (Content-Type: application/json).
 * docs/report.md is the operator's description; the schema (version 1):
 *
 *   {"schema": 1,
 *    "event": "start" | "step" | "warning" | "success" | "failure",
 *    "install_id": "0f8c...-...",   random UUID, one per run of the installer
 *    "seq": 1, 2, ...               per install_id, no gaps in what is sent
 *    "time": "2026-11-27T01:02:03.456Z",            UTC, the host's clock
 *    "host": {"mac": "52:54:00:12:34:56",           the first NIC's, or null
 *             "macs": ["52:54:00:12:34:56", ...],   every physical NIC, by name
 *             "serial": "...", "product": "..."},   DMI, null when unknown
 *    "installer": {"version": "0.1.0"},             null when unknown
 *    the event's own fields:
 *    start:   "mode": "fresh", "hostname": "host1" (or null)
 *    step:    "step": "partition", "index": 3, "steps": 8, "percent": 32,
 *             "title": "Partitioning the disk, ..."
 *    warning: "message": "..."
 *    success: "version": "0.1.0" (installed), "percent": 100
 *    failure: "step": "verify-image", "percent": 2, "reason": "...",
 *             "log_tail": ["...", ...]}   the install log's last lines
 *
 * A report never stops an install and never holds it up for long: each
 * event is tried REPORT_ATTEMPTS times, 1 s then 2 s apart, each attempt
 * at most REPORT_TIMEOUT_S seconds (REPORT_CONNECT_TIMEOUT_S to connect);
 * an answer 4xx (but 408 and 429) is not tried again. Once
 * REPORT_FAILURES_MAX events in a row could not be delivered, every later
 * event is tried once. Once undelivered events have cost REPORT_BUDGET_S
 * seconds since the last delivered one, start, step and warning events
 * are no longer tried (they count as undelivered); the end event (success
 * or failure) is always tried, at least once. So an endpoint that refuses
 * connections costs an install about 6 s, one that drops every packet
 * about 30 s, whatever the number of steps. Credentials in the URL are
 * sent, never shown. */
#pragma once

#include <stdbool.h>

#include "macro.h"

#define REPORT_SCHEMA 1
#define REPORT_ATTEMPTS 3
#define REPORT_TIMEOUT_S 5
#define REPORT_CONNECT_TIMEOUT_S 3
#define REPORT_FAILURES_MAX 2
#define REPORT_BUDGET_S 15
/* The log lines a failure event carries, each cut to this many bytes. */
#define REPORT_LOG_TAIL_LINES 20
#define REPORT_LOG_LINE_MAX 1000

struct report;

/* How events travel. The default POSTs with libcurl and sleeps between
 * attempts; tests replace both. */
struct report_transport {
        /* One attempt: 0 when the endpoint took BODY (2xx); -EAGAIN when
         * another attempt may help, another -errno when it cannot; then
         * *RET_ERROR (may be left NULL) says why, without credentials. */
        int (*post)(const char *url, const char *body, char **ret_error, void *userdata);
        void (*pause)(unsigned seconds, void *userdata);
        /* A monotonic clock in milliseconds; NULL: CLOCK_MONOTONIC. */
        unsigned long long (*now_ms)(void *userdata);
        void *userdata;
};

/* A reporter for URL (http:// or https://; -EINVAL otherwise). The host's
 * identity is read once, here: the MACs of the NICs with a device in
 * /sys/class/net, the DMI serial and product from /sys/class/dmi/id (under
 * $XENHOST_SYSFS_ROOT instead of /sys when set, for tests). */
int report_new(const char *url, struct report **ret);
struct report *report_free(struct report *r);
DEFINE_CLEANUP(struct report, report_free)
void report_set_transport(struct report *r, const struct report_transport *t);

/* Each sends one event. R may be NULL (no report: nothing happens). */
void report_start(struct report *r, const char *mode, const char *hostname);
void report_step(struct report *r, const char *name, unsigned index, unsigned steps, unsigned percent,
                 const char *title);
void report_warning(struct report *r, const char *message);
void report_success(struct report *r, const char *version);
/* STEP: the step that failed. REASON: the one line; a leading "step STEP: "
 * is dropped. LOG_PATH: the install's log, whose last lines go along. */
void report_failure(struct report *r, const char *step, const char *reason, const char *log_path);

/* For the front end's one line at the end: how many events were sent, how
 * many could not be delivered, and the last delivery error (or NULL). */
unsigned report_sent(const struct report *r);
unsigned report_undelivered(const struct report *r);
const char *report_last_error(const struct report *r);
/* The endpoint, credentials replaced, for messages. */
const char *report_url_shown(const struct report *r);
/* The front end's line at the end when events were lost: 1 with "N
 * event(s) could not be delivered to URL (of M; last: ERROR)", 0 with *RET
 * NULL when every event was delivered (or R is NULL); -ENOMEM. */
int report_undelivered_line(const struct report *r, char **ret);

/* report=URL on the installer's kernel command line, read only in the
 * installer environment (elsewhere /proc/cmdline is the command line of
 * the machine a test or an operator runs on): 1 with the URL, 0 with *RET
 * NULL when there is none; -errno. For every front end. */
int report_url_from_kernel_cmdline(char **ret);
