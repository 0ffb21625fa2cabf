/*
 * Server lifecycle on libmicrohttpd: one daemon with an internal thread pool (poll
 * per worker), handlers run on the worker that owns the connection. Drain is
 * quiesce (stop accepting) + wait for the in-flight count to reach zero + stop; the
 * count covers requests from request line to completed reply, so idle keep-alive
 * connections never hold it up, and while draining every reply says
 * "Connection: close" so busy clients go away too.
 */
#include "http/http_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"

#define DEFAULT_MAX_BODY (64u * 1024 * 1024)
#define DEFAULT_IDLE_S 120
#define FREE_DRAIN_MS 5000
/* Per-connection memory: the request line and headers must fit in it, and it bounds
 * the read buffer. The whole pool is resident once a connection has served a request
 * (measured: 260 KiB a keep-alive connection with 256 KiB pools, 68 KiB with 64 KiB);
 * 64 KiB still takes a 60 KiB PromQL query string (nginx in front allows 8 KiB lines). */
#define CONN_MEMORY (64 * 1024)

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pthread_mutex_lock(&s->mu);
	if (s->capture_log)
		snprintf(s->start_err, sizeof(s->start_err), "%.*s", (int)sizeof(s->start_err) - 1, msg);
	pthread_mutex_unlock(&s->mu);
	LOG_INFO("http", "microhttpd", "detail", msg);
}

static int apply_defaults(struct http_server_config *c, char *err, size_t errlen)
{
	if (!c->threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		/* Handlers wait for durability (a WAL group commit's fsync) without using
		 * a core, and one waiting blocks its thread's other connections: with
		 * more requests in flight than cores, each fsync covers more of them. */
		c->threads = n > 2 ? 2 * (unsigned)n : 4;
	}
	if (!c->max_body_bytes)
		c->max_body_bytes = DEFAULT_MAX_BODY;
	if (!c->max_decoded_bytes) {
		if (c->max_body_bytes > SIZE_MAX / 4) {
			snprintf(err, errlen, "max_body_bytes too large");
			return -1;
		}
		c->max_decoded_bytes = 4 * c->max_body_bytes;
	}
	if (!c->idle_timeout_s)
		c->idle_timeout_s = DEFAULT_IDLE_S;
	return 0;
}

static int init_sync(struct http_server *s)
{
	pthread_condattr_t ca;
	int ret;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	ret = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (ret == 0)
		ret = pthread_cond_init(&s->idle, &ca);
	pthread_condattr_destroy(&ca);
	if (ret != 0)
		return -1;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_cond_destroy(&s->idle);
		return -1;
	}
	return 0;
}

int http_server_new(const struct http_server_config *cfg, struct http_server **out, char *err,
		    size_t errlen)
{
	struct http_server *s;

	*out = NULL;
	if (!cfg->listen_address) {
		snprintf(err, errlen, "listen address missing");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->cfg = *cfg;
	s->quiesced_fd = MHD_INVALID_SOCKET;
	if (apply_defaults(&s->cfg, err, errlen) < 0)
		goto fail;
	s->listen_address = strdup(cfg->listen_address);
	if (!s->listen_address)
		goto oom;
	s->cfg.listen_address = s->listen_address;
	if (init_sync(s) < 0)
		goto oom;
	*out = s;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	if (s)
		free(s->listen_address);
	free(s);
	return -1;
}

int http_route(struct http_server *s, unsigned methods, const char *pattern, const char *name,
	       http_handler_fn fn, void *ctx)
{
	char err[160];

	if (s->started) {
		LOG_ERROR("http", "route added after start", "pattern", pattern);
		return -1;
	}
	if (http_router_add(&s->router, methods, pattern, name, fn, ctx, err, sizeof(err)) < 0) {
		LOG_ERROR("http", "cannot add route", "err", err);
		return -1;
	}
	return 0;
}

static struct MHD_Daemon *start_daemon(struct http_server *s, const struct http_listen *l,
				       unsigned extra_flags)
{
	/* poll(), not epoll: in 0.9.75, MHD_quiesce_daemon() on an epoll thread pool races
	 * the workers removing the listen socket themselves and can panic (abort). */
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
			 MHD_USE_TURBO | extra_flags;
	struct MHD_OptionItem opts[10];
	size_t n = 0;

#define OPT(o, v, p) (opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) })
	OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, s);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, s);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY, NULL);
	if (s->cfg.threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, NULL);
	if (!l->any)
		OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)&l->ss);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	return MHD_start_daemon(flags, l->port, NULL, NULL, http_on_request, s, MHD_OPTION_ARRAY,
				opts, MHD_OPTION_END);
}

int http_server_start(struct http_server *s, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct http_listen l;
	char port[8];

	if (s->started) {
		snprintf(err, errlen, "server already started");
		return -1;
	}
	if (http_listen_parse(s->listen_address, &l, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&s->mu);
	s->capture_log = true;
	s->start_err[0] = '\0';
	pthread_mutex_unlock(&s->mu);
	if (l.any) {
		/* One dual-stack socket like Go's ":port"; IPv4 alone where IPv6 is off. */
		s->mhd = start_daemon(s, &l, MHD_USE_DUAL_STACK);
		if (!s->mhd)
			s->mhd = start_daemon(s, &l, 0);
	} else {
		s->mhd = start_daemon(s, &l, l.v6 ? MHD_USE_IPv6 : 0);
	}
	pthread_mutex_lock(&s->mu);
	s->capture_log = false;
	pthread_mutex_unlock(&s->mu);
	if (!s->mhd) {
		snprintf(err, errlen, "listen on %s: %s", s->listen_address,
			 s->start_err[0] ? s->start_err : "cannot start HTTP server");
		return -1;
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : l.port;
	s->started = true;
	snprintf(port, sizeof(port), "%u", (unsigned)s->port);
	LOG_INFO("http", "listening", "address", s->listen_address, "port", port);
	return 0;
}

unsigned short http_server_port(const struct http_server *s)
{
	return s->port;
}

static long wait_idle(struct http_server *s, int timeout_ms)
{
	struct timespec deadline;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0)
		if (pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == ETIMEDOUT)
			break;
	left = s->inflight;
	pthread_mutex_unlock(&s->mu);
	return left;
}

void http_server_drain(struct http_server *s, int timeout_ms)
{
	char n[24];
	long left;

	pthread_mutex_lock(&s->mu);
	if (!s->mhd || s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	atomic_store(&s->draining, true);
	s->quiesced_fd = MHD_quiesce_daemon(s->mhd);
	left = wait_idle(s, timeout_ms > 0 ? timeout_ms : 0);
	if (left > 0) {
		snprintf(n, sizeof(n), "%ld", left);
		LOG_WARN("http", "drain timed out; stopping with requests in flight", "in_flight",
			 n);
	}
	/* Joins the workers: a handler still running is waited for here. */
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	if (s->quiesced_fd != MHD_INVALID_SOCKET)
		close(s->quiesced_fd);
	s->quiesced_fd = MHD_INVALID_SOCKET;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_drain(s, FREE_DRAIN_MS);
	http_router_free(&s->router);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	free(s->listen_address);
	free(s);
}
