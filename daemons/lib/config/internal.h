/*
 * config internals: the node tree that load.c builds from libyaml events and
 * decode.c walks by schema, the key path both keep for messages, and the one
 * function that formats every positioned error.
 *
 * The tree lives in a scratch arena owned by one load call. Aliases are not copied:
 * an alias is a second pointer to its anchored node, so the tree is a DAG whose
 * expanded size load.c has already bounded.
 */
#ifndef LGTM_CONFIG_INTERNAL_H
#define LGTM_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "arena/arena.h"
#include "config/config.h"

enum cfg_node_kind { CFG_NODE_SCALAR, CFG_NODE_SEQ, CFG_NODE_MAP };

struct cfg_node {
	enum cfg_node_kind kind;
	bool plain;      /* plain style and untagged: the only scalars that can be null */
	bool complete;   /* collection fully read; an alias to it before then is a cycle */
	unsigned line;   /* 1-based position of the node's first character */
	unsigned col;
	unsigned height; /* nested collections within, this one included (scalar: 0) */
	size_t weight;   /* nodes once aliases are expanded, this one included */
	const char *str; /* scalar text, NUL-terminated, no NUL inside */
	size_t len;
	struct cfg_node **kids; /* SEQ: n items; MAP: n key/value pairs (2n pointers) */
	size_t n;
};

#define CFG_PATH_CAP 512

/* A key path such as "scrape_configs[2].static_configs[0]". Segments that do not
 * fit are dropped, so a message stays well-formed however deep the file goes. */
struct cfg_path {
	char s[CFG_PATH_CAP];
	size_t len;
};

/* Where messages go: file name, current path, caller's error buffer. */
struct cfg_report {
	const char *file;
	char *err;
	size_t errlen;
	struct cfg_path path;
};

/* Append ".key" (or "key" at the top) / "[i]"; return the length to restore. */
size_t cfg_path_key(struct cfg_path *p, const char *key, size_t keylen);
size_t cfg_path_index(struct cfg_path *p, size_t i);
void cfg_path_restore(struct cfg_path *p, size_t len);

/* "<file>:<line>:<col>: <path>: <reason>" (no path part when the path is empty).
 * Always returns -1 so callers can `return cfg_fail(...)`. */
int cfg_fail(struct cfg_report *r, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* load.c: parse `text` into a tree in `tmp`; *root is NULL for an empty file. */
int cfg_tree_load(struct cfg_report *r, const char *text, size_t len,
		  struct arena *tmp, struct cfg_node **root);

/* mapkeys.c: turn the key/value pairs read for `map` into its final pairs:
 * duplicate keys refused, `<<` merges applied. r->path is the mapping's path. */
int cfg_map_build(struct cfg_report *r, struct arena *tmp, struct cfg_node *map,
		  struct cfg_node **kv, size_t nkv);

/* decode.c: fill `out` from the tree by `schema`. */
int cfg_tree_decode(struct cfg_report *r, const struct cfg_node *root,
		    const struct cfg_schema *schema, void *out, struct arena *a,
		    struct arena *tmp);
/* decode.c: a top-level sequence of `elem` objects into out (empty file: none). */
int cfg_tree_decode_list(struct cfg_report *r, const struct cfg_node *root,
			 const struct cfg_schema *elem, size_t elem_size, struct cfg_list *out,
			 struct arena *a, struct arena *tmp);

/* scalar.c: strict typed scalars into a bool / int64_t / double; 0, -1 (malformed)
 * or -2 (out of range). `void *` so decode.c can keep them in one table by type. */
int cfg_scalar_bool(const char *s, void *out);
int cfg_scalar_int(const char *s, void *out);
int cfg_scalar_double(const char *s, void *out);

/* The digits of an unsigned decimal at *s, advancing *s; -1 on none or overflow. */
int cfg_scan_u64(const char **s, uint64_t *out);

#endif
