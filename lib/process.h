/* Running child processes (mkfs, lvm, grub-install, xorriso, ...) with an
 * argv array, never a shell string. Their stderr goes into the log file; the
 * last line of it is kept so the caller can put it into one clear error. */
#pragma once

#include <stddef.h>

/* Runs ARGV[0] (looked up in PATH) with ARGV. When RET_STDOUT is non-NULL the
 * child's stdout is returned as a NUL-terminated string; otherwise it goes to
 * the log like stderr. Returns 0 when the child exited 0, -ENOENT when the
 * program is missing, -EPROTO when it exited non-zero (see spawn_last_error()),
 * -EINTR when it was killed by a signal, other -errno on spawn failures. */
int spawn_run(const char *const *argv, char **ret_stdout);

/* Like spawn_run() with stdin fed from DATA/LEN. */
int spawn_run_stdin(const char *const *argv, const char *data, size_t len, char **ret_stdout);

/* Like spawn_run(), for a child that may misbehave (a script from the
 * network): it runs in a process group of its own, and the whole group is
 * killed (SIGKILL) as soon as the child has printed more than MAX_STDOUT
 * bytes on stdout (-EFBIG) or when it is still running TIMEOUT_MS after it
 * was started (-ETIME; 0: no time limit); spawn_last_error() then says which
 * limit it hit. Only MAX_STDOUT bytes of its stderr reach the log. Other
 * returns as for spawn_run(). */
int spawn_run_limited(const char *const *argv, size_t max_stdout, unsigned timeout_ms, char **ret_stdout);

/* The last non-empty stderr line of the most recent failed child, prefixed
 * with its program name, or a description of how it died. Never NULL. */
const char *spawn_last_error(void);

/* Writes "argv0 arg1 arg2" (shell-quoted where needed) into BUF. */
void spawn_format_argv(const char *const *argv, char *buf, size_t n);
