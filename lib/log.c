/* Logging: stderr for the operator, a log file for the full story. */
#include "log.h"

#include <fcntl.h>
#include <time.h>

static const char *program = "xenhost";
static enum log_level max_level = LOG_LEVEL_INFO;
static FILE *log_file;

static const char *const level_names[] = {
        [LOG_LEVEL_DEBUG] = "debug",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_ERROR] = "error",
};

void log_set_program(const char *name) {
        program = name;
}

void log_set_max_level(enum log_level level) {
        max_level = level;
}

enum log_level log_get_max_level(void) {
        return max_level;
}

int log_open_file(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        FILE *f = fdopen(fd, "a");
        if (!f) {
                int r = -errno;
                close(fd);
                return r;
        }
        setvbuf(f, NULL, _IOLBF, 0);
        log_close_file();
        log_file = f;
        return 0;
}

void log_close_file(void) {
        if (log_file) {
                fclose(log_file);
                log_file = NULL;
        }
}

static void timestamp(char *buf, size_t n) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + l, n - l, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_file_write(const char *prefix, const char *buf, size_t len) {
        if (!log_file || len == 0)
                return;
        char ts[64];
        timestamp(ts, sizeof ts);
        /* One log line per input line, so the file stays greppable. */
        const char *p = buf, *end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
                fprintf(log_file, "%s %s %.*s\n", ts, prefix, (int) l, p);
                p += l + (nl ? 1 : 0);
        }
}

int log_internal(enum log_level level, int error, const char *file, int line, const char *format, ...) {
        int saved_errno = errno;
        char msg[4096];
        va_list ap;

        /* %m means the error passed in, not whatever errno happens to be. */
        errno = error < 0 ? -error : error;
        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);

        if (level >= max_level) {
                if (level >= LOG_LEVEL_WARNING)
                        fprintf(stderr, "%s: %s%s\n", program, level == LOG_LEVEL_WARNING ? "warning: " : "", msg);
                else
                        fprintf(stderr, "%s\n", msg);
        }
        if (log_file) {
                char ts[64];
                timestamp(ts, sizeof ts);
                fprintf(log_file, "%s %s[%s] %s (%s:%d)\n", ts, program, level_names[level], msg, file, line);
        }
        errno = saved_errno;
        return error;
}
