/*
 * lgtm-collector: stands in for the OpenTelemetry Collector. Its config file is an
 * otelcol config; the runtime's HTTP server serves the collector's own metrics
 * (service.telemetry.metrics.address, 8888) and the health_check extension gets a
 * listener of its own (13133).
 */
#include <stddef.h>

#include "collector_config.h"
#include "health_check.h"
#include "runtime/runtime.h"

static struct health_check *g_health;

static const char *config_listen(const void *cfg, struct arena *a)
{
	return ((const struct collector_config *)cfg)->service.telemetry.metrics.address;
}

static int start(struct runtime *rt, char *err, size_t errlen)
{
	const struct collector_config *c = runtime_config_acquire(rt);
	const struct collector_health_check *hc = collector_config_health_check(c);
	int rc = 0;

	if (hc)
		rc = health_check_start(rt, hc, &g_health, err, errlen);
	runtime_config_release(rt, c);
	return rc;
}

static void stop(struct runtime *rt)
{
	health_check_stop(g_health);
	g_health = NULL;
}

static const char *const buildinfo_paths[] = { "/api/v1/status/buildinfo", NULL };

static const struct runtime_spec spec = {
	.name = "collector",
	.summary = "The lgtm-native telemetry collector (OpenTelemetry Collector-compatible).",
	.default_listen = "127.0.0.1:8888",
	.data_flag = "storage.path",
	.default_data = "data/",
	.metrics_prefix = "otelcol",
	.metrics_style = RUNTIME_METRICS_CORTEX,
	.buildinfo_paths = buildinfo_paths,
	.buildinfo_envelope = true,
	.config_size = sizeof(struct collector_config),
	.config_schema = &collector_config_schema,
	.config_defaults = collector_config_defaults,
	.config_check = collector_config_check,
	.config_listen = config_listen,
	.start = start,
	.stop = stop,
};

int main(int argc, char **argv)
{
	return runtime_main(&spec, argc, argv);
}
