/*
 * arena: a bump allocator for memory whose lifetime is one request, one query or
 * one parse.
 *
 * Contract:
 * - Allocations are carved from blocks; nothing is freed individually. arena_reset()
 *   keeps the first block for reuse, arena_free() releases everything.
 * - Every returned pointer is aligned to 16 bytes. A request larger than the block
 *   size gets a block of its own.
 * - Allocation failure returns NULL (never aborts); callers must check.
 * - Not thread-safe: one arena belongs to one thread at a time.
 */
#ifndef LGTM_ARENA_H
#define LGTM_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* block_size 0 selects the default (16 KiB). Returns NULL on allocation failure. */
struct arena *arena_new(size_t block_size);
void arena_free(struct arena *a);
void arena_reset(struct arena *a);

void *arena_alloc(struct arena *a, size_t size);
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_sprintf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap);

/* Bytes handed out since creation or the last reset (for limits and metrics). */
size_t arena_used(const struct arena *a);

#endif
