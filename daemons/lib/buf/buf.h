/*
 * buf: a growable byte buffer, the common currency for encoded output (JSON, metrics
 * text, compressed bodies).
 *
 * Contract:
 * - A zeroed struct buf is a valid empty buffer; buf_free() releases its memory.
 * - Appends never abort: on allocation failure the buffer sets `oom` and ignores
 *   further appends, so a writer can append freely and check once at the end.
 * - data is always NUL-terminated after a successful append (not counted in len),
 *   so text can be used as a C string.
 * - Not thread-safe.
 */
#ifndef LGTM_BUF_H
#define LGTM_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;
};

/* Make room for `extra` more bytes; returns 0, or -1 (and sets oom). */
int buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hand the memory to the caller (who frees it with free()); the buffer becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
