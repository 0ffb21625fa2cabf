/*
 * Request metrics named as the upstream each daemon stands in for, so existing
 * dashboards keep working: Prometheus' prometheus_http_* families, or the
 * <prefix>_request_duration_seconds family Loki, Tempo and Mimir share.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "runtime/runtime_internal.h"

struct reqmetrics {
	enum runtime_metrics_style style;
	struct metric *requests;  /* prometheus style only */
	struct metric *duration;
	struct metric *req_size;  /* cortex style only */
	struct metric *resp_size;
};

static const double size_buckets[] = { 100, 1000, 10000, 100000, 1e6, 1e7, 1e8, 1e9 };
#define NSIZE (sizeof(size_buckets) / sizeof(size_buckets[0]))

static int init_prometheus(struct reqmetrics *m, struct metrics_registry *r, const char *p)
{
	static const char *const code_handler[] = { "code", "handler", NULL };
	static const char *const handler[] = { "handler", NULL };
	static const double dur[] = { .1, .2, .4, 1, 3, 8, 20, 60, 120 };
	char name[128];

	snprintf(name, sizeof(name), "%s_http_requests_total", p);
	m->requests = metrics_counter(r, name, "Counter of HTTP requests.", code_handler);
	snprintf(name, sizeof(name), "%s_http_request_duration_seconds", p);
	m->duration = metrics_histogram(r, name, "Histogram of latencies for HTTP requests.",
					handler, dur, sizeof(dur) / sizeof(dur[0]));
	snprintf(name, sizeof(name), "%s_http_response_size_bytes", p);
	m->resp_size = metrics_histogram(r, name, "Histogram of response size for HTTP requests.",
					 handler, size_buckets, NSIZE);
	return m->requests && m->duration && m->resp_size ? 0 : -1;
}

static int init_cortex(struct reqmetrics *m, struct metrics_registry *r, const char *p)
{
	static const char *const full[] = { "method", "route", "status_code", "ws", NULL };
	static const char *const method_route[] = { "method", "route", NULL };
	char name[128];

	snprintf(name, sizeof(name), "%s_request_duration_seconds", p);
	m->duration = metrics_histogram(r, name, "Time (in seconds) spent serving HTTP requests.",
					full, NULL, 0);
	snprintf(name, sizeof(name), "%s_request_message_bytes", p);
	m->req_size = metrics_histogram(r, name, "Size (in bytes) of messages received in the request.",
					method_route, size_buckets, NSIZE);
	snprintf(name, sizeof(name), "%s_response_message_bytes", p);
	m->resp_size = metrics_histogram(r, name, "Size (in bytes) of messages sent in response.",
					 method_route, size_buckets, NSIZE);
	return m->duration && m->req_size && m->resp_size ? 0 : -1;
}

int runtime_reqmetrics_init(struct runtime *rt, char *err, size_t errlen)
{
	struct reqmetrics *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		goto fail;
	m->style = rt->spec->metrics_style;
	if (m->style == RUNTIME_METRICS_PROMETHEUS)
		rc = init_prometheus(m, rt->metrics, rt->spec->metrics_prefix);
	else
		rc = init_cortex(m, rt->metrics, rt->spec->metrics_prefix);
	if (rc < 0)
		goto fail;
	rt->reqmetrics = m;
	return 0;
fail:
	free(m);
	snprintf(err, errlen, "creating request metrics failed");
	return -1;
}

void runtime_reqmetrics_observe(const struct http_observation *o, void *arg)
{
	struct reqmetrics *m = arg;
	char code[8];
	struct metric_child *c;

	snprintf(code, sizeof(code), "%d", o->status);
	if (m->style == RUNTIME_METRICS_PROMETHEUS) {
		if ((c = metrics_childv(m->requests, code, o->route, (char *)0)))
			metrics_inc(c);
		if ((c = metrics_childv(m->duration, o->route, (char *)0)))
			metrics_observe(c, o->seconds);
		if ((c = metrics_childv(m->resp_size, o->route, (char *)0)))
			metrics_observe(c, (double)o->response_bytes);
		return;
	}
	if ((c = metrics_childv(m->duration, o->method, o->route, code, "false", (char *)0)))
		metrics_observe(c, o->seconds);
	if ((c = metrics_childv(m->req_size, o->method, o->route, (char *)0)))
		metrics_observe(c, (double)o->request_bytes);
	if ((c = metrics_childv(m->resp_size, o->method, o->route, (char *)0)))
		metrics_observe(c, (double)o->response_bytes);
}
