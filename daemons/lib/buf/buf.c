/*
 * Growable buffer. Capacity doubles so appends are amortised O(1); one spare byte is
 * always kept for the terminating NUL.
 */
#include "buf/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - b->len - 1)
		goto fail;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = true;
	return -1;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* --- pools shared by threads ------------------------------------------------------------- */

struct buf buf_pool_take(struct buf_pool *p)
{
	struct buf out = { 0 };

	pthread_mutex_lock(&p->mu);
	if (p->n)
		out = p->idle[--p->n];
	pthread_mutex_unlock(&p->mu);
	buf_reset(&out);
	return out;
}

void buf_pool_give(struct buf_pool *p, struct buf *b)
{
	unsigned keep = p->keep < BUF_POOL_MAX ? p->keep : BUF_POOL_MAX, small = 0;
	struct buf drop = *b;

	*b = (struct buf){ 0 };
	if (drop.oom || !drop.data || drop.cap > p->max)
		goto out;
	pthread_mutex_lock(&p->mu);
	if (p->n < keep) {
		p->idle[p->n++] = drop;
		drop = (struct buf){ 0 };
	} else if (p->n) {
		/* Full: keep the larger, so the pool settles on buffers that fit. */
		for (unsigned i = 1; i < p->n; i++)
			if (p->idle[i].cap < p->idle[small].cap)
				small = i;
		if (p->idle[small].cap < drop.cap) {
			struct buf t = p->idle[small];

			p->idle[small] = drop;
			drop = t;
		}
	}
	pthread_mutex_unlock(&p->mu);
out:
	buf_free(&drop);
}
