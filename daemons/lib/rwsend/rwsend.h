/*
 * rwsend: the remote_write sender. It forwards what the TSDB writes to its WAL to
 * remote-write 1.0 receivers (Prometheus, Mimir, lgtm-longterm), with the
 * semantics of Prometheus' queue manager.
 *
 * Configuration: struct rwsend_config is one `remote_write:` entry as a
 * prometheus.yml writes it; RWSEND_CONFIGS_FIELD embeds the list in a daemon's
 * schema. Defaults are Prometheus 2.42's (queue_config: capacity 2500, max_shards
 * 200, min_shards 1, max_samples_per_send 500, batch_send_deadline 5s, min_backoff
 * 30ms, max_backoff 5s, retry_on_http_429 false; remote_timeout 30s). Validation
 * rejects what Prometheus rejects, with its messages (empty url, reserved or
 * Authorization headers, two kinds of auth, password and password_file together,
 * authorization type "basic", duplicate names or duplicate entries, a client cert
 * without key), and what would break the queue (zero capacity, shards or batch
 * size, min_shards > max_shards, min_backoff > max_backoff), and a url that is not
 * http(s).
 *
 * What a manager owns: for each entry, a queue with one watcher thread, shard
 * threads (min_shards at start), a shard-update thread, an HTTP client, a series
 * cache, and the position file <data_dir>/remote_write/<name>.pos (name, or the
 * first 6 hex digits of a hash of url and headers when unnamed).
 *
 * Delivery:
 * - The watcher tails the WAL (the newest checkpoint, then the segments). Series
 *   records build a ref -> labels cache: external labels added where the series
 *   lacks them, then write_relabel_configs applied; a series they drop is
 *   remembered and its samples counted in samples_dropped_total (so are samples of
 *   refs with no series record). A series always goes to the same shard (by a hash
 *   of its ref), so each series' samples are sent in WAL order.
 * - With send_exemplars, exemplars records are read too, and each exemplar travels
 *   as one more entry of its series (same shard, batches, retries and position
 *   accounting; counted in the exemplars_* families, not the samples ones).
 * - A shard sends when it holds max_samples_per_send samples, or its oldest sample
 *   has waited batch_send_deadline. A batch is one snappy-compressed WriteRequest
 *   (samples of one series grouped in one TimeSeries) POSTed with Content-Encoding:
 *   snappy, Content-Type: application/x-protobuf, X-Prometheus-Remote-Write-Version:
 *   0.1.0 and the configured headers and auth.
 * - 2xx: sent. 5xx, 429 with retry_on_http_429, and network errors: retried with
 *   jittered exponential backoff (min_backoff doubling to max_backoff; Retry-After
 *   honoured) for as long as the queue runs. Any other status (4xx, 429 without
 *   retry_on_http_429): the batch is dropped and counted in samples_failed_total.
 * - Backpressure: when a shard holds `capacity` samples the watcher waits; memory is
 *   bounded and WAL writers are never blocked (the reader only reads files).
 * - Progress: the position of the last WAL batch all of whose samples were sent or
 *   dropped is saved (tmp file, fsync, rename) every position_interval and at stop.
 *   A queue with a position resumes after it: every batch after it is sent again,
 *   so a restart loses nothing the WAL still holds and duplicates at most what was
 *   in flight. Without a position (first start), samples with timestamps before
 *   the start are skipped, as Prometheus does.
 * - A checkpoint that removes the segment being read (or the one a saved position
 *   names) sends the checkpoint's samples that were not yet queued (while running:
 *   per series, those newer than the last one queued; after a restart: all of them),
 *   then goes on with the segments after it.
 *
 * Threads: the manager functions are not thread-safe with each other (one owner,
 * e.g. the daemon's start/reload/stop hooks); rwsend_manager_queues() and _stats()
 * may be called from any thread between new and free. Errors: 0 or -1 with `err` filled; runtime
 * problems (receiver down, WAL damage) are logged and counted, never returned.
 */
#ifndef LGTM_RWSEND_H
#define LGTM_RWSEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "labels/labels.h"

struct metrics_registry;

/* --- configuration ----------------------------------------------------------------- */

struct rwsend_basic_auth {
	char *username;
	char *password;
	char *password_file;
};

struct rwsend_authorization {
	char *type;             /* default "Bearer" */
	char *credentials;
	char *credentials_file;
};

struct rwsend_tls_config {
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *server_name;
	bool insecure_skip_verify;
};

struct rwsend_queue_config {
	int64_t capacity;              /* samples buffered per shard */
	int64_t max_shards;            /* resharding stays within [min_shards, max_shards] */
	int64_t min_shards;            /* also the count a queue starts with */
	int64_t max_samples_per_send;
	int64_t batch_send_deadline_ms;
	int64_t min_backoff_ms;
	int64_t max_backoff_ms;
	bool retry_on_http_429;
};

struct rwsend_config {
	char *url;
	char *name;
	int64_t remote_timeout_ms;
	struct cfg_strmap headers;
	struct rwsend_basic_auth basic_auth;
	struct rwsend_authorization authorization;
	struct rwsend_tls_config tls_config;
	char *proxy_url;
	bool follow_redirects;         /* default true, as Prometheus' remote write */
	bool enable_http2;             /* accepted for compatibility; HTTP/1.1 is used */
	bool send_exemplars;           /* forward the exemplars the WAL holds [false] */
	struct cfg_list write_relabel_configs; /* of struct relabel_config */
	struct rwsend_queue_config queue_config;
};

/* Prometheus 2.42's defaults. */
void rwsend_config_init(struct rwsend_config *c);

/* One element of `remote_write:`; its init hook applies the defaults. */
extern const struct cfg_schema rwsend_config_schema;
/* Field check of a CFG_LIST of struct rwsend_config (each entry and the whole list). */
int rwsend_configs_check(const void *list, char *err, size_t errlen);
/* A schema field for the list, e.g.
 *   RWSEND_CONFIGS_FIELD("remote_write", struct metrics_config, remote_write) */
#define RWSEND_CONFIGS_FIELD(key, type, member)                                            \
	{ (key), CFG_LIST, offsetof(type, member), &rwsend_config_schema,                 \
	  sizeof(struct rwsend_config), 0, rwsend_configs_check }

/* Validate n entries as a list (what rwsend_configs_check does). */
int rwsend_configs_validate(const struct rwsend_config *c, size_t n, char *err, size_t errlen);

/* The name an entry goes by in metrics (remote_name) and its position file: its
 * name, or 6 hex digits of a hash of url and headers. `out` needs 7 bytes or more. */
void rwsend_config_name(const struct rwsend_config *c, char *out, size_t outlen);

/* --- manager ----------------------------------------------------------------------- */

struct rwsend_options {
	const char *data_dir;           /* positions live in <data_dir>/remote_write/ */
	const char *wal_dir;            /* the TSDB's WAL directory (<data_dir>/wal) */
	const char *config_dir;         /* base of relative file paths in configs; NULL: cwd */
	struct metrics_registry *metrics; /* prometheus_remote_storage_* families; may be NULL */
	unsigned flush_deadline_ms;     /* stop: time allowed to send what is queued [3000] */
	unsigned position_interval_ms;  /* how often positions are saved [5000] */
	unsigned poll_interval_ms;      /* WAL poll when caught up [50] */
	unsigned shard_update_interval_ms; /* how often the shard count is reconsidered [10000] */
	/* Optional, thread-safe: samples (and exemplars) local storage appended so far and
	 * the newest timestamp it appended (INT64_MIN: none), the "samples in" of the
	 * shard computation, as Prometheus counts them at its appender. Without it the
	 * samples the watcher reads stand in, which undercounts while the watcher waits
	 * for full shards. Called from the queues' shard-update threads. */
	void (*appended)(void *arg, uint64_t *samples, int64_t *highest_ms);
	void *appended_arg;
};

struct rwsend_manager;

/* Copy what the manager needs from `configs` (they may be freed after the call) and
 * start a queue per entry. external_labels may be NULL; they need not be sorted.
 * The metrics families are registered in o->metrics once per manager. */
int rwsend_manager_new(const struct rwsend_options *o, const struct rwsend_config *configs,
		       size_t n, const struct labels *external_labels,
		       struct rwsend_manager **out, char *err, size_t errlen);

/* Reload: entries whose config (and the external labels) did not change keep
 * running untouched; changed and removed ones are stopped (flushed, position saved),
 * new and changed ones started (resuming from their positions). On error (invalid
 * list, a TLS file that cannot be read...) nothing is changed. */
int rwsend_manager_apply(struct rwsend_manager *m, const struct rwsend_config *configs,
			 size_t n, const struct labels *external_labels, char *err,
			 size_t errlen);

/* Stop every queue: no more WAL reading, queued samples are sent for at most
 * flush_deadline_ms (in-flight requests are then abandoned), positions are saved.
 * Idempotent. */
void rwsend_manager_stop(struct rwsend_manager *m);
/* Stops if needed, then frees. NULL is a no-op. */
void rwsend_manager_free(struct rwsend_manager *m);

struct rwsend_stats {
	char name[64];
	uint64_t samples_sent;      /* samples_total */
	uint64_t samples_failed;    /* dropped after a non-recoverable send error */
	uint64_t samples_retried;
	uint64_t samples_dropped;   /* by relabeling, or unknown series */
	uint64_t samples_pending;   /* queued and in flight */
	uint64_t exemplars_sent, exemplars_failed, exemplars_dropped, exemplars_pending;
	uint64_t batches_sent;
	int shards;                 /* running now */
	int wal_segment;            /* segment the watcher reads; -1 before the first */
	int position_segment;       /* the position saved next; -1 before the first */
	int64_t position_offset;
	int64_t highest_sent_ms;    /* newest sample timestamp sent; 0: none */
};

size_t rwsend_manager_queues(struct rwsend_manager *m);
/* Stats of queue i (in config order); -1 when out of range. */
int rwsend_manager_stats(struct rwsend_manager *m, size_t i, struct rwsend_stats *st);

#endif
