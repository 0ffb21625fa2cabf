/*
 * Annotations (warnings and infos) collected while a query runs. Upstream keys
 * them by their text without the position, so the same message raised at several
 * places appears once (the last position wins); the API renders each as
 * "<message> (<line>:<col>)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/eval_internal.h"

static struct pq_anno *find(struct pq_query *q, enum pq_anno_level lvl, const char *msg)
{
	for (size_t i = 0; i < q->annos.n; i++)
		if (q->annos.v[i].level == lvl && !strcmp(q->annos.v[i].msg, msg))
			return &q->annos.v[i];
	return NULL;
}

static struct pq_anno *add(struct pq_query *q, enum pq_anno_level lvl, struct promql_pos pos,
			   const char *msg)
{
	struct pq_anno *a;

	/* advisory: dropping one under oom is safe, so no error is set */
	if (pq_reserve(NULL, &q->annos.v, &q->annos.cap, q->annos.n + 1, sizeof(*q->annos.v)))
		return NULL;
	a = &q->annos.v[q->annos.n];
	memset(a, 0, sizeof(*a));
	a->msg = arena_strdup(q->a, msg);
	if (!a->msg)
		return NULL;
	a->level = lvl;
	a->pos = pos;
	q->annos.n++;
	return a;
}

void pq_annof(struct pq_query *q, enum pq_anno_level lvl, struct promql_pos pos,
	      const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	struct pq_anno *a;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a = find(q, lvl, msg);
	if (a)
		a->pos = pos;
	else
		add(q, lvl, pos, msg);
}

void pq_anno_monotonicity(struct pq_query *q, struct promql_pos pos, const char *msg, int64_t ts,
			  double min_bucket, double max_bucket, double max_diff)
{
	struct pq_anno *a = find(q, PQ_INFO, msg);

	if (!a) {
		a = add(q, PQ_INFO, pos, msg);
		if (!a)
			return;
		a->mono = true;
		a->min_ts = a->max_ts = ts;
		a->min_bucket = min_bucket;
		a->max_bucket = max_bucket;
		a->max_diff = max_diff;
		return;
	}
	if (ts < a->min_ts)
		a->min_ts = ts;
	if (ts > a->max_ts)
		a->max_ts = ts;
	if (min_bucket < a->min_bucket)
		a->min_bucket = min_bucket;
	if (max_bucket > a->max_bucket)
		a->max_bucket = max_bucket;
	if (max_diff > a->max_diff)
		a->max_diff = max_diff;
	a->count++;
}

static void rfc3339(int64_t ms, char *out, size_t cap)
{
	time_t s = (time_t)(ms / 1000);	/* Go's integer division truncates */
	struct tm tm;

	if (!gmtime_r(&s, &tm)) {
		snprintf(out, cap, "?");
		return;
	}
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *pq_anno_render(struct arena *a, const char *query, const struct pq_anno *an)
{
	char lo[64], hi[64], diff[64], t0[64], t1[64];
	uint32_t line, col;

	promql_position(query, an->pos.start, &line, &col);
	if (!an->mono)
		return arena_sprintf(a, "%s (%u:%u)", an->msg, line, col);
	pq_fmt_g(an->min_bucket, lo, sizeof(lo));
	pq_fmt_g(an->max_bucket, hi, sizeof(hi));
	snprintf(diff, sizeof(diff), "%.2g", an->max_diff);
	rfc3339(an->min_ts, t0, sizeof(t0));
	rfc3339(an->max_ts, t1, sizeof(t1));
	return arena_sprintf(a, "%s, from buckets %s to %s, with a max diff of %s, over %u "
			     "samples from %s to %s (%u:%u)", an->msg, lo, hi, diff, an->count + 1,
			     t0, t1, line, col);
}
