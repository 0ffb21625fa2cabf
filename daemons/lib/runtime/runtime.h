/*
 * runtime: the life of a daemon process, shared by all five executables. A daemon
 * describes itself in a struct runtime_spec (flags, config schema, hooks) and hands
 * main() to runtime_main(), which does, in order:
 *
 *   flags (--config.file, --web.listen-address, --log.level, --log.format,
 *          --check-config, --version, --help, the data directory, the daemon's own)
 *   -> config load and check  (--check-config stops here: exit 0 or 1)
 *   -> data directory created and locked
 *   -> HTTP server with /-/healthy, /-/ready, /ready, /metrics, build info
 *   -> spec->start() (routes, recovery; STATUS= while it runs)
 *   -> listen, READY=1
 *   -> main loop: WATCHDOG=1, SIGHUP = reload (RELOADING=1 ... READY=1; a bad config
 *      is logged and the old one kept), SIGTERM/SIGINT = STOPPING=1, drain in-flight
 *      requests (10 s at most), spec->stop(), exit 0.
 *
 * Exit codes: 0 normal, 1 config or start-up failure, 2 bad flags.
 *
 * Thread-safety: runtime_config_acquire/release, runtime_reload and the accessors are
 * thread-safe; handlers call them from server threads. Hooks run on the main thread
 * (reload may also run on a server thread for POST /-/reload; reloads are serialized).
 */
#ifndef LGTM_RUNTIME_H
#define LGTM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "buf/buf.h"
#include "config/config.h"

struct runtime;
struct http_server;
struct metrics_registry;

enum runtime_metrics_style {
	RUNTIME_METRICS_PROMETHEUS, /* <prefix>_http_requests_total{code,handler} ... */
	RUNTIME_METRICS_CORTEX,     /* <prefix>_request_duration_seconds{method,route,status_code,ws} */
};

struct runtime_spec {
	const char *name;           /* "metrics" -> "lgtm-metrics" */
	const char *summary;        /* one line for --help */
	const char *default_listen; /* "127.0.0.1:9090" */
	const char *data_flag;      /* flag names of the data directory, e.g. "storage.tsdb.path|storage.path" */
	const char *default_data;   /* default data directory */
	const char *metrics_prefix; /* "prometheus", "loki", "tempo", "cortex", "otelcol" */
	enum runtime_metrics_style metrics_style;
	/* Paths answering build info; envelope: Prometheus {"status":"success","data":{...}}. */
	const char *const *buildinfo_paths;
	bool buildinfo_envelope;

	size_t config_size;
	const struct cfg_schema *config_schema;
	void (*config_defaults)(void *cfg);
	/* Cross-field checks after decoding, and defaults that depend on other fields
	 * (e.g. Prometheus' scrape_timeout); optional. */
	int (*config_check)(void *cfg, char *err, size_t errlen);
	/* The listen address a config asks for (e.g. Loki's server.http_listen_port), or
	 * NULL; --web.listen-address given on the command line wins. Optional. */
	const char *(*config_listen)(const void *cfg, struct arena *a);

	struct cli_flag *flags;     /* the daemon's own flags, or NULL */

	/* Register routes, open and recover storage. The config is runtime_config_acquire(). */
	int (*start)(struct runtime *rt, char *err, size_t errlen);
	/* Apply a new, already checked config on reload; optional. Non-zero keeps the old one. */
	int (*apply_config)(struct runtime *rt, const void *cfg, char *err, size_t errlen);
	/* Readiness beyond "started and not stopping"; optional. */
	bool (*ready)(struct runtime *rt);
	/* After the HTTP server drained: flush and close. Optional. */
	void (*stop)(struct runtime *rt);
};

int runtime_main(const struct runtime_spec *spec, int argc, char **argv);

/* The `server:` block Loki, Tempo and Mimir share (dskit): the listen address lives in
 * the config file there, not in a flag. */
struct runtime_server_config {
	char *http_listen_address;  /* empty: all interfaces, as upstream */
	int64_t http_listen_port;   /* 0: the daemon's default port */
};
extern const struct cfg_schema runtime_server_schema;
/* "address:port" for runtime_spec.config_listen, or NULL when the block sets no port. */
const char *runtime_server_listen(const struct runtime_server_config *s, struct arena *a);

struct http_server *runtime_http(struct runtime *rt);
struct metrics_registry *runtime_metrics(struct runtime *rt);
const char *runtime_data_dir(const struct runtime *rt);
/* The config file path as given (--config.file). */
const char *runtime_config_file(const struct runtime *rt);
const struct runtime_spec *runtime_spec(const struct runtime *rt);
/* Started, not stopping, and the daemon's own ready hook agrees. */
bool runtime_is_ready(struct runtime *rt);
void runtime_set_user(struct runtime *rt, void *user);
void *runtime_user(const struct runtime *rt);

/* The current config, held until released (a reload never frees it under a reader). */
const void *runtime_config_acquire(struct runtime *rt);
void runtime_config_release(struct runtime *rt, const void *cfg);

/* The current config as YAML (secrets masked), for /api/v1/status/config. */
void runtime_config_yaml(struct runtime *rt, struct buf *out);
/* When the process started, whether the last (re)load succeeded and when the config in
 * force was loaded (unix seconds). */
struct runtime_status {
	double start_time;
	bool last_reload_ok;
	double config_time;
};
void runtime_status(struct runtime *rt, struct runtime_status *out);

/* Load the config file again and apply it; 0, or -1 with err (old config kept). */
int runtime_reload(struct runtime *rt, char *err, size_t errlen);

#endif
