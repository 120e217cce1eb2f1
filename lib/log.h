/* Logging for every xenhost program: to stderr (level-filtered) and, when
 * opened, to a log file that keeps everything including debug lines. */
#pragma once

#include <stdarg.h>
#include "macro.h"

enum log_level {
        LOG_LEVEL_DEBUG,
        LOG_LEVEL_INFO,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_ERROR,
};

/* Name used as the prefix of lines on stderr ("xenhost-partition: ..."). */
void log_set_program(const char *name);
/* Minimum level printed on stderr; the log file always gets everything. */
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);
/* Append to PATH (created 0600). Returns -errno on failure. */
int log_open_file(const char *path);
void log_close_file(void);
/* Write a raw block (e.g. a child's stderr) into the log file only. */
void log_file_write(const char *prefix, const char *buf, size_t len);

/* Logs FORMAT at LEVEL; %m expands to strerror(-error) when error != 0.
 * Returns error, so callers can "return log_error_errno(r, ...)". */
int log_internal(enum log_level level, int error, const char *file, int line, const char *format, ...)
        _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal(level, error, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_LEVEL_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_LEVEL_ERROR, e, __VA_ARGS__)
#define log_oom() log_error_errno(-ENOMEM, "Out of memory")
