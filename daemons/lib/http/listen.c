/*
 * Listen addresses in Go's net.Listen form: "host:port", "[v6addr]:port", or ":port"
 * for every interface. Hosts are usually literals; names go through getaddrinfo and
 * the first address wins, as a single listener can bind only one.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, unsigned short *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (unsigned short)v;
	return 0;
}

static int resolve(const char *host, struct http_listen *l, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0 || !res) {
		snprintf(err, errlen, "listen address host %s: %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(&l->ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int http_listen_parse(const char *addr, struct http_listen *l, char *err, size_t errlen)
{
	char host[256];
	const char *colon, *h = addr;
	size_t hlen;

	memset(l, 0, sizeof(*l));
	colon = addr ? strrchr(addr, ':') : NULL;
	if (!colon || parse_port(colon + 1, &l->port) < 0)
		goto bad;
	hlen = (size_t)(colon - addr);
	if (hlen == 0) {
		l->any = true;
		return 0;
	}
	if (addr[0] == '[') {
		if (hlen < 2 || addr[hlen - 1] != ']')
			goto bad;
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (resolve(host, l, err, errlen) < 0)
		return -1;
	l->v6 = l->ss.ss_family == AF_INET6;
	if (l->v6)
		((struct sockaddr_in6 *)&l->ss)->sin6_port = htons(l->port);
	else
		((struct sockaddr_in *)&l->ss)->sin_port = htons(l->port);
	return 0;
bad:
	snprintf(err, errlen, "invalid listen address \"%s\" (want host:port, [v6]:port or :port)",
		 addr ? addr : "");
	return -1;
}
