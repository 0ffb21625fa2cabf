/*
 * The manager: the set of queues for a config's `remote_write:` list, and the
 * metric families they share. A reload builds every new queue before touching a
 * running one, so a config that fails (bad relabel regex, unreadable CA file) leaves
 * everything as it was; then it stops what went away or changed (their positions are
 * saved, so their replacements resume exactly there) and starts the new ones. Queues
 * whose fingerprint is unchanged are carried over untouched. Stopping halts every
 * queue first and then flushes them against one shared deadline, so shutdown takes
 * one flush deadline, not one per queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "rwsend/internal.h"

struct rwsend_manager {
	char *data_dir, *wal_dir, *config_dir;
	struct rws_env env;
	struct rws_families fam;
	bool have_fam;
	_Atomic int64_t highest_in_ms;
	pthread_mutex_t highest_mu;
	pthread_mutex_t mu;            /* guards qs/n for rwsend_manager_stats() */
	struct rws_queue **qs;
	size_t n;
};

static const char *const q_labels[] = { "remote_name", "url", NULL };
static const char *const w_labels[] = { "consumer", NULL };

#define COUNTER(f, name, help) (fam->f = metrics_counter(r, name, help, q_labels))
#define GAUGE(f, name, help) (fam->f = metrics_gauge(r, name, help, q_labels))

static int register_families(struct metrics_registry *r, struct rws_families *fam,
			     struct metric **highest)
{
	static const double buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
					  25, 60, 120, 300 };

	return COUNTER(samples, "prometheus_remote_storage_samples_total",
		       "Samples sent to remote storage.") &&
	       COUNTER(failed, "prometheus_remote_storage_samples_failed_total",
		       "Samples dropped after a non-recoverable send error.") &&
	       COUNTER(retried, "prometheus_remote_storage_samples_retried_total",
		       "Samples whose send failed recoverably and was retried.") &&
	       COUNTER(dropped, "prometheus_remote_storage_samples_dropped_total",
		       "Samples read from the WAL and not sent: dropped by relabeling or of an unknown series.") &&
	       COUNTER(bytes, "prometheus_remote_storage_bytes_total",
		       "Compressed bytes of samples sent.") &&
	       COUNTER(enqueue_retries, "prometheus_remote_storage_enqueue_retries_total",
		       "Times the WAL reader waited for room in a full shard.") &&
	       COUNTER(ex_sent, "prometheus_remote_storage_exemplars_total",
		       "Exemplars sent to remote storage.") &&
	       COUNTER(ex_failed, "prometheus_remote_storage_exemplars_failed_total",
		       "Exemplars dropped after a non-recoverable send error.") &&
	       COUNTER(ex_retried, "prometheus_remote_storage_exemplars_retried_total",
		       "Exemplars whose send failed recoverably and was retried.") &&
	       COUNTER(ex_dropped, "prometheus_remote_storage_exemplars_dropped_total",
		       "Exemplars read from the WAL and not sent: dropped by relabeling or of an unknown series.") &&
	       GAUGE(ex_pending, "prometheus_remote_storage_exemplars_pending",
		     "Exemplars queued or in flight.") &&
	       GAUGE(pending, "prometheus_remote_storage_samples_pending",
		     "Samples queued or in flight.") &&
	       GAUGE(shards, "prometheus_remote_storage_shards", "Shards sending in parallel.") &&
	       GAUGE(shards_min, "prometheus_remote_storage_shards_min", "Configured min_shards.") &&
	       GAUGE(shards_max, "prometheus_remote_storage_shards_max", "Configured max_shards.") &&
	       GAUGE(shards_desired, "prometheus_remote_storage_shards_desired",
		     "Shards the computation from samples in vs. samples out wants to run.") &&
	       GAUGE(capacity, "prometheus_remote_storage_shard_capacity", "Samples a shard buffers.") &&
	       GAUGE(max_per_send, "prometheus_remote_storage_max_samples_per_send",
		     "Most samples in one request.") &&
	       GAUGE(highest_sent, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
		     "Newest sample timestamp successfully sent, in seconds since the epoch.") &&
	       (fam->duration = metrics_histogram(r, "prometheus_remote_storage_sent_batch_duration_seconds",
						  "Duration of send attempts.", q_labels, buckets,
						  sizeof(buckets) / sizeof(buckets[0]))) &&
	       (fam->segment = metrics_gauge(r, "prometheus_wal_watcher_current_segment",
					     "WAL segment the watcher is reading.", w_labels)) &&
	       (*highest = metrics_gauge(r, "prometheus_remote_storage_highest_timestamp_in_seconds",
					 "Newest sample timestamp read from the WAL, in seconds since the epoch.",
					 NULL))
		       ? 0 : -1;
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Build queues for configs; old ones with the same fingerprint are reused (moved
 * to the result and cleared in `old`). Nothing started; on failure nothing kept. */
static int build(struct rwsend_manager *m, const struct rwsend_config *configs, size_t n,
		 const struct labels *ext, struct rws_queue **old, size_t nold,
		 struct rws_queue **out, bool *fresh, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct rws_conf *conf;
		size_t j;

		fresh[i] = false;
		if (rws_conf_new(&configs[i], m->config_dir, ext, &conf, err, errlen))
			goto fail;
		for (j = 0; j < nold; j++)
			if (old[j] && old[j]->conf->fingerprint.len == conf->fingerprint.len &&
			    !memcmp(old[j]->conf->fingerprint.data, conf->fingerprint.data,
				    conf->fingerprint.len))
				break;
		if (j < nold) {
			rws_conf_free(conf);
			out[i] = old[j];
			old[j] = NULL;
			continue;
		}
		if (rws_queue_new(conf, &m->env, m->have_fam ? &m->fam : NULL, &out[i], err, errlen))
			goto fail;
		fresh[i] = true;
	}
	return 0;
fail:
	/* Give reused queues back before freeing the fresh ones. */
	for (size_t k = 0; k < i; k++) {
		if (fresh[k]) {
			rws_queue_free(out[k]);
			continue;
		}
		for (size_t j = 0; j < nold; j++)
			if (!old[j]) {
				old[j] = out[k];
				break;
			}
	}
	return -1;
}

static void stop_queues(struct rws_queue **qs, size_t n, unsigned flush_ms)
{
	int64_t deadline = rws_now_ms() + flush_ms;

	for (size_t i = 0; i < n; i++)
		if (qs[i])
			rws_queue_halt(qs[i]);
	for (size_t i = 0; i < n; i++)
		if (qs[i])
			rws_queue_finish(qs[i], deadline);
}

int rwsend_manager_apply(struct rwsend_manager *m, const struct rwsend_config *configs,
			 size_t n, const struct labels *external_labels, char *err,
			 size_t errlen)
{
	struct rws_queue **nq = calloc(n ? n : 1, sizeof(*nq)), **old;
	size_t nold;
	bool *fresh = calloc(n ? n : 1, sizeof(*fresh));
	int rc = -1;

	if (!nq || !fresh) {
		snprintf(err, errlen, "remote_write: out of memory");
		goto out;
	}
	if (rwsend_configs_validate(configs, n, err, errlen) ||
	    build(m, configs, n, external_labels, m->qs, m->n, nq, fresh, err, errlen))
		goto out;
	/* Whatever is left in m->qs went away or changed. */
	stop_queues(m->qs, m->n, m->env.flush_deadline_ms);
	old = m->qs;
	nold = m->n;
	pthread_mutex_lock(&m->mu);
	m->qs = nq;
	m->n = n;
	pthread_mutex_unlock(&m->mu);
	nq = NULL;
	for (size_t i = 0; i < nold; i++)
		rws_queue_free(old[i]);
	free(old);
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		char why[256];

		if (!fresh[i])
			continue;
		if (rws_queue_start(m->qs[i], why, sizeof(why))) {
			snprintf(err, errlen, "%s", why);
			rc = -1;
			continue;
		}
		LOG_INFO(RWS_LOG, "Starting remote write queue", "remote_name", m->qs[i]->conf->name,
			 "url", m->qs[i]->conf->url_label);
	}
out:
	free(nq);
	free(fresh);
	return rc;
}

int rwsend_manager_new(const struct rwsend_options *o, const struct rwsend_config *configs,
		       size_t n, const struct labels *external_labels,
		       struct rwsend_manager **out, char *err, size_t errlen)
{
	struct rwsend_manager *m = calloc(1, sizeof(*m));
	struct metric *highest = NULL;
	bool oom = false;

	*out = NULL;
	if (!m)
		return snprintf(err, errlen, "remote_write: out of memory"), -1;
	if (pthread_mutex_init(&m->highest_mu, NULL)) {
		free(m);
		return snprintf(err, errlen, "remote_write: cannot create a mutex"), -1;
	}
	if (pthread_mutex_init(&m->mu, NULL)) {
		pthread_mutex_destroy(&m->highest_mu);
		free(m);
		return snprintf(err, errlen, "remote_write: cannot create a mutex"), -1;
	}
	if (!o || !o->data_dir || !o->wal_dir) {
		snprintf(err, errlen, "remote_write: data and WAL directories are required");
		goto fail;
	}
	m->data_dir = dup_opt(o->data_dir, &oom);
	m->wal_dir = dup_opt(o->wal_dir, &oom);
	m->config_dir = dup_opt(o->config_dir, &oom);
	if (oom) {
		snprintf(err, errlen, "remote_write: out of memory");
		goto fail;
	}
	m->env = (struct rws_env){
		.wal_dir = m->wal_dir,
		.data_dir = m->data_dir,
		.flush_deadline_ms = o->flush_deadline_ms ? o->flush_deadline_ms : 3000,
		.position_interval_ms = o->position_interval_ms ? o->position_interval_ms : 5000,
		.poll_interval_ms = o->poll_interval_ms ? o->poll_interval_ms : 50,
		.shard_update_ms = o->shard_update_interval_ms ? o->shard_update_interval_ms : 10000,
		.appended = o->appended,
		.appended_arg = o->appended_arg,
		.highest_in_ms = &m->highest_in_ms,
		.highest_mu = &m->highest_mu,
	};
	if (o->metrics) {
		if (register_families(o->metrics, &m->fam, &highest)) {
			snprintf(err, errlen, "remote_write: registering metrics failed (registered twice?)");
			goto fail;
		}
		m->have_fam = true;
		m->env.highest_in = metrics_only(highest);
	}
	if (rwsend_manager_apply(m, configs, n, external_labels, err, errlen))
		goto fail;
	*out = m;
	return 0;
fail:
	rwsend_manager_free(m);
	return -1;
}

void rwsend_manager_stop(struct rwsend_manager *m)
{
	if (m)
		stop_queues(m->qs, m->n, m->env.flush_deadline_ms);
}

void rwsend_manager_free(struct rwsend_manager *m)
{
	if (!m)
		return;
	rwsend_manager_stop(m);
	for (size_t i = 0; i < m->n; i++)
		rws_queue_free(m->qs[i]);
	free(m->qs);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->highest_mu);
	free(m->data_dir);
	free(m->wal_dir);
	free(m->config_dir);
	free(m);
}

size_t rwsend_manager_queues(struct rwsend_manager *m)
{
	size_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->mu);
	n = m->n;
	pthread_mutex_unlock(&m->mu);
	return n;
}

int rwsend_manager_stats(struct rwsend_manager *m, size_t i, struct rwsend_stats *st)
{
	int rc = -1;

	if (!m)
		return -1;
	pthread_mutex_lock(&m->mu);
	if (i < m->n) {
		rws_queue_stats(m->qs[i], st);
		rc = 0;
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}
