/*
 * lgtm-longterm: stands in for Mimir. Its config file is in Mimir's format (dskit's
 * `server:` block for the listen address); the supported subset grows with each
 * capability and is declared here.
 */
#include <stddef.h>

#include "runtime/runtime.h"

struct longterm_config {
	struct runtime_server_config server;
};

static const struct cfg_field top_fields[] = {
	{ "server", CFG_OBJECT, offsetof(struct longterm_config, server), &runtime_server_schema, 0, 0, NULL },
	{ 0 },
};

static const struct cfg_schema config_schema = { "config", top_fields, NULL };

static const char *config_listen(const void *cfg, struct arena *a)
{
	return runtime_server_listen(&((const struct longterm_config *)cfg)->server, a);
}

static const char *const buildinfo_paths[] = { "/api/v1/status/buildinfo", "/prometheus/api/v1/status/buildinfo", NULL };

static const struct runtime_spec spec = {
	.name = "longterm",
	.summary = "The lgtm-native long-term metrics store (Mimir-compatible).",
	.default_listen = "127.0.0.1:9009",
	.data_flag = "storage.path",
	.default_data = "data/",
	.metrics_prefix = "cortex",
	.metrics_style = RUNTIME_METRICS_CORTEX,
	.buildinfo_paths = buildinfo_paths,
	.buildinfo_envelope = true,
	.config_size = sizeof(struct longterm_config),
	.config_schema = &config_schema,
	.config_listen = config_listen,
};

int main(int argc, char **argv)
{
	return runtime_main(&spec, argc, argv);
}
