/*
 * dskit's `server:` block, the one Loki, Tempo and Mimir configs open with. Only
 * the keys we act on are declared; any other key is an error naming it, so an
 * operator learns at --check-config time what is not supported.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

static int check_port(const void *v, char *err, size_t errlen)
{
	int64_t port = *(const int64_t *)v;

	if (port < 0 || port > 65535) {
		snprintf(err, errlen, "port %lld out of range 0-65535", (long long)port);
		return -1;
	}
	return 0;
}

#define F(key, type, member, check) \
	{ key, type, offsetof(struct runtime_server_config, member), NULL, 0, 0, check }
static const struct cfg_field server_fields[] = {
	F("http_listen_address", CFG_STRING, http_listen_address, NULL),
	F("http_listen_port", CFG_INT, http_listen_port, check_port),
	{ 0 },
};
#undef F

const struct cfg_schema runtime_server_schema = { "server", server_fields, NULL };

const char *runtime_server_listen(const struct runtime_server_config *s, struct arena *a)
{
	const char *host = s->http_listen_address ? s->http_listen_address : "";

	if (s->http_listen_port == 0)
		return NULL;
	/* An IPv6 literal needs brackets before the port. */
	if (host[0] && host[0] != '[' && strchr(host, ':'))
		return arena_sprintf(a, "[%s]:%lld", host, (long long)s->http_listen_port);
	return arena_sprintf(a, "%s:%lld", host, (long long)s->http_listen_port);
}
