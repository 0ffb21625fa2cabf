/*
 * Matrices and vectors of the evaluator: malloc'd arrays that double as they
 * grow. A matrix owns its series' point arrays; label sets belong to the query
 * arena and are only pointed at.
 */
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

int pq_reserve(struct pq_query *q, void *arrp, size_t *cap, size_t need, size_t elem)
{
	void *cur, *v;
	size_t nc;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	memcpy(&cur, arrp, sizeof(cur));
	v = realloc(cur, nc * elem);
	if (!v)
		return q ? pq_oom(q) : -1;
	memcpy(arrp, &v, sizeof(v));
	*cap = nc;
	return 0;
}

int pq_series_push(struct pq_query *q, struct pq_series *s, int64_t t, double f)
{
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 8;
		struct pq_point *p = realloc(s->pts, (size_t)cap * sizeof(*p));

		if (!p)
			return pq_oom(q);
		s->pts = p;
		s->cap = cap;
	}
	s->pts[s->n].t = t;
	s->pts[s->n].f = f;
	s->n++;
	return 0;
}

struct pq_series *pq_matrix_add(struct pq_query *q, struct pq_matrix *m,
				const struct pq_lset *ls, bool drop_name)
{
	struct pq_series *s;

	if (pq_reserve(q, &m->v, &m->cap, m->n + 1, sizeof(*m->v)))
		return NULL;
	s = &m->v[m->n++];
	memset(s, 0, sizeof(*s));
	s->ls = ls;
	s->drop_name = drop_name;
	return s;
}

void pq_matrix_free(struct pq_matrix *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].pts);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

size_t pq_matrix_samples(const struct pq_matrix *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->v[i].n;
	return n;
}

int pq_vector_push(struct pq_query *q, struct pq_vector *v, const struct pq_sample *s)
{
	if (pq_reserve(q, &v->v, &v->cap, v->n + 1, sizeof(*v->v)))
		return -1;
	v->v[v->n++] = *s;
	return 0;
}

void pq_vector_free(struct pq_vector *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

bool pq_vector_dup_labels(struct pq_query *q, const struct pq_vector *v, int *err)
{
	struct pq_hmap seen = { 0 };
	bool dup = false;

	*err = 0;
	if (v->n < 2)
		return false;
	for (size_t i = 0; i < v->n && !dup; i++) {
		bool found;

		if (!pq_hmap_put(&seen, v->v[i].ls->hash, &found)) {
			*err = pq_oom(q);
			break;
		}
		dup = found;
	}
	pq_hmap_free(&seen);
	return dup;
}

static int cmp_series(const void *a, const void *b)
{
	const struct pq_series *x = a, *y = b;

	return labels_compare(&x->ls->ls, &y->ls->ls);
}

int pq_matrix_sort(struct pq_matrix *m)
{
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), cmp_series);
	return 0;
}
