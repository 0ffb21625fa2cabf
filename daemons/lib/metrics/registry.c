/*
 * The registry: an append-only list of families, functions and collectors.
 *
 * Registration validates everything that would make a scrape unparseable or fail
 * `promtool check metrics` (bad names, counters without _total, sample names that
 * collide with another family's, histogram buckets out of order) and refuses it,
 * so a daemon finds the mistake at start-up rather than in a broken /metrics.
 * Entries are never removed before metrics_registry_free(), which is what lets
 * children and families be handed out as plain pointers.
 */
#include "metrics/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Prometheus' default buckets, as client_golang's DefBuckets. */
static const double default_bounds[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };

static const char *const hist_suffixes[] = { "_bucket", "_sum", "_count", NULL };

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		return NULL;
	}
	atomic_init(&r->head, NULL);
	return r;
}

static void entry_free(struct metric *m)
{
	if (m->kind == ENTRY_FAMILY)
		metrics_children_free(m);
	for (size_t i = 0; m->label_names && i < m->nlabels; i++)
		free(m->label_names[i]);
	free(m->label_names);
	free(m->order);
	free(m->bounds);
	free(m->name);
	free(m->help);
	free(m);
}

void metrics_registry_free(struct metrics_registry *r)
{
	struct metric *m, *next;

	if (!r)
		return;
	for (m = atomic_load(&r->head); m; m = next) {
		next = atomic_load(&m->next);
		entry_free(m);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* full == base + one of the histogram sample suffixes */
static bool is_hist_sample_of(const char *full, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(full, base, n) != 0)
		return false;
	for (const char *const *s = hist_suffixes; *s; s++)
		if (strcmp(full + n, *s) == 0)
			return true;
	return false;
}

static bool has_hist_suffix(const char *name)
{
	size_t n = strlen(name);

	for (const char *const *s = hist_suffixes; *s; s++) {
		size_t k = strlen(*s);

		if (n > k && strcmp(name + n - k, *s) == 0)
			return true;
	}
	return false;
}

/* Would two families (histograms expose three sample names) share a name? */
static bool names_clash(const char *a, bool a_hist, const char *b, bool b_hist)
{
	return strcmp(a, b) == 0 || (a_hist && is_hist_sample_of(b, a)) ||
	       (b_hist && is_hist_sample_of(a, b));
}

static bool entry_clashes(const struct metric *e, const char *name, bool hist)
{
	if (e->kind == ENTRY_COLLECTOR) {
		for (const char *const *n = e->owned_names; n && *n; n++)
			if (names_clash(*n, false, name, hist))
				return true;
		return false;
	}
	return names_clash(e->name, e->type == METRIC_HISTOGRAM, name, hist);
}

static bool name_taken(struct metrics_registry *r, const char *name, bool hist)
{
	for (struct metric *e = atomic_load(&r->head); e; e = atomic_load(&e->next))
		if (entry_clashes(e, name, hist))
			return true;
	return false;
}

static void append_locked(struct metrics_registry *r, struct metric *m)
{
	m->reg = r;
	atomic_init(&m->next, NULL);
	if (r->tail)
		atomic_store_explicit(&r->tail->next, m, memory_order_release);
	else
		atomic_store_explicit(&r->head, m, memory_order_release);
	r->tail = m;
}

/* Append unless one of the entry's names is already taken; then it is freed and -1. */
static int adopt(struct metrics_registry *r, struct metric *m)
{
	bool taken = false;

	pthread_mutex_lock(&r->lock);
	if (m->kind == ENTRY_COLLECTOR) {
		for (const char *const *n = m->owned_names; n && *n && !taken; n++)
			taken = name_taken(r, *n, false);
	} else {
		taken = name_taken(r, m->name, m->type == METRIC_HISTOGRAM);
	}
	if (!taken)
		append_locked(r, m);
	pthread_mutex_unlock(&r->lock);
	if (taken) {
		entry_free(m);
		return -1;
	}
	return 0;
}

static bool valid_family_name(const char *name, enum metric_type type)
{
	size_t n;

	if (!metrics_valid_metric_name(name))
		return false;
	n = strlen(name);
	if (type == METRIC_COUNTER && (n <= 6 || strcmp(name + n - 6, "_total") != 0))
		return false;
	return type == METRIC_HISTOGRAM || !has_hist_suffix(name);
}

static bool valid_help(const char *help)
{
	return help && *help && metrics_valid_utf8(help);
}

static struct metric *entry_new(enum metrics_entry_kind kind, const char *name, const char *help,
				enum metric_type type)
{
	struct metric *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->kind = kind;
	m->type = type;
	if (name) {
		m->name = strdup(name);
		m->help = strdup(help);
		if (!m->name || !m->help) {
			entry_free(m);
			return NULL;
		}
	}
	return m;
}

/* The exposition lists labels by name, as client_golang does; order[] is that order. */
static int set_labels(struct metric *m, const char *const *names)
{
	size_t n = 0, k;

	while (names && names[n])
		n++;
	if (n > METRICS_MAX_LABELS)
		return -1;
	m->nlabels = n;
	if (n == 0)
		return 0;
	m->label_names = calloc(n, sizeof(*m->label_names));
	m->order = calloc(n, sizeof(*m->order));
	if (!m->label_names || !m->order)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!metrics_valid_label_name(names[i]))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return -1;
		m->label_names[i] = strdup(names[i]);
		if (!m->label_names[i])
			return -1;
		k = i;
		while (k > 0 && strcmp(names[m->order[k - 1]], names[i]) > 0) {
			m->order[k] = m->order[k - 1];
			k--;
		}
		m->order[k] = i;
	}
	return 0;
}

/* Strictly ascending and not NaN; a trailing +Inf is implied, so it is dropped. */
static int set_bounds(struct metric *m, const double *b, size_t n)
{
	if (!b) {
		b = default_bounds;
		n = sizeof(default_bounds) / sizeof(default_bounds[0]);
	}
	if (n > 0 && isinf(b[n - 1]) && b[n - 1] > 0)
		n--;
	for (size_t i = 0; i < n; i++)
		if (isnan(b[i]) || (i > 0 && !(b[i] > b[i - 1])))
			return -1;
	m->nbounds = n;
	if (n == 0)
		return 0;
	m->bounds = malloc(n * sizeof(*m->bounds));
	if (!m->bounds)
		return -1;
	memcpy(m->bounds, b, n * sizeof(*m->bounds));
	return 0;
}

static struct metric *family_new(struct metrics_registry *r, const char *name, const char *help,
				 enum metric_type type, const char *const *label_names,
				 const double *bounds, size_t nbounds)
{
	struct metric *m;

	if (!r || !valid_family_name(name, type) || !valid_help(help))
		return NULL;
	m = entry_new(ENTRY_FAMILY, name, help, type);
	if (!m)
		return NULL;
	if (set_labels(m, label_names) < 0)
		goto fail;
	if (type == METRIC_HISTOGRAM && set_bounds(m, bounds, nbounds) < 0)
		goto fail;
	if (metrics_children_init(m) < 0)
		goto fail;
	return adopt(r, m) < 0 ? NULL : m;
fail:
	entry_free(m);
	return NULL;
}

struct metric *metrics_counter(struct metrics_registry *r, const char *name, const char *help,
			       const char *const *label_names)
{
	return family_new(r, name, help, METRIC_COUNTER, label_names, NULL, 0);
}

struct metric *metrics_gauge(struct metrics_registry *r, const char *name, const char *help,
			     const char *const *label_names)
{
	return family_new(r, name, help, METRIC_GAUGE, label_names, NULL, 0);
}

struct metric *metrics_histogram(struct metrics_registry *r, const char *name, const char *help,
				 const char *const *label_names, const double *buckets,
				 size_t nbuckets)
{
	return family_new(r, name, help, METRIC_HISTOGRAM, label_names, buckets, nbuckets);
}

int metrics_func(struct metrics_registry *r, const char *name, const char *help,
		 enum metric_type type, double (*fn)(void *arg), void *arg)
{
	struct metric *m;

	if (!r || !fn || type == METRIC_HISTOGRAM || !valid_family_name(name, type) ||
	    !valid_help(help))
		return -1;
	m = entry_new(ENTRY_FUNC, name, help, type);
	if (!m)
		return -1;
	m->fn = fn;
	m->arg = arg;
	return adopt(r, m);
}

int metrics_add_collector(struct metrics_registry *r, metrics_collect_fn fn, void *arg,
			  const char *const *owned_names)
{
	struct metric *m;

	if (!r || !fn)
		return -1;
	m = entry_new(ENTRY_COLLECTOR, NULL, NULL, METRIC_GAUGE);
	if (!m)
		return -1;
	m->collect = fn;
	m->arg = arg;
	m->owned_names = owned_names;
	return adopt(r, m);
}

int metrics_collector(struct metrics_registry *r, metrics_collect_fn fn, void *arg)
{
	return metrics_add_collector(r, fn, arg, NULL);
}
