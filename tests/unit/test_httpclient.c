/*
 * httpclient tests against a scripted HTTP/1.1 server run by the test itself on
 * 127.0.0.1 (port 0). The server answers each request with the next entry of its
 * script (then with a default 200 echoing the path), records what it received,
 * and can hang or drop a connection. TLS tests generate self-signed certificates
 * with the openssl command in a temporary directory and serve them with OpenSSL
 * in the server's threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <zlib.h>

#include "httpclient/httpclient.h"

/* ---- scripted server ---------------------------------------------------------- */

#define MAX_CONNS 1024
#define MAX_RECS 64
#define MAX_SCRIPT 16
#define REQ_BUF (4 << 20)

enum act { ACT_END, ACT_REPLY, ACT_HANG, ACT_CLOSE };

struct canned {
	enum act act;
	const char *raw;   /* the whole response; NULL: 200 echoing the path */
	size_t raw_len;    /* 0: strlen(raw) */
};

struct rec {
	char head[4096];
	char body[2048];
	size_t body_len;        /* bytes kept in body */
	size_t body_total;      /* bytes received */
	char sni[64];
	bool peer_cert;
};

struct tsrv;

struct tconn {
	struct tsrv *s;
	pthread_t t;
	int fd;
};

struct tsrv {
	int lfd;
	int port;
	SSL_CTX *ssl;
	pthread_t thr;
	pthread_mutex_t mu;
	struct canned script[MAX_SCRIPT];
	size_t nscript, next;
	struct rec recs[MAX_RECS];
	size_t nrecs;           /* all requests; the first MAX_RECS are kept */
	unsigned accepted;
	unsigned tls_failures;
	bool stopping;
	struct tconn conns[MAX_CONNS];
	size_t nconns;
};

static int io_read(int fd, SSL *ssl, char *p, size_t n)
{
	if (ssl)
		return SSL_read(ssl, p, (int)n);
	return (int)recv(fd, p, n, 0);
}

static int io_write_all(int fd, SSL *ssl, const char *p, size_t n)
{
	while (n) {
		int w = ssl ? SSL_write(ssl, p, (int)n) : (int)send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static size_t content_length(const char *head)
{
	const char *p = strcasestr(head, "\r\nContent-Length:");

	return p ? strtoul(p + 17, NULL, 10) : 0;
}

/* Reads one request into buf; returns head length (body follows), or -1 at EOF. */
static long read_request(int fd, SSL *ssl, char *buf, size_t *have)
{
	char *end;
	size_t head, need;
	int r;

	for (;;) {
		buf[*have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (*have + 1 >= REQ_BUF)
			return -1;
		r = io_read(fd, ssl, buf + *have, REQ_BUF - 1 - *have);
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
	head = (size_t)(end - buf) + 4;
	need = head + content_length(buf);
	if (need >= REQ_BUF)
		return -1;
	while (*have < need) {
		r = io_read(fd, ssl, buf + *have, need - *have);
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
	return (long)head;
}

static struct canned record_and_pick(struct tsrv *s, SSL *ssl, const char *buf, size_t head,
				     size_t len)
{
	struct canned c = { ACT_REPLY, NULL, 0 };

	pthread_mutex_lock(&s->mu);
	if (s->nrecs < MAX_RECS) {
		struct rec *r = &s->recs[s->nrecs];
		const char *sni = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
		X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;

		snprintf(r->head, sizeof(r->head), "%.*s", (int)head, buf);
		r->body_total = len - head;
		r->body_len = len - head < sizeof(r->body) ? len - head : sizeof(r->body);
		memcpy(r->body, buf + head, r->body_len);
		snprintf(r->sni, sizeof(r->sni), "%s", sni ? sni : "");
		r->peer_cert = peer != NULL;
		X509_free(peer);
	}
	s->nrecs++;
	if (s->next < s->nscript)
		c = s->script[s->next++];
	pthread_mutex_unlock(&s->mu);
	return c;
}

static int reply(int fd, SSL *ssl, const struct canned *c, const char *buf)
{
	char path[512], out[1024];
	int n;

	if (c->raw) {
		if (io_write_all(fd, ssl, c->raw, c->raw_len ? c->raw_len : strlen(c->raw)) < 0)
			return -1;
		return strstr(c->raw, "Connection: close") ? -1 : 0;
	}
	if (sscanf(buf, "%*s %511s", path) != 1)
		snprintf(path, sizeof(path), "?");
	n = snprintf(out, sizeof(out),
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: yes\r\n"
		     "Content-Length: %zu\r\n\r\n%s", strlen(path), path);
	return io_write_all(fd, ssl, out, (size_t)n);
}

static void serve(struct tsrv *s, int fd, SSL *ssl, char *buf)
{
	size_t have = 0;

	for (;;) {
		long head = read_request(fd, ssl, buf, &have);
		size_t len;
		struct canned c;

		if (head < 0)
			return;
		len = (size_t)head + content_length(buf);
		c = record_and_pick(s, ssl, buf, (size_t)head, len);
		memmove(buf, buf + len, have - len);
		have -= len;
		if (c.act == ACT_CLOSE)
			return;
		if (c.act == ACT_HANG) {
			/* Until the client gives up (or the server stops). */
			while (io_read(fd, ssl, buf, REQ_BUF) > 0)
				;
			return;
		}
		if (reply(fd, ssl, &c, buf) < 0)
			return;
	}
}

static void *conn_main(void *arg)
{
	struct tconn *c = arg;
	struct tsrv *s = c->s;
	char *buf = malloc(REQ_BUF);
	SSL *ssl = NULL;

	if (!buf)
		goto out;
	if (s->ssl) {
		ssl = SSL_new(s->ssl);
		if (!ssl || SSL_set_fd(ssl, c->fd) != 1 || SSL_accept(ssl) != 1) {
			pthread_mutex_lock(&s->mu);
			s->tls_failures++;
			pthread_mutex_unlock(&s->mu);
			goto out;
		}
	}
	serve(s, c->fd, ssl, buf);
out:
	free(buf);
	SSL_free(ssl);
	pthread_mutex_lock(&s->mu);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct tsrv *s = arg;

	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		struct tconn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		pthread_mutex_lock(&s->mu);
		if (s->stopping || s->nconns == MAX_CONNS) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		c = &s->conns[s->nconns++];
		c->s = s;
		c->fd = fd;
		s->accepted++;
		if (pthread_create(&c->t, NULL, conn_main, c) != 0) {
			close(fd);
			c->fd = -1;
			s->nconns--;
		}
		pthread_mutex_unlock(&s->mu);
	}
}

static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Serves `script` (copied; its first ACT_END entry or MAX_SCRIPT ends it). */
static struct tsrv *srv_new(SSL_CTX *ssl, const struct canned *script)
{
	struct tsrv *s = calloc(1, sizeof(*s));

	signal(SIGPIPE, SIG_IGN);
	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	s->ssl = ssl;
	while (s->nscript < MAX_SCRIPT && script[s->nscript].act != ACT_END) {
		s->script[s->nscript] = script[s->nscript];
		s->nscript++;
	}
	s->lfd = listen_any(&s->port);
	assert_int_equal(listen(s->lfd, 128), 0);
	assert_int_equal(pthread_create(&s->thr, NULL, accept_main, s), 0);
	return s;
}

/* script: pairs of (enum act, const char *raw), ended by END. */
static struct tsrv *srv_start_tls(SSL_CTX *ssl, ...)
{
	struct canned script[MAX_SCRIPT + 1] = { 0 };
	va_list ap;
	size_t n = 0;
	int act;

	va_start(ap, ssl);
	while ((act = va_arg(ap, int)) != ACT_END) {
		assert_true(n < MAX_SCRIPT);
		script[n].act = (enum act)act;
		script[n++].raw = va_arg(ap, const char *);
	}
	va_end(ap);
	return srv_new(ssl, script);
}

#define srv_start(...) srv_start_tls(NULL, __VA_ARGS__)
#define END ACT_END

static void srv_stop(struct tsrv *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	shutdown(s->lfd, SHUT_RDWR);
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].fd >= 0)
			shutdown(s->conns[i].fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thr, NULL);
	for (size_t i = 0; i < s->nconns; i++)
		pthread_join(s->conns[i].t, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ssl);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static size_t srv_nrecs(struct tsrv *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nrecs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Value of a recorded request header (first match), or NULL. */
static const char *rec_header(const struct rec *r, const char *name, char *out, size_t outlen)
{
	char pat[128];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	p = strcasestr(r->head, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)(e - p), p);
	return out;
}

static char *url_for(const struct tsrv *s, const char *scheme, const char *path)
{
	static _Thread_local char url[256];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", scheme, s->port, path);
	return url;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct httpc *client(const struct httpc_config *cfg)
{
	char err[256];
	struct httpc *c = NULL;
	int rc = httpc_new(cfg, &c, err, sizeof(err));

	if (rc != 0)
		fail_msg("httpc_new: %s", err);
	return c;
}

#define R200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define R400 "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request"
#define R500 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom"
#define R503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 13\r\n\r\nbusy\nline two"

/* ---- configuration and helpers -------------------------------------------------- */

static void test_backoff_bounds(void **state)
{
	bool varied = false;

	(void)state;
	for (unsigned retry = 1; retry <= 8; retry++) {
		unsigned ceiling = 50u << retry > 1000 ? 1000 : 50u << retry;

		for (int i = 0; i < 200; i++) {
			unsigned ms = httpc_backoff_ms(50, 1000, retry);

			assert_in_range(ms, 50, ceiling);
			if (ms != 50)
				varied = true;
		}
	}
	assert_true(varied);
	assert_int_equal(httpc_backoff_ms(100, 100, 5), 100);
	assert_int_equal(httpc_backoff_ms(100, 1000, 0), 100);
	assert_in_range(httpc_backoff_ms(UINT32_MAX / 2, UINT32_MAX, 40), UINT32_MAX / 2,
			UINT32_MAX);
}

static void test_config_rejected(void **state)
{
	struct httpc_header bad_name = { "X Bad", "v" }, bad_value = { "X-Ok", "a\r\nB: c" };
	struct httpc *c = (struct httpc *)1;
	char err[256];
	struct {
		struct httpc_config cfg;
		const char *needle;
	} cases[] = {
		{ { .min_backoff_ms = 500, .max_backoff_ms = 100 }, "min_backoff" },
		{ { .password = "p" }, "without username" },
		{ { .username = "a:b" }, "':'" },
		{ { .username = "u", .bearer_token = "t" }, "exclusive" },
		{ { .bearer_token = "t\nX: y" }, "line break" },
		{ { .headers = &bad_name, .nheaders = 1 }, "invalid header" },
		{ { .headers = &bad_value, .nheaders = 1 }, "invalid header" },
		{ { .ca_file = "/nonexistent/ca.pem" }, "/nonexistent/ca.pem" },
		{ { .cert_file = "/nonexistent/c.pem" }, "cert_file" },
		{ { .key_file = "/etc/hostname" }, "without cert_file" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(httpc_new(&cases[i].cfg, &c, err, sizeof(err)), HTTPC_EINVAL);
		assert_null(c);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
		c = (struct httpc *)1;
	}
	assert_int_equal(httpc_new(NULL, &c, err, sizeof(err)), HTTPC_EINVAL);
	httpc_free(NULL);
}

static void test_request_rejected(void **state)
{
	struct httpc_header crlf = { "X-A", "1\r\nX-B: 2" };
	struct httpc_response r = { 0 };
	struct tsrv *s = srv_start(END);
	struct httpc *c = client(&(struct httpc_config){ .max_retries = 3 });
	char err[256];

	(void)state;
	assert_int_equal(httpc_request(c, "GET", NULL, NULL, NULL, 0, NULL, 0, &r, err,
				       sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0,
				       &crlf, 1, &r, err, sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(httpc_request(c, "GE T", url_for(s, "http", "/"), NULL, NULL, 0,
				       NULL, 0, &r, err, sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(httpc_request(c, "HEAD", url_for(s, "http", "/"), NULL, "x", 1,
				       NULL, 0, &r, err, sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(httpc_request(c, "GET", "http://127.0.0.1:1/\r\nX: y", "a\nb",
				       NULL, 0, NULL, 0, &r, err, sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(httpc_request(c, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0, NULL, 0,
				       &r, err, sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(r.attempts, 1);
	assert_non_null(strstr(err, "GET ftp://127.0.0.1/x: "));
	assert_int_equal(httpc_request(c, "GET", "not a url", NULL, NULL, 0, NULL, 0, &r, err,
				       sizeof(err)), HTTPC_EINVAL);
	assert_int_equal(srv_nrecs(s), 0);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

/* ---- requests and headers ------------------------------------------------------- */

static void test_get(void **state)
{
	struct tsrv *s = srv_start(END);
	struct httpc *c = client(&(struct httpc_config){ 0 });
	struct httpc_response r = { 0 };
	char err[256], v[256];

	(void)state;
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/hello?x=1"), NULL, NULL,
				       0, NULL, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.body.len, strlen("/hello?x=1"));
	assert_string_equal(r.body.data, "/hello?x=1");
	assert_string_equal(r.content_type, "text/plain");
	assert_string_equal(httpc_response_header(&r, "x-echo"), "yes");
	assert_null(httpc_response_header(&r, "X-Missing"));
	assert_int_equal(r.retry_after_s, -1);
	assert_int_equal(srv_nrecs(s), 1);
	assert_memory_equal(s->recs[0].head, "GET /hello?x=1 HTTP/1.1\r\n", 25);
	assert_non_null(rec_header(&s->recs[0], "User-Agent", v, sizeof(v)));
	assert_memory_equal(v, "lgtm-native/", 12);
	assert_null(rec_header(&s->recs[0], "Content-Type", v, sizeof(v)));
	assert_null(rec_header(&s->recs[0], "Authorization", v, sizeof(v)));
	/* NULL method means GET; the response struct is reused. */
	assert_int_equal(httpc_request(c, NULL, url_for(s, "http", "/again"), NULL, NULL, 0,
				       NULL, 0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "/again");
	assert_memory_equal(s->recs[1].head, "GET /again ", 11);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_post_headers(void **state)
{
	static const char body[] = "snappy\0bytes\xff";
	struct httpc_header cfg_hdrs[] = { { "X-Scope-OrgID", "tenant-1" }, { "X-Empty", "" },
					   { "X-Override", "from-config" } };
	struct httpc_header req_hdrs[] = { { "X-Prometheus-Remote-Write-Version", "0.1.0" },
					   { "x-override", "from-request" } };
	struct tsrv *s = srv_start(ACT_REPLY,
				   "HTTP/1.1 204 No Content\r\nX-Resp: one\r\nx-resp: two\r\n\r\n",
				   END);
	struct httpc *c = client(&(struct httpc_config){
		.username = "user", .password = "pass", .user_agent = "agent/1.0",
		.headers = cfg_hdrs, .nheaders = 3 });
	struct httpc_req req = {
		.method = "POST", .url = url_for(s, "http", "/api/v1/write"),
		.content_type = "application/x-protobuf", .content_encoding = "snappy",
		.body = body, .body_len = sizeof(body) - 1, .headers = req_hdrs, .nheaders = 2 };
	struct httpc_response r = { 0 };
	const struct rec *rec = &s->recs[0];
	char err[256], v[256];

	(void)state;
	assert_int_equal(httpc_do(c, &req, &r, err, sizeof(err)), 0);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body.len, 0);
	assert_null(r.content_type);
	assert_string_equal(httpc_response_header(&r, "X-RESP"), "one");
	assert_memory_equal(rec->head, "POST /api/v1/write HTTP/1.1\r\n", 29);
	assert_int_equal(rec->body_len, sizeof(body) - 1);
	assert_memory_equal(rec->body, body, sizeof(body) - 1);
	assert_string_equal(rec_header(rec, "Authorization", v, sizeof(v)),
			    "Basic dXNlcjpwYXNz");
	assert_string_equal(rec_header(rec, "User-Agent", v, sizeof(v)), "agent/1.0");
	assert_string_equal(rec_header(rec, "Content-Type", v, sizeof(v)),
			    "application/x-protobuf");
	assert_string_equal(rec_header(rec, "Content-Encoding", v, sizeof(v)), "snappy");
	assert_string_equal(rec_header(rec, "Content-Length", v, sizeof(v)), "13");
	assert_string_equal(rec_header(rec, "X-Scope-OrgID", v, sizeof(v)), "tenant-1");
	assert_string_equal(rec_header(rec, "X-Empty", v, sizeof(v)), "");
	assert_string_equal(rec_header(rec, "X-Prometheus-Remote-Write-Version", v,
				       sizeof(v)), "0.1.0");
	assert_string_equal(rec_header(rec, "X-Override", v, sizeof(v)), "from-request");
	assert_null(strstr(rec->head, "from-config"));
	assert_null(rec_header(rec, "Expect", v, sizeof(v)));
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_bearer_and_url_credentials(void **state)
{
	struct tsrv *s = srv_start(ACT_REPLY, R500, END);
	struct httpc *c = client(&(struct httpc_config){ .bearer_token = "s3cr3t-token" });
	struct httpc_response r = { 0 };
	char err[512], v[256], url[256];

	(void)state;
	assert_int_equal(httpc_request(c, "POST", url_for(s, "http", "/push"), "text/plain",
				       "x", 1, NULL, 0, &r, err, sizeof(err)), HTTPC_ESTATUS);
	assert_string_equal(rec_header(&s->recs[0], "Authorization", v, sizeof(v)),
			    "Bearer s3cr3t-token");
	httpc_free(c);

	/* user:password in the URL authenticates but never reaches an error message. */
	c = client(&(struct httpc_config){ 0 });
	snprintf(url, sizeof(url), "http://alice:hunter2@127.0.0.1:%d/x", s->port);
	assert_int_equal(httpc_request(c, "GET", url, NULL, NULL, 0, NULL, 0, &r, err,
				       sizeof(err)), 0);
	assert_string_equal(rec_header(&s->recs[1], "Authorization", v, sizeof(v)),
			    "Basic YWxpY2U6aHVudGVyMg==");
	snprintf(url, sizeof(url), "http://alice:hunter2@127.0.0.1:1/x");
	assert_int_equal(httpc_request(c, "GET", url, NULL, NULL, 0, NULL, 0, &r, err,
				       sizeof(err)), HTTPC_ETRANSPORT);
	assert_null(strstr(err, "hunter2"));
	assert_null(strstr(err, "alice"));
	assert_non_null(strstr(err, "GET http://127.0.0.1:1/x: "));
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_large_body(void **state)
{
	size_t len = 3 << 20;
	char *body = malloc(len), err[256], v[64];
	struct tsrv *s = srv_start(END);
	struct httpc *c = client(&(struct httpc_config){ 0 });
	struct httpc_response r = { 0 };
	int64_t t0 = now_ms(), dt;

	(void)state;
	assert_non_null(body);
	memset(body, 'x', len);
	assert_int_equal(httpc_request(c, "POST", url_for(s, "http", "/big"), NULL, body, len,
				       NULL, 0, &r, err, sizeof(err)), 0);
	dt = now_ms() - t0;
	assert_int_equal(s->recs[0].body_total, len);
	/* No Expect: 100-continue, which would stall on servers that ignore it. */
	assert_null(rec_header(&s->recs[0], "Expect", v, sizeof(v)));
	if (dt > 5000) /* a 100-continue stall would add a second per request; be generous */
		fail_msg("3 MiB POST took %lld ms", (long long)dt);
	free(body);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_methods(void **state)
{
	struct tsrv *s = srv_start(ACT_REPLY,
				   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-H: 1\r\n\r\n", END);
	/* HEAD reports a size without a body, so max_response_bytes does not apply. */
	struct httpc *c = client(&(struct httpc_config){ .max_response_bytes = 3 });
	struct httpc_response r = { 0 };
	char err[256], v[64];

	(void)state;
	assert_int_equal(httpc_request(c, "HEAD", url_for(s, "http", "/h"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_string_equal(httpc_response_header(&r, "Content-Length"), "5");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	assert_string_equal(httpc_response_header(&r, "X-H"), "1");
	/* A NULL body is empty whatever length comes with it. */
	assert_int_equal(httpc_request(c, "PUT", url_for(s, "http", "/p"), NULL, NULL, 99, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_int_equal(httpc_request(c, "DELETE", url_for(s, "http", "/d"), NULL, NULL, 0,
				       NULL, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/g"), "text/plain", "q",
				       1, NULL, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(srv_nrecs(s), 4);
	assert_memory_equal(s->recs[0].head, "HEAD /h ", 8);
	assert_memory_equal(s->recs[1].head, "PUT /p ", 7);
	assert_string_equal(rec_header(&s->recs[1], "Content-Length", v, sizeof(v)), "0");
	assert_memory_equal(s->recs[2].head, "DELETE /d ", 10);
	assert_null(rec_header(&s->recs[2], "Content-Length", v, sizeof(v)));
	assert_memory_equal(s->recs[3].head, "GET /g ", 7);
	assert_int_equal(s->recs[3].body_len, 1);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_redirects(void **state)
{
	static const char r302[] =
		"HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";
	struct tsrv *s = srv_start(ACT_REPLY, r302, ACT_REPLY, r302, END);
	struct httpc *c = client(&(struct httpc_config){ 0 });
	struct httpc_response r = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/a"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.status, 302);
	assert_string_equal(httpc_response_header(&r, "Location"), "/b");
	httpc_free(c);
	c = client(&(struct httpc_config){ .follow_redirects = true });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/a"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "/b");
	/* Headers are those of the final response only. */
	assert_null(httpc_response_header(&r, "Location"));
	assert_int_equal(srv_nrecs(s), 3);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_proxy(void **state)
{
	struct tsrv *s = srv_start(END);
	struct httpc *c;
	struct httpc_response r = { 0 };
	char err[256], proxy[64];

	(void)state;
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", s->port);
	c = client(&(struct httpc_config){ .proxy_url = proxy });
	assert_int_equal(httpc_request(c, "GET", "http://lgtm.invalid/x", NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "http://lgtm.invalid/x");
	httpc_free(c);

	/* Without proxy_url the environment's proxy is ignored. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	c = client(&(struct httpc_config){ 0 });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/direct"), NULL, NULL, 0,
				       NULL, 0, &r, err, sizeof(err)), 0);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	assert_string_equal(r.body.data, "/direct");
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_decompress_response(void **state)
{
	static char plain[5000], resp[512];
	unsigned char z[256];
	uLongf zlen = sizeof(z);
	struct tsrv *s;
	struct httpc *c;
	struct httpc_response r = { 0 };
	char err[256], v[64];
	int n;

	(void)state;
	memset(plain, 'a', sizeof(plain));
	assert_int_equal(compress2(z, &zlen, (const Bytef *)plain, sizeof(plain), 9), Z_OK);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n"
		     "Content-Length: %lu\r\n\r\n", (unsigned long)zlen);
	memcpy(resp + n, z, zlen);
	s = srv_start(ACT_REPLY, resp, ACT_REPLY, resp, END);
	pthread_mutex_lock(&s->mu);
	s->script[0].raw_len = s->script[1].raw_len = (size_t)n + zlen;
	pthread_mutex_unlock(&s->mu);

	c = client(&(struct httpc_config){ .decompress_response = true,
					   .max_response_bytes = 6000 });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.body.len, sizeof(plain));
	assert_memory_equal(r.body.data, plain, sizeof(plain));
	assert_non_null(rec_header(&s->recs[0], "Accept-Encoding", v, sizeof(v)));
	httpc_free(c);
	/* The limit applies to the decoded size: a small body cannot inflate past it. */
	c = client(&(struct httpc_config){ .decompress_response = true,
					   .max_response_bytes = 4000 });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ETOOBIG);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

/* ---- retries -------------------------------------------------------------------- */

/*
 * One request against a scripted server with its outcome checked: return code,
 * final status, attempts, requests the server saw, wall time, error text.
 */
struct expect {
	int rc;
	int status;
	unsigned attempts;
	int min_ms, max_ms;
	const char *err;    /* substring of the error message, or NULL */
};

static void request_expect(struct tsrv *s, const struct httpc_config *cfg, const char *method,
			   const struct expect *e, struct httpc_response *r)
{
	struct httpc *c = client(cfg);
	char err[512] = "";
	int64_t t0 = now_ms(), dt;
	int rc;

	rc = httpc_request(c, method, url_for(s, "http", "/r"), NULL,
			   strcmp(method, "POST") ? NULL : "b", 1, NULL, 0, r, err, sizeof(err));
	dt = now_ms() - t0;
	httpc_free(c);
	if (rc != e->rc)
		fail_msg("rc %d, want %d (%s)", rc, e->rc, err);
	assert_int_equal(r->status, e->status);
	assert_int_equal(r->attempts, e->attempts);
	assert_int_equal(srv_nrecs(s), e->attempts);
	/* The lower bound proves the backoff waited; the upper one only catches a stall
	 * (it is generous: tests run on loaded CI machines and under ASan). */
	if (dt < e->min_ms || dt > 4 * e->max_ms + 2000)
		fail_msg("took %lld ms, want [%d, %d]", (long long)dt, e->min_ms, e->max_ms);
	if (e->err && !strstr(err, e->err))
		fail_msg("error '%s' lacks '%s'", err, e->err);
}

/* Retry behaviour as data: a script for the server, a config, the expected outcome. */
struct scenario {
	struct canned script[4];
	struct httpc_config cfg;
	const char *method;
	struct expect want;
	const char *body;   /* expected start of the final body, or NULL */
};

static struct scenario sc_retry_then_success = {
	{ { ACT_REPLY, R500, 0 }, { ACT_REPLY, R500, 0 }, { ACT_REPLY, R200, 0 } },
	{ .max_retries = 3, .min_backoff_ms = 100, .max_backoff_ms = 400 },
	/* Waits: [100, 200] then [100, 400]. */
	"POST", { 0, 200, 3, 200, 600 + 300, NULL }, "ok",
};

static struct scenario sc_4xx_not_retried = {
	{ { ACT_REPLY, R400, 0 }, { ACT_REPLY, R200, 0 } },
	{ .max_retries = 5, .min_backoff_ms = 10 },
	"POST", { 0, 400, 1, 0, 500, NULL }, "bad request",
};

static struct scenario sc_429_retry_after = {
	{ { ACT_REPLY, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
		       "Content-Length: 0\r\n\r\n", 0 }, { ACT_REPLY, R200, 0 } },
	{ .max_retries = 2, .min_backoff_ms = 10, .max_backoff_ms = 5000 },
	"GET", { 0, 200, 2, 1000, 1600, NULL }, "ok",
};

static struct scenario sc_retry_after_capped = {
	{ { ACT_REPLY, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\n"
		       "Content-Length: 0\r\n\r\n", 0 }, { ACT_REPLY, R200, 0 } },
	{ .max_retries = 1, .min_backoff_ms = 10, .max_backoff_ms = 200 },
	"GET", { 0, 200, 2, 200, 700, NULL }, "ok",
};

/* The last response stays readable for the caller's log line. */
static struct scenario sc_retries_exhausted = {
	{ { ACT_REPLY, R503, 0 }, { ACT_REPLY, R503, 0 }, { ACT_REPLY, R503, 0 },
	  { ACT_REPLY, R200, 0 } },
	{ .max_retries = 2, .min_backoff_ms = 10, .max_backoff_ms = 20 },
	"POST", { HTTPC_ESTATUS, 503, 3, 20, 1000,
		  "POST http://127.0.0.1:" }, "busy",
};

static struct scenario sc_exhausted_message = {
	{ { ACT_REPLY, R503, 0 }, { ACT_REPLY, R503, 0 } },
	{ .max_retries = 1, .min_backoff_ms = 10 },
	"GET", { HTTPC_ESTATUS, 503, 2, 10, 1000,
		 "/r: server returned HTTP 503: busy (after 2 attempts)" }, NULL,
};

static struct scenario sc_timeout = {
	{ { ACT_HANG, NULL, 0 }, { ACT_HANG, NULL, 0 } },
	{ .timeout_ms = 300, .max_retries = 1, .min_backoff_ms = 10, .max_backoff_ms = 20 },
	"GET", { HTTPC_ETRANSPORT, 0, 2, 600, 2000, "timed out" }, NULL,
};

static struct scenario sc_dropped_connection = {
	{ { ACT_CLOSE, NULL, 0 }, { ACT_REPLY, R200, 0 } },
	{ .max_retries = 1, .min_backoff_ms = 10 },
	"GET", { 0, 200, 2, 10, 1000, NULL }, "ok",
};

static void test_scenario(void **state)
{
	const struct scenario *sc = *state;
	struct tsrv *s = srv_new(NULL, sc->script);
	struct httpc_response r = { 0 };

	request_expect(s, &sc->cfg, sc->method, &sc->want, &r);
	if (sc->body)
		assert_memory_equal(r.body.data, sc->body, strlen(sc->body));
	httpc_response_free(&r);
	srv_stop(s);
}

#define SCENARIO(sc) { #sc, test_scenario, NULL, NULL, &sc }

static void test_retry_after_parsed(void **state)
{
	struct tsrv *s = srv_start(
		ACT_REPLY, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
			   "Content-Length: 0\r\n\r\n",
		ACT_REPLY, "HTTP/1.1 503 Service Unavailable\r\n"
			   "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
			   "Content-Length: 0\r\n\r\n",
		ACT_REPLY, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: soon\r\n"
			   "Content-Length: 0\r\n\r\n",
		END);
	struct httpc *c = client(&(struct httpc_config){ 0 });
	struct httpc_response r = { 0 };
	const int want[] = { 7, 0, -1 };
	char err[256];

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0,
					       NULL, 0, &r, err, sizeof(err)), HTTPC_ESTATUS);
		assert_int_equal(r.retry_after_s, want[i]);
	}
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_max_response_bytes(void **state)
{
	char big[1200], chunked[1200];
	struct tsrv *s;
	struct httpc *c;
	struct httpc_response r = { 0 };
	char err[256], body[1001];

	(void)state;
	memset(body, 'a', 1000);
	body[1000] = '\0';
	snprintf(big, sizeof(big), "HTTP/1.1 500 Oops\r\nContent-Length: 1000\r\n\r\n%s", body);
	snprintf(chunked, sizeof(chunked),
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n%s\r\n0\r\n\r\n",
		 body);
	s = srv_start(ACT_REPLY, big, ACT_REPLY, chunked, ACT_REPLY, chunked, END);
	c = client(&(struct httpc_config){ .max_response_bytes = 999, .max_retries = 3,
					   .min_backoff_ms = 10 });
	/* Refused from Content-Length, and not retried even though it is a 500. */
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ETOOBIG);
	assert_non_null(strstr(err, "max_response_bytes (999)"));
	assert_int_equal(r.attempts, 1);
	/* No length up front: stopped while reading. */
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ETOOBIG);
	assert_true(r.body.len <= 999);
	assert_int_equal(srv_nrecs(s), 2);
	httpc_free(c);
	c = client(&(struct httpc_config){ .max_response_bytes = 1000 });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.body.len, 1000);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_connection_refused(void **state)
{
	struct httpc *c = client(&(struct httpc_config){
		.max_retries = 2, .min_backoff_ms = 10, .max_backoff_ms = 20 });
	struct httpc_response r = { 0 };
	char err[512], url[64];
	int port, fd = listen_any(&port);

	(void)state;
	close(fd); /* bound, never listened: nothing accepts there */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	assert_int_equal(httpc_request(c, "GET", url, NULL, NULL, 0, NULL, 0, &r, err,
				       sizeof(err)), HTTPC_ETRANSPORT);
	assert_int_equal(r.attempts, 3);
	assert_non_null(strstr(err, url));
	assert_non_null(strstr(err, "onnect"));
	assert_non_null(strstr(err, "(after 3 attempts)"));
	httpc_response_free(&r);
	httpc_free(c);
}

/* ---- cancellation --------------------------------------------------------------- */

struct canceller {
	_Atomic bool *flag;
	unsigned ms;
	pthread_t t;
};

static void *cancel_main(void *arg)
{
	struct canceller *k = arg;

	usleep(k->ms * 1000);
	atomic_store(k->flag, true);
	return NULL;
}

static void test_cancel_during_backoff(void **state)
{
	_Atomic bool stop = false;
	struct canceller k = { &stop, 150, 0 };
	struct tsrv *s = srv_start(ACT_REPLY, R500, ACT_REPLY, R500, END);
	struct httpc *c = client(&(struct httpc_config){
		.max_retries = 5, .min_backoff_ms = 3000, .max_backoff_ms = 6000,
		.cancel = &stop });
	struct httpc_response r = { 0 };
	char err[256];
	int64_t t0 = now_ms(), dt;

	(void)state;
	pthread_create(&k.t, NULL, cancel_main, &k);
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ECANCELED);
	dt = now_ms() - t0;
	pthread_join(k.t, NULL);
	assert_non_null(strstr(err, "canceled"));
	assert_int_equal(r.attempts, 1);
	assert_int_equal(srv_nrecs(s), 1);
	if (dt > 5000)
		fail_msg("cancel took %lld ms", (long long)dt);
	/* Already canceled: no attempt at all. */
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ECANCELED);
	assert_int_equal(r.attempts, 0);
	assert_int_equal(srv_nrecs(s), 1);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

static void test_cancel_during_transfer(void **state)
{
	_Atomic bool stop = false;
	struct canceller k = { &stop, 150, 0 };
	struct tsrv *s = srv_start(ACT_HANG, NULL, END);
	struct httpc *c = client(&(struct httpc_config){ .timeout_ms = 10000, .max_retries = 3 });
	struct httpc_req req = { .url = url_for(s, "http", "/hang"), .cancel = &stop };
	struct httpc_response r = { 0 };
	char err[256];
	int64_t t0 = now_ms(), dt;

	(void)state;
	pthread_create(&k.t, NULL, cancel_main, &k);
	assert_int_equal(httpc_do(c, &req, &r, err, sizeof(err)), HTTPC_ECANCELED);
	dt = now_ms() - t0;
	pthread_join(k.t, NULL);
	assert_int_equal(r.attempts, 1);
	if (dt > 5000)
		fail_msg("cancel took %lld ms", (long long)dt);
	/* The client stays usable; the canceled connection was not reused. */
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/next"), NULL, NULL, 0,
				       NULL, 0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "/next");
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

/* ---- TLS ------------------------------------------------------------------------ */

struct tls_dir {
	char path[64];
};

static void make_cert(const struct tls_dir *d, const char *name, const char *san)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=lgtm-test -addext subjectAltName=%s "
		 "-keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1",
		 san, d->path, name, d->path, name);
	if (system(cmd) != 0)
		fail_msg("openssl req failed: %s", cmd);
}

static void tls_dir_new(struct tls_dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/test_httpclient.XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

static void tls_dir_free(struct tls_dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

static char *tls_file(const struct tls_dir *d, const char *name, const char *ext)
{
	static char files[4][128];
	static int next;
	char *p = files[next++ % 4];

	snprintf(p, 128, "%s/%s.%s", d->path, name, ext);
	return p;
}

static SSL_CTX *server_ctx(const struct tls_dir *d, const char *name, const char *client_ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, tls_file(d, name, "pem")), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, tls_file(d, name, "key"),
						     SSL_FILETYPE_PEM), 1);
	if (client_ca) {
		assert_int_equal(SSL_CTX_load_verify_locations(ctx, client_ca, NULL), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
}

static void test_tls_verification(void **state)
{
	struct tls_dir d;
	struct tsrv *s;
	struct httpc *c;
	struct httpc_response r = { 0 };
	char err[512];

	(void)state;
	tls_dir_new(&d);
	make_cert(&d, "server", "IP:127.0.0.1");
	s = srv_start_tls(server_ctx(&d, "server", NULL), END);

	/* On by default: a self-signed certificate is refused, and not retried. */
	c = client(&(struct httpc_config){ .max_retries = 2, .min_backoff_ms = 10 });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/t"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ETRANSPORT);
	assert_int_equal(r.attempts, 1);
	assert_non_null(strstr(err, "https://127.0.0.1:"));
	assert_non_null(strcasestr(err, "certificate"));
	assert_int_equal(srv_nrecs(s), 0);
	httpc_free(c);

	c = client(&(struct httpc_config){ .ca_file = tls_file(&d, "server", "pem") });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/t"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "/t");
	httpc_free(c);

	c = client(&(struct httpc_config){ .insecure_skip_verify = true });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/i"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "/i");
	httpc_free(c);
	assert_int_equal(srv_nrecs(s), 2);
	assert_true(s->tls_failures >= 1);
	httpc_response_free(&r);
	srv_stop(s);
	tls_dir_free(&d);
}

static void test_tls_server_name(void **state)
{
	struct tls_dir d;
	struct tsrv *s;
	struct httpc *c;
	struct httpc_response r = { 0 };
	char err[512], v[64], host[64];

	(void)state;
	tls_dir_new(&d);
	make_cert(&d, "named", "DNS:lgtm.test");
	s = srv_start_tls(server_ctx(&d, "named", NULL), END);
	c = client(&(struct httpc_config){ .ca_file = tls_file(&d, "named", "pem") });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/n"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ETRANSPORT);
	httpc_free(c);

	c = client(&(struct httpc_config){ .ca_file = tls_file(&d, "named", "pem"),
					   .server_name = "lgtm.test" });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/n"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "/n");
	assert_int_equal(srv_nrecs(s), 1);
	assert_string_equal(s->recs[0].sni, "lgtm.test");
	snprintf(host, sizeof(host), "127.0.0.1:%d", s->port);
	assert_string_equal(rec_header(&s->recs[0], "Host", v, sizeof(v)), host);
	srv_stop(s);

	/* Plain http has no TLS name to override. */
	s = srv_start(END);
	assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/p"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "/p");
	snprintf(host, sizeof(host), "127.0.0.1:%d", s->port);
	assert_string_equal(rec_header(&s->recs[0], "Host", v, sizeof(v)), host);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
	tls_dir_free(&d);
}

static void test_tls_client_cert(void **state)
{
	struct tls_dir d;
	struct tsrv *s;
	struct httpc *c;
	struct httpc_response r = { 0 };
	char err[512], ca[128], cert[128], key[128];

	(void)state;
	tls_dir_new(&d);
	make_cert(&d, "server", "IP:127.0.0.1");
	make_cert(&d, "client", "DNS:client.lgtm.test");
	snprintf(ca, sizeof(ca), "%s", tls_file(&d, "server", "pem"));
	snprintf(cert, sizeof(cert), "%s", tls_file(&d, "client", "pem"));
	snprintf(key, sizeof(key), "%s", tls_file(&d, "client", "key"));
	s = srv_start_tls(server_ctx(&d, "server", cert), END);

	c = client(&(struct httpc_config){ .ca_file = ca });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/m"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), HTTPC_ETRANSPORT);
	httpc_free(c);

	c = client(&(struct httpc_config){ .ca_file = ca, .cert_file = cert, .key_file = key });
	assert_int_equal(httpc_request(c, "GET", url_for(s, "https", "/m"), NULL, NULL, 0, NULL,
				       0, &r, err, sizeof(err)), 0);
	assert_string_equal(r.body.data, "/m");
	assert_int_equal(srv_nrecs(s), 1);
	assert_true(s->recs[0].peer_cert);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
	tls_dir_free(&d);
}

/* ---- concurrency and reuse ------------------------------------------------------ */

#define WORKERS 8
#define PER_WORKER 50

struct worker {
	struct httpc *c;
	struct tsrv *s;
	int id;
	int ok;
	pthread_t t;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct httpc_response r = { 0 };
	char path[64], err[256];

	for (int i = 0; i < PER_WORKER; i++) {
		snprintf(path, sizeof(path), "/w%d/r%d", w->id, i);
		if (httpc_request(w->c, i % 2 ? "POST" : "GET", url_for(w->s, "http", path),
				  "text/plain", i % 2 ? path : NULL, strlen(path), NULL, 0, &r,
				  err, sizeof(err)) == 0 &&
		    r.status == 200 && r.body.len == strlen(path) &&
		    !memcmp(r.body.data, path, r.body.len))
			w->ok++;
	}
	httpc_response_free(&r);
	return NULL;
}

static void test_concurrency(void **state)
{
	struct tsrv *s = srv_start(END);
	struct httpc *c = client(&(struct httpc_config){ 0 });
	struct worker w[WORKERS];

	(void)state;
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .c = c, .s = s, .id = i };
		assert_int_equal(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(w[i].t, NULL);
		assert_int_equal(w[i].ok, PER_WORKER);
	}
	assert_int_equal(srv_nrecs(s), WORKERS * PER_WORKER);
	/* Connections are pooled: at most one per thread in flight. */
	assert_in_range(s->accepted, 1, WORKERS);
	httpc_free(c);
	srv_stop(s);
}

static void test_connection_reuse(void **state)
{
	struct tsrv *s = srv_start(ACT_REPLY, R500, END);
	struct httpc *c = client(&(struct httpc_config){ .max_retries = 1, .min_backoff_ms = 10,
							 .max_idle_handles = 1 });
	struct httpc_response r = { 0 };
	char err[256];

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(httpc_request(c, "GET", url_for(s, "http", "/"), NULL, NULL, 0,
					       NULL, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(srv_nrecs(s), 6);
	assert_int_equal(s->accepted, 1);
	httpc_response_free(&r);
	httpc_free(c);
	srv_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_config_rejected),
		cmocka_unit_test(test_request_rejected),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_post_headers),
		cmocka_unit_test(test_bearer_and_url_credentials),
		cmocka_unit_test(test_large_body),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_decompress_response),
		SCENARIO(sc_retry_then_success),
		SCENARIO(sc_4xx_not_retried),
		SCENARIO(sc_429_retry_after),
		SCENARIO(sc_retry_after_capped),
		SCENARIO(sc_retries_exhausted),
		SCENARIO(sc_exhausted_message),
		SCENARIO(sc_timeout),
		SCENARIO(sc_dropped_connection),
		cmocka_unit_test(test_retry_after_parsed),
		cmocka_unit_test(test_max_response_bytes),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_cancel_during_backoff),
		cmocka_unit_test(test_cancel_during_transfer),
		cmocka_unit_test(test_tls_verification),
		cmocka_unit_test(test_tls_server_name),
		cmocka_unit_test(test_tls_client_cert),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_connection_reuse),
	};

	return cmocka_run_group_tests_name("httpclient", tests, NULL, NULL);
}
