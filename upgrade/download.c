/* Fetching a manifest and its image over http(s) (libcurl), bounded: an
 * image is never longer than its manifest's IMAGE_SIZE, a manifest is a few
 * hundred bytes. Retries transient failures a few times. */
#include "upgrade-internal.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "log.h"

struct sink {
        FILE *f;
        uint64_t got, max;
        bool too_big;
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
        if (fwrite(p, 1, len, s->f) != len)
                return 0;
        if (s->sha)
                EVP_DigestUpdate(s->sha, p, len);
        s->got += len;
        if (s->progress && (s->got - s->last_report >= 8 * MiB)) {
                s->last_report = s->got;
                s->progress(s->got, s->max, s->userdata);
        }
        return len;
}

int download_file(const char *url, const char *path, uint64_t max, void (*progress)(uint64_t, uint64_t, void *),
                  void *userdata, char ret_sha256[65], uint64_t *ret_size, char **ret_reason) {
        _cleanup_free_ char *shown = NULL;
        char err[CURL_ERROR_SIZE] = "";
        long code = 0;
        CURLcode c = CURLE_OK;
        int r = -EIO;

        /* Messages never show credentials or query values. */
        if (url_redact(url, &shown) < 0)
                return -ENOMEM;
        for (unsigned attempt = 1; attempt <= 3; attempt++) {
                struct sink s = {.max = max, .progress = progress, .userdata = userdata};
                CURL *h = curl_easy_init();
                if (!h)
                        return -ENOMEM;
                if (ret_sha256 && (!(s.sha = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL))) {
                        EVP_MD_CTX_free(s.sha);
                        curl_easy_cleanup(h);
                        return -ENOMEM;
                }
                s.f = fopen(path, "we");
                if (!s.f) {
                        curl_easy_cleanup(h);
                        return reason_set(ret_reason, "cannot create %s: %m", path), negative_errno();
                }
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
                err[0] = 0;
                c = curl_easy_perform(h);
                code = 0;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
                curl_easy_cleanup(h);
                bool write_ok = fflush(s.f) == 0 && fsync(fileno(s.f)) == 0;
                fclose(s.f);
                if (s.sha) {
                        unsigned char md[EVP_MAX_MD_SIZE];
                        unsigned mdlen = 0;
                        EVP_DigestFinal_ex(s.sha, md, &mdlen);
                        EVP_MD_CTX_free(s.sha);
                        for (unsigned i = 0; i < mdlen && i < 32; i++)
                                sprintf(ret_sha256 + 2 * i, "%02x", md[i]);
                }
                if (ret_size)
                        *ret_size = s.got;
                if (s.too_big)
                        return reason_set(ret_reason, "%s is larger than the %" PRIu64 " bytes expected", shown, max),
                               -EFBIG;
                if (c == CURLE_OK && code >= 200 && code < 300 && write_ok) {
                        if (progress)
                                progress(s.got, s.got, userdata);
                        return 0;
                }
                if (c == CURLE_OK && code >= 400 && code < 500) {
                        r = code == 404 ? -ENOENT : -EACCES;
                        return reason_set(ret_reason, "cannot fetch %s: HTTP %ld", shown, code), r;
                }
                if (!write_ok) {
                        return reason_set(ret_reason, "cannot write %s: %m", path), -EIO;
                }
                log_debug("fetching %s, attempt %u: %s", shown, attempt, c != CURLE_OK ? curl_easy_strerror(c) : "HTTP error");
                if (attempt < 3)
                        sleep(attempt * 2);
        }
        if (c != CURLE_OK)
                return reason_set(ret_reason, "cannot fetch %s: %s", shown, err[0] ? err : curl_easy_strerror(c)), r;
        return reason_set(ret_reason, "cannot fetch %s: HTTP %ld", shown, code), r;
}
