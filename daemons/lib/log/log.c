/*
 * Structured logging. Each call formats into a fixed stack buffer and emits it with
 * one write(2): no locks, no allocation, and lines stay whole under concurrency
 * (writes up to PIPE_BUF are atomic on pipes; journald reads a pipe/socket).
 */
#include "log/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static enum log_level g_level = LOG_LEVEL_INFO;
static enum log_format g_format = LOG_FORMAT_LOGFMT;
static int g_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void log_setup(enum log_level level, enum log_format format)
{
	g_level = level;
	g_format = format;
}

bool log_enabled(enum log_level level)
{
	return level >= g_level;
}

void log_set_fd(int fd)
{
	g_fd = fd;
}

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	/* Leave room for the newline. */
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static bool logfmt_needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

/* Escapes shared by logfmt's quoted values and JSON strings. */
static void put_escaped(struct line *l, const char *s)
{
	char tmp[8];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': puts_(l, "\\\""); break;
		case '\\': puts_(l, "\\\\"); break;
		case '\n': puts_(l, "\\n"); break;
		case '\r': puts_(l, "\\r"); break;
		case '\t': puts_(l, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				puts_(l, tmp);
			} else {
				put(l, (const char *)&c, 1);
			}
		}
	}
}

static void put_field(struct line *l, const char *key, const char *val, bool first)
{
	if (!val)
		val = "";
	if (g_format == LOG_FORMAT_JSON) {
		puts_(l, first ? "{\"" : ",\"");
		put_escaped(l, key);
		puts_(l, "\":\"");
		put_escaped(l, val);
		puts_(l, "\"");
		return;
	}
	if (!first)
		puts_(l, " ");
	puts_(l, key);
	puts_(l, "=");
	if (logfmt_needs_quotes(val)) {
		puts_(l, "\"");
		put_escaped(l, val);
		puts_(l, "\"");
	} else {
		puts_(l, val);
	}
}

void log_vkv(enum log_level level, const char *module, const char *msg, va_list ap)
{
	struct line l;
	struct timeval tv;
	struct tm tm;
	char ts[64];
	ssize_t w;
	size_t off = 0;

	if (!log_enabled(level))
		return;
	l.len = 0;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(tv.tv_usec / 1000));
	put_field(&l, "ts", ts, true);
	put_field(&l, "level", level_names[level], false);
	put_field(&l, "module", module, false);
	put_field(&l, "msg", msg, false);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;
		if (!k)
			break;
		v = va_arg(ap, const char *);
		put_field(&l, k, v, false);
	}
	if (g_format == LOG_FORMAT_JSON)
		puts_(&l, "}");
	l.buf[l.len++] = '\n';
	while (off < l.len) {
		w = write(g_fd, l.buf + off, l.len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

void log_kv(enum log_level level, const char *module, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_vkv(level, module, msg, ap);
	va_end(ap);
}
