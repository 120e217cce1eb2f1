/* Fetching over http(s) (libcurl), bounded: an image is never longer than
 * its manifest's IMAGE_SIZE, a manifest is a few hundred bytes. A broken
 * transfer is resumed where it stopped (download.h). */
#include "download.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "log.h"
#include "macro.h"

struct sink {
        FILE *f;
        uint64_t got, max;
        bool too_big, write_failed;
        void (*progress)(uint64_t, uint64_t, void *);
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

int download_file(const char *url, const char *path, uint64_t max, void (*progress)(uint64_t, uint64_t, void *),
                  void *userdata, char ret_sha256[65], uint64_t *ret_size, char **ret_reason) {
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
                /* A server that cannot send a part sends it all again. */
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
                log_debug("fetching %s, attempt %u (%" PRIu64 " bytes so far): %s", shown, attempt, s.got,
                          c != CURLE_OK ? (err[0] ? err : curl_easy_strerror(c)) : "HTTP error");
                if (attempt < DOWNLOAD_ATTEMPTS) {
                        sleep(wait);
                        wait *= 2;
                }
        }
        if (c != CURLE_OK)
                return reason_set(ret_reason, "cannot fetch %s after %u attempts: %s", shown, DOWNLOAD_ATTEMPTS,
                                  err[0] ? err : curl_easy_strerror(c)), r;
        return reason_set(ret_reason, "cannot fetch %s after %u attempts: HTTP %ld", shown, DOWNLOAD_ATTEMPTS, code), r;
}
