/*
 * health_check extension. otelcol answers
 *   {"status":"Server available","upSince":"<RFC3339>","uptime":"<Go duration>"}
 * with 200, or "Server not available" with 503; we answer the same document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "health_check.h"
#include "http/http.h"
#include "json/json.h"
#include "log/log.h"
#include "runtime/runtime.h"

struct health_check {
	struct runtime *rt;
	struct http_server *srv;
	struct timespec up_since;
	char up_since_text[40];
};

static void handle(struct http_req *req, void *ctx)
{
	struct health_check *h = ctx;
	bool ok = runtime_is_ready(h->rt);
	struct timespec now;
	struct buf b = { 0 };
	struct jw w;
	char uptime[64];

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(uptime, sizeof(uptime), "%.9gs",
		 (double)(now.tv_sec - h->up_since.tv_sec) +
			 (double)(now.tv_nsec - h->up_since.tv_nsec) / 1e9);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "status", ok ? "Server available" : "Server not available");
	jw_kstr(&w, "upSince", h->up_since_text);
	jw_kstr(&w, "uptime", uptime);
	jw_obj_end(&w);
	if (jw_failed(&w)) {
		buf_free(&b);
		http_reply_text(req, 500, "out of memory");
		return;
	}
	http_reply_buf(req, ok ? 200 : 503, "application/json", &b);
}

int health_check_start(struct runtime *rt, const struct collector_health_check *cfg,
		       struct health_check **out, char *err, size_t errlen)
{
	struct http_server_config hc = { .listen_address = cfg->endpoint, .threads = 1 };
	struct health_check *h = calloc(1, sizeof(*h));
	struct tm tm;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->rt = rt;
	clock_gettime(CLOCK_REALTIME, &h->up_since);
	gmtime_r(&h->up_since.tv_sec, &tm);
	strftime(h->up_since_text, sizeof(h->up_since_text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (http_server_new(&hc, &h->srv, err, errlen) < 0 ||
	    http_route(h->srv, HTTP_GET | HTTP_HEAD, cfg->path, "health_check", handle, h) < 0 ||
	    http_server_start(h->srv, err, errlen) < 0)
		goto fail;
	LOG_INFO("health_check", "Health check extension started", "endpoint", cfg->endpoint,
		 "path", cfg->path);
	*out = h;
	return 0;
fail:
	if (h->srv)
		http_server_free(h->srv);
	free(h);
	return -1;
}

void health_check_stop(struct health_check *h)
{
	if (!h)
		return;
	http_server_free(h->srv);
	free(h);
}
