/*
 * What the rwsend files share; not a public header.
 *
 * Data flow of one queue (one remote_write entry):
 *
 *   WAL --watcher thread--> series cache (ref -> final labels)
 *                    \----> shard rings (entries: series, t, v, progress slot id)
 *                                --shard threads--> HTTP --> progress acks
 *
 * Progress: the watcher groups the WAL batches it reads into slots of a ring and
 * counts the samples each slot put into shards; shards subtract what they sent or
 * dropped. A slot is complete when sealed (the watcher will add nothing more) and its
 * count is zero; complete slots at the front are popped in order and the end of the
 * last WAL batch they cover becomes the safe position, which is what gets saved.
 */
#ifndef LGTM_RWSEND_INTERNAL_H
#define LGTM_RWSEND_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "httpclient/httpclient.h"
#include "labels/labels.h"
#include "metrics/metrics.h"
#include "relabel/relabel.h"
#include "rwsend/rwsend.h"

#define RWS_LOG "remote"
#define RWS_NAME_MAX 64

/* Milliseconds on the monotonic clock, and since the epoch. */
int64_t rws_now_ms(void);
int64_t rws_now_us(void);
int64_t rws_wall_ms(void);
/* Wait on cv until woken or `ms` pass (cv uses CLOCK_MONOTONIC; mu held). */
void rws_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);
int rws_cond_init(pthread_cond_t *cv);

/* --- config copy (conf.c) ------------------------------------------------------- */

/* A queue's own deep copy of its entry: strings and relabel rules in its arena,
 * relative file paths resolved, relabel rules compiled. */
struct rws_conf {
	struct arena *arena;
	struct rwsend_config c;
	struct labels ext;         /* external labels, sorted */
	char name[RWS_NAME_MAX];
	char *url_label;           /* the url without user:password */
	struct buf fingerprint;    /* everything that makes two entries the same */
	bool compiled;
};

int rws_conf_new(const struct rwsend_config *src, const char *config_dir,
		 const struct labels *ext, struct rws_conf **out, char *err, size_t errlen);
void rws_conf_free(struct rws_conf *c);

/* --- position file (position.c) ---------------------------------------------------- */

struct rws_pos {
	int seg;
	int64_t off;
};

/* a after b? */
static inline bool rws_pos_after(struct rws_pos a, struct rws_pos b)
{
	return a.seg > b.seg || (a.seg == b.seg && a.off > b.off);
}

/* 1 with *pos, 0 when there is no file, -1 when it cannot be read or parsed. */
int rws_position_load(const char *path, struct rws_pos *pos, char *err, size_t errlen);
/* tmp file, fsync, rename, fsync of the directory. */
int rws_position_save(const char *path, struct rws_pos pos, char *err, size_t errlen);
/* "<dir>/remote_write/<name>.pos", the name escaped to stay one safe file name. */
int rws_position_path(const char *data_dir, const char *name, char *out, size_t outlen);

/* --- progress (progress.c) --------------------------------------------------------- */

struct rws_slot {
	struct rws_pos end;
	bool has_end;
	bool sealed;
	uint64_t added;
	uint64_t outstanding;
};

struct rws_progress {
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* a slot was popped */
	struct rws_slot *ring;
	size_t cap, head, count;
	uint64_t head_id;          /* id of ring[head]; ids start at 1 */
	uint64_t target;           /* a slot is sealed once this many samples were added */
	struct rws_pos safe;
	bool safe_valid;
};

int rws_progress_init(struct rws_progress *p, size_t cap, uint64_t target);
void rws_progress_destroy(struct rws_progress *p);
/* The position everything before was handled at start (a saved one). */
void rws_progress_start(struct rws_progress *p, struct rws_pos pos);
/* Count n samples about to be queued into the open slot (opening one); *id = its
 * id. Returns -1 when the ring is full (the caller waits with _wait). */
int rws_progress_add(struct rws_progress *p, uint64_t n, uint64_t *id);
/* Every WAL batch up to pos has been read and its samples counted. */
void rws_progress_mark(struct rws_progress *p, struct rws_pos pos);
void rws_progress_seal(struct rws_progress *p);
void rws_progress_ack(struct rws_progress *p, uint64_t id, uint64_t n);
bool rws_progress_safe(struct rws_progress *p, struct rws_pos *out);
/* Every slot with an id below this is complete. */
uint64_t rws_progress_done_below(struct rws_progress *p);
/* The newest id handed out (0: none). */
uint64_t rws_progress_last_id(struct rws_progress *p);
void rws_progress_wait(struct rws_progress *p, int64_t ms);
/* Slots seal once they hold this many samples (from now on). */
void rws_progress_set_target(struct rws_progress *p, uint64_t target);

/* --- series cache (series.c) ------------------------------------------------------ */

struct rws_series {
	struct rws_series *next;   /* limbo list */
	uint64_t ref;
	uint64_t limbo_tag;
	int64_t last_t;            /* newest sample queued (INT64_MIN: none) */
	int64_t last_ex_t;         /* newest exemplar queued (INT64_MIN: none) */
	int seg;                   /* segment of its latest series record */
	bool dropped;              /* relabeling dropped it */
	struct labels ls;          /* final labels; storage follows the struct */
};

/* Owned by the watcher thread. An entry that leaves the table (collected, or
 * replaced by a new record for its ref) may still be referenced by queued samples,
 * so it waits in limbo, tagged with the newest progress id, until every slot up to
 * that id is complete. */
struct rws_cache {
	struct rws_series **tab;
	size_t cap, n;
	struct rws_series *limbo;
};

struct rws_series *rws_cache_get(const struct rws_cache *c, uint64_t ref);
/* Insert or replace the entry for ref; ls NULL marks it dropped. -1 on OOM. */
int rws_cache_put(struct rws_cache *c, uint64_t ref, const struct labels *ls, int seg,
		  uint64_t tag, struct rws_series **out);
/* Move entries whose seg is below `seg` to limbo. */
void rws_cache_collect(struct rws_cache *c, int seg, uint64_t tag);
/* Free limbo entries whose tag is below done_below. */
void rws_cache_release(struct rws_cache *c, uint64_t done_below);
void rws_cache_free(struct rws_cache *c);
/* A copy of ls in one allocation (free() it); NULL on OOM. */
struct labels *rws_labels_dup(const struct labels *ls);

/* --- shards (shard.c, send.c) -------------------------------------------------------- */

struct rws_entry {
	struct rws_series *s;        /* shards only read its labels */
	struct labels *ex;           /* an exemplar's labels, owned by the entry; NULL: a sample */
	int64_t t;
	double v;
	uint64_t slot;
};

/* Free the exemplar labels entries own (they left the queue, or never will). */
void rws_entries_release(const struct rws_entry *e, size_t n);

struct rws_queue;

struct rws_shard {
	struct rws_queue *q;
	pthread_t thr;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* entries added, taken, or the queue's state changed */
	struct rws_entry *ring;
	size_t cap, head, len;
	int64_t oldest_ms;         /* when the oldest queued entry arrived */
	bool drain;                /* resharding (mu): send what is queued, then exit */
	/* The sending side, used by the shard thread only. */
	struct rws_entry *batch;
	struct arena *arena;
	struct buf pb, body;
	struct httpc_response resp;
	unsigned retry;
};

int rws_shard_init(struct rws_shard *s, struct rws_queue *q);
void rws_shard_destroy(struct rws_shard *s);
void *rws_shard_main(void *arg);
/* Queue entries in order, waiting while the ring is full; -1 when the queue stops
 * reading first (the entries not queued are released). */
int rws_shard_push(struct rws_shard *s, const struct rws_entry *e, size_t n);
void rws_shard_wake(struct rws_shard *s);

/* Encode and send one batch, retrying recoverable failures until the queue is
 * canceled. 0: handled (sent or dropped), 1: canceled before it was handled. */
int rws_send_batch(struct rws_shard *s, const struct rws_entry *e, size_t n);

/* --- resharding (reshard.c) ---------------------------------------------------------- */

/* Prometheus' ewmaRate: a per-second rate smoothed over ticks of a fixed interval,
 * fed here with cumulative counters (the difference since the last tick counts). */
struct rws_ewma {
	double rate;
	bool init;
	double last;
};

void rws_ewma_tick(struct rws_ewma *e, double cumulative, double interval_s);

/* What calculateDesiredShards looks at, rates per second. */
struct rws_shard_calc {
	double in_rate;            /* samples appended to local storage */
	double out_rate;           /* samples whose send finished (sent or failed) */
	double dropped_rate;       /* samples read and not sent (relabeling, unknown series) */
	double out_seconds_rate;   /* seconds spent sending, per second */
	double highest_in_s;       /* newest timestamp appended */
	double highest_sent_s;     /* newest timestamp sent */
	int shards, min_shards, max_shards;
};

/* The shard count to run next (c->shards when nothing should change) and, in
 * *desired, the raw estimate (NAN when nothing was sent, so there is none). */
int rws_desired_shards(const struct rws_shard_calc *c, double *desired);
/* Resharding waits while the last finished send is older than twice the batch send
 * deadline: more shards do not help a remote that is failing. */
bool rws_should_reshard(int desired, int shards, int64_t last_send_ms, int64_t now_ms,
			int64_t batch_send_deadline_ms);

/* The queue's shard-update thread (started with the queue, stopped by halt). */
void *rws_updater_main(void *arg);
/* Watcher thread: carry out a requested reshard (drain every shard, then start the
 * new set). 0 when done or nothing was asked, -1 when the queue stopped reading
 * meanwhile (the old shards are left draining for the stop to finish). */
int rws_reshard_pending(struct rws_queue *q);
/* Start the threads of q's shards, in order, until one fails; the count started. */
int rws_shards_start(struct rws_queue *q);

/* --- queue (queue.c) --------------------------------------------------------------- */

/* Families shared by the manager's queues (NULL when there is no registry). */
struct rws_families {
	struct metric *samples, *failed, *retried, *dropped, *bytes, *enqueue_retries;
	struct metric *ex_sent, *ex_failed, *ex_retried, *ex_dropped, *ex_pending;
	struct metric *pending, *shards, *shards_min, *shards_max, *shards_desired, *capacity;
	struct metric *max_per_send, *highest_sent, *duration, *segment;
};

struct rws_children {
	struct metric_child *samples, *failed, *retried, *dropped, *bytes, *enqueue_retries;
	struct metric_child *ex_sent, *ex_failed, *ex_retried, *ex_dropped, *ex_pending;
	struct metric_child *pending, *highest_sent, *duration, *segment;
	struct metric_child *shards, *shards_desired;
};

struct rws_env {
	const char *wal_dir;
	const char *data_dir;
	unsigned flush_deadline_ms, position_interval_ms, poll_interval_ms;
	unsigned shard_update_ms;
	void (*appended)(void *arg, uint64_t *samples, int64_t *highest_ms);
	void *appended_arg;
	/* The newest timestamp any watcher read, and its gauge (set under the mutex so
	 * that concurrent watchers cannot leave an older value behind). */
	_Atomic int64_t *highest_in_ms;
	pthread_mutex_t *highest_mu;
	struct metric_child *highest_in;
};

struct rws_queue {
	struct rws_conf *conf;
	struct rws_env env;
	struct httpc *http;
	char pos_path[4096];
	int64_t start_ms;              /* wall clock: a fresh start skips older samples */

	/* The shard set: replaced only by the watcher (resharding), under shards_mu so
	 * that other threads can walk it. */
	struct rws_shard *shards;
	int nshards;
	pthread_mutex_t shards_mu;
	_Atomic int reshard_req;       /* shard count asked for by the updater; 0: none */
	pthread_t updater;
	bool updater_started;
	struct rws_progress prog;
	struct rws_cache cache;        /* watcher thread only */

	pthread_t watcher;
	bool watcher_started;
	bool running;
	_Atomic int live_shards;
	struct rws_pos saved;          /* last position written */
	bool saved_any;
	int64_t next_save_ms;          /* watcher thread only */
	bool sync_ready;               /* mu, cv and sent_mu exist */
	pthread_mutex_t mu;
	pthread_cond_t cv;             /* wakes the watcher's idle wait on stop */
	_Atomic bool stop_reading;
	_Atomic bool flushing;         /* shards: send what is queued now, then exit */
	_Atomic bool cancel;           /* abandon in-flight requests and retries */

	pthread_mutex_t sent_mu;       /* keeps highest_sent and its gauge in step */
	_Atomic uint64_t sent, failed, retried, dropped, pending, batches;
	_Atomic uint64_t ex_sent, ex_failed, ex_retried, ex_dropped, ex_pending; /* exemplars */
	_Atomic uint64_t read_in;      /* samples decoded from the WAL (rate fallback) */
	_Atomic uint64_t send_us;      /* time spent in sends, retries included */
	_Atomic int64_t last_send_ms;  /* wall clock of the last finished send; 0: none */
	_Atomic int64_t highest_sent;
	_Atomic int segment;

	struct rws_children mc;
};

int rws_queue_new(struct rws_conf *conf, const struct rws_env *env,
		  const struct rws_families *fam, struct rws_queue **out, char *err,
		  size_t errlen);
int rws_queue_start(struct rws_queue *q, char *err, size_t errlen);
/* Stopping in two steps, so a manager flushes all its queues at once: halt stops
 * reading and starts the flush; finish waits for the shards until deadline_ms (on the
 * monotonic clock), then abandons what is left and saves the position. */
void rws_queue_halt(struct rws_queue *q);
void rws_queue_finish(struct rws_queue *q, int64_t deadline_ms);
void rws_queue_free(struct rws_queue *q);
void rws_queue_stats(struct rws_queue *q, struct rwsend_stats *st);
/* Samples left the queue (sent or dropped): pending and progress bookkeeping. */
void rws_queue_done(struct rws_queue *q, const struct rws_entry *e, size_t n);
/* The samples per progress slot that suit the current shard set. */
uint64_t rws_queue_slot_target(const struct rws_queue *q);
/* Raise the newest-timestamp-in gauge shared by the manager's queues to t. */
void rws_queue_note_highest(struct rws_queue *q, int64_t t);
/* Save the safe position if it moved; called by the watcher and at stop. */
void rws_queue_save_position(struct rws_queue *q);
/* The same, at most every position_interval (watcher thread, also while it waits). */
void rws_queue_maybe_save(struct rws_queue *q);

void *rws_watcher_main(void *arg);

#endif
