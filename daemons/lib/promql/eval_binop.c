/*
 * Binary operators, as upstream's VectorAnd/VectorOr/VectorUnless, VectorBinop,
 * VectorscalarBinop and scalarBinop, on vectors gathered per step by rangeEval.
 *
 * Vector matching works on join-signature ordinals that rangeEval assigns once per
 * input series (hash of the on(...) labels, or of all labels but the ignoring(...)
 * ones and __name__), so a step only indexes arrays of size #signatures. The
 * labels of a result element (resultMetric) depend only on the two input label
 * sets, so they are made once per pair and cached by the pair's pointers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

struct binop_ctx {
	struct pq_node *n;
	/* per step, indexed by signature ordinal */
	long *right;		/* index into the rhs vector, -1 if none */
	uint8_t *matched;
	size_t cap;
	struct pq_hmap inserted;	/* (ordinal, result hash) of many-to-one results */
	struct pq_hmap cache;		/* (lhs, rhs) label pointers -> cache entry */
	struct cache_entry {
		const struct pq_lset *l, *r, *res;
	} *entries;
	size_t nentries, entries_cap;
	struct pq_hmap match_cache;	/* label pointer -> MatchLabels(on, names) */
	bool annotated;
};

double pq_scalar_binop(enum promql_binop op, double l, double r)
{
	switch (op) {
	case PROMQL_OP_ADD: return l + r;
	case PROMQL_OP_SUB: return l - r;
	case PROMQL_OP_MUL: return l * r;
	case PROMQL_OP_DIV: return l / r;
	case PROMQL_OP_POW: return pow(l, r);
	case PROMQL_OP_MOD: return fmod(l, r);
	case PROMQL_OP_EQL: return l == r;
	case PROMQL_OP_NEQ: return l != r;
	case PROMQL_OP_GTR: return l > r;
	case PROMQL_OP_LSS: return l < r;
	case PROMQL_OP_GTE: return l >= r;
	case PROMQL_OP_LTE: return l <= r;
	case PROMQL_OP_ATAN2: return atan2(l, r);
	default: return NAN;
	}
}

static bool changes_schema(enum promql_binop op)
{
	switch (op) {
	case PROMQL_OP_ADD: case PROMQL_OP_SUB: case PROMQL_OP_DIV: case PROMQL_OP_MUL:
	case PROMQL_OP_POW: case PROMQL_OP_MOD: case PROMQL_OP_ATAN2:
		return true;
	default:
		return false;
	}
}

/* vectorElemBinop for two floats: the value, and whether to keep the element;
 * -1 for the trim operators, which do not apply to floats. */
static int elem_binop(enum promql_binop op, double l, double r, double *v, bool *keep)
{
	*keep = true;
	switch (op) {
	case PROMQL_OP_EQL: *v = l; *keep = l == r; return 0;
	case PROMQL_OP_NEQ: *v = l; *keep = l != r; return 0;
	case PROMQL_OP_GTR: *v = l; *keep = l > r; return 0;
	case PROMQL_OP_LSS: *v = l; *keep = l < r; return 0;
	case PROMQL_OP_GTE: *v = l; *keep = l >= r; return 0;
	case PROMQL_OP_LTE: *v = l; *keep = l <= r; return 0;
	case PROMQL_OP_TRIM_UPPER:
	case PROMQL_OP_TRIM_LOWER:
		*keep = false;
		return -1;
	default:
		*v = pq_scalar_binop(op, l, r);
		return 0;
	}
}

static void incompatible_info(struct pq_query *q, const struct pq_node *n)
{
	const char *op = promql_binop_str(n->binop);

	pq_annof(q, PQ_INFO, n->pos, "PromQL info: incompatible sample types encountered for "
		 "binary operator \"%s\": float %s float", op, op);
}

/* --- label helpers ------------------------------------------------------------------- */

/* upstream's Labels.MatchLabels(on, names...). */
static const struct pq_lset *match_labels(struct binop_ctx *c, struct pq_query *q,
					  const struct pq_lset *ls)
{
	const struct pq_node *n = c->n;
	bool found;
	uint64_t *slot = pq_hmap_put(&c->match_cache, (uint64_t)(uintptr_t)ls, &found);
	const struct pq_lset *res;

	if (!slot) {
		pq_oom(q);
		return NULL;
	}
	if (found)
		return (const struct pq_lset *)(uintptr_t)*slot;
	if (pq_lb_reset(q, &q->lb, NULL))
		return NULL;
	for (size_t i = 0; i < ls->ls.n; i++) {
		const struct label *l = &ls->ls.v[i];
		bool listed = pq_sorted_contains(n->match_names, n->nmatch_names, l->name);

		if (n->vm->on ? !listed : (listed || !strcmp(l->name, LABELS_METRIC_NAME)))
			continue;
		if (pq_lb_set(q, &q->lb, l->name, l->value))
			return NULL;
	}
	res = pq_lb_finish(q, &q->lb);
	if (res)
		*slot = (uint64_t)(uintptr_t)res;
	return res;
}

static const struct pq_lset *compute_result_metric(struct binop_ctx *c, struct pq_query *q,
						   const struct pq_lset *l, const struct pq_lset *r)
{
	const struct pq_node *n = c->n;
	const struct promql_vector_matching *vm = n->vm;

	if (pq_lb_reset(q, &q->lb, &l->ls))
		return NULL;
	if (changes_schema(n->binop))
		pq_lb_del_metadata(&q->lb);
	if (vm->card == PROMQL_CARD_ONE_TO_ONE) {
		if (vm->on) {
			pq_lb_keep(&q->lb, n->match_names, n->nmatch_names);
		} else {
			for (size_t i = 0; i < vm->matching.n; i++)
				pq_lb_del(&q->lb, vm->matching.v[i].s);
		}
	}
	for (size_t i = 0; i < vm->include.n; i++) {
		const char *name = vm->include.v[i].s;

		if (pq_lb_set(q, &q->lb, name, pq_lset_get(r, name)))
			return NULL;
	}
	return pq_lb_finish(q, &q->lb);
}

/* upstream's resultMetric, cached per (lhs, rhs) pair. */
static const struct pq_lset *result_metric(struct binop_ctx *c, struct pq_query *q,
					   const struct pq_lset *l, const struct pq_lset *r)
{
	uint64_t key = (uint64_t)(uintptr_t)l * 0x9E3779B97F4A7C15ULL ^
		       (uint64_t)(uintptr_t)r * 0xC2B2AE3D27D4EB4FULL;
	bool found;
	uint64_t *slot = pq_hmap_put(&c->cache, key, &found);
	const struct pq_lset *res;

	if (!slot) {
		pq_oom(q);
		return NULL;
	}
	if (found) {
		const struct cache_entry *e = &c->entries[*slot];

		if (e->l == l && e->r == r)
			return e->res;
		return compute_result_metric(c, q, l, r);
	}
	res = compute_result_metric(c, q, l, r);
	if (!res)
		return NULL;
	if (pq_reserve(q, &c->entries, &c->entries_cap, c->nentries + 1, sizeof(*c->entries)))
		return NULL;
	*slot = c->nentries;
	c->entries[c->nentries++] = (struct cache_entry){ l, r, res };
	return res;
}

static int ensure_sig_arrays(struct binop_ctx *c, struct pq_query *q, size_t nsigs)
{
	if (nsigs <= c->cap)
		return 0;
	free(c->right);
	free(c->matched);
	c->right = malloc(nsigs * sizeof(*c->right));
	c->matched = malloc(nsigs);
	if (!c->right || !c->matched)
		return pq_oom(q);
	c->cap = nsigs;
	return 0;
}

/* --- set operators ----------------------------------------------------------------- */

static int push_all(struct pq_query *q, struct pq_vector *out, const struct pq_vector *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (pq_vector_push(q, out, &v->v[i]))
			return -1;
	return 0;
}

static int step_set(struct pq_step *st)
{
	struct binop_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	const struct pq_vector *l = &st->in[0], *r = &st->in[1];
	enum promql_binop op = c->n->binop;

	switch (op) {
	case PROMQL_OP_AND:
		if (!l->n || !r->n)
			return 0;
		break;
	case PROMQL_OP_OR:
		if (!l->n)
			return push_all(q, st->out, r);
		if (!r->n)
			return push_all(q, st->out, l);
		break;
	default:
		if (!l->n || !r->n)
			return push_all(q, st->out, l);
		break;
	}
	if (ensure_sig_arrays(c, q, st->nsigs))
		return -1;
	memset(c->matched, 0, st->nsigs);
	if (op == PROMQL_OP_OR) {
		for (size_t i = 0; i < l->n; i++) {
			c->matched[l->v[i].sig] = 1;
			if (pq_vector_push(q, st->out, &l->v[i]))
				return -1;
		}
		for (size_t i = 0; i < r->n; i++)
			if (!c->matched[r->v[i].sig] && pq_vector_push(q, st->out, &r->v[i]))
				return -1;
		return 0;
	}
	for (size_t i = 0; i < r->n; i++)
		c->matched[r->v[i].sig] = 1;
	for (size_t i = 0; i < l->n; i++) {
		bool present = c->matched[l->v[i].sig];

		if (present == (op == PROMQL_OP_AND) && pq_vector_push(q, st->out, &l->v[i]))
			return -1;
	}
	return 0;
}

/* --- arithmetic and comparisons between vectors --------------------------------------- */

static int dup_error(struct binop_ctx *c, struct pq_query *q, const struct pq_lset *cur,
		     const struct pq_lset *prev)
{
	const struct pq_lset *ml = match_labels(c, q, cur);
	struct buf a = { 0 }, b = { 0 }, m = { 0 };

	if (!ml)
		return -1;
	labels_format(&ml->ls, &m);
	labels_format(&cur->ls, &a);
	labels_format(&prev->ls, &b);
	pq_fail(q, PROMQL_ERR_EXECUTION, "found duplicate series for the match group %s on the %s "
		"hand-side of the operation: [%s, %s];many-to-many matching not allowed: matching "
		"labels must be unique on one side", m.data ? m.data : "{}",
		c->n->vm->card == PROMQL_CARD_ONE_TO_MANY ? "left" : "right",
		a.data ? a.data : "{}", b.data ? b.data : "{}");
	buf_free(&a);
	buf_free(&b);
	buf_free(&m);
	return -1;
}

struct side {
	const struct pq_lset *ls;
	double f;
};

static int do_binop(struct pq_step *st, struct side ls, struct side rs, uint32_t sig,
		    bool *info)
{
	struct binop_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	const struct pq_node *n = c->n;
	const struct promql_vector_matching *vm = n->vm;
	double fl = ls.f, fr = rs.f, v = 0;
	const struct pq_lset *metric;
	struct pq_sample out;
	bool keep;

	if (vm->card == PROMQL_CARD_ONE_TO_MANY) {
		fl = rs.f;
		fr = ls.f;
	}
	if (elem_binop(n->binop, fl, fr, &v, &keep))
		*info = true;
	if (n->return_bool)
		v = keep ? 1.0 : 0.0;
	metric = result_metric(c, q, ls.ls, rs.ls);
	if (!metric)
		return -1;
	if (!q->delayed && n->return_bool && !(metric = pq_lset_strip(q, metric)))
		return -1;
	if (vm->card == PROMQL_CARD_ONE_TO_ONE) {
		if (c->matched[sig])
			return pq_fail(q, PROMQL_ERR_EXECUTION, "multiple matches for labels: "
				       "many-to-one matching must be explicit (group_left/group_right)");
		c->matched[sig] = 1;
	} else {
		uint64_t key = metric->hash ^ ((uint64_t)sig * 0x9E3779B97F4A7C15ULL);
		bool found;

		c->matched[sig] = 1;
		if (!pq_hmap_put(&c->inserted, key, &found))
			return pq_oom(q);
		if (found)
			return pq_fail(q, PROMQL_ERR_EXECUTION, "multiple matches for labels: "
				       "grouping labels must ensure unique matches");
	}
	if (!keep && !n->return_bool)
		return 0;
	out = (struct pq_sample){ .ls = metric, .f = v, .t = st->ts, .drop_name = n->return_bool };
	return pq_vector_push(q, st->out, &out);
}

static int step_vector_binop(struct pq_step *st)
{
	struct binop_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	const struct promql_vector_matching *vm = c->n->vm;
	const struct pq_vector *l = &st->in[0], *r = &st->in[1];
	bool has_fill = vm->fill_lhs_set || vm->fill_rhs_set, info = false;

	if ((!l->n && !r->n) || ((!l->n || !r->n) && !has_fill))
		return 0;
	if (vm->card == PROMQL_CARD_ONE_TO_MANY) {
		const struct pq_vector *t = l;

		l = r;
		r = t;
	}
	if (ensure_sig_arrays(c, q, st->nsigs))
		return -1;
	for (size_t i = 0; i < st->nsigs; i++)
		c->right[i] = -1;
	memset(c->matched, 0, st->nsigs);
	pq_hmap_clear(&c->inserted);
	for (size_t i = 0; i < r->n; i++) {
		uint32_t sig = r->v[i].sig;

		if (c->right[sig] >= 0)
			return dup_error(c, q, r->v[i].ls, r->v[c->right[sig]].ls);
		c->right[sig] = (long)i;
	}
	for (size_t i = 0; i < l->n; i++) {
		uint32_t sig = l->v[i].sig;
		struct side ls = { l->v[i].ls, l->v[i].f }, rs;

		if (c->right[sig] >= 0) {
			rs = (struct side){ r->v[c->right[sig]].ls, r->v[c->right[sig]].f };
		} else {
			if (!vm->fill_rhs_set)
				continue;
			rs.ls = match_labels(c, q, l->v[i].ls);
			if (!rs.ls)
				return -1;
			rs.f = vm->fill_rhs;
		}
		if (do_binop(st, ls, rs, sig, &info))
			return -1;
	}
	if (vm->fill_lhs_set) {
		for (size_t i = 0; i < r->n; i++) {
			uint32_t sig = r->v[i].sig;
			struct side ls, rs = { r->v[i].ls, r->v[i].f };

			if (c->matched[sig] || c->right[sig] != (long)i)
				continue;
			ls.ls = match_labels(c, q, r->v[i].ls);
			if (!ls.ls)
				return -1;
			ls.f = vm->fill_lhs;
			if (do_binop(st, ls, rs, sig, &info))
				return -1;
		}
	}
	if (info)
		incompatible_info(q, c->n);
	return 0;
}

/* --- vector and scalar ----------------------------------------------------------------- */

static int vector_scalar(struct pq_step *st, const struct pq_vector *vec, double scalar, bool swap)
{
	struct binop_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	const struct pq_node *n = c->n;
	bool cmp = promql_binop_is_comparison(n->binop), info = false;

	for (size_t i = 0; i < vec->n; i++) {
		struct pq_sample s = vec->v[i];
		double lf = s.f, rf = scalar, v = 0;
		bool keep;

		if (swap) {
			lf = scalar;
			rf = s.f;
		}
		if (elem_binop(n->binop, lf, rf, &v, &keep)) {
			info = true;
			continue;
		}
		if (cmp && swap)
			v = rf;
		if (n->return_bool) {
			v = keep ? 1.0 : 0.0;
			keep = true;
		}
		if (!keep)
			continue;
		s.f = v;
		if (changes_schema(n->binop) || n->return_bool) {
			if (!q->delayed && !(s.ls = pq_lset_strip(q, s.ls)))
				return -1;
			s.drop_name = true;
		}
		if (pq_vector_push(q, st->out, &s))
			return -1;
	}
	if (info)
		incompatible_info(q, n);
	return 0;
}

static int step_vector_scalar(struct pq_step *st)
{
	return vector_scalar(st, &st->in[0], st->in[1].n ? st->in[1].v[0].f : NAN, false);
}

static int step_scalar_vector(struct pq_step *st)
{
	return vector_scalar(st, &st->in[1], st->in[0].n ? st->in[0].v[0].f : NAN, true);
}

static int step_scalars(struct pq_step *st)
{
	struct binop_ctx *c = st->ctx;
	struct pq_sample s = { .ls = st->ev->q->empty, .t = st->ts };

	s.f = pq_scalar_binop(c->n->binop, st->in[0].n ? st->in[0].v[0].f : NAN,
			      st->in[1].n ? st->in[1].v[0].f : NAN);
	return pq_vector_push(st->ev->q, st->out, &s);
}

int pq_eval_binary(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	enum promql_type lt = n->args[0]->type, rt = n->args[1]->type;
	struct binop_ctx c = { .n = n };
	pq_step_fn fn;
	int rc;

	if (lt == PROMQL_TYPE_SCALAR && rt == PROMQL_TYPE_SCALAR)
		fn = step_scalars;
	else if (lt == PROMQL_TYPE_VECTOR && rt == PROMQL_TYPE_VECTOR)
		fn = promql_binop_is_set(n->binop) ? step_set : step_vector_binop;
	else if (lt == PROMQL_TYPE_VECTOR)
		fn = step_vector_scalar;
	else
		fn = step_scalar_vector;
	rc = pq_range_eval(ev, n->args, 2, n->vm ? n : NULL, fn, &c, out);
	free(c.right);
	free(c.matched);
	free(c.entries);
	pq_hmap_free(&c.inserted);
	pq_hmap_free(&c.cache);
	pq_hmap_free(&c.match_cache);
	return rc;
}
