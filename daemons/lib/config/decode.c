/*
 * Node tree -> struct, driven by the schema tables. The walk follows the schema, not
 * the tree: a mapping is decoded against the fields of the struct it fills, so an
 * unknown key is found at the key itself and the key path in every message is the
 * one the user would write. Duplicate keys and merges were settled while loading,
 * so each mapping seen here has unique keys.
 *
 * Scalars are expanded from the environment first, then typed; strings go to the
 * caller's arena, scratch text for numbers to the load's scratch arena.
 */
#include "config/internal.h"

#include <string.h>

struct decoder {
	struct cfg_report *r;
	struct arena *out;
	struct arena *tmp;
	const char *file; /* r->file copied into `out` once a position needs it */
};

static int decode_object(struct decoder *d, const struct cfg_node *n,
			 const struct cfg_schema *schema, void *base);

static bool is_null(const struct cfg_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->kind != CFG_NODE_SCALAR || !n->plain)
		return false;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp(n->str, nulls[i]))
			return true;
	return false;
}

static const char *kind_name(enum cfg_node_kind k)
{
	return k == CFG_NODE_MAP ? "a mapping" : k == CFG_NODE_SEQ ? "a sequence" : "a scalar";
}

static int want(struct decoder *d, const struct cfg_node *n, enum cfg_node_kind k)
{
	if (n->kind == k)
		return 0;
	return cfg_fail(d->r, n->line, n->col, "expected %s, got %s", kind_name(k),
			kind_name(n->kind));
}

static int oom(struct decoder *d, const struct cfg_node *n)
{
	return cfg_fail(d->r, n->line, n->col, "out of memory");
}

/* The scalar's text with environment references expanded (unless verbatim), in
 * arena `a`. */
static char *text(struct decoder *d, const struct cfg_node *n, struct arena *a, bool verbatim)
{
	char why[256];
	char *s;

	if (want(d, n, CFG_NODE_SCALAR))
		return NULL;
	if (verbatim) {
		s = arena_strdup(a, n->str);
		if (!s)
			oom(d, n);
		return s;
	}
	why[0] = '\0';
	s = cfg_expand_env(a, n->str, why, sizeof(why));
	if (!s)
		cfg_fail(d->r, n->line, n->col, "%s", why);
	return s;
}

static int parse_duration(const char *s, void *p)
{
	return cfg_parse_duration(s, p);
}

static int parse_bytes(const char *s, void *p)
{
	return cfg_parse_bytes(s, p);
}

static const struct {
	int (*parse)(const char *s, void *p);
	const char *what;
} scalar_types[] = {
	[CFG_BOOL] = { cfg_scalar_bool, "boolean (want true or false)" },
	[CFG_INT] = { cfg_scalar_int, "integer" },
	[CFG_DOUBLE] = { cfg_scalar_double, "number" },
	[CFG_DURATION] = { parse_duration, "duration" },
	[CFG_BYTES] = { parse_bytes, "byte size" },
};

static int decode_scalar(struct decoder *d, enum cfg_type type, const struct cfg_node *n,
			 void *p, bool verbatim)
{
	char *s;
	int rc;

	if ((size_t)type >= sizeof(scalar_types) / sizeof(scalar_types[0]) ||
	    (type != CFG_STRING && !scalar_types[type].parse))
		return cfg_fail(d->r, n->line, n->col, "schema: unknown field type %d", (int)type);
	s = text(d, n, type == CFG_STRING ? d->out : d->tmp, verbatim);
	if (!s)
		return -1;
	if (type == CFG_STRING) {
		*(char **)p = s;
		return 0;
	}
	rc = scalar_types[type].parse(s, p);
	if (rc == -2)
		return cfg_fail(d->r, n->line, n->col, "%s \"%.64s\" out of range",
				scalar_types[type].what, s);
	if (rc)
		return cfg_fail(d->r, n->line, n->col, "invalid %s \"%.64s\"",
				scalar_types[type].what, s);
	return 0;
}

/* A null item of a string list or map reads as "", as it would in Go. */
static char *item_text(struct decoder *d, const struct cfg_node *n, bool verbatim)
{
	return is_null(n) ? arena_strdup(d->out, "") : text(d, n, d->out, verbatim);
}

/* One zeroed slot of `size` bytes per item of n; NULL when n is empty, or (with
 * the error reported) when memory runs out. */
static void *alloc_items(struct decoder *d, const struct cfg_node *n, size_t size)
{
	void *p = n->n ? arena_calloc(d->out, n->n, size) : NULL;

	if (n->n && !p)
		oom(d, n);
	return p;
}

static int decode_strlist(struct decoder *d, const struct cfg_node *n, struct cfg_strlist *l,
			  bool verbatim)
{
	size_t i, old;
	char **v;

	if (want(d, n, CFG_NODE_SEQ))
		return -1;
	v = alloc_items(d, n, sizeof(*v));
	if (n->n && !v)
		return -1;
	for (i = 0; i < n->n; i++) {
		old = cfg_path_index(&d->r->path, i);
		v[i] = item_text(d, n->kids[i], verbatim);
		if (!v[i])
			return is_null(n->kids[i]) ? oom(d, n->kids[i]) : -1;
		cfg_path_restore(&d->r->path, old);
	}
	l->v = v;
	l->n = n->n;
	return 0;
}

static char *key_copy(struct decoder *d, const struct cfg_node *k)
{
	char *s = arena_strndup(d->out, k->str, k->len);

	if (!s)
		oom(d, k);
	return s;
}

/* A mapping with arbitrary keys: the keys, and each value decoded by `one` into
 * its slot of `size` bytes. */
static int decode_keyed(struct decoder *d, const struct cfg_node *n, char ***keys_out,
			void **vals_out, size_t size, bool verbatim, size_t *count,
			int (*one)(struct decoder *d, const struct cfg_node *v, void *slot,
				   bool verbatim))
{
	char **keys, *vals;
	size_t i, old;

	if (want(d, n, CFG_NODE_MAP))
		return -1;
	keys = alloc_items(d, n, sizeof(*keys));
	vals = alloc_items(d, n, size);
	if (n->n && (!keys || !vals))
		return -1;
	for (i = 0; i < n->n; i++) {
		const struct cfg_node *k = n->kids[2 * i];

		old = cfg_path_key(&d->r->path, k->str, k->len);
		keys[i] = key_copy(d, k);
		if (!keys[i] || one(d, n->kids[2 * i + 1], vals + i * size, verbatim))
			return -1;
		cfg_path_restore(&d->r->path, old);
	}
	*keys_out = keys;
	*vals_out = vals;
	*count = n->n;
	return 0;
}

static int map_string(struct decoder *d, const struct cfg_node *v, void *slot, bool verbatim)
{
	char **s = slot;

	*s = item_text(d, v, verbatim);
	if (*s)
		return 0;
	return is_null(v) ? oom(d, v) : -1;
}

static int decode_strmap(struct decoder *d, const struct cfg_node *n, struct cfg_strmap *m,
			 bool verbatim)
{
	return decode_keyed(d, n, &m->keys, (void **)&m->vals, sizeof(*m->vals), verbatim, &m->n,
			    map_string);
}

/* A null value is an empty list; a scalar is refused, as Go refuses it for []string. */
static int map_strlist(struct decoder *d, const struct cfg_node *v, void *slot, bool verbatim)
{
	return is_null(v) ? 0 : decode_strlist(d, v, slot, verbatim);
}

static int decode_strlistmap(struct decoder *d, const struct cfg_node *n,
			     struct cfg_strlistmap *m, bool verbatim)
{
	return decode_keyed(d, n, &m->keys, (void **)&m->vals, sizeof(*m->vals), verbatim, &m->n,
			    map_strlist);
}

/* One element of a CFG_LIST / CFG_OBJECT_MAP: defaults, then the file's values. */
static int decode_elem(struct decoder *d, const struct cfg_field *f, const struct cfg_node *n,
		       char *elems, size_t i)
{
	void *elem = elems + i * f->elem_size;

	if (f->sub->init)
		f->sub->init(elem);
	return decode_object(d, n, f->sub, elem);
}

static int decode_list(struct decoder *d, const struct cfg_field *f, const struct cfg_node *n,
		       struct cfg_list *l)
{
	size_t i, old;
	char *v;

	if (want(d, n, CFG_NODE_SEQ))
		return -1;
	v = alloc_items(d, n, f->elem_size);
	if (n->n && !v)
		return -1;
	for (i = 0; i < n->n; i++) {
		old = cfg_path_index(&d->r->path, i);
		if (decode_elem(d, f, n->kids[i], v, i))
			return -1;
		cfg_path_restore(&d->r->path, old);
	}
	l->v = v;
	l->n = n->n;
	return 0;
}

static int decode_objmap(struct decoder *d, const struct cfg_field *f,
			 const struct cfg_node *n, struct cfg_objmap *m)
{
	size_t i, old;
	char **keys, *v;

	if (want(d, n, CFG_NODE_MAP))
		return -1;
	keys = alloc_items(d, n, sizeof(*keys));
	v = alloc_items(d, n, f->elem_size);
	if (n->n && (!keys || !v))
		return -1;
	for (i = 0; i < n->n; i++) {
		const struct cfg_node *k = n->kids[2 * i];

		old = cfg_path_key(&d->r->path, k->str, k->len);
		keys[i] = key_copy(d, k);
		if (!keys[i] || decode_elem(d, f, n->kids[2 * i + 1], v, i))
			return -1;
		cfg_path_restore(&d->r->path, old);
	}
	m->keys = keys;
	m->vals = v;
	m->n = n->n;
	return 0;
}

static int decode_value(struct decoder *d, const struct cfg_field *f, const struct cfg_node *n,
			void *p)
{
	bool verbatim = (f->flags & CFG_VERBATIM) != 0;

	switch (f->type) {
	case CFG_STRING_LIST:
		return decode_strlist(d, n, p, verbatim);
	case CFG_STRING_MAP:
		return decode_strmap(d, n, p, verbatim);
	case CFG_STRLIST_MAP:
		return decode_strlistmap(d, n, p, verbatim);
	case CFG_OBJECT:
		return decode_object(d, n, f->sub, p);
	case CFG_LIST:
		return decode_list(d, f, n, p);
	case CFG_OBJECT_MAP:
		return decode_objmap(d, f, n, p);
	default:
		return decode_scalar(d, f->type, n, p, verbatim);
	}
}

/* A present, non-null value: decode it, then run the field's own check. */
static int decode_field(struct decoder *d, const struct cfg_field *f, const struct cfg_node *n,
			void *base)
{
	void *p = (char *)base + f->offset;
	char why[256];

	if (decode_value(d, f, n, p))
		return -1;
	if (!f->check)
		return 0;
	why[0] = '\0';
	if (!f->check(p, why, sizeof(why)))
		return 0;
	return cfg_fail(d->r, n->line, n->col, "%s", why[0] ? why : "invalid value");
}

static const struct cfg_field *find_field(const struct cfg_schema *schema,
					  const struct cfg_node *k)
{
	const struct cfg_field *f;

	for (f = schema->fields; f && f->key; f++)
		if (f->type != CFG_POS && strlen(f->key) == k->len && !memcmp(f->key, k->str, k->len))
			return f;
	return NULL;
}

static int check_required(struct decoder *d, const struct cfg_schema *schema,
			  const bool *seen, unsigned line, unsigned col)
{
	const struct cfg_field *f;
	size_t i;

	for (i = 0, f = schema->fields; f && f->key; f++, i++) {
		if (!(f->flags & CFG_REQUIRED) || seen[i])
			continue;
		cfg_path_key(&d->r->path, f->key, strlen(f->key));
		return cfg_fail(d->r, line, col, "missing required key");
	}
	return 0;
}

static size_t field_count(const struct cfg_schema *schema)
{
	const struct cfg_field *f;
	size_t n = 0;

	for (f = schema->fields; f && f->key; f++)
		n++;
	return n;
}

/* A null object (or an empty file) has every default, but no required field. */
static int decode_null_object(struct decoder *d, const struct cfg_schema *schema,
			      unsigned line, unsigned col)
{
	bool *seen = arena_calloc(d->tmp, field_count(schema) + 1, sizeof(*seen));

	if (!seen)
		return cfg_fail(d->r, line, col, "out of memory");
	return check_required(d, schema, seen, line, col);
}

/* The mapping's position, for checks that run once the whole file is decoded. */
static int record_pos(struct decoder *d, const struct cfg_node *n, struct cfg_pos *pos)
{
	if (!d->file)
		d->file = arena_strdup(d->out, d->r->file ? d->r->file : "");
	pos->file = d->file;
	pos->path = arena_strndup(d->out, d->r->path.s, d->r->path.len);
	pos->line = n->line;
	pos->col = n->col;
	return d->file && pos->path ? 0 : oom(d, n);
}

static int decode_object(struct decoder *d, const struct cfg_node *n,
			 const struct cfg_schema *schema, void *base)
{
	const struct cfg_field *f;
	bool *seen;
	size_t i, old;

	if (is_null(n))
		return decode_null_object(d, schema, n->line, n->col);
	if (want(d, n, CFG_NODE_MAP))
		return -1;
	for (f = schema->fields; f && f->key; f++)
		if (f->type == CFG_POS && record_pos(d, n, (struct cfg_pos *)((char *)base + f->offset)))
			return -1;
	seen = arena_calloc(d->tmp, field_count(schema) + 1, sizeof(*seen));
	if (!seen)
		return oom(d, n);
	for (i = 0; i < n->n; i++) {
		const struct cfg_node *k = n->kids[2 * i], *v = n->kids[2 * i + 1];

		old = cfg_path_key(&d->r->path, k->str, k->len);
		f = find_field(schema, k);
		if (!f)
			return cfg_fail(d->r, k->line, k->col, "unknown key");
		if (!is_null(v)) {
			if (decode_field(d, f, v, base))
				return -1;
			seen[f - schema->fields] = true;
		}
		cfg_path_restore(&d->r->path, old);
	}
	return check_required(d, schema, seen, n->line, n->col);
}

int cfg_tree_decode(struct cfg_report *r, const struct cfg_node *root,
		    const struct cfg_schema *schema, void *out, struct arena *a,
		    struct arena *tmp)
{
	struct decoder d = { r, a, tmp, NULL };

	if (!root)
		return decode_null_object(&d, schema, 1, 1);
	return decode_object(&d, root, schema, out);
}

int cfg_tree_decode_list(struct cfg_report *r, const struct cfg_node *root,
			 const struct cfg_schema *elem, size_t elem_size, struct cfg_list *out,
			 struct arena *a, struct arena *tmp)
{
	const struct cfg_field f = { "", CFG_LIST, 0, elem, elem_size, 0, NULL };
	struct decoder d = { r, a, tmp, NULL };

	out->v = NULL;
	out->n = 0;
	return root ? decode_list(&d, &f, root, out) : 0;
}
