/* Child processes: posix_spawnp with stdout/stderr pipes drained by poll(). */
#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "format.h"
#include "log.h"
#include "macro.h"

extern char **environ;

static char last_error[1024];

const char *spawn_last_error(void) {
        return last_error;
}

void spawn_format_argv(const char *const *argv, char *buf, size_t n) {
        size_t l = 0;
        buf[0] = 0;
        for (size_t i = 0; argv[i] && l + 1 < n; i++) {
                bool quote = argv[i][0] == 0 || strpbrk(argv[i], " \t\"'$\\;&|<>*?()") != NULL;
                int w = snprintf(buf + l, n - l, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i],
                                 quote ? "'" : "");
                if (w < 0)
                        break;
                l += (size_t) w;
        }
}

struct sink {
        char *buf;
        size_t len, cap;
};

static int sink_append(struct sink *s, const char *data, size_t n) {
        if (s->len + n + 1 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 4096;
                while (cap < s->len + n + 1)
                        cap *= 2;
                char *b = realloc(s->buf, cap);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->cap = cap;
        }
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        s->buf[s->len] = 0;
        return 0;
}

static void remember_last_line(const char *prog, const struct sink *err) {
        if (!err->buf) {
                snprintf(last_error, sizeof last_error, "%s failed", prog);
                return;
        }
        /* Walk back over trailing newlines to the last non-empty line. */
        size_t end = err->len;
        while (end > 0 && (err->buf[end - 1] == '\n' || err->buf[end - 1] == '\r'))
                end--;
        size_t start = end;
        while (start > 0 && err->buf[start - 1] != '\n')
                start--;
        if (end == start)
                snprintf(last_error, sizeof last_error, "%s failed", prog);
        else
                snprintf(last_error, sizeof last_error, "%.*s", (int) (end - start), err->buf + start);
}

/* What spawn_run_limited() enforces; all zero for the trusting callers. */
struct limits {
        bool enabled;
        size_t max_stdout;
        unsigned timeout_ms;
};

/* Keeps the tail of a child's stderr (the last line is what matters) and
 * the memory it takes bounded. */
#define STDERR_KEEP (64 * 1024)

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void sink_keep_tail(struct sink *s, size_t keep) {
        if (s->len <= keep)
                return;
        memmove(s->buf, s->buf + s->len - keep, keep);
        s->len = keep;
        s->buf[s->len] = 0;
}

/* Waits for PID; with a DEADLINE (ms on the monotonic clock, 0: none) it
 * kills the process group and returns -ETIME when that passes first. */
static int wait_child(pid_t pid, uint64_t deadline, int *ret_status) {
        for (;;) {
                pid_t w = waitpid(pid, ret_status, deadline ? WNOHANG : 0);
                if (w == pid)
                        return 0;
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (now_ms() >= deadline) {
                        (void) kill(-pid, SIGKILL);
                        while (waitpid(pid, ret_status, 0) < 0)
                                if (errno != EINTR)
                                        return negative_errno();
                        return -ETIME;
                }
                struct timespec ts = {.tv_nsec = 10 * 1000000};
                nanosleep(&ts, NULL);
        }
}

static int spawn_run_internal(const char *const *argv, const char *data, size_t len, const struct limits *lim,
                              char **ret_stdout) {
        int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        struct sink so = {}, se = {};
        char cmdline[2048];
        size_t logged = 0;
        uint64_t deadline = 0;
        int limit_hit = 0; /* -EFBIG or -ETIME once the child was killed for it */
        pid_t pid;
        int r;

        spawn_format_argv(argv, cmdline, sizeof cmdline);
        log_debug("Running: %s", cmdline);
        last_error[0] = 0;

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || (data && pipe2(in, O_CLOEXEC) < 0)) {
                r = negative_errno();
                goto finish;
        }

        posix_spawn_file_actions_init(&fa);
        if (data)
                posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        else
                posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
        posix_spawnattr_init(&attr);
        if (lim->enabled) {
                /* A group of its own, so that whatever it started in turn
                 * goes when it is killed. */
                posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
                posix_spawnattr_setpgroup(&attr, 0);
        }
        r = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *) argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                r = -r;
                snprintf(last_error, sizeof last_error, "%s: %s", argv[0], strerror(-r));
                goto finish;
        }
        if (lim->enabled && lim->timeout_ms > 0)
                deadline = now_ms() + lim->timeout_ms;
        close(TAKE_FD(out[1]));
        close(TAKE_FD(err[1]));
        if (data) {
                close(TAKE_FD(in[0]));
                /* Feed stdin while draining the outputs, so a large input
                 * cannot deadlock against a full output pipe. */
                fcntl(in[1], F_SETFL, O_NONBLOCK);
        }

        size_t fed = 0;
        for (;;) {
                struct pollfd p[3] = {
                        {.fd = out[0], .events = POLLIN},
                        {.fd = err[0], .events = POLLIN},
                        {.fd = in[1], .events = POLLOUT},
                };
                if (out[0] < 0 && err[0] < 0)
                        break;
                int timeout = -1;
                if (deadline) {
                        uint64_t now = now_ms();
                        if (now >= deadline) {
                                limit_hit = -ETIME;
                                break;
                        }
                        timeout = deadline - now > INT32_MAX ? INT32_MAX : (int) (deadline - now);
                }
                if (poll(p, in[1] >= 0 ? 3 : 2, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
                        ssize_t n = (p[2].revents & POLLOUT) ? write(in[1], data + fed, len - fed) : -1;
                        if (n > 0)
                                fed += (size_t) n;
                        if (n < 0 && errno != EAGAIN)
                                fed = len;
                        if (fed >= len)
                                close(TAKE_FD(in[1]));
                }
                for (int i = 0; i < 2; i++) {
                        int *fd = i == 0 ? &out[0] : &err[0];
                        if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char buf[16384];
                        ssize_t n = read(*fd, buf, sizeof buf);
                        if (n <= 0) {
                                close(TAKE_FD(*fd));
                                continue;
                        }
                        if (i == 0 && ret_stdout) {
                                if (lim->enabled && (size_t) n > lim->max_stdout - so.len) {
                                        limit_hit = -EFBIG;
                                        break;
                                }
                                sink_append(&so, buf, (size_t) n);
                                continue;
                        }
                        if (i == 1) {
                                sink_append(&se, buf, (size_t) n);
                                if (lim->enabled)
                                        sink_keep_tail(&se, STDERR_KEEP);
                        }
                        if (lim->enabled) {
                                /* The log takes what a sane child prints, no more. */
                                size_t room = lim->max_stdout - logged;
                                if (room == 0)
                                        continue;
                                if ((size_t) n > room)
                                        n = (ssize_t) room;
                                logged += (size_t) n;
                        }
                        log_file_write(i == 0 ? "  | " : "  ! ", buf, (size_t) n);
                }
                if (limit_hit)
                        break;
        }

        int status;
        if (limit_hit) {
                /* Not a moment longer: neither its output nor its exit is
                 * waited for. */
                (void) kill(-pid, SIGKILL);
                r = wait_child(pid, 0, &status);
        } else
                r = wait_child(pid, deadline, &status);
        if (r == -ETIME)
                limit_hit = -ETIME;
        else if (r < 0)
                goto finish;

        if (limit_hit == -ETIME) {
                r = -ETIME;
                snprintf(last_error, sizeof last_error, "%s did not finish within %u s and was stopped", argv[0],
                         (lim->timeout_ms + 999) / 1000);
        } else if (limit_hit == -EFBIG) {
                r = -EFBIG;
                char size[32];
                snprintf(last_error, sizeof last_error, "%s printed more than %s and was stopped", argv[0],
                         format_iec(size, sizeof size, lim->max_stdout));
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                r = 0;
                if (ret_stdout) {
                        *ret_stdout = so.buf ? TAKE_PTR(so.buf) : strdup("");
                        if (!*ret_stdout)
                                r = -ENOMEM;
                }
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && se.len == 0) {
                r = -ENOENT;
                snprintf(last_error, sizeof last_error, "%s: command not found", argv[0]);
        } else if (WIFEXITED(status)) {
                r = -EPROTO;
                remember_last_line(argv[0], &se);
                log_debug("%s exited with status %d", argv[0], WEXITSTATUS(status));
        } else {
                r = -EINTR;
                snprintf(last_error, sizeof last_error, "%s was killed by signal %s", argv[0],
                         strsignal(WTERMSIG(status)));
        }

finish:
        for (int *fd = (int[]){out[0], out[1], err[0], err[1], in[0], in[1]}, i = 0; i < 6; i++)
                if (fd[i] >= 0)
                        close(fd[i]);
        free(so.buf);
        free(se.buf);
        return r;
}

int spawn_run_stdin(const char *const *argv, const char *data, size_t len, char **ret_stdout) {
        return spawn_run_internal(argv, data, len, &(struct limits) {}, ret_stdout);
}

int spawn_run(const char *const *argv, char **ret_stdout) {
        return spawn_run_stdin(argv, NULL, 0, ret_stdout);
}

int spawn_run_limited(const char *const *argv, size_t max_stdout, unsigned timeout_ms, char **ret_stdout) {
        struct limits lim = {.enabled = true, .max_stdout = max_stdout, .timeout_ms = timeout_ms};
        return spawn_run_internal(argv, NULL, 0, &lim, ret_stdout);
}
