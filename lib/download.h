/* Downloading over http(s) (libcurl), bounded, with retries and resume:
 * the host image of an upgrade or of a network install, its manifest and
 * signature, a pack. Shared by the upgrader and the installer; a program
 * that uses it links libcurl and libcrypto. Also the memory-backed staging
 * directory (a tmpfs sized for the download) that a host image is
 * downloaded into where there is no disk to hold it. */
#pragma once

#include <stdint.h>

/* How many times a transfer is tried before it is given up. */
#define DOWNLOAD_ATTEMPTS 5

/* Hears (received, expected) as a download goes on. */
typedef void (*download_progress_fn)(uint64_t done, uint64_t total, void *userdata);

/* Fetches URL into the file PATH, at most MAX bytes (more is an error:
 * -EFBIG), with the SHA-256 (64 hex digits) and size of what was received
 * when RET_SHA256 / RET_SIZE are given. A transfer that breaks (the
 * connection reset or refused, a timeout, a stall, HTTP 5xx) is tried
 * again, up to DOWNLOAD_ATTEMPTS times, 1, 2, 4 ... s apart; what arrived
 * is kept and the rest asked for with a Range request (the SHA-256 runs on
 * over the whole file); a server that answers a Range request with the
 * whole file is read again from the start. HTTP 4xx is final (404:
 * -ENOENT, else -EACCES), and so are a malformed URL, a scheme other than
 * http(s) and a TLS peer that does not verify. PROGRESS, when given, hears
 * (received, MAX) every 8 MiB and at the end. RET_REASON: one line, the URL
 * without credentials or query values. */
int download_file(const char *url, const char *path, uint64_t max, download_progress_fn progress, void *userdata,
                  char ret_sha256[65], uint64_t *ret_size, char **ret_reason);

/* URL into PATH (at most MAX bytes, as download_file()), then its detached
 * OpenPGP signature URL.asc into PATH.asc when the server has one. Without
 * one PATH.asc does not exist afterwards: whether a signature is required
 * is the verifier's to say, with its keyring. */
int download_signed_file(const char *url, const char *path, uint64_t max, char **ret_reason);

/* The URL of the file NAME in the directory of the file at URL (the host
 * image beside its manifest): "http://h/x/a.manifest", "a.img" ->
 * "http://h/x/a.img". -EINVAL when URL has no path. */
int download_sibling_url(const char *url, const char *name, char **ret);

/* Memory a download held in memory may take: MemAvailable plus SwapFree
 * (0 when unknown). XENHOST_TEST_MEMORY_AVAILABLE=BYTES stands in for it
 * in tests. */
uint64_t download_memory_available(void);

/* Mounts a tmpfs on DIR (made 0700 when missing; one a killed run left
 * there is replaced) with room for BYTES, after checking that the memory
 * available keeps RESERVE bytes free beside it. Short of memory: -ENOMEM
 * and the one line "not enough memory to hold the SIZE WHAT (AVAIL
 * available)", followed by ": HINT" when HINT is given. */
int download_stage_mount(const char *dir, uint64_t bytes, uint64_t reserve, const char *what, const char *hint,
                         char **ret_reason);

/* Unmounts the tmpfs of download_stage_mount() (lazily when busy) and
 * removes DIR. NULL, and a DIR that is not mounted, are fine. */
void download_stage_unmount(const char *dir);
