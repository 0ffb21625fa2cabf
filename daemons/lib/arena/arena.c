/*
 * Arena allocator. Blocks form a singly linked list, newest first; allocation bumps
 * an offset in the newest block. Oversized requests get a dedicated block that is
 * linked behind the current one so the current block keeps serving small requests.
 */
#include "arena/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_BLOCK (16 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t cap;
	size_t off;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct arena_block *head;
	size_t block_size;
	size_t used;
};

static struct arena_block *block_new(size_t cap)
{
	struct arena_block *b;

	if (cap > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->next = NULL;
	b->cap = cap;
	b->off = 0;
	return b;
}

struct arena *arena_new(size_t block_size)
{
	struct arena *a = malloc(sizeof(*a));

	if (!a)
		return NULL;
	a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
	a->used = 0;
	a->head = block_new(a->block_size);
	if (!a->head) {
		free(a);
		return NULL;
	}
	return a;
}

static void free_chain(struct arena_block *b)
{
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	free_chain(a->head);
	free(a);
}

void arena_reset(struct arena *a)
{
	struct arena_block *last = a->head;

	/* Keep the oldest block (the one arena_new made, of the normal size). */
	while (last->next)
		last = last->next;
	for (struct arena_block *b = a->head; b != last;) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = last;
	last->off = 0;
	a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t off, need;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	off = b->off;
	if (b->cap - off >= need) {
		b->off = off + need;
		a->used += need;
		return b->data + off;
	}
	if (need > a->block_size / 4) {
		/* Big request: a block of its own, kept behind the current one. */
		struct arena_block *big = block_new(need);
		if (!big)
			return NULL;
		big->off = need;
		big->next = b->next;
		b->next = big;
		a->used += need;
		return big->data;
	}
	b = block_new(a->block_size);
	if (!b)
		return NULL;
	b->next = a->head;
	a->head = b;
	b->off = need;
	a->used += need;
	return b->data;
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = arena_alloc(a, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	p = arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_sprintf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vsprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}
