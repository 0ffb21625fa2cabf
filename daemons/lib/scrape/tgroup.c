/*
 * Target groups: a list of targets (each just an __address__ here) with labels
 * shared by the group, as Prometheus' discovery hands them to the scrape manager.
 * They come from a job's static_configs or from file SD files, which hold the same
 * {targets, labels} objects as a YAML or a JSON list. YAML goes through the config
 * module (strict keys, positions in messages, no environment expansion, as
 * Prometheus reads these files); JSON through jansson, which like Go's decoder
 * ignores unknown keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scrape/mgr_internal.h"

#define META_FILEPATH "__meta_filepath"

/* Group labels from a YAML map, sorted. */
static int map_labels(struct arena *a, const struct cfg_strmap *m, const char *extra_name,
		      const char *extra_value, struct labels *out)
{
	struct label *v = arena_calloc(a, m->n + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -1;
	for (size_t i = 0; i < m->n; i++)
		if (!extra_name || strcmp(m->keys[i], extra_name))
			v[n++] = (struct label){ m->keys[i], m->vals[i] };
	/* Upstream sets it over whatever the file said. */
	if (extra_name)
		v[n++] = (struct label){ extra_name, extra_value };
	out->v = v;
	out->n = n;
	labels_sort(out);
	return 0;
}

static int address_targets(struct arena *a, const struct cfg_strlist *l, struct sm_tgroup *g)
{
	g->ntargets = l->n;
	g->targets = arena_calloc(a, l->n ? l->n : 1, sizeof(*g->targets));
	if (!g->targets)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		struct label *v = arena_alloc(a, sizeof(*v));

		if (!v)
			return -1;
		*v = (struct label){ "__address__", l->v[i] };
		g->targets[i] = (struct labels){ v, 1 };
	}
	return 0;
}

int sm_tgroups_static(const struct scrape_config *c, struct arena *a, struct sm_tgroup **out,
		      size_t *n)
{
	const struct scrape_static_config *sc = c->static_configs.v;
	struct sm_tgroup *g = arena_calloc(a, c->static_configs.n + 1, sizeof(*g));

	if (!g)
		return -1;
	for (size_t i = 0; i < c->static_configs.n; i++) {
		g[i].source = arena_sprintf(a, "%zu", i);
		if (!g[i].source || map_labels(a, &sc[i].labels, NULL, NULL, &g[i].labels) ||
		    address_targets(a, &sc[i].targets, &g[i]))
			return -1;
	}
	*out = g;
	*n = c->static_configs.n;
	return 0;
}

/* --- file SD files ------------------------------------------------------------- */

struct file_group {
	struct cfg_strlist targets;
	struct cfg_strmap labels;
};

#define F(k, t, member, ...) \
	{ .key = (k), .type = (t), .offset = offsetof(struct file_group, member), __VA_ARGS__ }
static const struct cfg_field file_group_fields[] = {
	F("targets", CFG_STRING_LIST, targets, .flags = CFG_VERBATIM),
	F("labels", CFG_STRING_MAP, labels, .flags = CFG_VERBATIM, .check = sm_check_label_names),
	{ 0 },
};
#undef F
static const struct cfg_schema file_group_schema = { "target_group", file_group_fields, NULL };

static int groups_from(const char *path, struct arena *a, const struct file_group *fg, size_t n,
		       struct sm_tgroup **out, size_t *nout)
{
	struct sm_tgroup *g = arena_calloc(a, n + 1, sizeof(*g));
	const char *file = arena_strdup(a, path);

	if (!g || !file)
		return -1;
	for (size_t i = 0; i < n; i++) {
		g[i].source = arena_sprintf(a, "%s:%zu", path, i);
		if (!g[i].source || map_labels(a, &fg[i].labels, META_FILEPATH, file, &g[i].labels) ||
		    address_targets(a, &fg[i].targets, &g[i]))
			return -1;
	}
	*out = g;
	*nout = n;
	return 0;
}

static char *json_str(struct arena *a, const json_t *v)
{
	return arena_strndup(a, json_string_value(v), json_string_length(v));
}

static int json_targets(struct arena *a, const json_t *arr, struct file_group *fg, char *err,
			size_t errlen)
{
	size_t i;
	json_t *v;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return snprintf(err, errlen, "\"targets\" must be a list of strings"), -1;
	fg->targets.v = arena_calloc(a, json_array_size(arr) + 1, sizeof(char *));
	if (!fg->targets.v)
		return snprintf(err, errlen, "out of memory"), -1;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return snprintf(err, errlen, "\"targets\" must be a list of strings"), -1;
		fg->targets.v[i] = json_str(a, v);
		if (!fg->targets.v[i])
			return snprintf(err, errlen, "out of memory"), -1;
	}
	fg->targets.n = json_array_size(arr);
	return 0;
}

static int json_labels(struct arena *a, const json_t *obj, struct file_group *fg, char *err,
		       size_t errlen)
{
	size_t n = 0;
	const char *k;
	json_t *v;

	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return snprintf(err, errlen, "\"labels\" must be an object of strings"), -1;
	fg->labels.keys = arena_calloc(a, json_object_size(obj) + 1, sizeof(char *));
	fg->labels.vals = arena_calloc(a, json_object_size(obj) + 1, sizeof(char *));
	if (!fg->labels.keys || !fg->labels.vals)
		return snprintf(err, errlen, "out of memory"), -1;
	json_object_foreach((json_t *)obj, k, v) {
		if (!json_is_string(v))
			return snprintf(err, errlen, "label %s: value must be a string", k), -1;
		fg->labels.keys[n] = arena_strdup(a, k);
		fg->labels.vals[n] = json_str(a, v);
		if (!fg->labels.keys[n] || !fg->labels.vals[n])
			return snprintf(err, errlen, "out of memory"), -1;
		n++;
	}
	fg->labels.n = n;
	return sm_check_label_names(&fg->labels, err, errlen);
}

static int parse_json(const char *text, size_t len, struct arena *a, struct cfg_list *out,
		      char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je), *v;
	struct file_group *fg;
	int rc = -1;
	size_t i;

	if (!root)
		return snprintf(err, errlen, "line %d, column %d: %s", je.line, je.column, je.text), -1;
	if (!json_is_array(root)) {
		snprintf(err, errlen, "expected a list of target groups");
		goto fail;
	}
	fg = arena_calloc(a, json_array_size(root) + 1, sizeof(*fg));
	if (!fg) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	json_array_foreach(root, i, v) {
		if (!json_is_object(v)) {
			snprintf(err, errlen, "target group %zu: expected an object", i);
			goto fail;
		}
		if (json_targets(a, json_object_get(v, "targets"), &fg[i], err, errlen) ||
		    json_labels(a, json_object_get(v, "labels"), &fg[i], err, errlen))
			goto fail;
	}
	out->v = fg;
	out->n = json_array_size(root);
	rc = 0;
fail:
	json_decref(root);
	return rc;
}

static bool is_json(const char *path)
{
	size_t n = strlen(path);

	return n >= 5 && (!strcmp(path + n - 5, ".json") || !strcmp(path + n - 5, ".JSON"));
}

int sm_tgroups_parse_file(const char *path, const char *text, size_t len, struct arena *a,
			  struct sm_tgroup **out, size_t *n, char *err, size_t errlen)
{
	struct cfg_list l = { 0 };
	char why[512];

	if (is_json(path)) {
		if (parse_json(text, len, a, &l, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", path, why);
			return -1;
		}
	} else if (cfg_load_list_buffer(path, text, len, &file_group_schema,
					sizeof(struct file_group), &l, a, err, errlen)) {
		return -1;
	}
	if (groups_from(path, a, l.v, l.n, out, n)) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}
