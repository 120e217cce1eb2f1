/* Downloading over http(s) (libcurl), bounded, with retries and resume:
 * the host image of an upgrade or of a network install, its manifest, a
 * pack. Shared by the upgrader and the installer. */
#pragma once

#include <stdint.h>

/* How many times a transfer is tried before it is given up. */
#define DOWNLOAD_ATTEMPTS 5

/* Fetches URL into the file PATH, at most MAX bytes (more is an error:
 * -EFBIG), with the SHA-256 (64 hex digits) and size of what was received
 * when RET_SHA256 / RET_SIZE are given. A transfer that breaks (the
 * connection reset or refused, a timeout, a stall, HTTP 5xx) is tried
 * again, up to DOWNLOAD_ATTEMPTS times, 1, 2, 4 ... s apart; what arrived
 * is kept and the rest asked for with a Range request (the SHA-256 runs on
 * over the whole file); a server that answers a Range request with the
 * whole file is read again from the start. HTTP 4xx is final (404:
 * -ENOENT, else -EACCES). PROGRESS, when given, hears (received, MAX) every
 * 8 MiB and at the end. RET_REASON: one line, the URL without credentials
 * or query values. */
int download_file(const char *url, const char *path, uint64_t max, void (*progress)(uint64_t, uint64_t, void *),
                  void *userdata, char ret_sha256[65], uint64_t *ret_size, char **ret_reason);
