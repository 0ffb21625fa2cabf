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
 * - Pools (struct buf_pool): a few idle buffers that all threads share instead of
 *   freeing them, so memory a thread is done with serves the next thread that needs
 *   it (thread-safe; what a pool keeps lives as long as the process).
 */
#ifndef LGTM_BUF_H
#define LGTM_BUF_H

#include <pthread.h>
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

/* Up to `keep` idle buffers (at most BUF_POOL_MAX) of at most max bytes each, shared by
 * all threads: for big buffers of requests that give them back before the request
 * ends, so that fewer of them are resident than requests in flight. Define one
 * statically per use:
 *   static struct buf_pool pool = BUF_POOL_INIT(2, 1 << 20);
 */
#define BUF_POOL_MAX 8

struct buf_pool {
	pthread_mutex_t mu;
	unsigned keep, n;
	size_t max;
	struct buf idle[BUF_POOL_MAX];
};

#define BUF_POOL_INIT(keep_n, max_bytes) \
	{ PTHREAD_MUTEX_INITIALIZER, (keep_n), 0, (max_bytes), { { 0 } } }

/* An idle buffer of the pool, emptied (a zeroed one when it has none). */
struct buf buf_pool_take(struct buf_pool *p);
/* Keep b's memory in the pool if it is at most the pool's max and the pool has room
 * or keeps a smaller one (which is freed instead), else free it; b becomes empty
 * either way. */
void buf_pool_give(struct buf_pool *p, struct buf *b);

#endif
