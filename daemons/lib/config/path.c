/*
 * Key paths and positioned messages. The path is a fixed buffer that the loader and
 * the decoder extend on the way down and cut back on the way up, so building it costs
 * no allocation and an error can be reported from any depth without unwinding first.
 * Errors found after loading, from a recorded struct cfg_pos, read the same way.
 */
#include "config/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static size_t path_append(struct cfg_path *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t path_append(struct cfg_path *p, const char *fmt, ...)
{
	size_t old = p->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->s + p->len, sizeof(p->s) - p->len, fmt, ap);
	va_end(ap);
	/* A segment that does not fit entirely is dropped rather than cut in half. */
	if (n < 0 || (size_t)n >= sizeof(p->s) - p->len)
		p->s[p->len] = '\0';
	else
		p->len += (size_t)n;
	return old;
}

size_t cfg_path_key(struct cfg_path *p, const char *key, size_t keylen)
{
	int n = keylen > 200 ? 200 : (int)keylen;

	return path_append(p, "%s%.*s", p->len ? "." : "", n, key);
}

size_t cfg_path_index(struct cfg_path *p, size_t i)
{
	return path_append(p, "[%zu]", i);
}

void cfg_path_restore(struct cfg_path *p, size_t len)
{
	p->len = len;
	p->s[len] = '\0';
}

/* The one place every positioned message is formatted. */
static void vreport(char *err, size_t errlen, const char *file, unsigned line, unsigned col,
		    const char *path, const char *fmt, va_list ap)
{
	int n = 0;

	if (!err || !errlen)
		return;
	err[0] = '\0';
	if (line)
		n = snprintf(err, errlen, "%s:%u:%u: ", file ? file : "", line, col);
	if (n >= 0 && (size_t)n < errlen && path && *path)
		n += snprintf(err + n, errlen - (size_t)n, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return;
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

int cfg_fail(struct cfg_report *r, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(r->err, r->errlen, r->file, line, col, r->path.s, fmt, ap);
	va_end(ap);
	return -1;
}

int cfg_pos_error(const struct cfg_pos *p, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(err, errlen, p ? p->file : NULL, p ? p->line : 0, p ? p->col : 0,
		p ? p->path : NULL, fmt, ap);
	va_end(ap);
	return -1;
}
