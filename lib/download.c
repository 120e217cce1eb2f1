/* Fetching over http(s) (libcurl), bounded: an image is never longer than
 * its manifest's IMAGE_SIZE, a manifest is a few hundred bytes. A broken
 * transfer is resumed where it stopped; a host image without a disk to
 * hold it goes into a tmpfs sized for it (download.h). */
#include "download.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"

struct sink {
        FILE *f;
        uint64_t got, max;
        bool too_big, write_failed;
        download_progress_fn progress;
        void *userdata;
        uint64_t last_report;
        EVP_MD_CTX *sha;      /* the SHA-256 of what was received, as it is written */
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        struct sink *s = userdata;
        size_t len = size * n;
        if (s->got + len > s->max) {
                s->too_big = true;
                return 0;
        }
        if (fwrite(p, 1, len, s->f) != len) {
                s->write_failed = true;
                return 0;
        }
        if (s->sha)
                EVP_DigestUpdate(s->sha, p, len);
        s->got += len;
        if (s->progress && (s->got - s->last_report >= 8 * MiB)) {
                s->last_report = s->got;
                s->progress(s->got, s->max, s->userdata);
        }
        return len;
}

static void md_ctx_freep(EVP_MD_CTX **c) {
        if (*c)
                EVP_MD_CTX_free(*c);
}

/* Back to an empty file and a fresh digest: the server sends it all again. */
static int sink_restart(struct sink *s) {
        if (fflush(s->f) != 0 || ftruncate(fileno(s->f), 0) < 0 || fseeko(s->f, 0, SEEK_SET) < 0)
                return -errno;
        s->got = s->last_report = 0;
        if (s->sha && !EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL))
                return -ENOMEM;
        return 0;
}

/* Errors that another attempt cannot mend. */
static bool curl_error_is_final(CURLcode c) {
        switch (c) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_TOO_MANY_REDIRECTS:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_LOGIN_DENIED:
                return true;
        default:
                return false;
        }
}

static int curl_error_to_errno(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

int download_file(const char *url, const char *path, uint64_t max, download_progress_fn progress, void *userdata,
                  char ret_sha256[65], uint64_t *ret_size, char **ret_reason) {
        _cleanup_free_ char *shown = NULL;
        _cleanup_(md_ctx_freep) EVP_MD_CTX *sha = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char err[CURL_ERROR_SIZE] = "";
        long code = 0;
        CURLcode c = CURLE_OK;
        int r = -EIO;

        /* Messages never show credentials or query values. */
        if (url_redact(url, &shown) < 0)
                return -ENOMEM;
        if (ret_sha256 && (!(sha = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)))
                return -ENOMEM;
        f = fopen(path, "we");
        if (!f)
                return r = negative_errno(), reason_set(ret_reason, "cannot create %s: %s", path, strerror(-r)), r;
        struct sink s = {.f = f, .max = max, .progress = progress, .userdata = userdata, .sha = sha};
        unsigned wait = 1;
        for (unsigned attempt = 1; attempt <= DOWNLOAD_ATTEMPTS; attempt++) {
                CURL *h = curl_easy_init();
                if (!h)
                        return -ENOMEM;
                s.too_big = s.write_failed = false;
                uint64_t resumed_at = s.got;
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
                curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
                curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
                curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
                curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
                /* A stalled transfer (under 1 KiB/s for a minute) is given up. */
                curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
                curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
                curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
                curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
                /* The rest of what a broken transfer left. */
                if (resumed_at > 0)
                        curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) resumed_at);
                err[0] = 0;
                c = curl_easy_perform(h);
                code = 0;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
                curl_easy_cleanup(h);
                if (s.too_big)
                        return reason_set(ret_reason, "%s is larger than the %" PRIu64 " bytes expected", shown, max),
                               -EFBIG;
                if (s.write_failed || fflush(f) != 0)
                        return r = errno > 0 ? -errno : -EIO,
                               reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
                if (c == CURLE_OK && code >= 200 && code < 300) {
                        if (fsync(fileno(f)) < 0)
                                return r = -errno, reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
                        if (sha) {
                                unsigned char md[EVP_MAX_MD_SIZE];
                                unsigned mdlen = 0;
                                EVP_DigestFinal_ex(sha, md, &mdlen);
                                for (unsigned i = 0; i < mdlen && i < 32; i++)
                                        sprintf(ret_sha256 + 2 * i, "%02x", md[i]);
                        }
                        if (ret_size)
                                *ret_size = s.got;
                        if (resumed_at > 0)
                                log_debug("%s: resumed at byte %" PRIu64, shown, resumed_at);
                        if (progress)
                                progress(s.got, s.got, userdata);
                        return 0;
                }
                /* A server that cannot send a part (200 to a Range request:
                 * libcurl stops before the body) sends it all again. */
                if (resumed_at > 0 && (c == CURLE_RANGE_ERROR || code == 416 || (c == CURLE_OK && code == 200))) {
                        log_debug("%s: the server does not resume at byte %" PRIu64 ": from the start", shown, resumed_at);
                        if ((r = sink_restart(&s)) < 0)
                                return reason_set(ret_reason, "cannot write %s: %s", path, strerror(-r)), r;
                        continue;
                }
                if (c == CURLE_OK && code >= 400 && code < 500) {
                        r = code == 404 ? -ENOENT : -EACCES;
                        return reason_set(ret_reason, "cannot fetch %s: HTTP %ld", shown, code), r;
                }
                if (curl_error_is_final(c))
                        return reason_set(ret_reason, "cannot fetch %s: %s", shown, err[0] ? err : curl_easy_strerror(c)),
                               -EINVAL;
                log_debug("fetching %s, attempt %u (%" PRIu64 " bytes so far): %s", shown, attempt, s.got,
                          c != CURLE_OK ? (err[0] ? err : curl_easy_strerror(c)) : "HTTP error");
                if (attempt < DOWNLOAD_ATTEMPTS) {
                        sleep(wait);
                        wait *= 2;
                }
        }
        if (c != CURLE_OK)
                return reason_set(ret_reason, "cannot fetch %s after %u attempts: %s", shown, DOWNLOAD_ATTEMPTS,
                                  err[0] ? err : curl_easy_strerror(c)),
                       curl_error_to_errno(c);
        return reason_set(ret_reason, "cannot fetch %s after %u attempts: HTTP %ld", shown, DOWNLOAD_ATTEMPTS, code), -EIO;
}

int download_signed_file(const char *url, const char *path, uint64_t max, char **ret_reason) {
        _cleanup_free_ char *sig_url = NULL, *sig = NULL, *ignored = NULL;
        int r;
        if (asprintf(&sig_url, "%s.asc", url) < 0 || asprintf(&sig, "%s.asc", path) < 0)
                return -ENOMEM;
        (void) unlink(sig); /* one of an earlier run must not pass for this file's */
        if ((r = download_file(url, path, max, NULL, NULL, NULL, NULL, ret_reason)) < 0)
                return r;
        /* A signature when there is one; the verifier decides whether one
         * is needed. */
        if ((r = download_file(sig_url, sig, max, NULL, NULL, NULL, NULL, &ignored)) < 0) {
                log_debug("no signature beside the manifest: %s", ignored ?: strerror(-r));
                (void) unlink(sig);
        }
        return 0;
}

int download_sibling_url(const char *url, const char *name, char **ret) {
        const char *host = strstr(url, "://");
        if (!host)
                return -EINVAL;
        host += 3;
        size_t end = strcspn(host, "?#");
        const char *slash = memrchr(host, '/', end);
        if (!slash)
                return -EINVAL;
        char *s = NULL;
        if (asprintf(&s, "%.*s%s", (int) (slash + 1 - url), url, name) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

uint64_t download_memory_available(void) {
        _cleanup_free_ char *text = NULL;
        uint64_t avail = 0, swap = 0;
        const char *t = getenv("XENHOST_TEST_MEMORY_AVAILABLE");
        if (t && *t)
                return strtoull(t, NULL, 10);
        if (read_full_file("/proc/meminfo", &text, NULL) < 0)
                return 0;
        const char *p = strstr(text, "MemAvailable:"), *q = strstr(text, "SwapFree:");
        if (p)
                avail = strtoull(p + strlen("MemAvailable:"), NULL, 10) * KiB;
        if (q)
                swap = strtoull(q + strlen("SwapFree:"), NULL, 10) * KiB;
        return avail + swap;
}

int download_stage_mount(const char *dir, uint64_t bytes, uint64_t reserve, const char *what, const char *hint,
                         char **ret_reason) {
        _cleanup_free_ char *opts = NULL;
        uint64_t need = bytes + 4 * MiB, avail = download_memory_available();
        char b1[32], b2[32];
        int r;
        if (avail < need + reserve)
                return reason_set(ret_reason, "not enough memory to hold the %s %s (%s available)%s%s",
                                  format_iec(b1, sizeof b1, bytes), what, format_iec(b2, sizeof b2, avail),
                                  hint ? ": " : "", hint ?: ""),
                       -ENOMEM;
        if (asprintf(&opts, "size=%" PRIu64 ",mode=0700", need) < 0)
                return -ENOMEM;
        if ((r = mkdir_all(dir, 0700)) < 0)
                return reason_set(ret_reason, "cannot make %s: %s", dir, strerror(-r)), r;
        (void) umount2(dir, MNT_DETACH); /* one left by a killed run */
        if (mount("xenhost-download", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
                r = -errno;
                (void) rmdir(dir);
                return reason_set(ret_reason, "cannot mount a tmpfs on %s: %s", dir, strerror(-r)), r;
        }
        log_debug("%s: a tmpfs of %" PRIu64 " bytes for the %s", dir, need, what);
        return 0;
}

void download_stage_unmount(const char *dir) {
        if (!dir)
                return;
        if (umount2(dir, 0) < 0 && errno != EINVAL)
                (void) umount2(dir, MNT_DETACH);
        (void) rmdir(dir);
}
