/*
 * runtime_main(): flags, config, data directory, HTTP server, systemd protocol and
 * the signal loop (see runtime.h for the order). Signals are blocked in every thread
 * before any thread is created and read from a signalfd by the main loop, so
 * handlers run as ordinary code, never in signal context.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "runtime/runtime_internal.h"
#include "sdnotify/sdnotify.h"
#include "version/version.h"

#define DRAIN_TIMEOUT_MS 8000 /* leaves time for spec->stop() within systemd's 10 s */

struct common_flags {
	const char *config_file;
	const char *listen;
	const char *log_level;
	const char *log_format;
	const char *data_dir;
	bool check_config;
	bool enable_lifecycle;
};

struct http_server *runtime_http(struct runtime *rt) { return rt->http; }
struct metrics_registry *runtime_metrics(struct runtime *rt) { return rt->metrics; }
const char *runtime_data_dir(const struct runtime *rt) { return rt->data_dir; }
const char *runtime_config_file(const struct runtime *rt) { return rt->config_file; }
const struct runtime_spec *runtime_spec(const struct runtime *rt) { return rt->spec; }
void runtime_set_user(struct runtime *rt, void *user) { rt->user = user; }
void *runtime_user(const struct runtime *rt) { return rt->user; }

/* Common flags followed by the daemon's own, in one table for parsing and usage. */
static struct cli_flag *build_flags(const struct runtime_spec *spec, struct common_flags *cf)
{
	struct cli_flag common[] = {
		{ "config.file", CLI_STRING, &cf->config_file, "Configuration file path.", "<path>", false },
		{ "web.listen-address", CLI_STRING, &cf->listen, "Address to listen on for HTTP.", "<host:port>", false },
		{ "log.level", CLI_STRING, &cf->log_level, "Only log messages at or above this level: debug, info, warn, error.", "<level>", false },
		{ "log.format", CLI_STRING, &cf->log_format, "Output format of log messages: logfmt, json.", "<format>", false },
		{ spec->data_flag, CLI_STRING, &cf->data_dir, "Base directory for data.", "<path>", false },
		{ "check-config", CLI_BOOL, &cf->check_config, "Validate the configuration file and exit 0 (valid) or 1.", NULL, false },
		{ "web.enable-lifecycle", CLI_BOOL, &cf->enable_lifecycle, "Enable shutdown and reload via HTTP request.", NULL, false },
	};
	size_t nc = sizeof(common) / sizeof(common[0]), ne = 0;
	struct cli_flag *all;

	while (spec->flags && spec->flags[ne].names)
		ne++;
	all = calloc(nc + ne + 1, sizeof(*all));
	if (!all)
		return NULL;
	memcpy(all, common, sizeof(common));
	if (ne)
		memcpy(all + nc, spec->flags, ne * sizeof(*all));
	return all;
}

static void print_version(const char *daemon)
{
	printf("%s, version %s (branch: %s, revision: %s)\n", daemon, lgtm_version(), lgtm_branch(),
	       lgtm_revision());
	printf("  build date:       %s\n", lgtm_build_date());
	printf("  compiler:         %s\n", lgtm_go_equivalent());
	printf("  platform:         linux/amd64\n");
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void runtime_status(struct runtime *rt, struct runtime_status *out)
{
	out->start_time = rt->start_time;
	out->last_reload_ok = atomic_load(&rt->last_reload_ok);
	out->config_time = atomic_load(&rt->config_time);
}

void runtime_config_yaml(struct runtime *rt, struct buf *out)
{
	const void *cfg = runtime_config_acquire(rt);

	cfg_dump_yaml(rt->spec->config_schema, cfg, out);
	runtime_config_release(rt, cfg);
}

int runtime_reload(struct runtime *rt, char *err, size_t errlen)
{
	struct runtime_cfg *next = NULL;
	int rc = -1;

	pthread_mutex_lock(&rt->reload_lock);
	sdnotify_reloading();
	LOG_INFO("runtime", "Loading configuration file", "filename", rt->config_file);
	if (runtime_cfg_load(rt->spec, rt->config_file, &next, err, errlen) < 0)
		goto out;
	if (rt->spec->apply_config && rt->spec->apply_config(rt, next->cfg, err, errlen) < 0) {
		runtime_cfg_put(next);
		goto out;
	}
	runtime_cfg_swap(rt, next);
	rc = 0;
out:
	atomic_store(&rt->last_reload_ok, rc == 0);
	if (rc == 0) {
		atomic_store(&rt->config_time, now_seconds());
		metrics_set(rt->reload_ok, 1);
		metrics_set(rt->reload_ts, (double)time(NULL));
		LOG_INFO("runtime", "Completed loading of configuration file", "filename", rt->config_file);
	} else {
		metrics_set(rt->reload_ok, 0);
		LOG_ERROR("runtime", "Error reloading config; keeping the old one", "filename",
			  rt->config_file, "err", err);
	}
	sdnotify_ready();
	pthread_mutex_unlock(&rt->reload_lock);
	return rc;
}

static int setup_metrics(struct runtime *rt, char *err, size_t errlen)
{
	char name[128];
	struct metric *ok, *ts;

	rt->metrics = metrics_registry_new();
	if (!rt->metrics || metrics_register_process(rt->metrics) < 0 ||
	    metrics_register_build_info(rt->metrics, rt->daemon) < 0)
		goto fail;
	snprintf(name, sizeof(name), "%s_config_last_reload_successful", rt->spec->metrics_prefix);
	ok = metrics_gauge(rt->metrics, name, "Whether the last configuration reload attempt was successful.", NULL);
	snprintf(name, sizeof(name), "%s_config_last_reload_success_timestamp_seconds", rt->spec->metrics_prefix);
	ts = metrics_gauge(rt->metrics, name, "Timestamp of the last successful configuration reload.", NULL);
	if (!ok || !ts)
		goto fail;
	rt->reload_ok = metrics_only(ok);
	rt->reload_ts = metrics_only(ts);
	if (!rt->reload_ok || !rt->reload_ts)
		goto fail;
	metrics_set(rt->reload_ok, 1);
	metrics_set(rt->reload_ts, (double)time(NULL));
	return runtime_reqmetrics_init(rt, err, errlen);
fail:
	snprintf(err, errlen, "creating self-metrics failed");
	return -1;
}

/* --web.listen-address wins, then the config's own setting, then the default. */
static const char *listen_address(struct runtime *rt, struct arena *a)
{
	const char *addr = NULL;
	const void *cfg;

	if (rt->listen_flag)
		return rt->listen_flag;
	if (rt->spec->config_listen) {
		cfg = runtime_config_acquire(rt);
		addr = rt->spec->config_listen(cfg, a);
		runtime_config_release(rt, cfg);
	}
	return addr ? addr : rt->spec->default_listen;
}

static int start_server(struct runtime *rt, char *err, size_t errlen)
{
	struct http_server_config hc = { 0 };
	struct arena *a = arena_new(0);
	int rc = -1;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	hc.listen_address = listen_address(rt, a);
	hc.observe = runtime_reqmetrics_observe;
	hc.observe_arg = rt->reqmetrics;
	if (http_server_new(&hc, &rt->http, err, errlen) < 0 ||
	    runtime_endpoints_register(rt, err, errlen) < 0)
		goto out;
	sdnotify_status("Starting %s", rt->daemon);
	if (rt->spec->start && rt->spec->start(rt, err, errlen) < 0)
		goto out;
	if (http_server_start(rt->http, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	arena_free(a);
	return rc;
}

/* Returns when SIGTERM/SIGINT arrives. */
static void main_loop(struct runtime *rt, int sfd)
{
	int64_t wd = sdnotify_watchdog_interval_ms();
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };
	struct signalfd_siginfo si;
	char err[1024];

	for (;;) {
		int n = poll(&pfd, 1, wd > 0 ? (int)wd : -1);

		if (wd > 0)
			sdnotify_watchdog();
		if (n < 0 && errno != EINTR)
			return;
		if (n <= 0)
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			runtime_reload(rt, err, sizeof(err));
			continue;
		}
		LOG_INFO("runtime", "Received signal, exiting gracefully...", "signal",
			 strsignal((int)si.ssi_signo));
		return;
	}
}

static int setup_logging(const struct common_flags *cf, char *err, size_t errlen)
{
	enum log_level lvl;
	enum log_format fmt;

	if (log_parse_level(cf->log_level, &lvl) < 0) {
		snprintf(err, errlen, "invalid value \"%s\" for flag --log.level", cf->log_level);
		return -1;
	}
	if (log_parse_format(cf->log_format, &fmt) < 0) {
		snprintf(err, errlen, "invalid value \"%s\" for flag --log.format", cf->log_format);
		return -1;
	}
	log_setup(lvl, fmt);
	return 0;
}

static int check_config(struct runtime *rt)
{
	struct runtime_cfg *c;
	char err[2048];

	if (runtime_cfg_load(rt->spec, rt->config_file, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "FAILED: %s\n", err);
		return 1;
	}
	runtime_cfg_put(c);
	printf("SUCCESS: %s is valid %s configuration\n", rt->config_file, rt->daemon);
	return 0;
}

static int run(struct runtime *rt)
{
	char err[2048];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		LOG_ERROR("runtime", "signal setup failed", "err", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	LOG_INFO("runtime", "Starting", "daemon", rt->daemon, "version", lgtm_version(),
		 "revision", lgtm_revision());
	rt->start_time = now_seconds();
	atomic_store(&rt->config_time, rt->start_time);
	atomic_store(&rt->last_reload_ok, true);
	if (runtime_cfg_load(rt->spec, rt->config_file, &rt->cur, err, sizeof(err)) < 0 ||
	    runtime_datadir_open(rt->data_dir, &rt->lock_fd, err, sizeof(err)) < 0 ||
	    setup_metrics(rt, err, sizeof(err)) < 0 || start_server(rt, err, sizeof(err)) < 0) {
		LOG_ERROR("runtime", "Start-up failed", "err", err);
		sdnotify_status("Start-up failed: %s", err);
		return 1;
	}
	atomic_store(&rt->started, true);
	sdnotify_status("Serving");
	sdnotify_ready();
	LOG_INFO("runtime", "Server is ready to receive web requests.");

	main_loop(rt, sfd);

	atomic_store(&rt->stopping, true);
	sdnotify_stopping();
	sdnotify_status("Stopping: draining in-flight requests");
	http_server_drain(rt->http, DRAIN_TIMEOUT_MS);
	if (rt->spec->stop)
		rt->spec->stop(rt);
	http_server_free(rt->http);
	runtime_cfg_put(rt->cur);
	metrics_registry_free(rt->metrics);
	free(rt->reqmetrics);
	close(sfd);
	LOG_INFO("runtime", "See you next time!");
	return 0;
}

int runtime_main(const struct runtime_spec *spec, int argc, char **argv)
{
	static struct runtime rt_storage;
	struct runtime *rt = &rt_storage;
	struct common_flags cf = { .log_level = "info", .log_format = "logfmt" };
	char cfgpath[512], err[512];
	struct cli_flag *flags;
	int rc;

	snprintf(rt->daemon, sizeof(rt->daemon), "lgtm-%s", spec->name);
	snprintf(cfgpath, sizeof(cfgpath), "/etc/lgtm/%s.yml", rt->daemon);
	cf.config_file = cfgpath;
	cf.listen = NULL;
	cf.data_dir = spec->default_data;
	flags = build_flags(spec, &cf);
	if (!flags) {
		fprintf(stderr, "%s: out of memory\n", rt->daemon);
		return 1;
	}
	rc = cli_parse(flags, argc, argv, err, sizeof(err));
	if (rc == CLI_OK && setup_logging(&cf, err, sizeof(err)) < 0)
		rc = CLI_ERROR;
	if (rc == CLI_HELP || rc == CLI_ERROR) {
		if (rc == CLI_ERROR)
			fprintf(stderr, "%s: error: %s\n\n", rt->daemon, err);
		cli_usage(rc == CLI_HELP ? stdout : stderr, rt->daemon, spec->summary, flags);
		free(flags);
		return rc == CLI_HELP ? 0 : 2;
	}
	free(flags);
	if (rc == CLI_VERSION) {
		print_version(rt->daemon);
		return 0;
	}
	rt->spec = spec;
	rt->config_file = cf.config_file;
	rt->listen_flag = cf.listen;
	rt->data_dir = cf.data_dir;
	rt->enable_lifecycle = cf.enable_lifecycle;
	rt->lock_fd = -1;
	pthread_mutex_init(&rt->cfg_lock, NULL);
	pthread_mutex_init(&rt->reload_lock, NULL);
	if (cf.check_config)
		return check_config(rt);
	return run(rt);
}
