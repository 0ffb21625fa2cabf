/*
 * The Prometheus text exposition format 0.0.4, written the way client_golang's
 * expfmt writes it, so our /metrics reads like any Go exporter's:
 * - numbers as Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest string that
 *   reads back as v, with an exponent below 1e-4 or from 1e+06 on; 0 and -0 as "0";
 * - labels in name order, histogram "le" last; bucket counts as integers;
 * - HELP escapes backslash and newline, label values also the double quote;
 * - a family with labels but no children yet writes nothing at all.
 * The scrape walks the entry list without the registry lock (entries are published
 * with release stores) and snapshots each family's children under its lock.
 */
#include "metrics/internal.h"

#include "labels/labels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The digits are the shortest %.*e that round-trips; that is Go's choice too except
 * at the rare powers of two whose rounding interval is lopsided, where Go can find
 * one digit fewer. Both read back as the same double.
 */
int metrics_format_float(char *out, size_t cap, double v)
{
	char e[32];
	int prec, exp10;

	if (isnan(v))
		return snprintf(out, cap, "NaN");
	if (isinf(v))
		return snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
	if (v == 0)
		return snprintf(out, cap, "0");
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	exp10 = atoi(strchr(e, 'e') + 1);
	if (exp10 < -4 || exp10 >= 6)
		return snprintf(out, cap, "%s", e);
	return snprintf(out, cap, "%.*f", prec > exp10 ? prec - exp10 : 0, v);
}

static void put_float(struct buf *out, double v)
{
	char tmp[40];

	metrics_format_float(tmp, sizeof(tmp), v);
	buf_puts(out, tmp);
}

static void put_escaped(struct buf *out, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && quote)
			rep = "\\\"";
		else
			continue;
		buf_append(out, run, (size_t)(s - run));
		buf_puts(out, rep);
		run = s + 1;
	}
	buf_append(out, run, (size_t)(s - run));
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

void metrics_write_header(struct buf *out, const char *name, const char *help,
			  enum metric_type type)
{
	buf_printf(out, "# HELP %s ", name);
	put_escaped(out, help, false);
	buf_printf(out, "\n# TYPE %s %s\n", name, type_name(type));
}

void metrics_write_sample(struct buf *out, const char *name, double v)
{
	buf_puts(out, name);
	buf_putc(out, ' ');
	put_float(out, v);
	buf_putc(out, '\n');
}

void metrics_text_untyped_header(struct buf *out, const char *name)
{
	buf_printf(out, "# TYPE %s untyped\n", name);
}

void metrics_text_series_sample(struct buf *out, const struct labels *ls, double v,
				int64_t ts_ms)
{
	const char *name = labels_get(ls, LABELS_METRIC_NAME);
	bool first = true;

	buf_puts(out, name ? name : "");
	for (size_t i = 0; i < ls->n; i++) {
		if (!strcmp(ls->v[i].name, LABELS_METRIC_NAME))
			continue;
		buf_printf(out, "%s%s=\"", first ? "{" : ",", ls->v[i].name);
		put_escaped(out, ls->v[i].value, true);
		buf_putc(out, '"');
		first = false;
	}
	if (!first)
		buf_putc(out, '}');
	buf_putc(out, ' ');
	put_float(out, v);
	buf_printf(out, " %lld\n", (long long)ts_ms);
}

/* name{a="x",b="y",le="1"} with the labels in name order; le may be NULL. */
static void put_series(struct buf *out, const struct metric_child *c, const char *suffix,
		       const char *le)
{
	const struct metric *m = c->m;

	buf_puts(out, m->name);
	buf_puts(out, suffix);
	if (m->nlabels == 0 && !le)
		return;
	buf_putc(out, '{');
	for (size_t i = 0; i < m->nlabels; i++) {
		size_t k = m->order[i];

		buf_printf(out, "%s%s=\"", i ? "," : "", m->label_names[k]);
		put_escaped(out, c->values[k], true);
		buf_putc(out, '"');
	}
	if (le)
		buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
	buf_putc(out, '}');
}

static void write_value(struct buf *out, const struct metric_child *c)
{
	put_series(out, c, "", NULL);
	buf_putc(out, ' ');
	put_float(out, metrics_value(c));
	buf_putc(out, '\n');
}

static void write_histogram(struct buf *out, const struct metric_child *c, uint64_t *counts)
{
	const struct metric *m = c->m;
	uint64_t count, cum = 0;
	double sum;
	char le[40];

	metrics_histogram_read(c, counts, &count, &sum);
	for (size_t i = 0; i <= m->nbounds; i++) {
		cum += counts[i];
		if (i < m->nbounds)
			metrics_format_float(le, sizeof(le), m->bounds[i]);
		else
			strcpy(le, "+Inf");
		put_series(out, c, "_bucket", le);
		buf_printf(out, " %llu\n", (unsigned long long)cum);
	}
	put_series(out, c, "_sum", NULL);
	buf_putc(out, ' ');
	put_float(out, sum);
	buf_putc(out, '\n');
	put_series(out, c, "_count", NULL);
	buf_printf(out, " %llu\n", (unsigned long long)count);
}

static int write_family(struct buf *out, struct metric *m)
{
	struct metric_child **children;
	uint64_t *counts = NULL;
	size_t n;

	if (metrics_children_sorted(m, &children, &n) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (m->type == METRIC_HISTOGRAM) {
		counts = malloc((m->nbounds + 1) * sizeof(*counts));
		if (!counts)
			goto fail;
	}
	metrics_write_header(out, m->name, m->help, m->type);
	for (size_t i = 0; i < n; i++) {
		if (m->type == METRIC_HISTOGRAM)
			write_histogram(out, children[i], counts);
		else
			write_value(out, children[i]);
	}
	free(counts);
	free(children);
	return 0;
fail:
	free(children);
	return -1;
}

int metrics_write_text(struct metrics_registry *r, struct buf *out)
{
	struct metric *m;

	if (!r || !out)
		return -1;
	for (m = atomic_load_explicit(&r->head, memory_order_acquire); m;
	     m = atomic_load_explicit(&m->next, memory_order_acquire)) {
		switch (m->kind) {
		case ENTRY_FAMILY:
			if (write_family(out, m) < 0)
				return -1;
			break;
		case ENTRY_FUNC:
			metrics_write_header(out, m->name, m->help, m->type);
			metrics_write_sample(out, m->name, m->fn(m->arg));
			break;
		case ENTRY_COLLECTOR:
			m->collect(out, m->arg);
			break;
		}
	}
	return out->oom ? -1 : 0;
}
