/*
 * lgtm-logs: stands in for Loki. Its config file is in Loki's format (dskit's
 * `server:` block for the listen address); the supported subset grows with each
 * capability and is declared here.
 */
#include <stddef.h>

#include "runtime/runtime.h"

struct logs_config {
	struct runtime_server_config server;
};

static const struct cfg_field top_fields[] = {
	{ "server", CFG_OBJECT, offsetof(struct logs_config, server), &runtime_server_schema, 0, 0, NULL },
	{ 0 },
};

static const struct cfg_schema config_schema = { "config", top_fields, NULL };

static const char *config_listen(const void *cfg, struct arena *a)
{
	return runtime_server_listen(&((const struct logs_config *)cfg)->server, a);
}

static const char *const buildinfo_paths[] = { "/loki/api/v1/status/buildinfo", NULL };

static const struct runtime_spec spec = {
	.name = "logs",
	.summary = "The lgtm-native log store (Loki-compatible).",
	.default_listen = "127.0.0.1:3100",
	.data_flag = "storage.path",
	.default_data = "data/",
	.metrics_prefix = "loki",
	.metrics_style = RUNTIME_METRICS_CORTEX,
	.buildinfo_paths = buildinfo_paths,
	.buildinfo_envelope = false,
	.config_size = sizeof(struct logs_config),
	.config_schema = &config_schema,
	.config_listen = config_listen,
};

int main(int argc, char **argv)
{
	return runtime_main(&spec, argc, argv);
}
