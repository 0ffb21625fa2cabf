/*
 * The scrape manager's pieces, shared between its files only.
 *
 * Ownership and locking, in one place:
 * - struct scrape_manager owns the pools; `mu` serializes everything that changes
 *   or reads the set of pools, targets and file SD state (apply, the discovery
 *   thread's refreshes, the targets API, stop). Scrape loop threads never take it.
 * - struct sm_pool is one job: a private copy of its config (relabel rules
 *   compiled), its target groups and its running targets. A pool's config never
 *   changes; a changed job gets a new pool.
 * - struct sm_target is one target with its loop thread. Its spec (labels, URL,
 *   interval) is immutable. Its status (health, last error...) is guarded by its
 *   own `mu`, which also carries the stop flag and the condition the loop sleeps
 *   on. Its series cache belongs to the loop thread while it runs and to whoever
 *   joined the thread afterwards. Its metadata cache has a lock of its own, since
 *   the metadata API reads it (under the manager's `mu`, which keeps the target
 *   alive) while the loop writes it.
 */
#ifndef LGTM_SCRAPE_MGR_INTERNAL_H
#define LGTM_SCRAPE_MGR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena/arena.h"
#include "httpclient/httpclient.h"
#include "metrics/metrics.h"
#include "relabel/relabel.h"
#include "scrape/scrape.h"

/* ---- small helpers (mgrutil.c) ---------------------------------------------------- */

int64_t sm_mono_ns(void);
int64_t sm_wall_ns(void);

/* A label set under construction: unsorted, linear lookups (target label sets are
 * small), an empty value deletes, as Prometheus' labels.Builder. Its capacity is
 * fixed when it starts (the caller knows how many labels can come). */
struct sm_lb {
	struct label *v;
	size_t n, cap;
	struct arena *a;
};

/* Room for `cap` labels besides those of `from` (may be NULL), which it starts with. */
int sm_lb_init(struct sm_lb *b, struct arena *a, size_t cap, const struct labels *from);
const char *sm_lb_get(const struct sm_lb *b, const char *name);
/* -1 when the builder is full. */
int sm_lb_set(struct sm_lb *b, const char *name, const char *value);
void sm_lb_del(struct sm_lb *b, const char *name);
/* Sorted view of the builder (shares its array). */
struct labels sm_lb_labels(struct sm_lb *b);
/* Go's %q of a string, cut to fit `cap`. */
void sm_quote(const char *s, char *out, size_t cap);

/* ---- self metrics (selfmetrics.c) ------------------------------------------------- */

struct sm_metrics {
	struct metric *pools, *pools_failed, *reloads, *reloads_failed;
	struct metric *pool_targets, *pool_sync, *interval_length;
	struct metric *exceeded_sample_limit, *exceeded_body_size, *exceeded_label_limits;
	struct metric *out_of_order, *duplicate, *out_of_bounds, *exemplar_out_of_order;
	struct metric *sd_read_errors, *sd_mtime, *sd_discovered;
};

int sm_metrics_init(struct sm_metrics *m, struct metrics_registry *r, char *err, size_t errlen);
/* Increment a label-less counter (NULL: no registry). */
void sm_count(struct metric *m, double n);

/* ---- target groups (tgroup.c) ------------------------------------------------------ */

struct sm_tgroup {
	const char *source;
	struct labels labels;   /* sorted */
	struct labels *targets; /* each sorted, holding __address__ */
	size_t ntargets;
};

/* The static_configs of a job: sources "0", "1", ... as upstream. */
int sm_tgroups_static(const struct scrape_config *c, struct arena *a, struct sm_tgroup **out,
		      size_t *n);
/* A file SD file (JSON when the name ends in .json, else YAML), with
 * __meta_filepath and sources "<path>:<i>". */
int sm_tgroups_parse_file(const char *path, const char *text, size_t len, struct arena *a,
			  struct sm_tgroup **out, size_t *n, char *err, size_t errlen);
/* Label-name check of a group's labels, shared with the config schema. */
int sm_check_label_names(const void *strmap, char *err, size_t errlen);

/* ---- targets as discovery and relabeling make them (target.c) -------------------- */

struct sm_tspec {
	struct labels discovered; /* before relabeling */
	struct labels all;        /* after: no __meta_*, instance set */
	struct labels pub;        /* `all` without __ labels: what series carry */
	const char *url;
	int64_t interval_ms, timeout_ms;
	uint64_t hash;            /* labels and URL: one loop per hash */
	uint64_t ident;           /* public labels: same series, same staleness state */
};

#define SM_TARGET_DROPPED 0
#define SM_TARGET_ACTIVE 1

/* Target i of group g: SM_TARGET_ACTIVE, SM_TARGET_DROPPED (only `discovered`
 * set), or -1 with err (the target is left out, as upstream logs and skips it). */
int sm_target_populate(const struct scrape_config *c, const struct sm_tgroup *g, size_t i,
		       struct arena *a, struct sm_tspec *out, char *err, size_t errlen);

/* ---- per-loop series cache (cache.c) ---------------------------------------------- */

struct sm_node {
	struct sm_node *next;
	uint64_t hash;
};

struct sm_htab {
	struct sm_node **b;
	size_t nb, n;
};

/* Chains on the caller's 64-bit hash; the caller compares keys on a hit. */
static inline struct sm_node *sm_htab_bucket(const struct sm_htab *t, uint64_t hash)
{
	return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}
/* Grows by doubling; -1 when out of memory (n not added). */
int sm_htab_add(struct sm_htab *t, struct sm_node *n);
/* Remove and free() every node `keep` rejects (keep NULL: all of them). */
void sm_htab_prune(struct sm_htab *t, bool (*keep)(const struct sm_node *n, void *arg),
		   void *arg);
void sm_htab_free(struct sm_htab *t);

/* A series as appended (after target labels and metric relabeling). */
struct sm_series {
	struct sm_node node;
	uint64_t ref;
	uint64_t seen;    /* scrape iteration it last appeared in */
	uint64_t tracked; /* iteration it was last appended without its own timestamp */
	struct labels ls;
};

/* A scraped label set and what it became (s NULL: metric relabeling dropped it). */
struct sm_centry {
	struct sm_node node;
	uint64_t seen;
	struct sm_series *s;
	struct labels in;
};

struct sm_cache {
	struct sm_htab series, entries;
	uint64_t iter;
	struct sm_series **cur; /* tracked in this scrape, committed on success */
	size_t ncur, capcur;
};

void sm_cache_free(struct sm_cache *c);
/* Start a scrape iteration. */
void sm_cache_begin(struct sm_cache *c);
struct sm_centry *sm_cache_get(struct sm_cache *c, const struct labels *in, uint64_t hash);
/* Remember what `in` became (out NULL: dropped); *added when the series is new. */
struct sm_centry *sm_cache_put(struct sm_cache *c, const struct labels *in, uint64_t hash,
			       const struct labels *out, bool *added);
int sm_cache_track(struct sm_cache *c, struct sm_series *s);
/* The scrape succeeded: its tracked series are the current ones. */
void sm_cache_commit(struct sm_cache *c);
/* Series current in the previous iteration and not in this one; stops at fn != 0. */
int sm_cache_each_stale(struct sm_cache *c, int (*fn)(void *arg, struct sm_series *s), void *arg);
/* Series current now (for stale markers when the target goes away). */
int sm_cache_each_current(struct sm_cache *c, int (*fn)(void *arg, struct sm_series *s),
			  void *arg);
/* Forget what did not appear in this iteration (after a successful, non-empty scrape). */
void sm_cache_flush(struct sm_cache *c);
/* Move the series and the iteration count to an empty cache; the label cache is
 * dropped (the new owner may relabel differently). */
void sm_cache_handoff(struct sm_cache *from, struct sm_cache *to);

/* ---- per-target metadata cache (metadata.c) --------------------------------------- *
 *
 * Prometheus' scrape cache metadata: metric family name -> type, help, unit, as the
 * target's TYPE / HELP / UNIT lines last said. Lines update entries as they are
 * parsed (a family first seen through HELP is "unknown" until its TYPE comes, and a
 * family keeps a type or unit the target stopped sending, as upstream). After each
 * successful, non-empty scrape the families not seen for more than
 * SM_META_KEEP_SCRAPES such scrapes are dropped (upstream keeps them 10 scrapes).
 * The entries' total size is bounded by max_bytes: a line that would pass it is
 * ignored (sm_meta_set() answers 1), which only a target exposing megabytes of help
 * text meets. All functions lock `mu`; the loop thread writes, API readers read.
 */

#define SM_META_KEEP_SCRAPES 10
#define SM_META_MAX_BYTES (8u << 20)

struct sm_meta_entry {
	struct sm_node node;  /* hash of the name */
	uint64_t seen;        /* flush iteration it was last set in */
	size_t size;          /* bytes of the allocation (counted against the bound) */
	enum scrape_type type;
	const char *help;     /* help, unit and name live in the entry's allocation */
	size_t help_len;      /* help may hold NUL bytes */
	const char *unit;
	char name[];
};

struct sm_meta {
	pthread_mutex_t mu;
	struct sm_htab tab;
	uint64_t iter;        /* successful scrapes flushed so far */
	size_t bytes, max_bytes;
	bool warned;          /* loop thread's: a refused line was logged (append.c) */
};

/* max_bytes 0: SM_META_MAX_BYTES. -1 when the mutex cannot be set up. */
int sm_meta_init(struct sm_meta *m, size_t max_bytes);
void sm_meta_free(struct sm_meta *m);
/* Apply one TYPE / HELP / UNIT line: 0; 1 when the bound refused it; -1 out of
 * memory. Either failure leaves the entry's type, help and unit as they were
 * (the family still counts as named in this scrape). */
int sm_meta_set(struct sm_meta *m, const struct scrape_meta *line);
/* After a successful, non-empty scrape. */
void sm_meta_flush(struct sm_meta *m);
/* Move every entry (and the iteration count) to `to`, replacing what it held. */
void sm_meta_handoff(struct sm_meta *from, struct sm_meta *to);
/* Entries sorted by name (only `family`'s when not NULL), handed to fn under the
 * lock: they are valid only during the call. fn's result is returned; -1 when out
 * of memory. */
int sm_meta_view(struct sm_meta *m, const char *family,
		 int (*fn)(void *arg, const struct sm_meta_entry *const *v, size_t n), void *arg);
size_t sm_meta_count(struct sm_meta *m);

/* ---- targets and their loops (loop.c, fetch.c, append.c) -------------------------- */

#define SM_NREPORT 5

enum sm_health { SM_UNKNOWN, SM_UP, SM_DOWN };

struct sm_pool;

struct sm_target {
	struct sm_pool *pool;
	struct arena *arena;          /* spec, report labels */
	struct sm_tspec spec;
	struct labels report[SM_NREPORT];
	struct httpc *client;         /* NULL: client_err says why */
	char client_err[256];
	struct metric_child *c_interval;

	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cond;          /* monotonic clock */
	bool stop;                    /* mu */
	_Atomic bool cancel;          /* aborts the request in flight */

	/* status, under mu */
	enum sm_health health;
	char last_error[512];
	int64_t last_scrape_ns;       /* wall clock; 0: never */
	double last_duration_s;

	struct sm_meta meta;          /* own lock: read by the metadata API */

	/* the loop's own */
	struct sm_cache cache;
	uint64_t report_refs[SM_NREPORT];
	int64_t last_ts_ms;           /* last scrape that reached storage; 0: none */
	int64_t last_start_mono;
	struct arena *scratch;
	struct httpc_response resp;
};

/* loop.c */
int sm_target_new(struct sm_pool *p, const struct sm_tspec *spec, struct sm_target **out,
		  char *err, size_t errlen);
int sm_target_start(struct sm_target *t);
void sm_target_signal(struct sm_target *t);
void sm_target_join(struct sm_target *t);
void sm_target_free(struct sm_target *t);

#define SM_FETCH_CANCELED 1
/* fetch.c: GET the target into t->resp; 0, SM_FETCH_CANCELED, or -1 with err. */
int sm_fetch(struct sm_target *t, char *err, size_t errlen);

/* append.c */
struct sm_scrape {
	struct sm_target *t;
	void *txn;
	int64_t ts_ms;
	size_t total, added, series_added;
	size_t ooo, dup, bounds, exemplar_ooo;
	bool over_limit;
	char *err;
	size_t errlen;
};
int sm_append_body(struct sm_scrape *s, const char *content_type, const char *body, size_t len);
int sm_append_stale(struct sm_scrape *s);
int sm_append_report(struct sm_scrape *s, bool up, double duration_s);
/* What a batch appender refused at commit, counted as add() refusals are. */
void sm_append_refused(struct sm_scrape *s, const struct scrape_append_result *res);
/* One warning per kind of refused sample in this scrape, as upstream logs them. */
void sm_append_log(const struct sm_scrape *s);
/* Build t->report (the five report series' label sets) in the target's arena. */
int sm_report_labels(struct sm_target *t);
/* After the loop stopped for good: stale markers on its last series and reports. */
void sm_append_end_of_run(struct sm_target *t);

/* api.c: the manager's pools sorted by job name (only `pool` when not NULL/""), and
 * a pool's targets sorted by URL; malloc'd arrays (NULL: out of memory). Call with
 * the manager's mu held. */
struct sm_pool **sm_sorted_pools(struct scrape_manager *m, const char *pool, size_t *n);
struct sm_target **sm_sorted_targets(const struct sm_pool *p);
/* "key": {name: value, ...} in the labels' order. */
struct jw;
void sm_json_labels(struct jw *w, const char *key, const struct labels *ls);

/* ---- file SD (filesd.c) ------------------------------------------------------------- */

struct sm_sdfile {
	char *path;
	uint64_t content_hash;
	struct arena *arena; /* the groups of the last good read */
	struct sm_tgroup *groups;
	size_t ngroups;
};

struct sm_filesd {
	char **patterns;         /* resolved against the config's directory */
	size_t npatterns;
	int64_t refresh_ms;
	int64_t next_refresh_ms; /* monotonic */
	int64_t dirty_at_ms;     /* a file event asks for a read then; 0: none */
	struct sm_sdfile *files;
	size_t nfiles;
};

int sm_filesd_init(struct sm_filesd *sd, const struct scrape_file_sd_config *c,
		   const char *base_dir);
/* Glob and read; 1 when the groups changed, else 0. A file that cannot be read or
 * parsed keeps its last good groups (logged, counted). */
int sm_filesd_refresh(struct sm_filesd *sd, const struct sm_metrics *met, const char *job);
void sm_filesd_free(struct sm_filesd *sd);

/* ---- pools (pool.c) ------------------------------------------------------------------ */

struct sm_files {
	const char *ca, *cert, *key, *password, *credentials;
};

struct sm_pool {
	struct scrape_manager *m;
	struct arena *arena;
	struct scrape_config *orig; /* as applied, compared on reload */
	struct scrape_config *cfg;  /* working copy: rules compiled */
	bool compiled;
	struct sm_files files;      /* resolved file names */
	struct scrape_limits limits;
	struct sm_tgroup *statics;
	size_t nstatics;
	struct sm_filesd *sds;
	size_t nsds;
	struct sm_target **targets;
	size_t ntargets;
	struct arena *dropped_arena;
	struct labels *dropped;
	size_t ndropped;
	struct metric_child *c_targets, *c_sync, *c_discovered;
};

int sm_pool_new(struct scrape_manager *m, const struct scrape_config *c, struct sm_pool **out,
		char *err, size_t errlen);
/* Bring the running targets in line with the groups. With `pred` (the job's
 * previous pool), its targets are the old set: those whose series continue hand
 * their state over, the others stop with stale markers. */
int sm_pool_sync(struct sm_pool *p, struct sm_pool *pred);
/* Stop every loop (stale: write end-of-run markers) and free the pool. */
void sm_pool_close(struct sm_pool *p, bool stale);

/* ---- the manager (manager.c, discovery.c) ------------------------------------------ */

struct scrape_manager {
	pthread_mutex_t mu;
	struct sm_pool **pools;
	size_t npools;
	struct scrape_appendable app;
	struct sm_metrics met;
	char *user_agent;
	uint64_t jitter_seed;

	pthread_t sd_thread;
	bool sd_running;
	int wake_fd;       /* eventfd: wakes the discovery thread */
	bool reconfigure;  /* mu: the watched directories changed */
	bool stopping;     /* mu */
};

void *sm_discovery_main(void *m);
void sm_discovery_wake(struct scrape_manager *m);

#endif
