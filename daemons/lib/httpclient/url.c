/*
 * URL handling we cannot leave to curl: a credential-free form for error messages
 * and logs, and the rewrite that makes the TLS name differ from the address.
 * Redaction is plain string work so that it also covers URLs curl rejected.
 */
#include "httpclient/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void httpc_url_redact(const char *url, char *out, size_t outlen)
{
	const char *auth, *end, *at = NULL;

	if (!url)
		url = "";
	auth = strstr(url, "://");
	if (!auth) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		snprintf(out, outlen, "%s", url);
	else
		snprintf(out, outlen, "%.*s%s", (int)(auth - url), url, at + 1);
}

/*
 * For https URLs: new_url has server_name as its host (curl sends it as SNI and
 * verifies the certificate against it), connect_to sends the TCP connection to the
 * original host, and host_line keeps the original authority in the Host header.
 * Other schemes leave all three NULL. new_url is released with cu->free().
 */
int httpc_url_sni(const struct dynload_curl *cu, const char *url, const char *server_name,
		  char **new_url, char **connect_to, char **host_line)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *explicit_port = NULL;
	CURLU *u = cu->url();
	int rc = HTTPC_EINVAL;

	*new_url = *connect_to = *host_line = NULL;
	if (!u)
		return HTTPC_ENOMEM;
	if (cu->url_set(u, CURLUPART_URL, url, 0) ||
	    cu->url_get(u, CURLUPART_SCHEME, &scheme, 0))
		goto fail;
	if (strcasecmp(scheme, "https")) {
		rc = 0;
		goto out;
	}
	if (cu->url_get(u, CURLUPART_HOST, &host, 0) ||
	    cu->url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT))
		goto fail;
	cu->url_get(u, CURLUPART_PORT, &explicit_port, 0);
	if (cu->url_set(u, CURLUPART_HOST, server_name, 0) ||
	    cu->url_get(u, CURLUPART_URL, new_url, 0))
		goto fail;
	rc = HTTPC_ENOMEM;
	if (asprintf(connect_to, "%s:%s:%s:%s", server_name, port, host, port) < 0) {
		*connect_to = NULL;
		goto fail;
	}
	if (asprintf(host_line, "Host: %s%s%s", host, explicit_port ? ":" : "",
		     explicit_port ? explicit_port : "") < 0) {
		*host_line = NULL;
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	cu->free(*new_url);
	free(*connect_to);
	*new_url = *connect_to = NULL;
out:
	cu->free(scheme);
	cu->free(host);
	cu->free(port);
	cu->free(explicit_port);
	cu->url_cleanup(u);
	return rc;
}
