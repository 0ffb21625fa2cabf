/*
 * Pieces of the remote module shared by its files (and by its unit tests, which hold
 * the fast decoder to protobuf-c's results). Not for other modules.
 */
#ifndef LGTM_REMOTE_INTERNAL_H
#define LGTM_REMOTE_INTERNAL_H

#include "remote/remote.h"

/* --- write.c: validation shared by both decoders ------------------------------------- */

void remote_limits_defaults(const struct remote_write_limits *in, struct remote_write_limits *out);
/* Series b->series[b->nseries] has its samples and exemplars, and `ls` its labels
 * (empty values already dropped, any order): sort and check the labels; a valid series
 * is kept (its labels set, b->nseries++), an invalid one counted and described with
 * `nbad` samples lost. -1 only on allocation failure. */
int remote_accept_series(struct remote_write_batch *b, struct labels *ls, size_t nbad,
			 const struct remote_write_limits *lim);
/* Room for n series and their wire spans in b->series_mem (pooled memory when there
 * is some): fresh pages of a new mmap on every request otherwise. Sets
 * b->series and b->wire; -1 when out of memory. */
int remote_batch_series(struct remote_write_batch *b, size_t n);
/* Give b->series_mem back to the pool (b->series and b->wire then point nowhere). */
void remote_batch_release(struct remote_write_batch *b);
/* The "and N more" tail of the errors; -1 if building the errors ran out of memory. */
int remote_batch_finish(struct remote_write_batch *b);
/* The protobuf-c decoder (pb: the protobuf, already decompressed). */
int remote_write_decode_pc(const void *pb, size_t len, const struct remote_write_limits *lim,
			   struct arena *a, struct remote_write_batch *out, char *err, size_t errlen);

/* --- wire.c: the zero-copy decoder ------------------------------------------------------ */

#define REMOTE_WIRE_OK    0
#define REMOTE_WIRE_OTHER 1   /* not recognised: ask protobuf-c (nothing is wrong yet) */
#define REMOTE_WIRE_OOM   (-1)

/* Decode pb (limits already defaulted) into out, finished like the protobuf-c path;
 * on REMOTE_WIRE_OTHER the caller resets out and uses remote_write_decode_pc(). */
int remote_wire_decode(const void *pb, size_t len, const struct remote_write_limits *lim,
		       struct remote_series_cache *cache, struct arena *a,
		       struct remote_write_batch *out);
/* The labels of a series' label fields as sent, empty values dropped, unsorted; -1 on
 * allocation failure or bytes that are not such fields. */
int remote_wire_labels(const unsigned char *wire, size_t len, struct arena *a,
		       struct labels *out);

/* --- cache.c ------------------------------------------------------------------------------ */

void remote_series_cache_key(const struct remote_series_cache *c, const void *wire, size_t len,
			     uint64_t key[2]);
/* The ref remembered under key, or 0. */
uint64_t remote_series_cache_find(struct remote_series_cache *c, const uint64_t key[2]);
/* Start loading the key's entry: lookups miss the CPU caches (a request's series are
 * spread over the whole table), so a decoder issues these a few series ahead. */
void remote_series_cache_prefetch(struct remote_series_cache *c, const uint64_t key[2]);

#endif
