/*
 * Decoded values, driven by the same schema tables that decoded them: equality
 * (a reload keeps what did not change) and deep copy (a section kept beyond the
 * life of the config's arena). Both recurse through objects, lists and maps with
 * the field offsets, so a struct needs no code of its own to be compared or
 * copied, and a field added to a table is covered at once.
 */
#include "config/internal.h"

#include <string.h>

static const char *nz(const char *s)
{
	return s ? s : "";
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(nz(a), nz(b)) == 0;
}

static bool strlist_eq(const struct cfg_strlist *a, const struct cfg_strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!str_eq(a->v[i], b->v[i]))
			return false;
	return true;
}

static bool keys_eq(char *const *a, char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool field_eq(const struct cfg_field *f, const void *pa, const void *pb);

static bool elems_eq(const struct cfg_field *f, const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!cfg_equal(f->sub, a + i * f->elem_size, b + i * f->elem_size))
			return false;
	return true;
}

static bool field_eq(const struct cfg_field *f, const void *pa, const void *pb)
{
	switch (f->type) {
	case CFG_STRING:
		return str_eq(*(char *const *)pa, *(char *const *)pb);
	case CFG_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case CFG_INT:
	case CFG_DURATION:
		return *(const int64_t *)pa == *(const int64_t *)pb;
	case CFG_DOUBLE:
		return !memcmp(pa, pb, sizeof(double));
	case CFG_BYTES:
		return *(const uint64_t *)pa == *(const uint64_t *)pb;
	case CFG_STRING_LIST:
		return strlist_eq(pa, pb);
	case CFG_STRING_MAP: {
		const struct cfg_strmap *a = pa, *b = pb;

		return a->n == b->n && keys_eq(a->keys, b->keys, a->n) &&
		       keys_eq(a->vals, b->vals, a->n);
	}
	case CFG_STRLIST_MAP: {
		const struct cfg_strlistmap *a = pa, *b = pb;

		if (a->n != b->n || !keys_eq(a->keys, b->keys, a->n))
			return false;
		for (size_t i = 0; i < a->n; i++)
			if (!strlist_eq(&a->vals[i], &b->vals[i]))
				return false;
		return true;
	}
	case CFG_OBJECT:
		return cfg_equal(f->sub, pa, pb);
	case CFG_LIST: {
		const struct cfg_list *a = pa, *b = pb;

		return a->n == b->n && elems_eq(f, a->v, b->v, a->n);
	}
	case CFG_OBJECT_MAP: {
		const struct cfg_objmap *a = pa, *b = pb;

		return a->n == b->n && keys_eq(a->keys, b->keys, a->n) &&
		       elems_eq(f, a->vals, b->vals, a->n);
	}
	case CFG_POS:
		return true; /* where a value was written is not part of it */
	}
	return false;
}

bool cfg_equal(const struct cfg_schema *s, const void *a, const void *b)
{
	for (const struct cfg_field *f = s->fields; f && f->key; f++)
		if (!field_eq(f, (const char *)a + f->offset, (const char *)b + f->offset))
			return false;
	return true;
}

/* --- copy ------------------------------------------------------------------------ */

static int str_copy(char **p, struct arena *a)
{
	if (!*p)
		return 0;
	*p = arena_strdup(a, *p);
	return *p ? 0 : -1;
}

/* Replace *p (n items of size bytes) with a copy in the arena. */
static int array_copy(void *p, size_t n, size_t size, struct arena *a)
{
	void **v = p;
	void *c;

	if (!n || !*v)
		return 0;
	c = arena_alloc(a, n * size);
	if (!c)
		return -1;
	memcpy(c, *v, n * size);
	*v = c;
	return 0;
}

static int strs_copy(char ***v, size_t n, struct arena *a)
{
	if (array_copy(v, n, sizeof(**v), a))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (str_copy(&(*v)[i], a))
			return -1;
	return 0;
}

static int elems_copy(const struct cfg_field *f, void **v, size_t n, struct arena *a)
{
	if (array_copy(v, n, f->elem_size, a))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (cfg_copy(f->sub, (char *)*v + i * f->elem_size, a))
			return -1;
	return 0;
}

static int field_copy(const struct cfg_field *f, void *p, struct arena *a)
{
	switch (f->type) {
	case CFG_STRING:
		return str_copy(p, a);
	case CFG_STRING_LIST: {
		struct cfg_strlist *l = p;

		return strs_copy(&l->v, l->n, a);
	}
	case CFG_STRING_MAP: {
		struct cfg_strmap *m = p;

		return strs_copy(&m->keys, m->n, a) || strs_copy(&m->vals, m->n, a) ? -1 : 0;
	}
	case CFG_STRLIST_MAP: {
		struct cfg_strlistmap *m = p;

		if (strs_copy(&m->keys, m->n, a) || array_copy(&m->vals, m->n, sizeof(*m->vals), a))
			return -1;
		for (size_t i = 0; i < m->n; i++)
			if (strs_copy(&m->vals[i].v, m->vals[i].n, a))
				return -1;
		return 0;
	}
	case CFG_OBJECT:
		return cfg_copy(f->sub, p, a);
	case CFG_LIST: {
		struct cfg_list *l = p;

		return elems_copy(f, &l->v, l->n, a);
	}
	case CFG_OBJECT_MAP: {
		struct cfg_objmap *m = p;

		return strs_copy(&m->keys, m->n, a) || elems_copy(f, &m->vals, m->n, a) ? -1 : 0;
	}
	case CFG_POS: {
		struct cfg_pos *pos = p;

		return str_copy((char **)&pos->file, a) || str_copy((char **)&pos->path, a) ? -1 : 0;
	}
	default:
		return 0; /* scalars live in the struct itself */
	}
}

int cfg_copy(const struct cfg_schema *s, void *obj, struct arena *a)
{
	for (const struct cfg_field *f = s->fields; f && f->key; f++)
		if (field_copy(f, (char *)obj + f->offset, a))
			return -1;
	return 0;
}
