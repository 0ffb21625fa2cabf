/*
 * meta.json: the block's identity, time range, stats and compaction history, in the
 * shape Prometheus' BlockMeta marshals to (stats fields omitted when zero, sources
 * and parents when empty; version 1), plus our "lgtm" object for a block written in the
 * dense encoding (Prometheus ignores fields it does not know, as Thanos' "thanos"
 * shows). Parsing goes through jansson and checks the fields we rely on; unknown
 * fields (hints, deletable, ...) are ignored.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "tsdb/block_internal.h"

void tsdb_block_meta_free(struct tsdb_block_meta *m)
{
	if (!m)
		return;
	free(m->sources);
	free(m->parents);
	m->sources = NULL;
	m->parents = NULL;
	m->nsources = m->nparents = 0;
}

int tsdb_block_meta_copy(struct tsdb_block_meta *dst, const struct tsdb_block_meta *src)
{
	*dst = *src;
	dst->sources = NULL;
	dst->parents = NULL;
	if (src->nsources && !(dst->sources = malloc(src->nsources * sizeof(*src->sources))))
		goto oom;
	if (src->nparents && !(dst->parents = malloc(src->nparents * sizeof(*src->parents))))
		goto oom;
	if (src->nsources)
		memcpy(dst->sources, src->sources, src->nsources * sizeof(*src->sources));
	if (src->nparents)
		memcpy(dst->parents, src->parents, src->nparents * sizeof(*src->parents));
	return 0;
oom:
	tsdb_block_meta_free(dst);
	return TSDB_EFAIL;
}

static int get_int(json_t *o, const char *key, int64_t *out, bool required)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return required ? -1 : 0;
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static int get_ulid(json_t *o, const char *key, char out[TSDB_ULID_LEN + 1])
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || !tsdb_ulid_valid(json_string_value(v)))
		return -1;
	memcpy(out, json_string_value(v), TSDB_ULID_LEN + 1);
	return 0;
}

static int get_stats(json_t *st, struct tsdb_block_meta *m)
{
	int64_t v[4] = { 0 };

	if (!st)
		return 0;
	if (!json_is_object(st) || get_int(st, "numSamples", &v[0], false) < 0 ||
	    get_int(st, "numSeries", &v[1], false) < 0 ||
	    get_int(st, "numChunks", &v[2], false) < 0 ||
	    get_int(st, "numTombstones", &v[3], false) < 0)
		return -1;
	m->num_samples = (uint64_t)v[0];
	m->num_series = (uint64_t)v[1];
	m->num_chunks = (uint64_t)v[2];
	m->num_tombstones = (uint64_t)v[3];
	return 0;
}

/* Our extension: {"chunkEncoding": "dense"}; absent or anything else: Prometheus'. */
static int get_lgtm(json_t *o, struct tsdb_block_meta *m)
{
	json_t *e;

	m->encoding = TSDB_BLOCK_PROMETHEUS;
	if (!o)
		return 0;
	if (!json_is_object(o))
		return -1;
	e = json_object_get(o, "chunkEncoding");
	if (e && !json_is_string(e))
		return -1;
	if (e && !strcmp(json_string_value(e), "dense"))
		m->encoding = TSDB_BLOCK_DENSE;
	return 0;
}

static int get_compaction(json_t *c, struct tsdb_block_meta *m)
{
	json_t *src, *par;
	int64_t level = 0;
	size_t i;

	if (!json_is_object(c) || get_int(c, "level", &level, true) < 0 || level < 1 ||
	    level > 1000)
		return -1;
	m->level = (int)level;
	src = json_object_get(c, "sources");
	par = json_object_get(c, "parents");
	if ((src && !json_is_array(src)) || (par && !json_is_array(par)))
		return -1;
	m->nsources = src ? json_array_size(src) : 0;
	m->nparents = par ? json_array_size(par) : 0;
	if ((m->nsources && !(m->sources = calloc(m->nsources, sizeof(*m->sources)))) ||
	    (m->nparents && !(m->parents = calloc(m->nparents, sizeof(*m->parents)))))
		return -1;
	for (i = 0; i < m->nsources; i++) {
		json_t *s = json_array_get(src, i);

		if (!json_is_string(s) || !tsdb_ulid_valid(json_string_value(s)))
			return -1;
		memcpy(m->sources[i], json_string_value(s), TSDB_ULID_LEN + 1);
	}
	for (i = 0; i < m->nparents; i++) {
		json_t *p = json_array_get(par, i);

		if (!json_is_object(p) || get_ulid(p, "ulid", m->parents[i].ulid) < 0 ||
		    get_int(p, "minTime", &m->parents[i].mint, true) < 0 ||
		    get_int(p, "maxTime", &m->parents[i].maxt, true) < 0)
			return -1;
	}
	return 0;
}

int tsdb_block_meta_read(const char *dir, struct tsdb_block_meta *m, char *err, size_t errlen)
{
	char path[4096];
	json_error_t je;
	json_t *root;
	int64_t version = 0;
	int rc = TSDB_EFAIL;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "read %s: %s", path, je.text);
		return TSDB_EFAIL;
	}
	if (!json_is_object(root) || get_int(root, "version", &version, true) < 0 ||
	    version != 1) {
		snprintf(err, errlen, "%s: unexpected meta file version %lld", path,
			 (long long)version);
		goto out;
	}
	if (get_ulid(root, "ulid", m->ulid) < 0 || get_int(root, "minTime", &m->mint, true) < 0 ||
	    get_int(root, "maxTime", &m->maxt, true) < 0 || m->maxt < m->mint ||
	    get_stats(json_object_get(root, "stats"), m) < 0 ||
	    get_compaction(json_object_get(root, "compaction"), m) < 0 ||
	    get_lgtm(json_object_get(root, "lgtm"), m) < 0) {
		snprintf(err, errlen, "%s: malformed block meta", path);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		tsdb_block_meta_free(m);
	json_decref(root);
	return rc;
}

static void put_stat(struct jw *w, const char *key, uint64_t v)
{
	if (!v)
		return;
	jw_key(w, key);
	jw_uint(w, v);
}

static void encode(struct jw *w, const struct tsdb_block_meta *m)
{
	jw_obj_begin(w);
	jw_kstr(w, "ulid", m->ulid);
	jw_kint(w, "minTime", m->mint);
	jw_kint(w, "maxTime", m->maxt);
	jw_key(w, "stats");
	jw_obj_begin(w);
	put_stat(w, "numSamples", m->num_samples);
	put_stat(w, "numSeries", m->num_series);
	put_stat(w, "numChunks", m->num_chunks);
	put_stat(w, "numTombstones", m->num_tombstones);
	jw_obj_end(w);
	jw_key(w, "compaction");
	jw_obj_begin(w);
	jw_kint(w, "level", m->level);
	if (m->nsources) {
		jw_key(w, "sources");
		jw_arr_begin(w);
		for (size_t i = 0; i < m->nsources; i++)
			jw_str(w, m->sources[i]);
		jw_arr_end(w);
	}
	if (m->nparents) {
		jw_key(w, "parents");
		jw_arr_begin(w);
		for (size_t i = 0; i < m->nparents; i++) {
			jw_obj_begin(w);
			jw_kstr(w, "ulid", m->parents[i].ulid);
			jw_kint(w, "minTime", m->parents[i].mint);
			jw_kint(w, "maxTime", m->parents[i].maxt);
			jw_obj_end(w);
		}
		jw_arr_end(w);
	}
	jw_obj_end(w);
	if (m->encoding == TSDB_BLOCK_DENSE) {
		jw_key(w, "lgtm");
		jw_obj_begin(w);
		jw_kstr(w, "chunkEncoding", "dense");
		jw_obj_end(w);
	}
	jw_kint(w, "version", 1);
	jw_obj_end(w);
}

int tsdb_block_meta_write(const char *dir, const struct tsdb_block_meta *m, char *err,
			  size_t errlen)
{
	char path[4096], tmp[4096];
	struct buf b = { 0 };
	struct jw w;
	int rc;

	snprintf(path, sizeof(path), "%s/meta.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/meta.json.tmp", dir);
	jw_init(&w, &b);
	encode(&w, m);
	buf_putc(&b, '\n');
	if (jw_failed(&w) || b.oom) {
		buf_free(&b);
		snprintf(err, errlen, "out of memory encoding meta.json");
		return TSDB_EFAIL;
	}
	rc = tsdb_fs_write_file(tmp, b.data, b.len, err, errlen);
	buf_free(&b);
	if (rc < 0)
		return rc;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s: %m", tmp);
		return TSDB_EFAIL;
	}
	return 0;
}
