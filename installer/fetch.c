/* Fetching the answer file and running answer-file generators: libcurl for
 * the network schemes, mount(8) for NFS, plain reads for local files, all
 * behind one retry loop. Every libcurl code becomes -errno and one short
 * description here, so callers only ever see "cannot fetch URL: why". */
#include "fetch.h"

#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h" /* url_redact() */
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"

static inline void curl_easy_cleanupp(CURL **c) {
        if (*c)
                curl_easy_cleanup(*c);
}

/* What went wrong with one attempt, and whether another one might do better. */
struct attempt {
        int error;
        bool transient;
        char what[256];
};

static int attempt_fail(struct attempt *a, int error, bool transient, const char *format, ...) _printf_(4, 5);
static int attempt_fail(struct attempt *a, int error, bool transient, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vsnprintf(a->what, sizeof a->what, format, ap);
        va_end(ap);
        a->error = error;
        a->transient = transient;
        return error;
}

/* The content being received, never more than ANSWERFILE_SIZE_MAX. */
struct buf {
        char *data;
        size_t len;
        bool too_big;
};

static int buf_append(struct buf *b, const void *p, size_t n) {
        if (n > ANSWERFILE_SIZE_MAX - b->len) {
                b->too_big = true;
                return -EFBIG;
        }
        char *d = realloc(b->data, b->len + n + 1);
        if (!d)
                return -ENOMEM;
        memcpy(d + b->len, p, n);
        b->data = d;
        b->len += n;
        d[b->len] = 0;
        return 0;
}

static int buf_take(struct buf *b, char **ret_text, size_t *ret_len) {
        if (!b->data) {
                /* An empty file is returned as "" and left to the parser to refuse. */
                b->data = strdup("");
                if (!b->data)
                        return -ENOMEM;
        }
        if (ret_len)
                *ret_len = b->len;
        *ret_text = TAKE_PTR(b->data);
        return 0;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms) {
        struct timespec ts = {.tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static const char *tmp_dir(void) {
        const char *t = getenv("TMPDIR");
        return t && t[0] == '/' ? t : "/tmp";
}

/* The userinfo ("user:password") of a URL, or NULL; used to make sure no
 * message that reaches a log or a reason carries it. */
static char *url_userinfo(const char *url) {
        const char *s = strstr(url, "://");
        if (!s)
                return NULL;
        s += 3;
        const char *at = memrchr(s, '@', strcspn(s, "/?#"));
        return at ? strndup(s, (size_t) (at - s)) : NULL;
}

/* The query string of URL (after '?', without a fragment), or NULL: its
 * values may be tokens. */
static char *url_query(const char *url) {
        const char *q = strchr(url, '?');
        return q && q[1] ? strndup(q + 1, strcspn(q + 1, "#")) : NULL;
}

static bool text_has_secret(const char *text, const char *userinfo, const char *query) {
        if (query && query[0]) {
                /* Any value of it: "a=1&b=2" is checked for "1" and "2". */
                _cleanup_free_ char *copy = strdup(query);
                if (!copy)
                        return true;
                for (char *save = NULL, *part = strtok_r(copy, "&;", &save); part; part = strtok_r(NULL, "&;", &save)) {
                        const char *v = strchr(part, '=');
                        v = v ? v + 1 : part;
                        if (v[0] && strstr(text, v))
                                return true;
                }
        }
        if (!userinfo || !userinfo[0])
                return false;
        const char *colon = strchr(userinfo, ':');
        size_t user_len = colon ? (size_t) (colon - userinfo) : strlen(userinfo);
        _cleanup_free_ char *user = strndup(userinfo, user_len);
        if (!user)
                return true;
        if (user[0] && strstr(text, user))
                return true;
        return colon && colon[1] && strstr(text, colon + 1);
}

/* ---- local files ---- */

const char *answerfile_read_error(int error) {
        static char buf[64];
        switch (error) {
        case -ENOENT:
                return "no such file";
        case -EISDIR:
                return "is a directory";
        case -EBADFD:
                return "not a regular file (a FIFO, a device or a socket)";
        case -EFBIG:
                snprintf(buf, sizeof buf, "larger than %u KiB", ANSWERFILE_SIZE_MAX / 1024);
                return buf;
        case -ENOMEM:
                return "out of memory";
        default:
                return strerror(-error);
        }
}

static int read_bounded(const char *path, struct buf *b, struct attempt *a) {
        char *data = NULL;
        size_t len = 0;
        int r;

        r = read_full_file_bounded(path, ANSWERFILE_SIZE_MAX, &data, &len);
        if (r < 0) {
                b->too_big = r == -EFBIG;
                return attempt_fail(a, r, false, "%s", answerfile_read_error(r));
        }
        free(b->data);
        b->data = data;
        b->len = len;
        return 0;
}

int answerfile_resolve_path(const char *path, const char *media_root, char **ret_path) {
        char *p;

        if (!path || path[0] != '/')
                return -EINVAL;
        if (media_root && media_root[0]) {
                /* "/" as the media root would make the two candidates the same. */
                if (asprintf(&p, "%s%s", media_root, path) < 0)
                        return -ENOMEM;
                if (access(p, F_OK) == 0) {
                        *ret_path = p;
                        return 0;
                }
                log_debug_errno(negative_errno(), "%s is not on the install media (%s): %m", path, media_root);
                free(p);
        }
        if (access(path, F_OK) < 0)
                return -ENOENT;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        *ret_path = p;
        return 0;
}

static int fetch_plain_path(const char *path, const struct fetch_options *o, struct buf *b, struct attempt *a) {
        _cleanup_free_ char *resolved = NULL;
        int r;

        r = answerfile_resolve_path(path, o->media_root, &resolved);
        if (r == -ENOENT) {
                struct stat st;
                if (o->media_root && stat(o->media_root, &st) == 0 && S_ISDIR(st.st_mode))
                        return attempt_fail(a, r, false, "no such file on the install media (%s) or the root "
                                                         "file system", o->media_root);
                return attempt_fail(a, r, false, "no such file");
        }
        if (r < 0)
                return attempt_fail(a, r, false, "%s", strerror(-r));
        log_debug("Answer file %s found at %s", path, resolved);
        return read_bounded(resolved, b, a);
}

static int fetch_file_url(const char *url, const struct fetch_options *o _unused_, struct buf *b,
                          struct attempt *a) {
        const char *p = url + strlen("file://");
        /* file:///x and file://localhost/x are the same file; any other host is not ours. */
        p = startswith(p, "localhost") ?: p;
        if (p[0] != '/')
                return attempt_fail(a, -EINVAL, false, "file:// needs an absolute path");
        return read_bounded(p, b, a);
}

/* ---- libcurl: http, https, ftp, tftp ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t curl_write(char *p, size_t size, size_t n, void *userdata) {
        struct buf *b = userdata;
        /* Anything but size*n tells libcurl to stop with CURLE_WRITE_ERROR. */
        return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

static int describe_http_status(long status, struct attempt *a) {
        if (status == 404 || status == 410)
                return attempt_fail(a, -ENOENT, false, "HTTP %ld", status);
        if (status == 401 || status == 403)
                return attempt_fail(a, -EACCES, false, "HTTP %ld", status);
        /* The server is there but busy or restarting: worth waiting for. */
        if (status == 408 || status == 425 || status == 429 || status >= 500)
                return attempt_fail(a, -EIO, true, "HTTP %ld", status);
        return attempt_fail(a, -EIO, false, "HTTP %ld", status);
}

static int describe_curl_error(CURL *c, CURLcode cc, const char *errbuf, const char *userinfo,
                               const char *query, const struct buf *b, struct attempt *a) {
        long os_errno = 0;
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        /* libcurl's detailed message names hosts and files, never the
         * userinfo as far as we know; fall back to its fixed text if it did. */
        const char *detail = errbuf[0] && !text_has_secret(errbuf, userinfo, query) ? errbuf : curl_easy_strerror(cc);

        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                if (os_errno == ECONNREFUSED)
                        return attempt_fail(a, -ECONNREFUSED, true, "connection refused");
                if (os_errno == ENETUNREACH)
                        return attempt_fail(a, -ENETUNREACH, true, "network unreachable");
                if (os_errno == EHOSTUNREACH)
                        return attempt_fail(a, -EHOSTUNREACH, true, "host unreachable");
                return attempt_fail(a, -EIO, true, "%s", detail);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                /* DHCP may not have handed out a name server yet. */
                return attempt_fail(a, -EHOSTUNREACH, true, "%s", detail);
        case CURLE_OPERATION_TIMEDOUT:
                return attempt_fail(a, -ETIMEDOUT, true, "timed out");
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return attempt_fail(a, -EIO, true, "%s", detail);
        case CURLE_REMOTE_FILE_NOT_FOUND:
        case CURLE_TFTP_NOTFOUND:
                return attempt_fail(a, -ENOENT, false, "no such file on the server");
        case CURLE_REMOTE_ACCESS_DENIED:
        case CURLE_TFTP_PERM:
                return attempt_fail(a, -EACCES, false, "access denied");
        case CURLE_LOGIN_DENIED:
                return attempt_fail(a, -EACCES, false, "login denied");
        case CURLE_FILESIZE_EXCEEDED:
                return attempt_fail(a, -EFBIG, false, "larger than %u KiB", ANSWERFILE_SIZE_MAX / 1024);
        case CURLE_WRITE_ERROR:
                if (b->too_big)
                        return attempt_fail(a, -EFBIG, false, "larger than %u KiB", ANSWERFILE_SIZE_MAX / 1024);
                return attempt_fail(a, -ENOMEM, false, "out of memory");
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                return attempt_fail(a, -EKEYREJECTED, false, "TLS certificate not accepted: %s", detail);
        case CURLE_UNSUPPORTED_PROTOCOL:
                return attempt_fail(a, -EPROTONOSUPPORT, false, "%s", detail);
        case CURLE_URL_MALFORMAT:
                return attempt_fail(a, -EINVAL, false, "malformed URL");
        case CURLE_TOO_MANY_REDIRECTS:
                return attempt_fail(a, -ELOOP, false, "too many redirects");
        case CURLE_OUT_OF_MEMORY:
                return attempt_fail(a, -ENOMEM, false, "out of memory");
        default:
                return attempt_fail(a, -EIO, false, "%s", detail);
        }
}

#define SETOPT(c, opt, val)                                     \
        do {                                                    \
                if (curl_easy_setopt((c), (opt), (val)) != CURLE_OK) \
                        return attempt_fail(a, -EIO, false, "libcurl does not support " #opt); \
        } while (0)

static int fetch_curl(const char *url, const struct fetch_options *o, struct buf *b, struct attempt *a) {
        _cleanup_(curl_easy_cleanupp) CURL *c = NULL;
        _cleanup_free_ char *userinfo = url_userinfo(url), *query = url_query(url);
        char errbuf[CURL_ERROR_SIZE] = "";
        bool http = strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
        CURLcode cc;

        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return attempt_fail(a, -EIO, false, "cannot initialise libcurl: %s",
                                    curl_easy_strerror(curl_init_result));
        c = curl_easy_init();
        if (!c)
                return attempt_fail(a, -ENOMEM, false, "cannot initialise libcurl");

        SETOPT(c, CURLOPT_URL, url);
        SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
        SETOPT(c, CURLOPT_NOSIGNAL, 1L);
        /* A redirect must not turn a network location into file:// or some
         * other scheme this installer never meant to speak, nor https into
         * plain http. */
        SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https,ftp,tftp");
        SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https");
        SETOPT(c, CURLOPT_FOLLOWLOCATION, 1L);
        SETOPT(c, CURLOPT_MAXREDIRS, 10L);
        SETOPT(c, CURLOPT_TIMEOUT_MS, (long) o->attempt_timeout_ms);
        SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long) o->attempt_timeout_ms);
        SETOPT(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) ANSWERFILE_SIZE_MAX);
        SETOPT(c, CURLOPT_WRITEFUNCTION, curl_write);
        SETOPT(c, CURLOPT_WRITEDATA, b);
        SETOPT(c, CURLOPT_USERAGENT, "xenhost-install");
        if (!o->tls_verify) {
                SETOPT(c, CURLOPT_SSL_VERIFYPEER, 0L);
                SETOPT(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }

        cc = curl_easy_perform(c);
        if (cc != CURLE_OK)
                return describe_curl_error(c, cc, errbuf, userinfo, query, b, a);
        if (http) {
                long status = 0;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                /* A 3xx here is a redirect that could not be followed. */
                if (status >= 300)
                        return describe_http_status(status, a);
        }
        return 0;
}

/* ---- NFS: nfs://server/export/dir/file, mounted read-only ---- */

static int nfs_split(const char *url, char **ret_source, char **ret_file) {
        const char *host = url + strlen("nfs://");
        const char *at = memrchr(host, '@', strcspn(host, "/"));
        if (at)
                host = at + 1; /* NFS takes no credentials in the URL */
        const char *slash = strchr(host, '/');
        if (!slash)
                return -EINVAL;
        size_t host_len = (size_t) (slash - host);
        /* XenServer writes nfs://server:/export/file; accept both spellings. */
        if (host_len > 0 && host[host_len - 1] == ':')
                host_len--;
        const char *base = strrchr(slash, '/') + 1;
        if (host_len == 0 || !base[0])
                return -EINVAL;
        size_t dir_len = (size_t) (base - 1 - slash);
        char *source, *file;
        if (asprintf(&source, "%.*s:%.*s", (int) host_len, host, (int) (dir_len ?: 1), slash) < 0)
                return -ENOMEM;
        file = strdup(base);
        if (!file) {
                free(source);
                return -ENOMEM;
        }
        *ret_source = source;
        *ret_file = file;
        return 0;
}

static int fetch_nfs(const char *url, const struct fetch_options *o _unused_, struct buf *b, struct attempt *a) {
        _cleanup_free_ char *source = NULL, *file = NULL, *dir = NULL, *path = NULL;
        int r;

        r = nfs_split(url, &source, &file);
        if (r == -ENOMEM)
                return attempt_fail(a, r, false, "out of memory");
        if (r < 0)
                return attempt_fail(a, r, false, "not nfs://SERVER/PATH/FILE");
        if (asprintf(&dir, "%s/xenhost-nfs.XXXXXX", tmp_dir()) < 0)
                return attempt_fail(a, -ENOMEM, false, "out of memory");
        if (!mkdtemp(dir))
                return attempt_fail(a, negative_errno(), false, "cannot create a mount point: %s", strerror(errno));

        /* retry=0: mount.nfs would otherwise keep trying for two minutes on
         * its own; the retry loop here already waits for the network. */
        const char *mount_argv[] = {"mount", "-t", "nfs", "-o", "ro,nolock,retry=0", source, dir, NULL};
        r = spawn_run(mount_argv, NULL);
        if (r < 0) {
                bool missing = r == -ENOENT;
                attempt_fail(a, missing ? -EOPNOTSUPP : -EIO, !missing, "cannot mount %s: %s", source,
                             spawn_last_error());
                rmdir(dir);
                return a->error;
        }

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                r = attempt_fail(a, -ENOMEM, false, "out of memory");
        else {
                r = read_bounded(path, b, a);
                if (r == -ENOENT)
                        attempt_fail(a, r, false, "no such file in %s", source);
        }

        const char *umount_argv[] = {"umount", dir, NULL};
        int k = spawn_run(umount_argv, NULL);
        if (k < 0)
                /* Leave the mount point alone: removing it would fail, and the
                 * answer file was read (or not) either way. */
                log_debug_errno(k, "Cannot unmount %s: %s", dir, spawn_last_error());
        else if (rmdir(dir) < 0)
                log_debug_errno(negative_errno(), "Cannot remove %s: %m", dir);
        return r;
}

/* ---- the retry loop ---- */

#define FETCH_ATTEMPT_TIMEOUT_MIN_MS 2000

typedef int (*fetch_fn)(const char *location, const struct fetch_options *o, struct buf *b, struct attempt *a);

static fetch_fn pick_method(const char *location) {
        static const struct {
                const char *prefix;
                fetch_fn fn;
        } table[] = {
                {"http://", fetch_curl}, {"https://", fetch_curl}, {"ftp://", fetch_curl},
                {"tftp://", fetch_curl}, {"nfs://", fetch_nfs},    {"file://", fetch_file_url},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strncasecmp(location, table[i].prefix, strlen(table[i].prefix)) == 0)
                        return table[i].fn;
        return NULL;
}

int answerfile_fetch(const char *location, const struct fetch_options *o, char **ret_text, size_t *ret_len,
                     char **ret_reason) {
        struct fetch_options defaults = FETCH_OPTIONS_DEFAULT;
        _cleanup_free_ char *shown = NULL;
        fetch_fn fn;
        int r;

        assert(ret_text);
        if (!o)
                o = &defaults;
        if (!location || !location[0]) {
                reason_set(ret_reason, "no answer file location given");
                return -EINVAL;
        }
        r = url_redact(location, &shown);
        if (r < 0)
                return r;

        if (location[0] == '/')
                fn = fetch_plain_path;
        else if (!(fn = pick_method(location))) {
                if (strstr(location, "://")) {
                        reason_set(ret_reason, "cannot fetch %s: unsupported scheme (use http, https, ftp, tftp, "
                                               "nfs or file)", shown);
                        return -EPROTONOSUPPORT;
                }
                reason_set(ret_reason, "cannot fetch %s: neither a URL nor an absolute path", shown);
                return -EINVAL;
        }
        if (!o->tls_verify && strncasecmp(location, "https://", 8) == 0)
                /* A downgrade of security is never silent, whoever asked for it. */
                log_warning("TLS certificate verification is off for %s", shown);

        uint64_t deadline = now_ms() + o->retry_total_ms;
        uint64_t wait = o->backoff_initial_ms ?: 1;
        struct attempt a = {};
        unsigned n;
        for (n = 1;; n++) {
                struct fetch_options attempt_options = *o;
                struct buf b = {};

                /* Keep a silent server (TFTP over UDP never says no) from
                 * stretching the caller's total far beyond what it set. */
                uint64_t left = deadline > now_ms() ? deadline - now_ms() : 0;
                if (left < FETCH_ATTEMPT_TIMEOUT_MIN_MS)
                        left = FETCH_ATTEMPT_TIMEOUT_MIN_MS;
                if (attempt_options.attempt_timeout_ms == 0 || attempt_options.attempt_timeout_ms > left)
                        attempt_options.attempt_timeout_ms = (unsigned) left;

                log_debug("Fetching %s (attempt %u)", shown, n);
                a = (struct attempt) {};
                r = fn(location, &attempt_options, &b, &a);
                if (r >= 0) {
                        r = buf_take(&b, ret_text, ret_len);
                        free(b.data);
                        if (r < 0)
                                return r;
                        log_debug("Fetched %s: %zu bytes", shown, b.len);
                        return 0;
                }
                free(b.data);
                log_debug("Fetching %s failed: %s", shown, a.what);

                if (!a.transient || (o->max_attempts > 0 && n >= o->max_attempts))
                        break;
                uint64_t now = now_ms();
                if (now >= deadline)
                        break;
                uint64_t w = wait < deadline - now ? wait : deadline - now;
                log_debug("Retrying %s in %" PRIu64 " ms", shown, w);
                sleep_ms(w);
                wait *= 2;
                if (o->backoff_max_ms > 0 && wait > o->backoff_max_ms)
                        wait = o->backoff_max_ms;
        }

        if (n > 1)
                reason_set(ret_reason, "cannot fetch %s: %s after %u attempts", shown, a.what, n);
        else
                reason_set(ret_reason, "cannot fetch %s: %s", shown, a.what);
        return a.error < 0 ? a.error : -EIO;
}

/* ---- answerfile_generator= ---- */

int answerfile_generate(const char *location, const struct fetch_options *o, char **ret_text, size_t *ret_len,
                        char **ret_reason) {
        _cleanup_free_ char *script = NULL, *dir = NULL, *path = NULL, *out = NULL, *shown = NULL;
        size_t script_len = 0;
        int r;

        struct fetch_options defaults = FETCH_OPTIONS_DEFAULT;
        assert(ret_text);
        if (!o)
                o = &defaults;
        unsigned timeout_ms = o->generator_timeout_ms ?: GENERATOR_TIMEOUT_MS_DEFAULT;
        r = answerfile_fetch(location, o, &script, &script_len, ret_reason);
        if (r < 0)
                return r;
        r = url_redact(location, &shown);
        if (r < 0)
                return r;

        /* The script may come from a read-only, noexec or untrusted place;
         * run a private copy that nobody else can swap under us. */
        if (asprintf(&dir, "%s/xenhost-generator.XXXXXX", tmp_dir()) < 0)
                return -ENOMEM;
        if (!mkdtemp(dir)) {
                r = negative_errno();
                reason_set(ret_reason, "cannot run answer file generator %s: cannot create a directory in %s: %s",
                           shown, tmp_dir(), strerror(-r));
                return r;
        }
        if (asprintf(&path, "%s/answerfile-generator", dir) < 0) {
                rmdir(dir);
                return -ENOMEM;
        }

        r = write_file_atomic(path, script, script_len, 0700);
        if (r < 0)
                reason_set(ret_reason, "cannot run answer file generator %s: cannot write %s: %s", shown, path,
                           strerror(-r));
        else {
                const char *argv[] = {path, NULL};
                /* It prints the answer file and ends; one that goes on and
                 * on is stopped, with whatever it started. */
                r = spawn_run_limited(argv, ANSWERFILE_SIZE_MAX, timeout_ms, &out);
                if (r == -ETIME)
                        reason_set(ret_reason, "answer file generator %s did not finish within %u s: stopped", shown,
                                   (timeout_ms + 999) / 1000);
                else if (r == -EFBIG)
                        reason_set(ret_reason, "answer file generator %s printed more than %u KiB: stopped", shown,
                                   ANSWERFILE_SIZE_MAX / 1024);
                else if (r < 0) {
                        /* Its last stderr line: one line, of a sane length. */
                        char why[200 * 4 + 4];
                        reason_set(ret_reason, "answer file generator %s failed: %s", shown,
                                   format_value(why, sizeof why, spawn_last_error(), 200));
                }
        }
        if (unlink(path) < 0 && errno != ENOENT)
                log_debug_errno(negative_errno(), "Cannot remove %s: %m", path);
        if (rmdir(dir) < 0)
                log_debug_errno(negative_errno(), "Cannot remove %s: %m", dir);
        if (r < 0)
                return r;

        /* An answer file holds no NUL: what follows one is not looked at. */
        size_t len = out ? strlen(out) : 0;
        if (!out) {
                out = strdup("");
                if (!out)
                        return -ENOMEM;
        }
        log_debug("Answer file generator %s printed %zu bytes", shown, len);
        if (ret_len)
                *ret_len = len;
        *ret_text = TAKE_PTR(out);
        return 0;
}

/* ---- the kernel command line ---- */

/* One argument, split and unquoted as lib/cmdline.c's next_arg() does:
 * quotes group words anywhere, a leading quote on the whole argument or
 * on the value is dropped together with a closing one at the end. */
static char *next_arg(char *args, char **param, char **val) {
        size_t i, equals = 0;
        bool in_quote = false, quoted = false;

        if (*args == '"') {
                args++;
                in_quote = quoted = true;
        }
        for (i = 0; args[i]; i++) {
                if (isspace((unsigned char) args[i]) && !in_quote)
                        break;
                if (equals == 0 && args[i] == '=')
                        equals = i;
                if (args[i] == '"')
                        in_quote = !in_quote;
        }

        *param = args;
        if (!equals)
                *val = NULL;
        else {
                args[equals] = 0;
                *val = args + equals + 1;
                if (**val == '"') {
                        (*val)++;
                        if (args[i - 1] == '"')
                                args[i - 1] = 0;
                }
        }
        if (quoted && i > 0 && args[i - 1] == '"')
                args[i - 1] = 0;

        if (args[i]) {
                args[i] = 0;
                args += i + 1;
        } else
                args += i;
        while (isspace((unsigned char) *args))
                args++;
        return args;
}

static bool param_eq(const char *a, const char *b) {
        for (; *a && *b; a++, b++) {
                char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
                if (x != y)
                        return false;
        }
        return *a == *b;
}

int kernel_cmdline_get(const char *cmdline, const char *key, char **ret) {
        _cleanup_free_ char *copy = strdup(cmdline);
        const char *found = NULL;
        char *p, *param, *val;

        assert(key);
        if (!copy)
                return -ENOMEM;
        p = copy;
        while (isspace((unsigned char) *p))
                p++;
        while (*p) {
                p = next_arg(p, &param, &val);
                if (param_eq(param, key))
                        found = val ?: "";
        }
        if (!found) {
                *ret = NULL;
                return 0;
        }
        char *v = strdup(found);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 1;
}

int kernel_cmdline_read(char **ret) {
        char *s;
        size_t len;
        int r;

        r = read_full_file("/proc/cmdline", &s, &len);
        if (r < 0)
                return r;
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
                s[--len] = 0;
        *ret = s;
        return 0;
}

int answerfile_location_from_cmdline(const char *cmdline, char **ret_location, bool *ret_generator) {
        _cleanup_free_ char *proc = NULL, *file = NULL, *generator = NULL;
        int r;

        if (!cmdline) {
                r = kernel_cmdline_read(&proc);
                if (r < 0)
                        return r;
                cmdline = proc;
        }
        r = kernel_cmdline_get(cmdline, "answerfile", &file);
        if (r < 0)
                return r;
        r = kernel_cmdline_get(cmdline, "answerfile_generator", &generator);
        if (r < 0)
                return r;
        if (file && generator)
                return -EINVAL; /* which one the operator meant is anybody's guess */
        if (!file && !generator) {
                *ret_location = NULL;
                if (ret_generator)
                        *ret_generator = false;
                return 0;
        }
        if (!(file ?: generator)[0])
                return -EINVAL;
        if (ret_generator)
                *ret_generator = !!generator;
        *ret_location = file ? TAKE_PTR(file) : TAKE_PTR(generator);
        return 1;
}

/* ---- options ---- */

static int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false", "off"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* SECONDS from the environment variable NAME into *MS, when it is set. */
static int env_seconds(const char *name, unsigned min_seconds, unsigned *ms) {
        const char *s = getenv(name);
        if (!s || !s[0])
                return 0;
        char *end;
        errno = 0;
        unsigned long seconds = strtoul(s, &end, 10);
        if (errno || *end || !isdigit((unsigned char) s[0]) || seconds < min_seconds || seconds > 24 * 3600)
                return -EINVAL;
        *ms = (unsigned) seconds * 1000;
        return 0;
}

int fetch_options_from_environment(struct fetch_options *o) {
        unsigned total_ms = o->retry_total_ms, generator_ms = o->generator_timeout_ms;
        bool verify = o->tls_verify;
        const char *s;

        if (env_seconds("XENHOST_FETCH_TIMEOUT", 0, &total_ms) < 0)
                return -EINVAL;
        /* A generator is always time-limited: 0 is not "no limit". */
        if (env_seconds("XENHOST_GENERATOR_TIMEOUT", 1, &generator_ms) < 0)
                return -EINVAL;
        s = getenv("XENHOST_FETCH_TLS_VERIFY");
        if (s && s[0] && parse_bool(s, &verify) < 0)
                return -EINVAL;
        o->retry_total_ms = total_ms;
        o->generator_timeout_ms = generator_ms;
        o->tls_verify = verify;
        return 0;
}
