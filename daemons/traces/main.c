/*
 * lgtm-traces: stands in for Tempo. Its config file is in Tempo's format (dskit's
 * `server:` block for the listen address); the supported subset grows with each
 * capability and is declared here.
 */
#include <stddef.h>

#include "runtime/runtime.h"

struct traces_config {
	struct runtime_server_config server;
};

static const struct cfg_field top_fields[] = {
	{ "server", CFG_OBJECT, offsetof(struct traces_config, server), &runtime_server_schema, 0, 0, NULL },
	{ 0 },
};

static const struct cfg_schema config_schema = { "config", top_fields, NULL };

static const char *config_listen(const void *cfg, struct arena *a)
{
	return runtime_server_listen(&((const struct traces_config *)cfg)->server, a);
}

static const char *const buildinfo_paths[] = { "/api/status/buildinfo", NULL };

static const struct runtime_spec spec = {
	.name = "traces",
	.summary = "The lgtm-native trace store (Tempo-compatible).",
	.default_listen = "127.0.0.1:3200",
	.data_flag = "storage.path",
	.default_data = "data/",
	.metrics_prefix = "tempo",
	.metrics_style = RUNTIME_METRICS_CORTEX,
	.buildinfo_paths = buildinfo_paths,
	.buildinfo_envelope = false,
	.config_size = sizeof(struct traces_config),
	.config_schema = &config_schema,
	.config_listen = config_listen,
};

int main(int argc, char **argv)
{
	return runtime_main(&spec, argc, argv);
}
