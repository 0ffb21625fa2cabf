/*
 * log: one structured line per event on stderr, in logfmt (default) or JSON.
 *
 *   ts=2026-11-21T10:00:00.123Z level=info module=http msg="listening" addr=127.0.0.1:9090
 *
 * Contract:
 * - log_setup() is called once at start-up before other threads exist; everything
 *   else is thread-safe (a line is built in a local buffer and written with a single
 *   write(2), so lines from different threads never interleave).
 * - Key/value arguments are C strings in pairs, terminated by NULL; the LOG_* macros
 *   add the terminator. A NULL value prints as an empty string.
 * - Logging never fails the caller: an over-long line is truncated.
 */
#ifndef LGTM_LOG_H
#define LGTM_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/* Parse "debug|info|warn|error" and "logfmt|json"; 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

void log_setup(enum log_level level, enum log_format format);
bool log_enabled(enum log_level level);

/* Redirect output to a file descriptor (tests); default 2. */
void log_set_fd(int fd);

void log_kv(enum log_level level, const char *module, const char *msg, ...);
void log_vkv(enum log_level level, const char *module, const char *msg, va_list ap);

#define LOG_DEBUG(mod, msg, ...) \
	do { if (log_enabled(LOG_LEVEL_DEBUG)) log_kv(LOG_LEVEL_DEBUG, mod, msg, ##__VA_ARGS__, (char *)0); } while (0)
#define LOG_INFO(mod, msg, ...)  log_kv(LOG_LEVEL_INFO, mod, msg, ##__VA_ARGS__, (char *)0)
#define LOG_WARN(mod, msg, ...)  log_kv(LOG_LEVEL_WARN, mod, msg, ##__VA_ARGS__, (char *)0)
#define LOG_ERROR(mod, msg, ...) log_kv(LOG_LEVEL_ERROR, mod, msg, ##__VA_ARGS__, (char *)0)

#endif
