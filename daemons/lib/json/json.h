/*
 * json: a streaming JSON writer into a struct buf, for API responses.
 * (Parsing JSON input uses jansson; writing large responses is done here because it
 * streams into one buffer without building a tree.)
 *
 * Contract:
 * - The writer inserts commas itself: call jw_key() before each value in an object,
 *   and plain value calls inside arrays. Nesting depth is limited to JW_MAX_DEPTH;
 *   deeper nesting sets `err`.
 * - Strings are escaped per RFC 8259; invalid UTF-8 bytes are replaced with U+FFFD
 *   so the output is always valid JSON.
 * - jw_double() writes numbers (non-finite values as null); Prometheus-style
 *   sample values are strings and use jw_prom_float().
 * - Errors (oom from the buffer, depth) are sticky: check jw_failed() once at the end.
 * - Not thread-safe; one writer per response.
 */
#ifndef LGTM_JSON_H
#define LGTM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf/buf.h"

#define JW_MAX_DEPTH 64

struct jw {
	struct buf *b;
	int depth;
	bool err;
	/* need_comma[i]: a value has been written at depth i */
	bool need_comma[JW_MAX_DEPTH];
	bool after_key;
};

void jw_init(struct jw *w, struct buf *b);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* A value already encoded as JSON. */
void jw_raw(struct jw *w, const char *json, size_t n);
/* Prometheus' float formatting as a JSON string: "NaN", "+Inf", "-Inf", shortest repr. */
void jw_prom_float(struct jw *w, double v);
bool jw_failed(const struct jw *w);

/* Helpers for the common `"key": value` pair. */
static inline void jw_kstr(struct jw *w, const char *k, const char *v) { jw_key(w, k); jw_str(w, v); }
static inline void jw_kint(struct jw *w, const char *k, int64_t v) { jw_key(w, k); jw_int(w, v); }
static inline void jw_kbool(struct jw *w, const char *k, bool v) { jw_key(w, k); jw_bool(w, v); }

/* Escape one string (with quotes) into b. */
void json_escape_into(struct buf *b, const char *s, size_t n);

/* Format a double the way Go's strconv.FormatFloat(v, 'f'|'e', -1, 64) would for
 * Prometheus values: shortest round-trip form; "NaN", "+Inf", "-Inf". Returns length. */
int json_format_prom_float(char *out, size_t cap, double v);

#endif
