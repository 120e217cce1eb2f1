/* Child processes: posix_spawnp with stdout/stderr pipes drained by poll(). */
#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

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

int spawn_run_stdin(const char *const *argv, const char *data, size_t len, char **ret_stdout) {
        int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
        posix_spawn_file_actions_t fa;
        struct sink so = {}, se = {};
        char cmdline[2048];
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
        r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                r = -r;
                snprintf(last_error, sizeof last_error, "%s: %s", argv[0], strerror(-r));
                goto finish;
        }
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
                if (poll(p, in[1] >= 0 ? 3 : 2, -1) < 0) {
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
                        if (i == 0 && ret_stdout)
                                sink_append(&so, buf, (size_t) n);
                        else {
                                if (i == 1)
                                        sink_append(&se, buf, (size_t) n);
                                log_file_write(i == 0 ? "  | " : "  ! ", buf, (size_t) n);
                        }
                }
        }

        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = negative_errno();
                        goto finish;
                }

        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
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

int spawn_run(const char *const *argv, char **ret_stdout) {
        return spawn_run_stdin(argv, NULL, 0, ret_stdout);
}
