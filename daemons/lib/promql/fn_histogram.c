/*
 * histogram_quantile, histogram_fraction and histogram_quantiles over classic
 * histograms: the samples of a step are grouped by their labels without "le"
 * (upstream's resetHistograms; a missing or malformed le is a warning and the
 * sample is skipped), each group's buckets go to the bucket numerics in
 * quantile.c, and the result keeps the group's labels without le, its name
 * dropped as by any function.
 * Native histograms never reach the engine (the storage holds floats only).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

struct hgroup {
	const struct pq_lset *metric;	/* without le */
	const char *name;		/* __name__ of the first sample */
	struct pq_bucket *b;
	size_t n, cap;
};

struct hstate {
	struct hgroup *g;
	size_t n, cap;
	struct pq_hmap index;	/* signature -> group */
};

/* strconv.ParseFloat for a bucket bound. */
static bool parse_bound(const char *s, double *out)
{
	char *end;

	if (!*s || *s == ' ' || *s == '\t' || *s == '\n')
		return false;
	errno = 0;
	*out = strtod(s, &end);
	if (*end)
		return false;
	return errno != ERANGE || isinf(*out) || *out == 0;
}

static void hstate_free(struct hstate *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->g[i].b);
	free(h->g);
	pq_hmap_free(&h->index);
}

static int add_bucket(struct pq_query *q, struct hgroup *g, double upper, double count)
{
	if (pq_reserve(q, &g->b, &g->cap, g->n + 1, sizeof(*g->b)))
		return -1;
	g->b[g->n++] = (struct pq_bucket){ upper, count };
	return 0;
}

static struct hgroup *group_for(struct pq_query *q, struct hstate *h, const struct pq_lset *ls)
{
	uint64_t sig = pq_hash_except(&ls->ls, "le");
	bool found;
	uint64_t *slot = pq_hmap_put(&h->index, sig, &found);
	struct hgroup *g;

	if (!slot) {
		pq_oom(q);
		return NULL;
	}
	if (found)
		return &h->g[*slot];
	if (pq_reserve(q, &h->g, &h->cap, h->n + 1, sizeof(*h->g)))
		return NULL;
	g = &h->g[h->n];
	memset(g, 0, sizeof(*g));
	/* the group's labels only depend on the signature: made once per query */
	slot = pq_hmap_put(&q->hist_groups, sig, &found);
	if (!slot) {
		pq_oom(q);
		return NULL;
	}
	if (found) {
		g->metric = (const struct pq_lset *)(uintptr_t)*slot;
	} else {
		/* only le goes; the name is dropped like any function's (delayed or not) */
		if (pq_lb_reset(q, &q->lb, &ls->ls))
			return NULL;
		pq_lb_del(&q->lb, "le");
		g->metric = pq_lb_finish(q, &q->lb);
		if (!g->metric)
			return NULL;
		*slot = (uint64_t)(uintptr_t)g->metric;
	}
	g->name = labels_get(&ls->ls, LABELS_METRIC_NAME);
	slot = pq_hmap_get(&h->index, sig);
	*slot = h->n++;
	return g;
}

static int collect_buckets(struct pq_step *st, const struct pq_vector *in,
			   const struct pq_node *arg, struct hstate *h)
{
	struct pq_query *q = st->ev->q;

	for (size_t i = 0; i < in->n; i++) {
		const struct pq_sample *s = &in->v[i];
		const char *le = pq_lset_get(s->ls, "le");
		struct hgroup *g;
		double upper;

		if (!parse_bound(le, &upper)) {
			struct buf b = { 0 }, nb = { 0 };
			const char *name = q->delayed ? pq_lset_get(s->ls, LABELS_METRIC_NAME) : "";

			promql_quote(le, strlen(le), &b);
			if (*name) {
				buf_puts(&nb, " for metric name ");
				promql_quote(name, strlen(name), &nb);
			}
			pq_annof(q, PQ_WARN, arg->pos, "PromQL warning: bucket label \"le\" is missing "
				 "or has a malformed value of %s%s", b.data ? b.data : "\"\"",
				 nb.data ? nb.data : "");
			buf_free(&b);
			buf_free(&nb);
			continue;
		}
		g = group_for(q, h, s->ls);
		if (!g || add_bucket(q, g, upper, s->f))
			return -1;
	}
	return 0;
}

static void quantile_warning(struct pq_query *q, double v, const struct pq_node *arg)
{
	char b[64];

	if (!(isnan(v) || v < 0 || v > 1))
		return;
	pq_fmt_g(v, b, sizeof(b));
	pq_annof(q, PQ_WARN, arg->pos, "PromQL warning: quantile value should be between 0 and 1, "
		 "got %s", b);
}

static int push_result(struct pq_step *st, const struct pq_lset *metric, double f)
{
	struct pq_sample o = { .ls = metric, .f = f, .t = st->ts, .drop_name = true };

	if (!st->ev->q->delayed && !(o.ls = pq_lset_strip(st->ev->q, metric)))
		return -1;
	return pq_vector_push(st->ev->q, st->out, &o);
}

static int quantile_groups(struct pq_step *st, struct hstate *h, double qv,
			   const struct pq_node *vec_arg, const char *qlabel, const char *qstr)
{
	struct pq_query *q = st->ev->q;

	for (size_t i = 0; i < h->n; i++) {
		struct hgroup *g = &h->g[i];
		struct pq_monotonicity mono;
		const struct pq_lset *metric = g->metric;
		double v;

		if (!g->n)
			continue;
		v = pq_bucket_quantile(qv, g->b, g->n, &mono);
		if (mono.forced) {
			const char *name = q->delayed && g->name ? g->name : "";
			struct buf nb = { 0 };

			buf_puts(&nb, "PromQL info: input to histogram_quantile needed to be fixed "
				 "for monotonicity (see https://prometheus.io/docs/prometheus/latest/"
				 "querying/functions/#histogram_quantile)");
			if (*name) {
				buf_puts(&nb, " for metric name ");
				promql_quote(name, strlen(name), &nb);
			}
			if (!nb.oom)
				pq_anno_monotonicity(q, vec_arg->pos, nb.data, st->ts, mono.min_bucket,
						     mono.max_bucket, mono.max_diff);
			buf_free(&nb);
		}
		if (qlabel) {
			if (pq_lb_reset(q, &q->lb, &metric->ls) ||
			    pq_lb_set(q, &q->lb, qlabel, qstr) || !(metric = pq_lb_finish(q, &q->lb)))
				return -1;
		}
		if (push_result(st, metric, v))
			return -1;
	}
	return 0;
}

/* labels.FormatOpenMetricsFloat */
static const char *om_float(struct pq_query *q, double v)
{
	char b[64];
	struct buf out = { 0 };
	const char *s;

	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	promql_format_float(v, &out);
	snprintf(b, sizeof(b), "%s%s", out.data ? out.data : "0",
		 out.data && !strpbrk(out.data, ".e") ? ".0" : "");
	buf_free(&out);
	s = arena_strdup(q->a, b);
	if (!s)
		pq_oom(q);
	return s;
}

int pq_histogram_step(struct pq_step *st)
{
	const struct pq_node *n = st->ctx;
	struct pq_query *q = st->ev->q;
	struct hstate h = { 0 };
	int rc = -1;

	switch (n->fn->id) {
	case PROMQL_FN_HISTOGRAM_QUANTILE:
		if (!st->in[0].n)
			return 0;
		quantile_warning(q, st->in[0].v[0].f, n->args[0]);
		if (collect_buckets(st, &st->in[1], n->args[1], &h) ||
		    quantile_groups(st, &h, st->in[0].v[0].f, n->args[1], NULL, NULL))
			goto done;
		break;
	case PROMQL_FN_HISTOGRAM_FRACTION:
		if (!st->in[0].n || !st->in[1].n)
			return 0;
		if (collect_buckets(st, &st->in[2], n->args[2], &h))
			goto done;
		for (size_t i = 0; i < h.n; i++)
			if (h.g[i].n && push_result(st, h.g[i].metric,
						    pq_bucket_fraction(st->in[0].v[0].f,
								       st->in[1].v[0].f,
								       h.g[i].b, h.g[i].n)))
				goto done;
		break;
	default: /* histogram_quantiles(v, label, q...) */
		if (collect_buckets(st, &st->in[0], n->args[0], &h))
			goto done;
		for (size_t k = 2; k < st->nin; k++) {
			double qv = st->in[k].n ? st->in[k].v[0].f : NAN;
			const char *qs = om_float(q, qv);

			quantile_warning(q, qv, n->args[k]);
			if (!qs)
				goto done;
			/* bucket arrays are sorted in place; counts stay valid for reuse */
			if (quantile_groups(st, &h, qv, n->args[0], n->args[1]->str.s, qs))
				goto done;
		}
		break;
	}
	rc = 0;
done:
	hstate_free(&h);
	return rc;
}
