/*
 * http: a real server on 127.0.0.1 (port 0), driven by libcurl and raw sockets.
 * Covers routing, arguments, body limits and decoding, refusals followed by normal
 * requests, response compression, error envelopes, drain, concurrency, the HTTP/2
 * preface, and the URL decoding helpers directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "compress/compress.h"
#include "http/http.h"
#include "log/log.h"

/* --- handlers ------------------------------------------------------------------------ */

static sem_t slow_started;

static void h_text(struct http_req *r, void *ctx)
{
	http_reply_text(r, 200, "%s", (const char *)ctx);
}

static void h_user_post(struct http_req *r, void *ctx)
{
	http_reply_text(r, 200, "id=%s post=%s", http_req_param(r, "id"),
			http_req_param(r, "post"));
}

static void h_me_post(struct http_req *r, void *ctx)
{
	http_reply_text(r, 200, "me post=%s", http_req_param(r, "post"));
}

static void h_static(struct http_req *r, void *ctx)
{
	http_reply_text(r, 200, "rest=[%s] path=[%s]", http_req_param(r, "path"),
			http_req_path(r));
}

/* "a=<first a>;match[]=<v1>,<v2>...;b=<first b>" */
static void h_args(struct http_req *r, void *ctx)
{
	const char *const *v;
	size_t n = http_req_arg_all(r, "match[]", &v);
	struct buf b = { 0 };
	const char *a = http_req_arg(r, "a"), *bb = http_req_arg(r, "b");

	buf_printf(&b, "a=%s;match[]=", a ? a : "(none)");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", v[i]);
	buf_printf(&b, ";b=%s;all_a=%zu", bb ? bb : "(none)", http_req_arg_all(r, "a", &v));
	http_reply_buf(r, 200, "text/plain", &b);
}

static void h_echo_body(struct http_req *r, void *ctx)
{
	size_t len;
	const void *body = http_req_body(r, &len);

	http_set_header(r, "X-Method", http_req_method(r));
	http_reply(r, 200, "application/octet-stream", body, len);
}

/* Replies "<length before> <length after>" around http_req_body_free(). */
static void h_body_free(struct http_req *r, void *ctx)
{
	size_t before, after;

	http_req_body(r, &before);
	http_req_body_free(r);
	http_req_body_free(r); /* twice is fine */
	http_req_body(r, &after);
	http_reply_text(r, 200, "%zu %zu", before, after);
}

static void h_big(struct http_req *r, void *ctx)
{
	struct buf b = { 0 };

	for (int i = 0; i < 400; i++)
		buf_printf(&b, "line %04d of a large response\n", i);
	http_reply_buf(r, 200, "text/plain", &b);
}

static void h_prom_error(struct http_req *r, void *ctx)
{
	http_reply_prom_error(r, 422, "execution", "bad \"query\": %d", 7);
}

static void h_noreply(struct http_req *r, void *ctx)
{
}

static void h_slow(struct http_req *r, void *ctx)
{
	sem_post(&slow_started);
	usleep(400 * 1000);
	http_reply_text(r, 200, "slow done");
}

static void h_header(struct http_req *r, void *ctx)
{
	const char *v = http_req_header(r, "x-test");
	const char *remote = http_req_remote_addr(r);

	http_set_header(r, "X-Echo", v ? v : "(none)");
	http_reply_text(r, 200, "remote=%s arena=%s", remote,
			arena_strdup(http_req_arena(r), "ok"));
}

static void h_twice(struct http_req *r, void *ctx)
{
	struct buf b = { 0 };

	http_reply_text(r, 201, "first");
	buf_puts(&b, "second");
	http_reply_buf(r, 202, "text/plain", &b); /* ignored, memory still released */
	http_reply(r, 203, "text/plain", "third", 5);
}

/* --- observations ---------------------------------------------------------------------- */

struct obs_log {
	pthread_mutex_t mu;
	size_t n;
	struct {
		char method[16], route[64];
		int status;
		double seconds;
		size_t req_bytes, resp_bytes;
	} o[64];
};

static void on_observe(const struct http_observation *o, void *arg)
{
	struct obs_log *l = arg;

	pthread_mutex_lock(&l->mu);
	if (l->n < 64) {
		snprintf(l->o[l->n].method, sizeof(l->o[l->n].method), "%s", o->method);
		snprintf(l->o[l->n].route, sizeof(l->o[l->n].route), "%s", o->route);
		l->o[l->n].status = o->status;
		l->o[l->n].seconds = o->seconds;
		l->o[l->n].req_bytes = o->request_bytes;
		l->o[l->n].resp_bytes = o->response_bytes;
		l->n++;
	}
	pthread_mutex_unlock(&l->mu);
}

/* --- fixture -------------------------------------------------------------------------- */

#define MAX_BODY (64 * 1024)
#define MAX_DECODED (1024 * 1024)

struct fixture {
	struct http_server *s;
	CURL *c; /* one client, so sequential requests share a connection */
	unsigned short port;
	struct obs_log obs;
};

static struct fixture *fixture_start(size_t max_body, size_t max_decoded)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct http_server_config cfg = {
		.listen_address = "127.0.0.1:0",
		.max_body_bytes = max_body,
		.max_decoded_bytes = max_decoded,
		.observe = on_observe,
	};
	char err[256];

	assert_non_null(f);
	pthread_mutex_init(&f->obs.mu, NULL);
	cfg.observe_arg = &f->obs;
	assert_int_equal(http_server_new(&cfg, &f->s, err, sizeof(err)), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/", "root", h_text, "root"), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/small", NULL, h_text, "small"), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/users/:id/posts/:post", "user_post",
				    h_user_post, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/users/me/posts/:post", "me_post", h_me_post,
				    NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/static/*path", "static", h_static, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET | HTTP_POST, "/args", "args", h_args, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_POST | HTTP_PUT, "/body", "body", h_echo_body,
				    NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_POST, "/body_free", NULL, h_body_free, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/big", "big", h_big, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/prom_error", NULL, h_prom_error, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/noreply", NULL, h_noreply, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/slow", NULL, h_slow, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/header", NULL, h_header, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_GET, "/twice", NULL, h_twice, NULL), 0);
	assert_int_equal(http_route(f->s, HTTP_DELETE, "/only_delete", NULL, h_text, "deleted"),
			 0);
	assert_int_equal(http_server_start(f->s, err, sizeof(err)), 0);
	f->port = http_server_port(f->s);
	assert_true(f->port > 0);
	f->c = curl_easy_init();
	assert_non_null(f->c);
	return f;
}

static void fixture_stop(struct fixture *f)
{
	curl_easy_cleanup(f->c);
	http_server_free(f->s);
	pthread_mutex_destroy(&f->obs.mu);
	free(f);
}

/* --- a small libcurl client ------------------------------------------------------------- */

struct resp {
	long status;
	struct buf body;
	char content_encoding[64];
	char vary[64];
	char allow[64];
	char content_type[96];
	char x_echo[64];
	char x_method[16];
	char connection[32];
	long new_connections;
};

struct req {
	const char *method;          /* NULL: GET, or POST when a body is given */
	const char *path;            /* with query string */
	const void *body;
	size_t len;
	bool chunked;
	const char *content_encoding;
	const char *content_type;
	const char *accept_encoding; /* NULL: no Accept-Encoding header */
	const char *extra_header;
	bool expect_continue;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	buf_append(&((struct resp *)ud)->body, p, sz * n);
	return sz * n;
}

static void grab(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	while (*v == ' ')
		v++;
	vl = len - (size_t)(v - line);
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
		vl--;
	snprintf(dst, cap, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;

	grab(p, len, "Content-Encoding", r->content_encoding, sizeof(r->content_encoding));
	grab(p, len, "Vary", r->vary, sizeof(r->vary));
	grab(p, len, "Allow", r->allow, sizeof(r->allow));
	grab(p, len, "Content-Type", r->content_type, sizeof(r->content_type));
	grab(p, len, "X-Echo", r->x_echo, sizeof(r->x_echo));
	grab(p, len, "X-Method", r->x_method, sizeof(r->x_method));
	grab(p, len, "Connection", r->connection, sizeof(r->connection));
	return len;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *dst, size_t sz, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = sz * n < u->left ? sz * n : u->left;

	/* Small pieces so the body really arrives as several chunks. */
	if (k > 8192)
		k = 8192;
	memcpy(dst, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

static CURLcode perform(CURL *c, unsigned short port, const struct req *q, struct resp *out)
{
	struct curl_slist *h = NULL;
	struct upload up = { q->body, q->len };
	char *url = malloc(strlen(q->path) + 32), line[256];
	CURLcode rc;

	assert_non_null(url);
	memset(out, 0, sizeof(*out));
	sprintf(url, "http://127.0.0.1:%u%s", port, q->path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (!q->expect_continue)
		h = curl_slist_append(h, "Expect:");
	if (q->body || q->chunked) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		if (q->chunked) {
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, &up);
			h = curl_slist_append(h, "Transfer-Encoding: chunked");
		} else {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
		}
	}
	if (q->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->method && strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	snprintf(line, sizeof(line), "Content-Type: %s",
		 q->content_type ? q->content_type : "application/octet-stream");
	if (q->body || q->chunked)
		h = curl_slist_append(h, line);
	if (q->content_encoding) {
		snprintf(line, sizeof(line), "Content-Encoding: %s", q->content_encoding);
		h = curl_slist_append(h, line);
	}
	if (q->accept_encoding) {
		snprintf(line, sizeof(line), "Accept-Encoding: %s", q->accept_encoding);
		h = curl_slist_append(h, line);
	}
	if (q->extra_header)
		h = curl_slist_append(h, q->extra_header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->new_connections);
	curl_slist_free_all(h);
	free(url);
	return rc;
}

/* Perform, expect success at the transport level and the given status. */
static void expect(CURL *c, unsigned short port, const struct req *q, long status,
		   struct resp *out)
{
	CURLcode rc = perform(c, port, q, out);

	if (rc != CURLE_OK)
		fail_msg("%.100s: curl: %s", q->path, curl_easy_strerror(rc));
	if (out->status != status)
		fail_msg("%.100s: status %ld, want %ld (body: %.200s)", q->path, out->status,
			 status, out->body.data ? out->body.data : "");
}

static void expect_status(CURL *c, unsigned short port, const struct req *q, long status)
{
	struct resp r;

	expect(c, port, q, status, &r);
	buf_free(&r.body);
}

/* A refusal (its body naming `why`, when given), then a normal request succeeds,
 * on the same connection when `reuse`. */
static void refused_on(CURL *c, unsigned short port, const struct req *q, long status,
		       const char *why, bool reuse)
{
	struct resp r;
	struct req ok = { .path = "/small" };

	expect(c, port, q, status, &r);
	if (why && !strstr(r.body.data ? r.body.data : "", why))
		fail_msg("%.100s: body %.200s lacks %s", q->path, r.body.data, why);
	buf_free(&r.body);
	expect(c, port, &ok, 200, &r);
	assert_string_equal(r.body.data, "small\n");
	if (reuse)
		assert_int_equal(r.new_connections, 0);
	buf_free(&r.body);
}

static void refused(CURL *c, unsigned short port, const struct req *q, long status,
		    const char *why)
{
	refused_on(c, port, q, status, why, false);
}

static void get_ok(CURL *c, unsigned short port, const char *path, const char *want_body)
{
	struct req q = { .path = path };
	struct resp r;

	expect(c, port, &q, 200, &r);
	if (want_body)
		assert_string_equal(r.body.data, want_body);
	buf_free(&r.body);
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_routing(void **state)
{
	static const struct {
		const char *method, *path;
		long status;
		const char *body;  /* NULL: not checked */
		const char *allow; /* NULL: not checked */
	} cases[] = {
		{ "GET", "/", 200, "root\n", NULL },
		{ "GET", "/small", 200, "small\n", NULL },
		{ "GET", "/users/42/posts/7", 200, "id=42 post=7\n", NULL },
		/* The literal route wins over the parameter route, whatever the order. */
		{ "GET", "/users/me/posts/9", 200, "me post=9\n", NULL },
		/* Parameters are decoded per segment; an encoded '/' stays in its segment. */
		{ "GET", "/users/a%2Fb/posts/x%20y", 200, "id=a/b post=x y\n", NULL },
		{ "GET", "/static/css/site.css", 200,
		  "rest=[css/site.css] path=[/static/css/site.css]\n", NULL },
		{ "GET", "/static/", 200, "rest=[] path=[/static/]\n", NULL },
		{ "GET", "/nope", 404, "404 page not found\n", NULL },
		{ "GET", "/users/1/posts", 404, NULL, NULL },
		{ "GET", "/small/", 404, NULL, NULL },
		{ "DELETE", "/small", 405, "Method Not Allowed\n", "GET, HEAD" },
		{ "GET", "/only_delete", 405, NULL, "DELETE" },
		{ "PATCH", "/only_delete", 405, NULL, "DELETE" },
		{ "DELETE", "/only_delete", 200, "deleted\n", NULL },
		/* HEAD is answered by the GET route, without a body. */
		{ "HEAD", "/big", 200, "", NULL },
		{ "GET", "/users/%zz/posts/1", 400, NULL, NULL },
		{ "GET", "/small", 200, "small\n", NULL },
	};
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct req q = { .method = cases[i].method, .path = cases[i].path };
		struct resp r;

		expect(f->c, f->port, &q, cases[i].status, &r);
		if (cases[i].body)
			assert_string_equal(r.body.data ? r.body.data : "", cases[i].body);
		if (cases[i].allow)
			assert_string_equal(r.allow, cases[i].allow);
		buf_free(&r.body);
	}
	fixture_stop(f);
}

static void test_args(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	static const char form[] = "a=form+a&match[]=f%2B1&b=x%26y";
	struct req q = { 0 };
	struct resp r;

	get_ok(c, f->port, "/args?a=1+2&b=%2B3&match[]=up&match%5B%5D=x+y&match[]=",
	       "a=1 2;match[]=up,x y,;b=+3;all_a=1");
	get_ok(c, f->port, "/args", "a=(none);match[]=;b=(none);all_a=0");
	get_ok(c, f->port, "/args?&&a&b=", "a=;match[]=;b=;all_a=1");
	get_ok(c, f->port, "/args?a=%e2%82%ac", "a=\xe2\x82\xac;match[]=;b=(none);all_a=1");

	/* POST form: query-string values first, then the form's. */
	q.path = "/args?a=query&match[]=q1";
	q.body = form;
	q.len = strlen(form);
	q.content_type = "application/x-www-form-urlencoded; charset=utf-8";
	expect(c, f->port, &q, 200, &r);
	assert_string_equal(r.body.data, "a=query;match[]=q1,f+1;b=x&y;all_a=2");
	buf_free(&r.body);

	/* Another content type is not a form. */
	q.content_type = "text/plain";
	expect(c, f->port, &q, 200, &r);
	assert_string_equal(r.body.data, "a=query;match[]=q1;b=(none);all_a=1");
	buf_free(&r.body);

	/* Malformed escapes are a 400 in the query and in the form. */
	memset(&q, 0, sizeof(q));
	q.path = "/args?a=%zz";
	expect(c, f->port, &q, 400, &r);
	assert_non_null(strstr(r.body.data, "invalid URL escape \"%zz\""));
	buf_free(&r.body);
	q.path = "/args?a=%4";
	expect_status(c, f->port, &q, 400);
	q.path = "/args";
	q.body = "a=%g1";
	q.len = 5;
	q.content_type = "application/x-www-form-urlencoded";
	expect_status(c, f->port, &q, 400);
	get_ok(c, f->port, "/args?a=ok", "a=ok;match[]=;b=(none);all_a=1");

	/* A long query string (PromQL in a GET) fits in the connection's memory. */
	{
		size_t n = 60 * 1024;
		char *path = malloc(n + 32), *want = malloc(n + 64);

		assert_non_null(path);
		assert_non_null(want);
		strcpy(path, "/args?a=");
		memset(path + 8, 'q', n);
		path[8 + n] = '\0';
		snprintf(want, n + 64, "a=%s;match[]=;b=(none);all_a=1", path + 8);
		get_ok(c, f->port, path, want);
		free(path);
		free(want);
	}

	fixture_stop(f);
}

static void post_encoded(CURL *c, unsigned short port, enum compress_codec codec,
			 const char *token)
{
	unsigned char plain[20000];
	struct buf enc = { 0 };
	struct req q = { .path = "/body", .content_encoding = token };
	struct resp r;
	char err[128];

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)(i * 7 + i / 100);
	assert_int_equal(compress_encode(codec, plain, sizeof(plain), 0, &enc, err, sizeof(err)),
			 0);
	q.body = enc.data;
	q.len = enc.len;
	expect(c, port, &q, 200, &r);
	assert_int_equal(r.body.len, sizeof(plain));
	assert_memory_equal(r.body.data, plain, sizeof(plain));
	assert_string_equal(r.x_method, "POST");
	buf_free(&r.body);
	buf_free(&enc);
}

static void test_body_decoding(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	struct req q = { .path = "/body", .body = "plain body", .len = 10 };
	struct resp r;

	expect(c, f->port, &q, 200, &r);
	assert_string_equal(r.body.data, "plain body");
	buf_free(&r.body);
	post_encoded(c, f->port, COMPRESS_SNAPPY, "snappy");
	post_encoded(c, f->port, COMPRESS_GZIP, "gzip");
	post_encoded(c, f->port, COMPRESS_GZIP, "x-gzip");
	post_encoded(c, f->port, COMPRESS_DEFLATE, "deflate");
	post_encoded(c, f->port, COMPRESS_ZSTD, "zstd");
	post_encoded(c, f->port, COMPRESS_NONE, "identity");

	/* PUT, chunked. */
	q.method = "PUT";
	q.chunked = true;
	expect(c, f->port, &q, 200, &r);
	assert_string_equal(r.body.data, "plain body");
	assert_string_equal(r.x_method, "PUT");
	buf_free(&r.body);

	/* An empty body. */
	q.method = NULL;
	q.chunked = false;
	q.body = "";
	q.len = 0;
	q.content_encoding = "gzip";
	expect(c, f->port, &q, 200, &r);
	assert_int_equal(r.body.len, 0);
	buf_free(&r.body);

	/* A handler may let go of the body early, decoded or not; decoded bodies are
	 * pooled and serve the next requests. */
	for (int i = 0; i < 4; i++) {
		struct buf enc = { 0 };
		char err[128], want[32];

		q = (struct req){ .path = "/body_free", .body = "plain body", .len = 10 };
		expect(c, f->port, &q, 200, &r);
		assert_string_equal(r.body.data, "10 0\n");
		buf_free(&r.body);
		assert_int_equal(compress_encode(COMPRESS_SNAPPY, "0123456789abcdef", 16 - i, 0,
						 &enc, err, sizeof(err)), 0);
		q = (struct req){ .path = "/body_free", .body = enc.data, .len = enc.len,
				  .content_encoding = "snappy" };
		expect(c, f->port, &q, 200, &r);
		snprintf(want, sizeof(want), "%d 0\n", 16 - i);
		assert_string_equal(r.body.data, want);
		buf_free(&r.body);
		buf_free(&enc);
		post_encoded(c, f->port, COMPRESS_SNAPPY, "snappy");
	}

	/* Unknown encoding: 415, then the server carries on. */
	q = (struct req){ .path = "/body" };
	q.body = "whatever";
	q.len = 8;
	q.content_encoding = "br";
	refused(c, f->port, &q, 415, NULL);

	fixture_stop(f);
}

static void test_body_limits(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c, *other = curl_easy_init();
	size_t big_len = 4 * 1024 * 1024;
	char *big = malloc(big_len);
	struct req q = { .path = "/body", .body = big };
	struct resp r;

	assert_non_null(big);
	memset(big, 'x', big_len);

	/* Exactly the limit is fine. */
	q.len = MAX_BODY;
	expect(c, f->port, &q, 200, &r);
	assert_int_equal(r.body.len, MAX_BODY);
	buf_free(&r.body);

	/* Content-Length one over: refused, and a small overshoot is read and dropped so
	 * the same connection serves the next request. */
	q.len = MAX_BODY + 1;
	refused_on(c, f->port, &q, 413, "too large", true);

	/* A large declared body is refused without reading it, with or without
	 * Expect: 100-continue (then the connection closes after the reply). */
	q.path = "/body";
	q.body = big;
	q.len = big_len;
	q.expect_continue = true;
	refused(c, f->port, &q, 413, NULL);
	get_ok(other, f->port, "/small", "small\n");
	/* Without it the reply races the client's sending into the close: either the 413
	 * or a send error, never anything else, and the server carries on. */
	q.expect_continue = false;
	if (perform(c, f->port, &q, &r) == CURLE_OK)
		assert_int_equal(r.status, 413);
	buf_free(&r.body);
	get_ok(c, f->port, "/small", "small\n");

	/* Chunked bodies crossing the limit: a small overshoot, then a large one. */
	q.expect_continue = false;
	q.chunked = true;
	q.len = MAX_BODY + 100;
	refused_on(c, f->port, &q, 413, NULL, true);
	q.len = MAX_BODY + 200 * 1024;
	refused_on(c, f->port, &q, 413, NULL, true);
	/* Far over: after as much again as the limit the connection is cut (no reply can
	 * be queued mid-body); the server is unharmed. */
	q.len = big_len;
	assert_int_not_equal(perform(c, f->port, &q, &r), CURLE_OK);
	buf_free(&r.body);
	get_ok(c, f->port, "/small", "small\n");
	get_ok(other, f->port, "/small", "small\n");
	/* Chunked under the limit still works. */
	q.len = MAX_BODY;
	expect(c, f->port, &q, 200, &r);
	assert_int_equal(r.body.len, MAX_BODY);
	buf_free(&r.body);

	/* A refused route with a small body keeps the connection too. */
	q.chunked = false;
	q.path = "/nope";
	q.len = 1000;
	refused_on(c, f->port, &q, 404, "404 page not found", true);

	free(big);
	curl_easy_cleanup(other);
	fixture_stop(f);
}

static void test_bad_encoded_bodies(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY * 16, MAX_DECODED);
	CURL *c = f->c;
	size_t zlen = 16 * 1024 * 1024;
	char *zeros = calloc(1, zlen), err[128];
	struct buf bomb = { 0 }, gz = { 0 };
	struct req q = { .path = "/body" };

	assert_non_null(zeros);
	/* 16 MiB of zeros is under 1 MiB as snappy; decoded it passes the 1 MiB cap. */
	assert_int_equal(compress_encode(COMPRESS_SNAPPY, zeros, zlen, 0, &bomb, err,
					 sizeof(err)), 0);
	assert_true(bomb.len < MAX_BODY * 16);
	q.body = bomb.data;
	q.len = bomb.len;
	q.content_encoding = "snappy";
	refused(c, f->port, &q, 400, "limit");

	buf_reset(&bomb);
	assert_int_equal(compress_encode(COMPRESS_ZSTD, zeros, zlen, 0, &bomb, err, sizeof(err)),
			 0);
	q.body = bomb.data;
	q.len = bomb.len;
	q.content_encoding = "zstd";
	refused(c, f->port, &q, 400, NULL);

	/* A gzip body with its middle damaged. */
	assert_int_equal(compress_encode(COMPRESS_GZIP, "some text that gets damaged", 27, 0, &gz,
					 err, sizeof(err)), 0);
	gz.data[gz.len / 2] ^= 0x55;
	gz.data[gz.len / 2 + 1] ^= 0x55;
	q.body = gz.data;
	q.len = gz.len;
	q.content_encoding = "gzip";
	refused(c, f->port, &q, 400, "gzip");

	/* Not gzip at all. */
	q.body = "plain";
	q.len = 5;
	refused(c, f->port, &q, 400, NULL);

	buf_free(&bomb);
	buf_free(&gz);
	free(zeros);
	fixture_stop(f);
}

static void check_gzip(CURL *c, unsigned short port, const char *accept, bool want_gzip)
{
	struct req q = { .path = "/big", .accept_encoding = accept };
	struct resp r;
	struct buf plain = { 0 };
	char err[128];

	expect(c, port, &q, 200, &r);
	assert_string_equal(r.vary, "Accept-Encoding");
	if (want_gzip) {
		assert_string_equal(r.content_encoding, "gzip");
		assert_int_equal(compress_decode(COMPRESS_GZIP, r.body.data, r.body.len, 1 << 20,
						 &plain, err, sizeof(err)), 0);
		assert_int_equal(strncmp(plain.data, "line 0000 of a large response\n", 30), 0);
		assert_true(r.body.len < plain.len);
	} else {
		assert_string_equal(r.content_encoding, "");
		assert_int_equal(strncmp(r.body.data, "line 0000 of a large response\n", 30), 0);
	}
	buf_free(&plain);
	buf_free(&r.body);
}

static void test_gzip_responses(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	struct req q = { .path = "/small", .accept_encoding = "gzip" };
	struct resp r;

	check_gzip(c, f->port, "gzip", true);
	check_gzip(c, f->port, "deflate, gzip;q=0.5", true);
	check_gzip(c, f->port, "br;q=1.0, GZIP ; q=0.001", true);
	check_gzip(c, f->port, "*", true);
	check_gzip(c, f->port, NULL, false);
	check_gzip(c, f->port, "identity", false);
	check_gzip(c, f->port, "gzip;q=0", false);
	check_gzip(c, f->port, "gzip;q=0.000", false);
	check_gzip(c, f->port, "*;q=1, gzip;q=0", false);
	check_gzip(c, f->port, "deflate, br", false);
	check_gzip(c, f->port, "*;q=0", false);

	/* Small bodies are not worth it. */
	expect(c, f->port, &q, 200, &r);
	assert_string_equal(r.content_encoding, "");
	assert_string_equal(r.body.data, "small\n");
	buf_free(&r.body);

	fixture_stop(f);
}

static void test_replies(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	struct req q = { .path = "/prom_error" };
	struct resp r;

	expect(c, f->port, &q, 422, &r);
	assert_string_equal(r.body.data,
			    "{\"status\":\"error\",\"errorType\":\"execution\","
			    "\"error\":\"bad \\\"query\\\": 7\"}");
	assert_string_equal(r.content_type, "application/json");
	buf_free(&r.body);

	q.path = "/noreply";
	refused(c, f->port, &q, 500, NULL);

	q.path = "/twice";
	expect(c, f->port, &q, 201, &r);
	assert_string_equal(r.body.data, "first\n");
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");
	buf_free(&r.body);

	q.path = "/header";
	q.extra_header = "X-Test: hello";
	expect(c, f->port, &q, 200, &r);
	assert_string_equal(r.x_echo, "hello");
	assert_int_equal(strncmp(r.body.data, "remote=127.0.0.1:", 17), 0);
	assert_non_null(strstr(r.body.data, "arena=ok"));
	buf_free(&r.body);

	fixture_stop(f);
}

static bool wait_observations(struct obs_log *l, size_t n)
{
	for (int i = 0; i < 200; i++) {
		size_t have;

		pthread_mutex_lock(&l->mu);
		have = l->n;
		pthread_mutex_unlock(&l->mu);
		if (have >= n)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static void test_observe_and_access_log(void **state)
{
	char path[] = "/tmp/test_http_log_XXXXXX", logbuf[8192];
	int fd = mkstemp(path);
	struct fixture *f;
	CURL *c;
	struct req q = { .path = "/body", .body = "12345", .len = 5 };
	ssize_t n;

	assert_true(fd >= 0);
	log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_LOGFMT);
	log_set_fd(fd);
	f = fixture_start(MAX_BODY, MAX_DECODED);
	c = f->c;

	get_ok(c, f->port, "/users/1/posts/2", "id=1 post=2\n");
	expect_status(c, f->port, &q, 200);
	q.path = "/missing";
	q.body = NULL;
	q.len = 0;
	expect_status(c, f->port, &q, 404);
	assert_true(wait_observations(&f->obs, 3));

	assert_string_equal(f->obs.o[0].method, "GET");
	assert_string_equal(f->obs.o[0].route, "user_post");
	assert_int_equal(f->obs.o[0].status, 200);
	assert_int_equal(f->obs.o[0].resp_bytes, strlen("id=1 post=2\n"));
	assert_true(f->obs.o[0].seconds >= 0 && f->obs.o[0].seconds < 5);
	assert_string_equal(f->obs.o[1].method, "POST");
	assert_string_equal(f->obs.o[1].route, "body");
	assert_int_equal(f->obs.o[1].req_bytes, 5);
	assert_int_equal(f->obs.o[1].resp_bytes, 5);
	assert_string_equal(f->obs.o[2].route, "other");
	assert_int_equal(f->obs.o[2].status, 404);

	fixture_stop(f);
	log_set_fd(2);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);

	n = pread(fd, logbuf, sizeof(logbuf) - 1, 0);
	assert_true(n > 0);
	logbuf[n] = '\0';
	assert_non_null(strstr(logbuf, "level=debug module=http msg=request method=GET "
				       "path=/users/1/posts/2 route=user_post status=200"));
	assert_non_null(strstr(logbuf, "path=/missing route=other status=404"));
	assert_non_null(strstr(logbuf, "bytes=12"));
	assert_non_null(strstr(logbuf, "duration="));
	close(fd);
	unlink(path);
}

struct slow_call {
	unsigned short port;
	long status;
	char body[64];
};

static void *slow_client(void *arg)
{
	struct slow_call *sc = arg;
	CURL *c = curl_easy_init();
	struct req q = { .path = "/slow" };
	struct resp r;

	if (perform(c, sc->port, &q, &r) == CURLE_OK) {
		sc->status = r.status;
		snprintf(sc->body, sizeof(sc->body), "%s", r.body.data ? r.body.data : "");
	}
	buf_free(&r.body);
	curl_easy_cleanup(c);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool can_connect(unsigned short port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void test_drain_waits_for_inflight(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	struct slow_call sc = { .port = f->port };
	pthread_t t;
	double t0, took;

	sem_init(&slow_started, 0, 0);
	assert_int_equal(pthread_create(&t, NULL, slow_client, &sc), 0);
	sem_wait(&slow_started);
	t0 = now_s();
	http_server_drain(f->s, 5000);
	took = now_s() - t0;
	pthread_join(t, NULL);
	assert_int_equal(sc.status, 200);
	assert_string_equal(sc.body, "slow done\n");
	assert_true(took > 0.2 && took < 4.0);
	assert_false(can_connect(f->port));
	http_server_drain(f->s, 5000); /* a second drain is a no-op */
	sem_destroy(&slow_started);
	fixture_stop(f);
}

static void test_drain_idle_keepalive(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	double t0;

	get_ok(c, f->port, "/small", "small\n");
	get_ok(c, f->port, "/small", "small\n"); /* keep-alive connection stays open */
	t0 = now_s();
	http_server_drain(f->s, 5000);
	assert_true(now_s() - t0 < 1.0);
	fixture_stop(f);
}

static void test_drain_timeout(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(f->port) };
	static const char partial[] = "GET /small HTTP/1.1\r\nHost: x\r\n";
	double t0;

	/* A request whose headers never finish counts as in flight until the timeout. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, partial, sizeof(partial) - 1), (ssize_t)sizeof(partial) - 1);
	usleep(100 * 1000);
	t0 = now_s();
	http_server_drain(f->s, 300);
	assert_true(now_s() - t0 >= 0.25);
	assert_true(now_s() - t0 < 3.0);
	close(fd);
	fixture_stop(f);
}

struct worker {
	unsigned short port;
	int id;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	CURL *c = curl_easy_init();

	for (int i = 0; i < 40; i++) {
		char path[64], want[64];
		struct req q = { .path = path };
		struct resp r;

		snprintf(path, sizeof(path), "/users/%d/posts/%d", w->id, i);
		snprintf(want, sizeof(want), "id=%d post=%d\n", w->id, i);
		if (perform(c, w->port, &q, &r) == CURLE_OK && r.status == 200 && r.body.data &&
		    strcmp(r.body.data, want) == 0)
			w->ok++;
		buf_free(&r.body);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static void test_concurrency(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	struct worker w[8];
	pthread_t t[8];

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ .port = f->port, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 40);
	}
	fixture_stop(f);
}

struct hammer {
	unsigned short port;
	atomic_bool *stop;
	int ok, failed;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	CURL *c = curl_easy_init();

	while (!atomic_load(h->stop)) {
		struct req q = { .path = "/users/1/posts/2" };
		struct resp r;

		if (perform(c, h->port, &q, &r) == CURLE_OK && r.status == 200)
			h->ok++;
		else
			h->failed++;
		buf_free(&r.body);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static void test_drain_under_load(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	atomic_bool stop = false;
	struct hammer h[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .port = f->port, .stop = &stop };
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	usleep(150 * 1000);
	http_server_drain(f->s, 5000);
	atomic_store(&stop, true);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(h[i].ok > 0);
	}
	fixture_stop(f);
}

/* Send raw bytes, read until the server closes or 2 s pass. */
static size_t raw_exchange(unsigned short port, const char *req, size_t len, char *out,
			   size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, len), (ssize_t)len);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0 || got + 1 >= cap)
			break;
		n = read(fd, out + got, cap - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	return got;
}

static void test_http2_preface(void **state)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const char pipelined[] = "GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	char out[4096];
	size_t n;

	n = raw_exchange(f->port, preface, sizeof(preface) - 1, out, sizeof(out));
	/* Either a clean close or an HTTP/1.1 4xx/505, never a 2xx. */
	if (n) {
		assert_int_equal(strncmp(out, "HTTP/1.", 7), 0);
		assert_true(out[9] == '4' || strncmp(out + 9, "505", 3) == 0);
	}
	get_ok(c, f->port, "/small", "small\n");
	/* Raw HTTP/1.1 still fine, including pipelined keep-alive requests. */
	n = raw_exchange(f->port, pipelined, sizeof(pipelined) - 1, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(strncmp(out, "HTTP/1.1 200", 12), 0);
	assert_non_null(strstr(out, "small\n"));
	assert_non_null(strstr(out, "root\n"));
	fixture_stop(f);
}

static void test_oversized_headers(void **state)
{
	struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
	CURL *c = f->c;
	size_t n = 600 * 1024;
	char *req = malloc(n + 64), out[4096];
	size_t len;

	/* Headers beyond the connection's memory: libmicrohttpd refuses them itself. */
	assert_non_null(req);
	len = (size_t)sprintf(req, "GET /small HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + len, 'h', n);
	len += n;
	memcpy(req + len, "\r\n\r\n", 4);
	len += 4;
	if (raw_exchange(f->port, req, len, out, sizeof(out)) > 0)
		assert_true(strncmp(out, "HTTP/1.1 4", 10) == 0);
	get_ok(c, f->port, "/small", "small\n");
	free(req);
	fixture_stop(f);
}

static void test_listen_addresses(void **state)
{
	static const char *const bad[] = {
		"nope", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http", "[::1:80", "::1]:80",
		"no.such.host.invalid:80",
	};
	struct http_server_config cfg = { 0 };
	struct http_server *s;
	char err[256];
	CURL *c = curl_easy_init();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.listen_address = bad[i];
		assert_int_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
		assert_int_not_equal(http_server_start(s, err, sizeof(err)), 0);
		assert_true(err[0] != '\0');
		http_server_free(s);
	}
	cfg.listen_address = NULL;
	assert_int_not_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);

	/* All interfaces. */
	cfg.listen_address = ":0";
	assert_int_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
	assert_int_equal(http_route(s, HTTP_GET, "/small", NULL, h_text, "small"), 0);
	assert_int_equal(http_server_start(s, err, sizeof(err)), 0);
	assert_true(http_server_port(s) > 0);
	get_ok(c, http_server_port(s), "/small", "small\n");
	http_server_free(s);

	/* A port already taken is an error that says so. */
	{
		struct fixture *f = fixture_start(MAX_BODY, MAX_DECODED);
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->port);
		cfg.listen_address = addr;
		assert_int_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
		assert_int_not_equal(http_server_start(s, err, sizeof(err)), 0);
		assert_non_null(strstr(err, addr));
		http_server_free(s);
		fixture_stop(f);
	}

	/* IPv6 loopback, where the machine has it. */
	cfg.listen_address = "[::1]:0";
	assert_int_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
	assert_int_equal(http_route(s, HTTP_GET, "/small", NULL, h_text, "small6"), 0);
	if (http_server_start(s, err, sizeof(err)) == 0) {
		char url[64];
		struct resp r = { 0 };

		snprintf(url, sizeof(url), "http://[::1]:%u/small", http_server_port(s));
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		assert_string_equal(r.body.data, "small6\n");
		buf_free(&r.body);
	}
	http_server_free(s);
	curl_easy_cleanup(c);
}

static void test_bad_routes(void **state)
{
	struct http_server_config cfg = { .listen_address = "127.0.0.1:0" };
	struct http_server *s;
	char err[256];

	assert_int_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
	assert_int_not_equal(http_route(s, HTTP_GET, "no-slash", NULL, h_text, ""), 0);
	assert_int_not_equal(http_route(s, HTTP_GET, "/a/*rest/b", NULL, h_text, ""), 0);
	assert_int_not_equal(http_route(s, HTTP_GET, "/a/:", NULL, h_text, ""), 0);
	assert_int_not_equal(http_route(s, 0, "/a", NULL, h_text, ""), 0);
	assert_int_not_equal(http_route(s, HTTP_GET, "/a", NULL, NULL, ""), 0);
	assert_int_equal(http_route(s, HTTP_ANY, "/a/:b/*c", NULL, h_text, ""), 0);
	http_server_free(s); /* never started */

	assert_int_equal(http_server_new(&cfg, &s, err, sizeof(err)), 0);
	assert_int_equal(http_server_start(s, err, sizeof(err)), 0);
	assert_int_not_equal(http_server_start(s, err, sizeof(err)), 0);
	/* Too late to add routes now. */
	assert_int_not_equal(http_route(s, HTTP_GET, "/late", NULL, h_text, "late"), 0);
	http_server_free(s);
}

static void test_form_unescape(void **state)
{
	static const struct {
		const char *in;
		long len;
		const char *out;
	} cases[] = {
		{ "", 0, "" },
		{ "plain", 5, "plain" },
		{ "a+b", 3, "a b" },
		{ "%2B", 1, "+" },
		{ "%2b%41%7e", 3, "+A~" },
		{ "100%25", 4, "100%" },
		{ "x%20y+z", 5, "x y z" },
		{ "%e2%82%ac", 3, "\xe2\x82\xac" },
		{ "%", -1, NULL },
		{ "a%2", -1, NULL },
		{ "%zz", -1, NULL },
		{ "%2g", -1, NULL },
		{ "ok%", -1, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char s[32];
		long n;

		snprintf(s, sizeof(s), "%s", cases[i].in);
		n = http_form_unescape(s, strlen(s));
		assert_int_equal(n, cases[i].len);
		if (n >= 0)
			assert_memory_equal(s, cases[i].out, (size_t)n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_unescape),
		cmocka_unit_test(test_bad_routes),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_body_decoding),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_bad_encoded_bodies),
		cmocka_unit_test(test_gzip_responses),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_observe_and_access_log),
		cmocka_unit_test(test_drain_waits_for_inflight),
		cmocka_unit_test(test_drain_idle_keepalive),
		cmocka_unit_test(test_drain_timeout),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_drain_under_load),
		cmocka_unit_test(test_http2_preface),
		cmocka_unit_test(test_oversized_headers),
		cmocka_unit_test(test_listen_addresses),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests_name("http", tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
