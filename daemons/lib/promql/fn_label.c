/*
 * label_replace and label_join work on whole series, not on samples: their
 * argument is evaluated once and each series' labels are rewritten (upstream's
 * evalLabelReplace / evalLabelJoin). Writing __name__ keeps the name through
 * delayed removal; series that end up with equal labels are merged if their
 * points do not collide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

static bool valid_label_name(const struct promql_str *s)
{
	return s->len && strlen(s->s) == s->len && labels_valid_utf8(s->s, s->len);
}

/* Set dst to the value built in b (which is freed). */
static int relabel(struct pq_ev *ev, struct pq_series *s, const char *dst, struct buf *b)
{
	struct pq_query *q = ev->q;
	const struct pq_lset *ls;
	char *value = b->oom ? NULL : arena_strdup(q->a, b->data ? b->data : "");

	buf_free(b);
	if (!value)
		return pq_oom(q);
	if (pq_lb_reset(q, &q->lb, &s->ls->ls) || pq_lb_set(q, &q->lb, dst, value))
		return -1;
	ls = pq_lb_finish(q, &q->lb);
	if (!ls)
		return -1;
	s->ls = ls;
	if (!strcmp(dst, LABELS_METRIC_NAME))
		s->drop_name = false;
	return 0;
}

int pq_eval_label_replace(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	struct pq_query *q = ev->q;
	const char *dst = n->args[1]->str.s, *repl = n->args[2]->str.s, *src = n->args[3]->str.s;
	const char *re_s = n->args[4]->str.s;
	struct labels_regex *re;
	char err[512];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (labels_regex_compile(re_s, &re, err, sizeof(err)))
		return pq_fail(q, PROMQL_ERR_EXECUTION,
			       "invalid regular expression in label_replace(): %s", re_s);
	if (!valid_label_name(&n->args[1]->str)) {
		pq_fail(q, PROMQL_ERR_EXECUTION,
			"invalid destination label name in label_replace(): %s", dst);
		goto done;
	}
	if (pq_eval_matrix(ev, n->args[0], out))
		goto done;
	for (size_t i = 0; i < out->n; i++) {
		const char *v = pq_lset_get(out->v[i].ls, src);
		long ov[2 * 32];
		int np = labels_regex_captures(re, v, strlen(v), ov, 32);
		struct buf b = { 0 };

		if (np < 0)
			continue;
		labels_regex_expand(re, repl, v, ov, np, &b);
		if (relabel(ev, &out->v[i], dst, &b))
			goto fail;
	}
	if (pq_merge_same_labels(ev, out))
		goto fail;
	rc = 0;
	goto done;
fail:
	pq_matrix_free(out);
done:
	labels_regex_free(re);
	return rc;
}

int pq_eval_label_join(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	struct pq_query *q = ev->q;
	const char *dst = n->args[1]->str.s, *sep = n->args[2]->str.s;

	memset(out, 0, sizeof(*out));
	for (size_t i = 3; i < n->nargs; i++)
		if (!valid_label_name(&n->args[i]->str))
			return pq_fail(q, PROMQL_ERR_EXECUTION,
				       "invalid source label name in label_join(): %s",
				       n->args[i]->str.s);
	if (!valid_label_name(&n->args[1]->str))
		return pq_fail(q, PROMQL_ERR_EXECUTION,
			       "invalid destination label name in label_join(): %s", dst);
	if (pq_eval_matrix(ev, n->args[0], out))
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		struct buf b = { 0 };

		for (size_t k = 3; k < n->nargs; k++) {
			if (k > 3)
				buf_puts(&b, sep);
			buf_puts(&b, pq_lset_get(out->v[i].ls, n->args[k]->str.s));
		}
		if (relabel(ev, &out->v[i], dst, &b))
			goto fail;
	}
	if (pq_merge_same_labels(ev, out))
		goto fail;
	return 0;
fail:
	pq_matrix_free(out);
	return -1;
}
