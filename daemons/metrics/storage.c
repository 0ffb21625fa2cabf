/*
 * Storage wiring for lgtm-metrics. The TSDB is opened before the listener is bound
 * (the runtime calls the start hook first), so READY=1 means "blocks loaded and WAL
 * replay done". Block cutting, compaction and retention run on the TSDB's own
 * background thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "runtime/runtime.h"
#include "sdnotify/sdnotify.h"
#include "metrics_config.h"
#include "storage.h"
#include "tsdb/db.h"

#include "remote_api.h"
#include "tsdb_api.h"

struct storage_flags storage_flags = {
	.wal_fsync = "batch",
	.wal_compression = true,
	.wal_compression_type = "snappy",
	.block_encoding = "prometheus",
	.wal_encoding = "prometheus",
	.read_sample_limit = 50000000,
	.min_block_ms = TSDB_DEFAULT_CHUNK_RANGE_MS,
	.exemplars_limit = TSDB_DEFAULT_MAX_EXEMPLARS,
};

static struct tsdb_db *g_db;

struct tsdb_db *storage_db(void)
{
	return g_db;
}

static void progress(void *arg, const char *status)
{
	sdnotify_status("%s", status);
	LOG_INFO("tsdb", status);
}

static void collect_blocks(struct buf *out)
{
	struct tsdb_db_stats st;

	tsdb_db_stats(g_db, &st);
	buf_printf(out,
		   "# HELP prometheus_tsdb_blocks_loaded Number of currently loaded data blocks.\n"
		   "# TYPE prometheus_tsdb_blocks_loaded gauge\n"
		   "prometheus_tsdb_blocks_loaded %llu\n"
		   "# HELP prometheus_tsdb_storage_blocks_bytes The number of bytes that are currently used for local storage by all blocks.\n"
		   "# TYPE prometheus_tsdb_storage_blocks_bytes gauge\n"
		   "prometheus_tsdb_storage_blocks_bytes %llu\n"
		   "# HELP prometheus_tsdb_wal_storage_size_bytes Size of the write log directory.\n"
		   "# TYPE prometheus_tsdb_wal_storage_size_bytes gauge\n"
		   "prometheus_tsdb_wal_storage_size_bytes %llu\n"
		   "# HELP prometheus_tsdb_head_truncations_total Total number of head truncations attempted.\n"
		   "# TYPE prometheus_tsdb_head_truncations_total counter\n"
		   "prometheus_tsdb_head_truncations_total %llu\n"
		   "# HELP prometheus_tsdb_head_truncations_failed_total Total number of head truncations that failed.\n"
		   "# TYPE prometheus_tsdb_head_truncations_failed_total counter\n"
		   "prometheus_tsdb_head_truncations_failed_total %llu\n"
		   "# HELP prometheus_tsdb_compactions_total Total number of compactions that were executed for the partition.\n"
		   "# TYPE prometheus_tsdb_compactions_total counter\n"
		   "prometheus_tsdb_compactions_total %llu\n"
		   "# HELP prometheus_tsdb_compactions_failed_total Total number of compactions that failed for the partition.\n"
		   "# TYPE prometheus_tsdb_compactions_failed_total counter\n"
		   "prometheus_tsdb_compactions_failed_total %llu\n"
		   "# HELP prometheus_tsdb_checkpoint_creations_total Total number of checkpoint creations attempted.\n"
		   "# TYPE prometheus_tsdb_checkpoint_creations_total counter\n"
		   "prometheus_tsdb_checkpoint_creations_total %llu\n"
		   "# HELP prometheus_tsdb_checkpoint_creations_failed_total Total number of checkpoint creations that failed.\n"
		   "# TYPE prometheus_tsdb_checkpoint_creations_failed_total counter\n"
		   "prometheus_tsdb_checkpoint_creations_failed_total %llu\n"
		   "# HELP prometheus_tsdb_time_retentions_total Blocks deleted because they were older than the retention time.\n"
		   "# TYPE prometheus_tsdb_time_retentions_total counter\n"
		   "prometheus_tsdb_time_retentions_total %llu\n"
		   "# HELP prometheus_tsdb_size_retentions_total Blocks deleted because the storage exceeded the retention size.\n"
		   "# TYPE prometheus_tsdb_size_retentions_total counter\n"
		   "prometheus_tsdb_size_retentions_total %llu\n"
		   "# HELP lgtm_tsdb_blocks_skipped_total Blocks skipped at start-up because they failed validation.\n"
		   "# TYPE lgtm_tsdb_blocks_skipped_total counter\n"
		   "lgtm_tsdb_blocks_skipped_total %llu\n",
		   (unsigned long long)st.blocks, (unsigned long long)st.blocks_bytes,
		   (unsigned long long)st.wal_bytes,
		   (unsigned long long)(st.head_cuts + st.head_cuts_failed),
		   (unsigned long long)st.head_cuts_failed, (unsigned long long)st.compactions,
		   (unsigned long long)st.compactions_failed,
		   (unsigned long long)(st.checkpoints + st.checkpoints_failed),
		   (unsigned long long)st.checkpoints_failed,
		   (unsigned long long)st.retention_time_deleted,
		   (unsigned long long)st.retention_size_deleted,
		   (unsigned long long)st.blocks_skipped);
}

/* Upstream's prometheus_tsdb_exemplar_* families, read from the store when scraped
 * (zeros when exemplars are off). */
static double exemplar_stat(void *arg)
{
	struct tsdb_exemplars *ex = tsdb_db_exemplars(g_db);
	struct tsdb_exemplars_stats st = { 0 };

	if (ex)
		tsdb_exemplars_stats(ex, &st);
	switch ((uintptr_t)arg) {
	case 0: return (double)st.max;
	case 1: return (double)st.stored;
	case 2: return (double)st.series;
	case 3: return (double)st.appended;
	case 4: return (double)st.out_of_order;
	default: return (double)st.oldest_t / 1000;
	}
}

static int register_exemplar_metrics(struct metrics_registry *r)
{
	static const struct {
		const char *name, *help;
		enum metric_type type;
	} fams[] = {
		{ "prometheus_tsdb_exemplar_max_exemplars", "Total number of exemplars the exemplar storage can store, resizeable.", METRIC_GAUGE },
		{ "prometheus_tsdb_exemplar_exemplars_in_storage", "Number of exemplars currently in circular storage.", METRIC_GAUGE },
		{ "prometheus_tsdb_exemplar_series_with_exemplars_in_storage", "Number of series with exemplars currently in circular storage.", METRIC_GAUGE },
		{ "prometheus_tsdb_exemplar_exemplars_appended_total", "Total number of appended exemplars.", METRIC_COUNTER },
		{ "prometheus_tsdb_exemplar_out_of_order_exemplars_total", "Total number of out of order exemplar ingestion failed attempts.", METRIC_COUNTER },
		{ "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds", "The timestamp of the oldest exemplar stored in circular storage.", METRIC_GAUGE },
	};

	for (uintptr_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		if (metrics_func(r, fams[i].name, fams[i].help, fams[i].type, exemplar_stat,
				 (void *)i) < 0)
			return -1;
	return 0;
}

/* TSDB families named as Prometheus names them, so its dashboards work. */
static void collect(struct buf *out, void *arg)
{
	struct tsdb_head_stats st;
	struct tsdb_wal_stats ws;

	tsdb_head_stats(tsdb_db_head(g_db), &st);
	tsdb_wal_stats(tsdb_db_wal(g_db), &ws);
	buf_printf(out,
		   "# HELP prometheus_tsdb_head_series Total number of series in the head block.\n"
		   "# TYPE prometheus_tsdb_head_series gauge\n"
		   "prometheus_tsdb_head_series %llu\n"
		   "# HELP prometheus_tsdb_head_series_created_total Total number of series created in the head.\n"
		   "# TYPE prometheus_tsdb_head_series_created_total counter\n"
		   "prometheus_tsdb_head_series_created_total %llu\n"
		   "# HELP prometheus_tsdb_head_series_removed_total Total number of series removed in the head.\n"
		   "# TYPE prometheus_tsdb_head_series_removed_total counter\n"
		   "prometheus_tsdb_head_series_removed_total %llu\n"
		   "# HELP prometheus_tsdb_head_samples_appended_total Total number of appended samples.\n"
		   "# TYPE prometheus_tsdb_head_samples_appended_total counter\n"
		   "prometheus_tsdb_head_samples_appended_total{type=\"float\"} %llu\n"
		   "# HELP prometheus_tsdb_out_of_order_samples_total Total number of out of order samples ingestion failed attempts.\n"
		   "# TYPE prometheus_tsdb_out_of_order_samples_total counter\n"
		   "prometheus_tsdb_out_of_order_samples_total{type=\"float\"} %llu\n"
		   "# HELP prometheus_tsdb_out_of_bound_samples_total Total number of out of bound samples ingestion failed attempts.\n"
		   "# TYPE prometheus_tsdb_out_of_bound_samples_total counter\n"
		   "prometheus_tsdb_out_of_bound_samples_total{type=\"float\"} %llu\n"
		   "# HELP prometheus_tsdb_too_old_samples_total Total number of out of order samples ingestion failed attempts due to the out-of-order window.\n"
		   "# TYPE prometheus_tsdb_too_old_samples_total counter\n"
		   "prometheus_tsdb_too_old_samples_total{type=\"float\"} %llu\n"
		   "# HELP prometheus_tsdb_duplicate_samples_total Samples refused for a different value at an existing timestamp.\n"
		   "# TYPE prometheus_tsdb_duplicate_samples_total counter\n"
		   "prometheus_tsdb_duplicate_samples_total %llu\n"
		   "# HELP prometheus_tsdb_wal_fsyncs_total Total number of WAL fsync calls.\n"
		   "# TYPE prometheus_tsdb_wal_fsyncs_total counter\n"
		   "prometheus_tsdb_wal_fsyncs_total %llu\n"
		   "# HELP prometheus_tsdb_wal_fsync_seconds_total Total time spent in WAL fsync calls.\n"
		   "# TYPE prometheus_tsdb_wal_fsync_seconds_total counter\n"
		   "prometheus_tsdb_wal_fsync_seconds_total %.9g\n"
		   "# HELP prometheus_tsdb_wal_writes_failed_total Total number of WAL writes that failed.\n"
		   "# TYPE prometheus_tsdb_wal_writes_failed_total counter\n"
		   "prometheus_tsdb_wal_writes_failed_total %llu\n",
		   (unsigned long long)st.series, (unsigned long long)st.series_created,
		   (unsigned long long)st.series_removed, (unsigned long long)st.samples_appended,
		   (unsigned long long)st.out_of_order, (unsigned long long)st.out_of_bounds,
		   (unsigned long long)st.too_old, (unsigned long long)st.duplicate,
		   (unsigned long long)ws.fsyncs, ws.fsync_seconds,
		   (unsigned long long)ws.writes_failed);
	collect_blocks(out);
}

int storage_start(struct runtime *rt, char *err, size_t errlen)
{
	struct tsdb_db_options o = {
		.dir = runtime_data_dir(rt),
		.progress = progress,
		.block_range_ms = storage_flags.min_block_ms,
		.retention_ms = storage_flags.retention_time_ms,
		.retention_bytes = storage_flags.retention_size,
		.max_block_ms = storage_flags.max_block_ms,
	};
	const struct tsdb_db_replay_stats *rs;
	const struct metrics_config *cfg = runtime_config_acquire(rt);
	char n1[32], n2[32], n3[32], n4[32];

	/* The out-of-order window is fixed at start; a reload that changes it says so. */
	o.ooo_window_ms = cfg->storage.out_of_order_time_window_ms;
	runtime_config_release(rt, cfg);
	if (tsdb_wal_parse_fsync(storage_flags.wal_fsync, &o.fsync) < 0) {
		snprintf(err, errlen, "invalid --storage.tsdb.wal-fsync \"%s\" (always, batch, never)",
			 storage_flags.wal_fsync);
		return -1;
	}
	if (tsdb_wal_parse_compression(storage_flags.wal_compression_type,
				       &o.wal_compression) < 0 ||
	    o.wal_compression == TSDB_WAL_COMPRESS_NONE) {
		snprintf(err, errlen,
			 "invalid --storage.tsdb.wal-compression-type \"%s\" (snappy, zstd)",
			 storage_flags.wal_compression_type);
		return -1;
	}
	if (!storage_flags.wal_compression)
		o.wal_compression = TSDB_WAL_COMPRESS_NONE;
	if (tsdb_block_parse_encoding(storage_flags.block_encoding, &o.block_encoding) < 0) {
		snprintf(err, errlen,
			 "invalid --storage.tsdb.block-encoding \"%s\" (prometheus, dense)",
			 storage_flags.block_encoding);
		return -1;
	}
	if (tsdb_wal_parse_encoding(storage_flags.wal_encoding, &o.wal_encoding) < 0) {
		snprintf(err, errlen,
			 "invalid --storage.tsdb.wal-encoding \"%s\" (prometheus, dense)",
			 storage_flags.wal_encoding);
		return -1;
	}
	if (storage_flags.exemplars_limit < 0 || storage_flags.exemplars_limit >= UINT32_MAX) {
		snprintf(err, errlen, "--storage.exemplars.exemplars-limit must be between 0 and %u",
			 UINT32_MAX - 1);
		return -1;
	}
	o.max_exemplars = (size_t)storage_flags.exemplars_limit;
	if (storage_flags.min_block_ms <= 0 || storage_flags.retention_time_ms < 0 ||
	    storage_flags.max_block_ms < 0) {
		snprintf(err, errlen, "--storage.tsdb.min-block-duration must be positive, retention and max block duration not negative");
		return -1;
	}
	/* Prometheus' default: 15d, unless only a size limit was asked for. */
	if (!o.retention_ms && !o.retention_bytes)
		o.retention_ms = TSDB_DB_DEFAULT_RETENTION_MS;
	if (tsdb_db_open(&o, &g_db, err, errlen) < 0)
		return -1;
	rs = tsdb_db_replay_stats(g_db);
	snprintf(n1, sizeof(n1), "%llu", (unsigned long long)rs->series);
	snprintf(n2, sizeof(n2), "%llu", (unsigned long long)rs->samples);
	snprintf(n3, sizeof(n3), "%lld", (long long)rs->truncated_bytes);
	snprintf(n4, sizeof(n4), "%llu", (unsigned long long)rs->exemplars);
	LOG_INFO("tsdb", "WAL replay completed", "series", n1, "samples", n2, "exemplars", n4,
		 "truncated_bytes", n3);
	if (metrics_collector(runtime_metrics(rt), collect, NULL) < 0 ||
	    register_exemplar_metrics(runtime_metrics(rt)) < 0) {
		snprintf(err, errlen, "registering TSDB metrics failed");
		return -1;
	}
	if (tsdb_api_register(rt, g_db, storage_flags.admin_api, err, errlen) < 0)
		return -1;
	return remote_api_register(rt, g_db, err, errlen);
}

void storage_stop(void)
{
	char err[256];

	remote_api_close();
	if (tsdb_db_close(g_db, err, sizeof(err)) < 0)
		LOG_ERROR("tsdb", "Closing the TSDB failed", "err", err);
	g_db = NULL;
}
