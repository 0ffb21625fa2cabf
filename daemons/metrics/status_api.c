/*
 * Status endpoints. runtimeinfo reports what has a meaning here under Prometheus'
 * field names; Go-runtime fields are filled with their closest equivalents
 * (goroutineCount = threads, GOMAXPROCS = online CPUs) or left empty.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "promapi/promapi.h"
#include "runtime/runtime.h"

#include "status_api.h"

static void format_time(double t, char *out, size_t cap)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((t - (double)s) * 1000));
}

static long thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void handle_runtimeinfo(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;
	struct runtime_status st;
	char start[64], cfgt[64], cwd[4096];
	struct buf b = { 0 };
	struct jw w;

	runtime_status(rt, &st);
	format_time(st.start_time, start, sizeof(start));
	format_time(st.config_time, cfgt, sizeof(cfgt));
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	promapi_begin(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "startTime", start);
	jw_kstr(&w, "CWD", cwd);
	jw_kbool(&w, "reloadConfigSuccess", st.last_reload_ok);
	jw_kstr(&w, "lastConfigTime", cfgt);
	jw_kint(&w, "corruptionCount", 0);
	jw_kint(&w, "goroutineCount", thread_count());
	jw_kint(&w, "GOMAXPROCS", sysconf(_SC_NPROCESSORS_ONLN));
	jw_kstr(&w, "GOGC", "");
	jw_kstr(&w, "GODEBUG", "");
	jw_obj_end(&w);
	promapi_reply(req, &w, &b, NULL, 0);
}

static void handle_config(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;
	struct buf yaml = { 0 }, b = { 0 };
	struct jw w;

	runtime_config_yaml(rt, &yaml);
	promapi_begin(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "yaml");
	jw_strn(&w, yaml.data ? yaml.data : "", yaml.len);
	jw_obj_end(&w);
	if (yaml.oom)
		w.err = true;
	buf_free(&yaml);
	promapi_reply(req, &w, &b, NULL, 0);
}

int status_api_register(struct runtime *rt, char *err, size_t errlen)
{
	struct http_server *s = runtime_http(rt);

	if (http_route(s, HTTP_GET, "/api/v1/status/runtimeinfo", "/api/v1/status/runtimeinfo",
		       handle_runtimeinfo, rt) < 0 ||
	    http_route(s, HTTP_GET, "/api/v1/status/config", "/api/v1/status/config", handle_config, rt) < 0) {
		snprintf(err, errlen, "registering status routes failed");
		return -1;
	}
	return 0;
}
