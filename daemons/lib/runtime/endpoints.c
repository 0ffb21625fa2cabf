/*
 * The endpoints every daemon serves: health (/-/healthy, /-/ready, /ready), its own
 * metrics (/metrics), build info at the daemon's upstream path(s), and with
 * --web.enable-lifecycle POST|PUT /-/reload and /-/quit as Prometheus has them.
 * Each answers 200 only when what it reports is true.
 */
#include <signal.h>
#include <string.h>

#include "http/http.h"
#include "json/json.h"
#include "metrics/metrics.h"
#include "runtime/runtime_internal.h"
#include "version/version.h"

bool runtime_is_ready(struct runtime *rt)
{
	if (!atomic_load(&rt->started) || atomic_load(&rt->stopping))
		return false;
	return !rt->spec->ready || rt->spec->ready(rt);
}

static void handle_healthy(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;

	if (atomic_load(&rt->stopping)) {
		http_reply_text(req, 503, "%s is stopping.", rt->daemon);
		return;
	}
	http_reply_text(req, 200, "%s is Healthy.", rt->daemon);
}

static void handle_ready(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;

	if (!runtime_is_ready(rt)) {
		http_reply_text(req, 503, "Service Unavailable");
		return;
	}
	if (strcmp(http_req_path(req), "/ready") == 0)
		http_reply_text(req, 200, "ready"); /* Loki's and Tempo's wording */
	else
		http_reply_text(req, 200, "%s is Ready.", rt->daemon);
}

static void handle_metrics(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;
	struct buf b = { 0 };

	if (metrics_write_text(rt->metrics, &b) < 0 || b.oom) {
		buf_free(&b);
		http_reply_text(req, 500, "out of memory");
		return;
	}
	http_reply_buf(req, 200, METRICS_TEXT_CONTENT_TYPE, &b);
}

static void write_buildinfo(struct jw *w)
{
	jw_obj_begin(w);
	jw_kstr(w, "version", lgtm_version());
	jw_kstr(w, "revision", lgtm_revision());
	jw_kstr(w, "branch", lgtm_branch());
	jw_kstr(w, "buildUser", "lgtm-native");
	jw_kstr(w, "buildDate", lgtm_build_date());
	jw_kstr(w, "goVersion", lgtm_go_equivalent());
	jw_obj_end(w);
}

static void handle_buildinfo(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	if (rt->spec->buildinfo_envelope) {
		jw_obj_begin(&w);
		jw_kstr(&w, "status", "success");
		jw_key(&w, "data");
		write_buildinfo(&w);
		jw_obj_end(&w);
	} else {
		write_buildinfo(&w);
	}
	if (jw_failed(&w)) {
		buf_free(&b);
		http_reply_text(req, 500, "out of memory");
		return;
	}
	http_reply_buf(req, 200, "application/json", &b);
}

static void handle_reload(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;
	char err[1024];

	if (runtime_reload(rt, err, sizeof(err)) < 0) {
		http_reply_text(req, 500, "failed to reload config: %s", err);
		return;
	}
	http_reply(req, 200, "text/plain; charset=utf-8", "", 0);
}

static void handle_quit(struct http_req *req, void *ctx)
{
	http_reply_text(req, 200, "Requesting termination... Goodbye!");
	/* The main loop drains and exits, exactly as on SIGTERM. */
	kill(getpid(), SIGTERM);
}

int runtime_endpoints_register(struct runtime *rt, char *err, size_t errlen)
{
	struct http_server *s = rt->http;
	const char *const *p;

	if (http_route(s, HTTP_GET | HTTP_HEAD, "/-/healthy", "/-/healthy", handle_healthy, rt) < 0 ||
	    http_route(s, HTTP_GET | HTTP_HEAD, "/-/ready", "/-/ready", handle_ready, rt) < 0 ||
	    http_route(s, HTTP_GET | HTTP_HEAD, "/ready", "/ready", handle_ready, rt) < 0 ||
	    http_route(s, HTTP_GET, "/metrics", "/metrics", handle_metrics, rt) < 0)
		goto fail;
	for (p = rt->spec->buildinfo_paths; p && *p; p++)
		if (http_route(s, HTTP_GET, *p, *p, handle_buildinfo, rt) < 0)
			goto fail;
	if (rt->enable_lifecycle &&
	    (http_route(s, HTTP_POST | HTTP_PUT, "/-/reload", "/-/reload", handle_reload, rt) < 0 ||
	     http_route(s, HTTP_POST | HTTP_PUT, "/-/quit", "/-/quit", handle_quit, rt) < 0))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "registering runtime routes failed");
	return -1;
}
