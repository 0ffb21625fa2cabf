/*
 * Annotations (warnings and infos) collected while a query runs. Upstream keys
 * them by their text without the position, so the same message raised at several
 * places appears once (the last position wins); the API renders each as
 * "<message> (<line>:<col>)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

void pq_annof(struct pq_query *q, enum pq_anno_level lvl, struct promql_pos pos,
	      const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	struct pq_anno *a;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < q->annos.n; i++) {
		if (q->annos.v[i].level == lvl && !strcmp(q->annos.v[i].msg, msg)) {
			q->annos.v[i].pos = pos;
			return;
		}
	}
	if (q->annos.n == q->annos.cap) {
		size_t cap = q->annos.cap ? q->annos.cap * 2 : 8;
		struct pq_anno *v = realloc(q->annos.v, cap * sizeof(*v));

		if (!v)
			return;	/* an annotation is advisory; dropping it under oom is safe */
		q->annos.v = v;
		q->annos.cap = cap;
	}
	a = &q->annos.v[q->annos.n];
	a->msg = arena_strdup(q->a, msg);
	if (!a->msg)
		return;
	a->level = lvl;
	a->pos = pos;
	q->annos.n++;
}
