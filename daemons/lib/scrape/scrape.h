/*
 * scrape: Prometheus-style scraping, shared by lgtm-metrics and lgtm-collector.
 * Three layers, each with its contract below:
 *   1. parsers for what a target answers (text format 0.0.4, OpenMetrics 1.0);
 *   2. the `scrape_configs:` section of a prometheus.yml (schema, validation);
 *   3. the scrape manager: target discovery (static, file SD), relabeling, one
 *      scrape loop per target, staleness, self metrics and the targets API, writing
 *      into storage only through the struct scrape_appendable the caller supplies.
 *
 * Parsers. Contract:
 * - scrape_parse() walks the body once and calls the handler for every sample and
 *   every TYPE / HELP / UNIT line, in the order of the body. Everything handed to a
 *   callback (labels, strings, the exemplar) lives only until the callback returns;
 *   a caller that keeps something copies it (labels_copy).
 * - The grammar, the accepted spellings of numbers, the escapes and the error texts
 *   follow Prometheus' own parsers (model/textparse, 2.x grammar: no quoted UTF-8
 *   names). Errors read "line N: <upstream message>", e.g.
 *     line 3: expected equal, got "x\"" ("INVALID") while parsing: "a{b x\""
 * - Sample labels are sorted, carry __name__, and have their escapes resolved. As
 *   Prometheus' label builder does, labels whose value is empty are left out.
 *   Duplicate label names, invalid UTF-8 and (unlike upstream, which keeps them) NUL
 *   bytes in label values are errors.
 * - NaN values arrive as Prometheus' canonical NaN (SCRAPE_NORMAL_NAN_BITS), so a
 *   target can never write a staleness marker.
 * - Text format timestamps are integer milliseconds; OpenMetrics timestamps are
 *   seconds with decimals, converted to milliseconds as Prometheus does (truncated).
 * - OpenMetrics: the body must end with "# EOF" (an optional newline after it, and
 *   nothing else); exemplars are reported with their sample. `_created` samples of
 *   counter, histogram and summary families are reported as ordinary samples, as
 *   Prometheus does by default; skip_created drops them (what Prometheus does with
 *   created-timestamp-zero-ingestion on).
 * - A callback returning non-zero stops the parse; scrape_parse() then returns -1
 *   with whatever the callback wrote into err.
 * - Limits (struct scrape_limits, 0 = none) reproduce Prometheus' scrape-failing
 *   checks with its error texts (no line number, as upstream reports them). The
 *   parser applies opts->limits to samples as parsed; a scrape loop that relabels
 *   calls scrape_limits_check_*() after metric relabeling instead, which is where
 *   Prometheus applies them. Past sample_limit the parse goes on (counting, and
 *   still failing on bad syntax) without calling the handler, then fails with
 *   "sample limit exceeded", as Prometheus' scrape loop does.
 *
 * Thread-safety: reentrant, no global state.
 * Errors: 0 / -1 with `err` filled; allocation failure is an error too.
 */
#ifndef LGTM_SCRAPE_H
#define LGTM_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "labels/labels.h"

/* Prometheus' value.NormalNaN: the NaN every parsed NaN becomes. */
#define SCRAPE_NORMAL_NAN_BITS 0x7ff8000000000001ull

enum scrape_format {
	SCRAPE_FORMAT_NONE = 0,
	SCRAPE_FORMAT_TEXT,        /* text/plain; version=0.0.4 */
	SCRAPE_FORMAT_OPENMETRICS, /* application/openmetrics-text */
};

enum scrape_type {
	SCRAPE_TYPE_UNKNOWN = 0, /* no TYPE, "untyped" (text) or "unknown" (OpenMetrics) */
	SCRAPE_TYPE_COUNTER,
	SCRAPE_TYPE_GAUGE,
	SCRAPE_TYPE_HISTOGRAM,
	SCRAPE_TYPE_GAUGEHISTOGRAM,
	SCRAPE_TYPE_SUMMARY,
	SCRAPE_TYPE_INFO,
	SCRAPE_TYPE_STATESET,
};

struct scrape_exemplar {
	struct labels labels; /* sorted; may be empty */
	double value;
	bool has_ts;
	int64_t ts_ms;
};

struct scrape_sample {
	struct labels labels; /* sorted, with __name__ */
	const char *name;     /* the __name__ value */
	double value;
	bool has_ts;
	int64_t ts_ms;
	const struct scrape_exemplar *exemplar; /* OpenMetrics only; NULL when absent */
	/* Type of the last TYPE line seen, which is what Prometheus uses for the
	 * le/quantile normalisation and the _created rule. */
	enum scrape_type type;
	size_t line;
};

enum scrape_meta_kind {
	SCRAPE_META_TYPE,
	SCRAPE_META_HELP,
	SCRAPE_META_UNIT,
};

struct scrape_meta {
	enum scrape_meta_kind kind;
	const char *family;    /* metric family name as written */
	enum scrape_type type; /* SCRAPE_META_TYPE */
	const char *text;      /* help (escapes resolved), unit, or the type word */
	size_t text_len;       /* help text may hold NUL bytes, as upstream allows */
	size_t line;
};

/* Prometheus' per-scrape limits; 0 disables one. */
struct scrape_limits {
	size_t sample_limit;
	size_t label_limit;
	size_t label_name_length_limit;
	size_t label_value_length_limit;
};

struct scrape_handler {
	int (*sample)(void *ctx, const struct scrape_sample *s, char *err, size_t errlen);
	/* Optional. */
	int (*meta)(void *ctx, const struct scrape_meta *m, char *err, size_t errlen);
	void *ctx;
};

struct scrape_options {
	const struct scrape_limits *limits; /* NULL: the parser checks none */
	/* OpenMetrics: drop _created samples of counter/histogram/summary families. */
	bool skip_created;
	/* Prometheus 3: rewrite le (histogram) and quantile (summary) label values in
	 * OpenMetrics float form, so le="1" becomes "1.0". Prometheus 2 keeps them. */
	bool normalize_floats;
};

struct scrape_stats {
	size_t samples; /* samples parsed, including those past sample_limit */
};

/*
 * Pick the parser for a response's Content-Type as Prometheus does:
 * application/openmetrics-text -> OpenMetrics, text/plain -> text. A blank,
 * unparsable or unsupported type uses `fallback` (Prometheus 3's
 * fallback_scrape_protocol; pass SCRAPE_FORMAT_TEXT for Prometheus 2's behaviour):
 * returns 1 with a warning in err. Without a fallback (SCRAPE_FORMAT_NONE) it is an
 * error (-1), and the scrape fails. 0: the type was recognised.
 */
int scrape_format_detect(const char *content_type, enum scrape_format fallback,
			 enum scrape_format *out, char *err, size_t errlen);

/* opts and stats may be NULL. */
int scrape_parse(enum scrape_format format, const char *body, size_t len,
		 const struct scrape_options *opts, const struct scrape_handler *h,
		 struct scrape_stats *stats, char *err, size_t errlen);

/* Prometheus' label_limit / label_name_length_limit / label_value_length_limit
 * check of one final label set, with upstream's messages. */
int scrape_limits_check_labels(const struct scrape_limits *lim, const struct labels *ls,
			       char *err, size_t errlen);
/* sample_limit: fails ("sample limit exceeded") once `samples` is above it. */
int scrape_limits_check_samples(const struct scrape_limits *lim, size_t samples,
				char *err, size_t errlen);

/* "counter", "gauge", ..., "unknown": the names Prometheus' metadata API uses. */
const char *scrape_type_name(enum scrape_type t);

/* ==== 2. configuration: prometheus.yml `scrape_configs:` ===========================
 *
 * Contract:
 * - scrape_config_schema describes one entry with Prometheus' keys and defaults
 *   (metrics_path /metrics, scheme http, honor_timestamps true, follow_redirects
 *   true, enable_compression true, file_sd refresh_interval 5m); the daemon's
 *   top-level schema embeds the list with SCRAPE_CONFIGS_FIELD. Relabel rules are
 *   validated as they load (relabel module).
 * - scrape_configs_validate() runs once the whole file is decoded: it fills the
 *   per-job scrape_interval / scrape_timeout from the global ones as Prometheus
 *   does (an unset timeout is min(global timeout, interval)), and applies the
 *   checks that need more than one field, with Prometheus' messages prefixed by
 *   "<file>:<line>:<col>: scrape_configs[i]: ", e.g.
 *     found multiple scrape configs with job name "node"
 *     scrape timeout greater than scrape interval for scrape config with job name "x"
 *     at most one of basic_auth password & password_file must be configured
 *     "http://h:9100/metrics" is not a valid hostname   (targets without relabeling)
 * - Relative file names (file_sd files, password_file, credentials_file, TLS
 *   files) are relative to the directory of the config file, as upstream; the
 *   manager resolves them when it applies the config, the struct keeps them as
 *   written.
 */

struct scrape_static_config {
	struct cfg_strlist targets;
	struct cfg_strmap labels;
};

struct scrape_file_sd_config {
	struct cfg_strlist files;    /* patterns: a '*' only in the last path element */
	int64_t refresh_interval_ms; /* re-read although no file event came [5m] */
	struct cfg_pos pos;
};

struct scrape_basic_auth {
	char *username;
	char *password;
	char *password_file;   /* read (and trimmed) at every scrape, as upstream */
	struct cfg_pos pos;    /* line 0: no basic_auth block */
};

struct scrape_authorization {
	char *type;            /* ["Bearer"] once validated */
	char *credentials;
	char *credentials_file;
	struct cfg_pos pos;    /* line 0: no authorization block */
};

struct scrape_tls_config {
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *server_name;
	bool insecure_skip_verify;
};

struct scrape_config {
	char *job_name;
	int64_t scrape_interval_ms;   /* 0 in the file: the global one */
	int64_t scrape_timeout_ms;
	char *metrics_path;
	char *scheme;                 /* http or https */
	struct cfg_strlistmap params;
	bool honor_labels;
	bool honor_timestamps;
	bool follow_redirects;
	bool enable_compression;      /* Accept-Encoding: gzip (else identity) */
	struct cfg_list static_configs;  /* struct scrape_static_config */
	struct cfg_list file_sd_configs; /* struct scrape_file_sd_config */
	struct scrape_basic_auth basic_auth;
	struct scrape_authorization authorization;
	struct scrape_tls_config tls_config;
	struct cfg_list relabel_configs;        /* struct relabel_config */
	struct cfg_list metric_relabel_configs; /* struct relabel_config */
	int64_t sample_limit;         /* 0: no limit (all four) */
	int64_t label_limit;
	int64_t label_name_length_limit;
	int64_t label_value_length_limit;
	uint64_t body_size_limit;     /* decoded bytes; 0: the HTTP client's 64 MiB */
	struct cfg_pos pos;
};

extern const struct cfg_schema scrape_config_schema;

#define SCRAPE_CONFIGS_FIELD(key, type, member)                                           \
	{ (key), CFG_LIST, offsetof(type, member), &scrape_config_schema,                \
	  sizeof(struct scrape_config), 0, NULL }

int scrape_configs_validate(struct cfg_list *scrape_configs, int64_t global_interval_ms,
			    int64_t global_timeout_ms, char *err, size_t errlen);

/* ==== 3. the scrape manager ==========================================================
 *
 * Storage interface. The manager appends through a struct scrape_appendable: one
 * transaction per scrape (begin, add..., commit; rollback when the scrape fails
 * after adding). Calls come from many scrape threads at once, each with its own
 * transaction, so begin/add/commit/rollback must be thread-safe across
 * transactions. The label set handed to add() lives only during the call; it is
 * sorted, with __name__. `ref` is a series reference hint: 0 the first time, then
 * whatever the appender stored into it for the same label set (from the same
 * scrape loop); an appender may ignore it, and must treat a ref it does not know
 * as 0. add() results:
 *   0                               appended (or accepted for the commit)
 *   SCRAPE_APPEND_OUT_OF_ORDER      counted (prometheus_target_scrapes_sample_out_of_order_total),
 *   SCRAPE_APPEND_DUPLICATE         ... _sample_duplicate_timestamp_total,
 *   SCRAPE_APPEND_OUT_OF_BOUNDS     ... _sample_out_of_bounds_total,
 *   SCRAPE_APPEND_TOO_OLD           (out-of-order window) counted as out of bounds;
 *                                   those four skip the sample, the scrape goes on
 *   any other negative value        the scrape fails: rolled back, up=0.
 * An appender that checks samples only when it commits (a batch write, as
 * tsdb_db_append) accepts them in add() and reports what it refused in the
 * struct scrape_append_result commit() gets (zeroed), counted the same way; a
 * failing commit fails the scrape. Staleness markers are the value with bits
 * SCRAPE_STALE_NAN_BITS; add() answering one with OUT_OF_ORDER or DUPLICATE is
 * not counted (the target came back under a new loop: upstream expects that).
 * Exemplars (OpenMetrics) go to the optional add_exemplar(), right after the add()
 * of their sample (same labels and ref), also when that add() refused the sample
 * for one of the four reasons above, as upstream appends them; never for a sample
 * that metric relabeling dropped or that lies past sample_limit. The exemplar's
 * timestamp is set: the scrape's when the exposition gave none. Its result:
 * SCRAPE_APPEND_OUT_OF_ORDER is counted
 * (prometheus_target_scrapes_exemplar_out_of_order_total, as is a batch
 * appender's exemplar_out_of_order at commit), any other error is ignored: as
 * upstream, an exemplar never fails a scrape. Without add_exemplar they are
 * dropped.
 *
 * Manager contract:
 * - scrape_manager_new() copies the configs it is given (they may be freed after
 *   the call), starts one scrape loop thread per target and a discovery thread
 *   (file SD: inotify on the files' directories, plus each refresh_interval).
 *   The configs must have passed scrape_configs_validate().
 * - Targets follow Prometheus: labels __address__, __scheme__, __metrics_path__,
 *   __scrape_interval__, __scrape_timeout__, __param_<name> and job (group labels
 *   and target labels first), then relabel_configs; a target without __address__
 *   afterwards is dropped with an error logged; a default port is added (http 80,
 *   https 443) as Prometheus 2 does; instance defaults to __address__; __meta_*
 *   labels go, other __ labels stay out of the series; targets are deduplicated by
 *   the hash of their labels and URL. Targets dropped by relabeling are listed as
 *   droppedTargets.
 * - Each loop scrapes at an offset within the interval spread by the target's
 *   hash (and the external labels), with the Accept header of Prometheus 2.42
 *   (OpenMetrics preferred, text 0.0.4), Accept-Encoding gzip, the scrape timeout
 *   in X-Prometheus-Scrape-Timeout-Seconds; it appends samples with the target
 *   labels (honor_labels: conflicts keep the scraped value, else the scraped one
 *   moves to exported_<name>), metric_relabel_configs, the limits (a limit
 *   exceeded fails the scrape: nothing appended, up=0), then up,
 *   scrape_duration_seconds, scrape_samples_scraped,
 *   scrape_samples_post_metric_relabeling and scrape_series_added at the scrape
 *   timestamp. Samples that carried their own timestamp (honor_timestamps) are not
 *   tracked for staleness.
 * - Staleness: a series of the previous scrape absent from this one gets a stale
 *   marker at this scrape's timestamp; a failed scrape marks every series of the
 *   previous one stale; a target that goes away (reload, file SD change) gets stale
 *   markers on its last series and its report series when its loop stops.
 *   scrape_manager_stop() writes none (the next start carries on, as upstream).
 * - scrape_manager_apply() applies a new set of configs: jobs whose config is
 *   unchanged keep their loops running (targets matched by hash, no gap), new jobs
 *   and targets start, removed ones stop with stale markers; a changed job is
 *   rebuilt and each new target whose series labels match an old one takes over
 *   that target's staleness state, so no gap and no spurious stale marker.
 *   A job that cannot be set up (e.g. a TLS file missing) is logged, counted in
 *   prometheus_target_scrape_pools_failed_total and keeps its previous state;
 *   apply then returns -1 with the first such error after applying everything else.
 * - scrape_manager_targets_json() writes the `data` object of Prometheus'
 *   /api/v1/targets (activeTargets, droppedTargets) with the JSON writer; `state`
 *   is "active", "dropped", "any" or NULL/"" (any); `scrape_pool` NULL/"" for all.
 * - Metadata: each target keeps the TYPE / HELP / UNIT of the families it exposes,
 *   as Prometheus' scrape cache does: updated as the lines are parsed (also in a
 *   scrape that fails later), a family absent from more than 10 successful scrapes
 *   in a row dropped, carried over when a reload hands a target to a new loop. At
 *   most 8 MiB per target: lines past that are ignored, with one warning logged.
 * - scrape_manager_metadata_json() writes the `data` object of Prometheus'
 *   GET /api/v1/metadata: {"<family>": [{"type","help","unit"}, ...]}, merged over
 *   the active targets: a family lists its distinct triples in the order the
 *   targets give them (pools by job name, targets by URL, families by name), and
 *   the families are written by name. q->metric: only that family. q->limit (< 0:
 *   none; 0 answers {} as upstream does) keeps the first families by name, where
 *   upstream keeps whichever its map yields. q->limit_per_metric (<= 0: none) keeps
 *   that many triples of a family, the first found. Type names are
 *   scrape_type_name()'s.
 * - scrape_manager_target_metadata_json() writes the `data` array of
 *   GET /api/v1/targets/metadata: one {"target": {labels}, "metric", "type",
 *   "help", "unit"} per family of each active target (same order) whose labels
 *   (those /api/v1/targets shows as "labels") q->match accepts (NULL: every
 *   target). With q->metric only that family, and no "metric" key, as upstream.
 *   q->limit (< 0: none) is checked before each target, as upstream does: no
 *   further target once that many items are written; a target's items are not cut.
 * - scrape_manager_stop() stops every loop (an HTTP request in flight is aborted
 *   within about 20 ms) and the discovery thread, and returns when they have
 *   exited. scrape_manager_free() stops first if needed.
 * - Self metrics with upstream names go to the registry given (NULL: none):
 *   prometheus_target_scrape_pools_total, .._pools_failed_total,
 *   prometheus_target_scrape_pool_reloads_total, .._reloads_failed_total,
 *   prometheus_target_scrape_pool_targets{scrape_job},
 *   prometheus_target_scrape_pool_sync_total{scrape_job},
 *   prometheus_target_interval_length_seconds{interval} (a histogram here, a
 *   summary upstream), prometheus_target_scrapes_exceeded_sample_limit_total,
 *   .._exceeded_body_size_limit_total, .._sample_out_of_order_total,
 *   .._sample_duplicate_timestamp_total, .._sample_out_of_bounds_total,
 *   .._exemplar_out_of_order_total,
 *   prometheus_target_scrape_pool_exceeded_label_limits_total,
 *   prometheus_sd_file_read_errors_total, prometheus_sd_file_mtime_seconds{filename},
 *   prometheus_sd_discovered_targets{config,name}. A registry serves one manager.
 *
 * Thread-safety: apply, the three *_json readers, stop and free may be called from
 * any thread but are serialized by the manager (readers never wait for a scrape);
 * free must not race with the others.
 * Errors: 0 / -1 with err filled.
 */

#define SCRAPE_STALE_NAN_BITS 0x7ff0000000000002ull

#define SCRAPE_APPEND_OUT_OF_ORDER  (-2)
#define SCRAPE_APPEND_DUPLICATE     (-3)
#define SCRAPE_APPEND_OUT_OF_BOUNDS (-4)
#define SCRAPE_APPEND_TOO_OLD       (-5)

/* Samples (and exemplars) a commit refused (batch appenders); the manager zeroes it. */
struct scrape_append_result {
	uint64_t out_of_order, duplicate, out_of_bounds;
	uint64_t exemplar_out_of_order;
};

struct scrape_appendable {
	void *ctx;
	/* A new transaction, or NULL when storage cannot take one (the scrape fails). */
	void *(*begin)(void *ctx);
	int (*add)(void *txn, uint64_t *ref, const struct labels *ls, int64_t t_ms, double v);
	/* Both end the transaction; commit returns 0 or a negative error. */
	int (*commit)(void *txn, struct scrape_append_result *res);
	void (*rollback)(void *txn);
	/* Optional: see "Exemplars" above. `e` lives during the call. */
	int (*add_exemplar)(void *txn, uint64_t *ref, const struct labels *ls,
			    const struct scrape_exemplar *e);
};

struct scrape_manager;
struct metrics_registry;
struct jw;

struct scrape_manager_options {
	const char *user_agent;                /* NULL: "lgtm-metrics/<version>" */
	const struct labels *external_labels;  /* seeds the offset spread; may be NULL */
};

/* opts may be NULL. */
int scrape_manager_new(const struct scrape_config *cfgs, size_t n,
		       const struct scrape_appendable *app, struct metrics_registry *reg,
		       const struct scrape_manager_options *opts, struct scrape_manager **out,
		       char *err, size_t errlen);
int scrape_manager_apply(struct scrape_manager *m, const struct scrape_config *cfgs, size_t n,
			 char *err, size_t errlen);
/* 0, or -1 when the writer failed (out of memory). */
int scrape_manager_targets_json(struct scrape_manager *m, struct jw *w, const char *state,
				const char *scrape_pool);

struct scrape_metadata_query {
	const char *metric;    /* NULL or "": every family */
	long limit;            /* families; < 0: no limit */
	long limit_per_metric; /* distinct triples per family; <= 0: no limit */
};

struct scrape_target_metadata_query {
	const char *metric;    /* NULL or "": every family */
	long limit;            /* items, checked before each target; < 0: no limit */
	/* Which targets, by their labels (sorted); NULL: all. Called with the
	 * manager's lock held: it must not call into the manager. */
	bool (*match)(void *arg, const struct labels *target);
	void *match_arg;
};

/* Both: 0, or -1 when the writer failed (out of memory). */
int scrape_manager_metadata_json(struct scrape_manager *m, struct jw *w,
				 const struct scrape_metadata_query *q);
int scrape_manager_target_metadata_json(struct scrape_manager *m, struct jw *w,
					const struct scrape_target_metadata_query *q);
void scrape_manager_stop(struct scrape_manager *m);
void scrape_manager_free(struct scrape_manager *m);

#endif
