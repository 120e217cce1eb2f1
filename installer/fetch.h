/* Fetching the answer file (DESIGN.md section 5): the location comes from
 * answerfile= or answerfile_generator= on the kernel command line and may be
 * http://, https://, ftp://, tftp:// (libcurl), nfs://server/path/file (a
 * read-only mount), file://PATH, or an absolute path looked up on the install
 * media first and on the root file system second. At boot the network may
 * still be coming up, so failures that can go away are retried with
 * exponential backoff within a total time the caller sets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Answer files (and generator scripts) larger than this are refused: a real
 * one is a few KiB, anything this big is the wrong file. */
#define ANSWERFILE_SIZE_MAX (1024 * 1024)

/* How long an answer file generator may run: it prints a few KiB and ends. */
#define GENERATOR_TIMEOUT_MS_DEFAULT 60000

/* Where the installer's initrd mounts the install media. */
#define FETCH_MEDIA_ROOT_DEFAULT "/run/install/media"

struct fetch_options {
        const char *media_root;       /* plain paths are looked up here first; NULL: root fs only */
        unsigned max_attempts;        /* 0: as many as fit into retry_total_ms */
        unsigned retry_total_ms;      /* give up once this much time has passed; 0: one attempt */
        unsigned backoff_initial_ms;  /* first wait between attempts, doubled each time */
        unsigned backoff_max_ms;      /* no single wait is longer than this; 0: no cap */
        unsigned attempt_timeout_ms;  /* one transfer; cut to what is left of retry_total_ms (but
                                       * never below 2 s) so the total holds */
        bool tls_verify;              /* verify the server's certificate and name (https, ftps) */
        unsigned generator_timeout_ms; /* answerfile_generate(): the script is stopped after this
                                       * long; 0: GENERATOR_TIMEOUT_MS_DEFAULT */
};

/* Boot-time defaults: retries for about a minute, 1 s, 2 s, 4 s ... apart,
 * 30 s per attempt, certificates verified, a generator stopped after 60 s. */
#define FETCH_OPTIONS_DEFAULT                                  \
        ((struct fetch_options){                               \
                .media_root = FETCH_MEDIA_ROOT_DEFAULT,        \
                .retry_total_ms = 60000,                       \
                .backoff_initial_ms = 1000,                    \
                .backoff_max_ms = 16000,                       \
                .attempt_timeout_ms = 30000,                   \
                .tls_verify = true,                            \
                .generator_timeout_ms = GENERATOR_TIMEOUT_MS_DEFAULT, \
        })

/* Overrides from the environment, for operators and tests:
 *   XENHOST_FETCH_TIMEOUT=SECONDS   total retry time (0: a single attempt)
 *   XENHOST_FETCH_TLS_VERIFY=0      do not verify TLS certificates
 *   XENHOST_GENERATOR_TIMEOUT=SECONDS  time limit of an answer file generator (1 or more)
 * Returns -EINVAL (and leaves O alone) when a value does not parse. */
int fetch_options_from_environment(struct fetch_options *o);

/* Fetches the answer file at LOCATION. O may be NULL for the defaults.
 * On success returns 0 with the content in RET_TEXT (NUL-terminated; the
 * answer file itself may hold no NUL) and its length in RET_LEN. On failure
 * returns -errno and, when RET_REASON is non-NULL, one printable line such as
 *   "cannot fetch http://host/a.xml: HTTP 404"
 *   "cannot fetch http://host/a.xml: connection refused after 5 attempts"
 * Credentials in LOCATION never appear in the reason or in the log. Errors:
 * -ENOENT (no such file), -EACCES, -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT,
 * -EFBIG (over ANSWERFILE_SIZE_MAX), -EBADFD (a FIFO, a device or a socket:
 * never opened for reading, never waited for), -EPROTONOSUPPORT (unknown scheme),
 * -EINVAL (malformed location, relative path), -EIO (other failures). */
int answerfile_fetch(const char *location, const struct fetch_options *o, char **ret_text, size_t *ret_len,
                     char **ret_reason);

/* Why an answer file (or the file naming one) could not be read, from the
 * -errno of read_full_file_bounded(path, ANSWERFILE_SIZE_MAX, ...), as the
 * end of a sentence: "not a regular file (a FIFO, a device or a socket)",
 * "larger than 1024 KiB", "is a directory", "no such file", strerror(). */
const char *answerfile_read_error(int error);

/* answerfile_generator=: fetches the script at LOCATION as above, runs it
 * from a private temporary directory (no arguments, stdin from /dev/null)
 * and returns what it prints on stdout. A script that exits non-zero fails
 * with -EPROTO and its last stderr line in the reason. The script runs in a
 * process group of its own, which is killed when it prints more than
 * ANSWERFILE_SIZE_MAX bytes (-EFBIG: "answer file generator LOCATION printed
 * more than 1024 KiB: stopped") or runs longer than O's generator_timeout_ms
 * (-ETIME: "answer file generator LOCATION did not finish within 60 s:
 * stopped"). */
int answerfile_generate(const char *location, const struct fetch_options *o, char **ret_text, size_t *ret_len,
                        char **ret_reason);

/* Resolves a plain absolute PATH the way answerfile_fetch() does: MEDIA_ROOT
 * + PATH when that exists, else PATH itself. Returns -EINVAL for a relative
 * path, -ENOENT when neither exists. */
int answerfile_resolve_path(const char *path, const char *media_root, char **ret_path);

/* Looks KEY up in a kernel command line, splitting and unquoting it the way
 * the kernel does (key="a b", "key=a b"); '-' and '_' in keys are the same,
 * as for the kernel's own parameters, and the last occurrence wins. Returns
 * 1 with a copy of the value ("" for a bare "key" or "key="), or 0 with
 * *RET = NULL when KEY is absent; -ENOMEM. */
int kernel_cmdline_get(const char *cmdline, const char *key, char **ret);

/* Reads /proc/cmdline (without its trailing newline). */
int kernel_cmdline_read(char **ret);

/* The answer file named on the kernel command line CMDLINE (NULL: read
 * /proc/cmdline): 1 with the location and whether it is a generator
 * (answerfile_generator=), 0 with *RET_LOCATION = NULL when neither key is
 * given, -EINVAL when both are, or when the one given is empty. */
int answerfile_location_from_cmdline(const char *cmdline, char **ret_location, bool *ret_generator);
