/*
 * lgtm-metrics: stands in for Prometheus on the VM (scrape, TSDB, PromQL, rules,
 * remote_write out). Its config file is a prometheus.yml; the supported subset
 * grows with each capability and is declared in config.c.
 */
#include <malloc.h>
#include <stdlib.h>

#include "api.h"
#include "federate.h"
#include "forwarding.h"
#include "metrics_config.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "scraping.h"
#include "status_api.h"
#include "storage.h"

static struct cli_flag flags[] = {
	STORAGE_FLAGS,
	QUERY_FLAGS,
	{ NULL },
};

static int start(struct runtime *rt, char *err, size_t errlen)
{
	const struct metrics_config *cfg;
	int rc;

	if (status_api_register(rt, err, errlen) < 0 || storage_start(rt, err, errlen) < 0 ||
	    api_register(rt, err, errlen) < 0 || federate_register(rt, err, errlen) < 0)
		return -1;
	cfg = runtime_config_acquire(rt);
	rc = forwarding_start(rt, cfg, err, errlen);
	if (rc == 0)
		rc = scraping_start(rt, cfg, err, errlen);
	runtime_config_release(rt, cfg);
	return rc;
}

static int apply_config(struct runtime *rt, const void *cfg, char *err, size_t errlen)
{
	const struct metrics_config *old = runtime_config_acquire(rt);
	const struct metrics_config *c = cfg;

	if (old->storage.out_of_order_time_window_ms != c->storage.out_of_order_time_window_ms)
		LOG_WARN("tsdb", "storage.tsdb.out_of_order_time_window changes take effect at the next restart");
	runtime_config_release(rt, old);
	if (forwarding_apply(cfg, err, errlen) < 0 || scraping_apply(cfg, err, errlen) < 0)
		return -1;
	api_apply(c);
	return 0;
}

/* Scrapes stop first (nothing new is appended), then the senders flush what the WAL
 * holds for them, then storage closes. */
static void stop(struct runtime *rt)
{
	scraping_stop();
	forwarding_stop();
	api_stop();
	storage_stop();
}

static const char *const buildinfo_paths[] = { "/api/v1/status/buildinfo", NULL };

static const struct runtime_spec spec = {
	.name = "metrics",
	.summary = "The lgtm-native metrics server (Prometheus-compatible).",
	.default_listen = "127.0.0.1:9090",
	.data_flag = "storage.tsdb.path|storage.path",
	.default_data = "data/",
	.metrics_prefix = "prometheus",
	.metrics_style = RUNTIME_METRICS_PROMETHEUS,
	.buildinfo_paths = buildinfo_paths,
	.buildinfo_envelope = true,
	.config_size = sizeof(struct metrics_config),
	.config_schema = &metrics_config_schema,
	.config_defaults = metrics_config_defaults,
	.config_check = metrics_config_check,
	.flags = flags,
	.start = start,
	.apply_config = apply_config,
	.stop = stop,
};

int main(int argc, char **argv)
{
	/* glibc gives every thread that allocates concurrently an arena of its own (up to
	 * 8 per core); memory one arena frees cannot serve another's allocations, so the
	 * head's series and chunks, spread over the HTTP threads' arenas, pinned ~6 MiB
	 * more at peak (20k series). Allocations on the request path are few (arenas of
	 * our own, pooled buffers), so one arena costs no measurable contention: with one
	 * the ingestion benchmark peaked at 19.1-19.4 MiB and 0.92-1.02 CPU s per M
	 * samples, with two at 19.0-20.5 MiB and 0.99-1.11. MALLOC_ARENA_MAX wins. */
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 1);
	/* Big buffers (request bodies, decoded batches, block writer sections) come from
	 * mmap and go back whole. Left to itself, glibc raises this threshold to the size
	 * of the largest buffer freed (up to 32 MiB): later ones then come from the heap
	 * and leave holes there that the head's small, long-lived objects fill, so the
	 * heap never shrinks again (~2 MiB more at peak with 20k series). Setting it also
	 * keeps the trim threshold at its default. */
	if (!getenv("MALLOC_MMAP_THRESHOLD_"))
		mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	return runtime_main(&spec, argc, argv);
}
