/*
 * A scrape pool: one job. It owns a private copy of the job's config (relabel
 * rules compiled into it), the job's target groups (static ones built once, file
 * SD ones refreshed by the discovery thread) and the running targets.
 *
 * Sync turns groups into targets and diffs them against what runs: a target whose
 * hash (labels and URL) still exists keeps its loop untouched, new ones start,
 * vanished ones stop and write stale markers. When a job's config changed the
 * manager builds a new pool and syncs it against the old one ("pred"): an old
 * target whose series labels reappear hands its staleness state to its successor
 * (no gap, no stale marker), the rest stop with stale markers. Loops to stop are
 * all signalled before any is joined, so stopping many costs one poll period.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "scrape/mgr_internal.h"

static const char *resolve(struct arena *a, const char *base, const char *path)
{
	if (!path || !*path)
		return NULL;
	if (path[0] == '/' || !base)
		return path;
	return arena_sprintf(a, "%s/%s", base, path);
}

/* The directory of the config file, which relative file names are relative to. */
static const char *base_dir(struct arena *a, const struct scrape_config *c)
{
	const char *file = c->pos.file, *slash = file ? strrchr(file, '/') : NULL;

	if (!slash)
		return NULL;
	return slash == file ? "/" : arena_strndup(a, file, (size_t)(slash - file));
}

static int copy_config(struct arena *a, const struct scrape_config *c, struct scrape_config **out)
{
	struct scrape_config *copy = arena_alloc(a, sizeof(*copy));

	if (!copy)
		return -1;
	memcpy(copy, c, sizeof(*copy));
	*out = copy;
	return cfg_copy(&scrape_config_schema, copy, a);
}

static int compile_rules(struct scrape_config *c, char *err, size_t errlen)
{
	char why[256];

	if (relabel_configs_compile(c->relabel_configs.v, c->relabel_configs.n, why, sizeof(why))) {
		snprintf(err, errlen, "relabel_configs: %s", why);
		return -1;
	}
	if (relabel_configs_compile(c->metric_relabel_configs.v, c->metric_relabel_configs.n, why,
				    sizeof(why))) {
		relabel_configs_release(c->relabel_configs.v, c->relabel_configs.n);
		snprintf(err, errlen, "metric_relabel_configs: %s", why);
		return -1;
	}
	return 0;
}

/* What Prometheus checks when it builds the job's HTTP client: TLS files. */
static int check_client(const struct sm_pool *p, char *err, size_t errlen)
{
	struct httpc_config hc = {
		.ca_file = p->files.ca, .cert_file = p->files.cert, .key_file = p->files.key,
	};
	struct httpc *c;

	if (httpc_new(&hc, &c, err, errlen) < 0)
		return -1;
	httpc_free(c);
	return 0;
}

static int setup(struct sm_pool *p, const struct scrape_config *c, char *err, size_t errlen)
{
	const struct scrape_file_sd_config *fsd;
	const char *base;

	if (copy_config(p->arena, c, &p->orig) || copy_config(p->arena, c, &p->cfg))
		return snprintf(err, errlen, "out of memory"), -1;
	if (compile_rules(p->cfg, err, errlen))
		return -1;
	p->compiled = true;
	base = base_dir(p->arena, p->cfg);
	p->files = (struct sm_files){
		resolve(p->arena, base, p->cfg->tls_config.ca_file),
		resolve(p->arena, base, p->cfg->tls_config.cert_file),
		resolve(p->arena, base, p->cfg->tls_config.key_file),
		resolve(p->arena, base, p->cfg->basic_auth.password_file),
		resolve(p->arena, base, p->cfg->authorization.credentials_file),
	};
	p->limits = (struct scrape_limits){ (size_t)c->sample_limit, (size_t)c->label_limit,
					    (size_t)c->label_name_length_limit,
					    (size_t)c->label_value_length_limit };
	if (check_client(p, err, errlen))
		return -1;
	if (sm_tgroups_static(p->cfg, p->arena, &p->statics, &p->nstatics))
		return snprintf(err, errlen, "out of memory"), -1;
	p->nsds = p->cfg->file_sd_configs.n;
	p->sds = calloc(p->nsds + 1, sizeof(*p->sds));
	if (!p->sds)
		return snprintf(err, errlen, "out of memory"), -1;
	fsd = p->cfg->file_sd_configs.v;
	for (size_t i = 0; i < p->nsds; i++) {
		if (sm_filesd_init(&p->sds[i], &fsd[i], base))
			return snprintf(err, errlen, "out of memory"), -1;
		sm_filesd_refresh(&p->sds[i], &p->m->met, p->cfg->job_name);
	}
	return 0;
}

int sm_pool_new(struct scrape_manager *m, const struct scrape_config *c, struct sm_pool **out,
		char *err, size_t errlen)
{
	struct sm_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || !(p->arena = arena_new(0))) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->m = m;
	if (setup(p, c, err, errlen)) {
		sm_pool_close(p, false);
		return -1;
	}
	p->c_targets = metrics_childv(m->met.pool_targets, c->job_name, NULL);
	p->c_sync = metrics_childv(m->met.pool_sync, c->job_name, NULL);
	p->c_discovered = metrics_childv(m->met.sd_discovered, c->job_name, "scrape", NULL);
	*out = p;
	return 0;
}

/* --- sync ------------------------------------------------------------------------ */

struct specs {
	struct sm_tspec *v;
	size_t n, cap;
	struct labels *dropped;
	size_t ndropped, capdropped;
	struct arena *a;         /* specs: scratch for this sync */
	struct arena *dropped_a; /* dropped labels: kept by the pool */
	size_t discovered;
};

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*v, ncap * size);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

static int add_group(struct sm_pool *p, const struct sm_tgroup *g, struct specs *s)
{
	char err[512];

	for (size_t i = 0; i < g->ntargets; i++) {
		struct sm_tspec spec;
		int rc = sm_target_populate(p->cfg, g, i, s->a, &spec, err, sizeof(err));

		s->discovered++;
		if (rc < 0) {
			LOG_ERROR("scrape", "creating target failed", "scrape_pool", p->cfg->job_name,
				  "group", g->source, "err", err);
		} else if (rc == SM_TARGET_DROPPED) {
			if (grow((void **)&s->dropped, &s->capdropped, s->ndropped + 1,
				 sizeof(*s->dropped)) ||
			    labels_copy(s->dropped_a, &spec.discovered, &s->dropped[s->ndropped]))
				return -1;
			s->ndropped++;
		} else {
			if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
				return -1;
			s->v[s->n++] = spec;
		}
	}
	return 0;
}

static int collect(struct sm_pool *p, struct specs *s)
{
	for (size_t i = 0; i < p->nstatics; i++)
		if (add_group(p, &p->statics[i], s))
			return -1;
	for (size_t i = 0; i < p->nsds; i++)
		for (size_t j = 0; j < p->sds[i].nfiles; j++)
			for (size_t k = 0; k < p->sds[i].files[j].ngroups; k++)
				if (add_group(p, &p->sds[i].files[j].groups[k], s))
					return -1;
	/* One loop per hash: the first of equal targets wins. */
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n;)
			if (s->v[j].hash == s->v[i].hash)
				s->v[j] = s->v[--s->n];
			else
				j++;
	return 0;
}

enum fate { KEEP, HANDOFF, STALE };

struct plan {
	enum fate *fate;   /* per old target */
	long *from;        /* per spec: old target taking over, or -1 */
	bool *used;        /* per spec: kept or handed over */
};

static void decide(struct sm_target **old, size_t nold, const struct specs *s, bool pred,
		   struct plan *pl)
{
	for (size_t j = 0; j < s->n; j++)
		pl->from[j] = -1;
	for (size_t i = 0; i < nold; i++) {
		pl->fate[i] = STALE;
		for (size_t j = 0; j < s->n; j++) {
			if (pl->used[j])
				continue;
			if (!pred && old[i]->spec.hash == s->v[j].hash) {
				pl->fate[i] = KEEP;
			} else if (pred && old[i]->spec.ident == s->v[j].ident) {
				pl->fate[i] = HANDOFF;
				pl->from[j] = (long)i;
			} else {
				continue;
			}
			pl->used[j] = true;
			break;
		}
	}
}

static void stop_leaving(struct sm_target **old, size_t nold, const struct plan *pl)
{
	for (size_t i = 0; i < nold; i++)
		if (pl->fate[i] != KEEP)
			sm_target_signal(old[i]);
	for (size_t i = 0; i < nold; i++)
		if (pl->fate[i] != KEEP)
			sm_target_join(old[i]);
	for (size_t i = 0; i < nold; i++)
		if (pl->fate[i] == STALE)
			sm_append_end_of_run(old[i]);
}

/* The successor carries on where the old loop stopped. */
static void take_over(struct sm_target *t, struct sm_target *old)
{
	sm_cache_handoff(&old->cache, &t->cache);
	memcpy(t->report_refs, old->report_refs, sizeof(t->report_refs));
	t->last_ts_ms = old->last_ts_ms;
	pthread_mutex_lock(&old->mu);
	t->health = old->health;
	memcpy(t->last_error, old->last_error, sizeof(t->last_error));
	t->last_scrape_ns = old->last_scrape_ns;
	t->last_duration_s = old->last_duration_s;
	pthread_mutex_unlock(&old->mu);
}

/* New targets for the specs nobody kept; started once the set is complete. */
static size_t build(struct sm_pool *p, struct sm_target **old, size_t nold,
		    const struct specs *s, const struct plan *pl, struct sm_target **next,
		    bool *fresh)
{
	char err[256];
	size_t k = 0;

	for (size_t i = 0; i < nold; i++)
		if (pl->fate[i] == KEEP)
			next[k++] = old[i];
	for (size_t j = 0; j < s->n; j++) {
		struct sm_target *t;

		if (pl->used[j] && pl->from[j] < 0)
			continue;
		if (sm_target_new(p, &s->v[j], &t, err, sizeof(err))) {
			LOG_ERROR("scrape", "creating target failed", "scrape_pool",
				  p->cfg->job_name, "target", s->v[j].url, "err", err);
			continue;
		}
		if (pl->from[j] >= 0)
			take_over(t, old[pl->from[j]]);
		fresh[k] = true;
		next[k++] = t;
	}
	for (size_t i = 0; i < nold; i++)
		if (pl->fate[i] != KEEP)
			sm_target_free(old[i]);
	return k;
}

static void start_all(struct sm_pool *p, struct sm_target **v, size_t n, const bool *fresh)
{
	for (size_t i = 0; i < n; i++)
		if (fresh[i] && sm_target_start(v[i]))
			LOG_ERROR("scrape", "cannot start scrape loop", "scrape_pool",
				  p->cfg->job_name, "target", v[i]->spec.url);
}

static void set_dropped(struct sm_pool *p, struct specs *s)
{
	arena_free(p->dropped_arena);
	free(p->dropped);
	p->dropped_arena = s->dropped_a;
	p->dropped = s->dropped;
	p->ndropped = s->ndropped;
	s->dropped_a = NULL;
	s->dropped = NULL;
}

static int apply_plan(struct sm_pool *p, struct sm_pool *pred, struct specs *s)
{
	struct sm_pool *from = pred ? pred : p;
	size_t nold = from->ntargets, cap = nold + s->n + 1, n;
	struct plan pl = { calloc(nold + 1, sizeof(*pl.fate)), calloc(s->n + 1, sizeof(*pl.from)),
			   calloc(s->n + 1, sizeof(*pl.used)) };
	struct sm_target **next = calloc(cap, sizeof(*next));
	bool *fresh = calloc(cap, sizeof(*fresh));
	int rc = -1;

	if (!pl.fate || !pl.from || !pl.used || !next || !fresh)
		goto out;
	decide(from->targets, nold, s, pred != NULL, &pl);
	stop_leaving(from->targets, nold, &pl);
	n = build(p, from->targets, nold, s, &pl, next, fresh);
	free(from->targets);
	from->targets = NULL;
	from->ntargets = 0;
	p->targets = next;
	p->ntargets = n;
	next = NULL;
	start_all(p, p->targets, n, fresh);
	rc = 0;
out:
	free(pl.fate);
	free(pl.from);
	free(pl.used);
	free(next);
	free(fresh);
	return rc;
}

int sm_pool_sync(struct sm_pool *p, struct sm_pool *pred)
{
	struct specs s = { .a = arena_new(0), .dropped_a = arena_new(0) };
	int rc = -1;

	if (!s.a || !s.dropped_a || collect(p, &s) || apply_plan(p, pred, &s)) {
		LOG_ERROR("scrape", "target sync failed", "scrape_pool", p->cfg->job_name, "err",
			  "out of memory");
		goto out;
	}
	set_dropped(p, &s);
	metrics_inc(p->c_sync);
	metrics_set(p->c_targets, (double)p->ntargets);
	metrics_set(p->c_discovered, (double)s.discovered);
	rc = 0;
out:
	free(s.v);
	free(s.dropped);
	arena_free(s.dropped_a);
	arena_free(s.a);
	return rc;
}

void sm_pool_close(struct sm_pool *p, bool stale)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ntargets; i++)
		sm_target_signal(p->targets[i]);
	for (size_t i = 0; i < p->ntargets; i++)
		sm_target_join(p->targets[i]);
	for (size_t i = 0; i < p->ntargets; i++) {
		if (stale)
			sm_append_end_of_run(p->targets[i]);
		sm_target_free(p->targets[i]);
	}
	free(p->targets);
	for (size_t i = 0; i < p->nsds; i++)
		sm_filesd_free(&p->sds[i]);
	free(p->sds);
	if (p->compiled) {
		relabel_configs_release(p->cfg->relabel_configs.v, p->cfg->relabel_configs.n);
		relabel_configs_release(p->cfg->metric_relabel_configs.v,
					p->cfg->metric_relabel_configs.n);
	}
	if (p->c_targets && stale)
		metrics_set(p->c_targets, 0);
	arena_free(p->dropped_arena);
	free(p->dropped);
	arena_free(p->arena);
	free(p);
}
