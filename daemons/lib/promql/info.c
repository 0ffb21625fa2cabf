/*
 * info(v [, {selector}]): enrich each series with the data labels of the info
 * series (target_info by default) that share its identifying labels (instance,
 * job). The info series are looked up at the same reference time as the series
 * they enrich: the time of the first selector in v after its @ and offsets (and
 * those of the subqueries around it), so info(x offset 1h) uses the info labels
 * of an hour ago. At each step the newest info sample per signature wins.
 *
 * The selector's __name__ matchers choose the info metrics; a series of v whose
 * name satisfies them all (given at least one positive matcher) is an info series
 * itself and passes through unchanged. Other matchers choose data labels: with
 * any, only those labels are added, and a series without a matching info series
 * is dropped unless every such matcher accepts the empty value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

struct info_matcher {
	const char *name;
	struct tsdb_matcher *m;
};

struct info_ctx {
	struct pq_ev *ev;
	struct info_matcher *mm;	/* all matchers of the selector */
	size_t nmm;
	bool has_name, has_positive_name;
	struct pq_matrix base, info;
	bool *ignore;
	const char **names;		/* distinct info metric names */
	size_t nnames;
	struct pq_lbuilder add;
	struct tsdb_matcher *own;	/* an implied __name__ matcher */
};

static const char *const id_labels[] = { "instance", "job" };

static bool name_matches(const struct info_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nmm; i++)
		if (!strcmp(c->mm[i].name, LABELS_METRIC_NAME) &&
		    !tsdb_matcher_matches(c->mm[i].m, name))
			return false;
	return true;
}

static bool is_data_label(const struct info_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nmm; i++)
		if (strcmp(c->mm[i].name, LABELS_METRIC_NAME) && !strcmp(c->mm[i].name, name))
			return true;
	return false;
}

static bool has_data_matchers(const struct info_ctx *c)
{
	for (size_t i = 0; i < c->nmm; i++)
		if (strcmp(c->mm[i].name, LABELS_METRIC_NAME))
			return true;
	return false;
}

static int compile(struct pq_query *q, struct tsdb_matcher *m, enum tsdb_match_type t,
		   const char *name, const char *value)
{
	char err[512];

	if (tsdb_matcher_init(m, t, name, value, err, sizeof(err)))
		return pq_fail(q, PROMQL_ERR_EXECUTION, "%s", err);
	return 0;
}

/* The matchers of info()'s second argument. Without one, the info metric is
 * target_info; with only negative __name__ matchers, the candidates are the
 * metrics named *_info that they do not exclude. */
static int load_matchers(struct info_ctx *c, const struct pq_node *n)
{
	struct pq_query *q = c->ev->q;
	const struct pq_node *sel = n->nargs > 1 ? n->args[1] : NULL;
	size_t k = 0;

	if (sel && sel->kind == PQ_STEPINV)
		sel = sel->args[0];
	c->mm = arena_calloc(q->a, (sel ? sel->nms : 0) + 1, sizeof(*c->mm));
	c->own = arena_calloc(q->a, 1, sizeof(*c->own));
	if (!c->mm || !c->own)
		return pq_oom(q);
	for (size_t i = 0; sel && i < sel->nms; i++) {
		c->mm[k].name = sel->ms[i].name;
		c->mm[k++].m = &sel->ms[i];
		if (!strcmp(sel->ms[i].name, LABELS_METRIC_NAME)) {
			c->has_name = true;
			if (sel->ms[i].type == TSDB_MATCH_EQ || sel->ms[i].type == TSDB_MATCH_RE)
				c->has_positive_name = true;
		}
	}
	c->nmm = k;
	if (sel && (!c->has_name || c->has_positive_name)) {
		c->own = NULL;
		return 0;
	}
	if (sel ? compile(q, c->own, TSDB_MATCH_RE, LABELS_METRIC_NAME, ".+_info") :
		  compile(q, c->own, TSDB_MATCH_EQ, LABELS_METRIC_NAME, "target_info")) {
		c->own = NULL;
		return -1;
	}
	c->mm[c->nmm].name = LABELS_METRIC_NAME;
	c->mm[c->nmm++].m = c->own;
	c->has_name = c->has_positive_name = true;
	return 0;
}

/* The reference time of the first selector in v: fixed (an @ on the way) or the
 * step time minus *shift. */
static bool ref_time(const struct pq_node *n, int64_t *shift, bool *fixed, int64_t *at)
{
	switch (n->kind) {
	case PQ_VS:
		if (n->has_at) {
			*fixed = true;
			*at = n->at - n->orig_offset;
		} else if (*fixed) {
			*at -= n->orig_offset;
		} else {
			*shift += n->orig_offset;
		}
		return true;
	case PQ_SUBQ:
		if (n->has_at) {
			*fixed = true;
			*at = n->at - n->orig_offset;
		} else if (*fixed) {
			*at -= n->orig_offset;
		} else {
			*shift += n->orig_offset;
		}
		return ref_time(n->args[0], shift, fixed, at);
	default:
		for (size_t i = 0; i < n->nargs; i++) {
			int64_t s = *shift, a = *at;
			bool f = *fixed;

			if (n->args[i] && ref_time(n->args[i], &s, &f, &a)) {
				*shift = s;
				*fixed = f;
				*at = a;
				return true;
			}
		}
		return false;
	}
}

static void quote_meta(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\.+*?()|[]{}^$", *s))
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
}

/* Regex matchers on instance and job for the values the enriched series have. */
static int id_matchers(struct info_ctx *c, struct tsdb_matcher *out, size_t *n)
{
	struct pq_query *q = c->ev->q;

	*n = 0;
	for (size_t k = 0; k < 2; k++) {
		struct buf re = { 0 };
		size_t count = 0;

		for (size_t i = 0; i < c->base.n; i++) {
			const char *v = pq_lset_get(c->base.v[i].ls, id_labels[k]);
			bool dup = false;

			if (c->ignore[i] || !*v)
				continue;
			for (size_t j = 0; j < i && !dup; j++)
				dup = !c->ignore[j] && !strcmp(pq_lset_get(c->base.v[j].ls, id_labels[k]), v);
			if (dup)
				continue;
			if (count++)
				buf_putc(&re, '|');
			quote_meta(&re, v);
		}
		if (re.oom) {
			buf_free(&re);
			return pq_oom(q);
		}
		if (count) {
			int rc = compile(q, &out[*n], TSDB_MATCH_RE, id_labels[k], re.data);

			buf_free(&re);
			if (rc)
				return -1;
			(*n)++;
		}
	}
	return 0;
}

static int fetch_info(struct info_ctx *c, const struct pq_node *n)
{
	struct pq_ev *ev = c->ev;
	struct pq_query *q = ev->q;
	struct tsdb_matcher idm[2];
	size_t nid = 0, total;
	struct pq_node vs = { .kind = PQ_VS };
	int64_t shift = 0, at = 0;
	bool fixed = false;
	int rc = -1;

	if (id_matchers(c, idm, &nid))
		return -1;
	if (!nid)
		return 0;
	total = nid + c->nmm + (c->has_name ? 0 : 1);
	vs.ms = calloc(total, sizeof(*vs.ms));
	if (!vs.ms) {
		pq_oom(q);
		goto done;
	}
	if (!c->has_name) {
		if (compile(q, &vs.ms[vs.nms], TSDB_MATCH_EQ, LABELS_METRIC_NAME, "target_info"))
			goto done;
		vs.nms++;
	}
	for (size_t i = 0; i < nid; i++)
		vs.ms[vs.nms++] = idm[i];
	nid = 0;
	for (size_t i = 0; i < c->nmm; i++, vs.nms++)
		if (compile(q, &vs.ms[vs.nms], c->mm[i].m->type, c->mm[i].m->name, c->mm[i].m->value))
			goto done;
	ref_time(n->args[0], &shift, &fixed, &at);
	if (fixed) {
		vs.hint_start = at - q->lookback + 1;
		vs.hint_end = at;
		rc = pq_eval_selector_fixed(ev, &vs, at, &c->info);
	} else {
		vs.offset = shift;
		vs.hint_start = ev->start - shift - q->lookback + 1;
		vs.hint_end = ev->end - shift;
		rc = pq_eval_selector(ev, &vs, true, &c->info);
	}
done:
	for (size_t i = 0; i < nid; i++)
		tsdb_matcher_free(&idm[i]);
	for (size_t i = 0; i < vs.nms; i++)
		tsdb_matcher_free(&vs.ms[i]);
	free(vs.ms);
	return rc;
}

static uint64_t info_sig(const char *name, const struct pq_lset *ls)
{
	struct label v[3];
	struct labels l = { v, 0 };

	v[l.n++] = (struct label){ LABELS_METRIC_NAME, name };
	for (size_t k = 0; k < 2; k++) {
		const char *x = pq_lset_get(ls, id_labels[k]);

		if (*x)
			v[l.n++] = (struct label){ id_labels[k], x };
	}
	return pq_labels_hash(&l);
}

static int collect_names(struct info_ctx *c)
{
	struct pq_query *q = c->ev->q;

	c->names = arena_calloc(q->a, c->info.n ? c->info.n : 1, sizeof(*c->names));
	if (!c->names)
		return pq_oom(q);
	for (size_t i = 0; i < c->info.n; i++) {
		const char *name = pq_lset_get(c->info.v[i].ls, LABELS_METRIC_NAME);
		bool seen = false;

		for (size_t j = 0; j < c->nnames && !seen; j++)
			seen = !strcmp(c->names[j], name);
		if (!seen)
			c->names[c->nnames++] = name;
	}
	return 0;
}

/* Enrich one base sample with the info samples of this step. */
static int enrich(struct pq_step *st, const struct pq_sample *bs, const struct pq_vector *info,
		  struct pq_hmap *latest)
{
	struct info_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	struct pq_sample o = *bs;
	size_t seen = 0;

	if (pq_lb_reset(q, &c->add, NULL))
		return -1;
	for (size_t k = 0; k < c->nnames; k++) {
		uint64_t *slot = pq_hmap_get(latest, info_sig(c->names[k], bs->ls));
		const struct pq_sample *is;

		if (!slot)
			continue;
		is = &info->v[*slot];
		for (size_t i = 0; i < is->ls->ls.n; i++) {
			const struct label *l = &is->ls->ls.v[i];
			const char *have;

			if (!strcmp(l->name, LABELS_METRIC_NAME))
				continue;
			if (has_data_matchers(c) && !is_data_label(c, l->name))
				continue;
			have = pq_lb_get(&c->add, l->name);
			if (*have && strcmp(have, l->value))
				return pq_fail(q, PROMQL_ERR_EXECUTION, "conflicting label: %s", l->name);
			if (labels_get(&bs->ls->ls, l->name))
				continue;
			if (pq_lb_set(q, &c->add, l->name, l->value))
				return -1;
		}
		seen++;
	}
	if (!seen) {
		for (size_t i = 0; i < c->nmm; i++)
			if (strcmp(c->mm[i].name, LABELS_METRIC_NAME) &&
			    !tsdb_matcher_matches(c->mm[i].m, ""))
				return 0;
	}
	if (c->add.n) {
		if (pq_lb_reset(q, &q->lb, &bs->ls->ls))
			return -1;
		for (size_t i = 0; i < c->add.n; i++)
			if (pq_lb_set(q, &q->lb, c->add.v[i].name, c->add.v[i].value))
				return -1;
		o.ls = pq_lb_finish(q, &q->lb);
		if (!o.ls)
			return -1;
	}
	return pq_vector_push(q, st->out, &o);
}

static int info_step(struct pq_step *st)
{
	struct info_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	const struct pq_vector *base = &st->in[0], *info = &st->in[1];
	struct pq_hmap latest = { 0 };
	int rc = -1;

	for (size_t i = 0; i < info->n; i++) {
		const struct pq_sample *s = &info->v[i];
		uint64_t sig = info_sig(pq_lset_get(s->ls, LABELS_METRIC_NAME), s->ls);
		bool found;
		uint64_t *slot = pq_hmap_put(&latest, sig, &found);

		if (!slot) {
			pq_oom(q);
			goto done;
		}
		if (found) {
			const struct pq_sample *e = &info->v[*slot];

			if ((int64_t)e->f == (int64_t)s->f) {
				struct buf a = { 0 }, b = { 0 };

				labels_format(&e->ls->ls, &a);
				labels_format(&s->ls->ls, &b);
				pq_fail(q, PROMQL_ERR_EXECUTION, "found duplicate series for info metric: "
					"existing %s @ %lld, new %s @ %lld", a.data ? a.data : "{}",
					(long long)e->f, b.data ? b.data : "{}", (long long)s->f);
				buf_free(&a);
				buf_free(&b);
				goto done;
			}
			if ((int64_t)e->f > (int64_t)s->f)
				continue;
		}
		*slot = i;
	}
	for (size_t i = 0; i < base->n; i++) {
		const struct pq_sample *bs = &base->v[i];

		if (c->ignore[bs->sig]) {
			if (pq_vector_push(q, st->out, bs))
				goto done;
			continue;
		}
		if (enrich(st, bs, info, &latest))
			goto done;
	}
	rc = 0;
done:
	pq_hmap_free(&latest);
	return rc;
}

int pq_eval_info(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	struct info_ctx c = { .ev = ev };
	struct pq_query *q = ev->q;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (load_matchers(&c, n))
		goto done;
	if (pq_eval_matrix(ev, n->args[0], &c.base))
		goto done;
	c.ignore = calloc(c.base.n ? c.base.n : 1, sizeof(*c.ignore));
	if (!c.ignore) {
		pq_oom(q);
		goto done;
	}
	for (size_t i = 0; i < c.base.n; i++)
		c.ignore[i] = c.has_positive_name &&
			      name_matches(&c, pq_lset_get(c.base.v[i].ls, LABELS_METRIC_NAME));
	if (fetch_info(&c, n) || collect_names(&c))
		goto done;
	rc = pq_range_eval_matrices(ev, &c.base, &c.info, info_step, &c, out);
done:
	if (c.own)
		tsdb_matcher_free(c.own);
	pq_matrix_free(&c.base);
	pq_matrix_free(&c.info);
	pq_lb_free(&c.add);
	free(c.ignore);
	return rc;
}
