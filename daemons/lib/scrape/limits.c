/*
 * Prometheus' scrape limits with its messages (scrape.go verifyLabelLimits and the
 * sample-limit appender), so a target's last error reads as upstream would show it.
 */
#include <stdio.h>
#include <string.h>

#include "scrape/internal.h"

/* Go's %.50s counts runes, and %.50q quotes at most 50 of them. */
static int runes50(const char *s)
{
	int n = 0, bytes = 0;

	for (; s[bytes] && n < 50; n++) {
		bytes++;
		while ((s[bytes] & 0xc0) == 0x80)
			bytes++;
	}
	return bytes;
}

int scrape_limits_check_labels(const struct scrape_limits *lim, const struct labels *ls,
			       char *err, size_t errlen)
{
	const char *met = labels_get(ls, LABELS_METRIC_NAME);

	if (!lim)
		return 0;
	if (!met)
		met = "";
	if (lim->label_limit && ls->n > lim->label_limit) {
		snprintf(err, errlen, "label_limit exceeded (metric: %.*s, number of labels: %zu, limit: %zu)",
			 runes50(met), met, ls->n, lim->label_limit);
		return -1;
	}
	for (size_t i = 0; i < ls->n; i++) {
		const struct label *l = &ls->v[i];
		size_t nl = strlen(l->name), vl = strlen(l->value);

		if (lim->label_name_length_limit && nl > lim->label_name_length_limit) {
			snprintf(err, errlen, "label_name_length_limit exceeded (metric: %.*s, label name: %.*s, length: %zu, limit: %zu)",
				 runes50(met), met, runes50(l->name), l->name, nl,
				 lim->label_name_length_limit);
			return -1;
		}
		if (lim->label_value_length_limit && vl > lim->label_value_length_limit) {
			struct buf q = { 0 };

			sp_go_quote(&q, l->value, (size_t)runes50(l->value));
			snprintf(err, errlen, "label_value_length_limit exceeded (metric: %.*s, label name: %.*s, value: %s, length: %zu, limit: %zu)",
				 runes50(met), met, runes50(l->name), l->name,
				 q.data && !q.oom ? q.data : "\"\"", vl, lim->label_value_length_limit);
			buf_free(&q);
			return -1;
		}
	}
	return 0;
}

int scrape_limits_check_samples(const struct scrape_limits *lim, size_t samples, char *err,
				size_t errlen)
{
	if (lim && lim->sample_limit && samples > lim->sample_limit) {
		snprintf(err, errlen, "sample limit exceeded");
		return -1;
	}
	return 0;
}
