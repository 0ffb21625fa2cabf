/* Shared by the runtime's files; not a public header. */
#ifndef LGTM_RUNTIME_INTERNAL_H
#define LGTM_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "runtime/runtime.h"

/* One loaded config with its arena; freed when the last holder releases it. */
struct runtime_cfg {
	atomic_int refs;
	struct arena *arena;
	void *cfg;
};

struct runtime {
	const struct runtime_spec *spec;
	char daemon[64];           /* "lgtm-metrics" */
	const char *config_file;
	const char *listen_flag;
	const char *data_dir;
	bool enable_lifecycle;

	struct http_server *http;
	struct metrics_registry *metrics;
	void *user;

	pthread_mutex_t cfg_lock;  /* guards `cur` swaps; reload_lock serializes reloads */
	pthread_mutex_t reload_lock;
	struct runtime_cfg *cur;

	double start_time;     /* unix seconds */
	_Atomic double config_time;
	atomic_bool last_reload_ok;
	atomic_bool started;
	atomic_bool stopping;
	int lock_fd;

	struct metric_child *reload_ok;
	struct metric_child *reload_ts;
	void *reqmetrics;
};

/* config_holder.c */
int runtime_cfg_load(const struct runtime_spec *spec, const char *path, struct runtime_cfg **out,
		     char *err, size_t errlen);
void runtime_cfg_put(struct runtime_cfg *c);
void runtime_cfg_swap(struct runtime *rt, struct runtime_cfg *next);

/* datadir.c */
int runtime_datadir_open(const char *dir, int *lock_fd, char *err, size_t errlen);

/* endpoints.c */
int runtime_endpoints_register(struct runtime *rt, char *err, size_t errlen);

/* reqmetrics.c */
int runtime_reqmetrics_init(struct runtime *rt, char *err, size_t errlen);
struct http_observation;
void runtime_reqmetrics_observe(const struct http_observation *o, void *arg);

#endif
