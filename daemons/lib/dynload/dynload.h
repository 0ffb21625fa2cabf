/*
 * dynload: libcurl and libcrypto bound on first use (dlopen + dlsym) instead of at
 * start-up.
 *
 * Why: every library a daemon names in DT_NEEDED is mapped, relocated and
 * constructed at start whether the configuration uses it or not. libcurl's tree
 * (Kerberos, LDAP, SASL, RTMP, SSH, libpsl, libidn2, libssl, libcrypto) measured
 * 7.2 MiB of RSS in an empty program and libcrypto alone 2.8 MiB; lgtm-metrics'
 * ready-state RSS went from 10.3 to 7.2 MiB when neither was loaded at start
 * (docs/dependencies.md, "How the daemons link"). A server that only receives never
 * scrapes or sends, so it never pays for them. The daemons therefore must not link
 * -lcurl or -lcrypto; they call both through the tables below. Types and constants
 * still come from <curl/curl.h> and <openssl/evp.h>, and every table entry has the
 * type of the function it stands for, so a prototype mismatch fails to compile.
 *
 * Contract:
 * - dynload_curl() / dynload_crypto() load the library (by its soname) and resolve
 *   every symbol of its table exactly once per process (pthread_once), on the first
 *   call; later calls return the same table, or the same error. A library is never
 *   unloaded. Once *out is set the table is immutable: use it from any thread.
 * - Failure (library missing, a symbol missing) returns -1 with err naming the
 *   soname and the loader's reason: "libcurl.so.4 not loadable: ...". Nothing is
 *   half-bound: no table is handed out unless every symbol resolved.
 * - libcurl's own global initialisation is not done here (httpclient owns it).
 * - dynload_resolve() is the generic step both use; exposed for the unit test.
 */
#ifndef LGTM_DYNLOAD_H
#define LGTM_DYNLOAD_H

#include <stddef.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define DYNLOAD_CURL_SONAME "libcurl.so.4"
#define DYNLOAD_CRYPTO_SONAME "libcrypto.so.3"

/* X(field, symbol): every libcurl function the daemons call. */
#define DYNLOAD_CURL_FUNCS(X) \
	X(global_init, curl_global_init) \
	X(easy_init, curl_easy_init) \
	X(easy_cleanup, curl_easy_cleanup) \
	X(easy_reset, curl_easy_reset) \
	X(easy_setopt, curl_easy_setopt) \
	X(easy_getinfo, curl_easy_getinfo) \
	X(easy_strerror, curl_easy_strerror) \
	X(multi_init, curl_multi_init) \
	X(multi_cleanup, curl_multi_cleanup) \
	X(multi_add_handle, curl_multi_add_handle) \
	X(multi_remove_handle, curl_multi_remove_handle) \
	X(multi_perform, curl_multi_perform) \
	X(multi_poll, curl_multi_poll) \
	X(multi_info_read, curl_multi_info_read) \
	X(multi_strerror, curl_multi_strerror) \
	X(share_init, curl_share_init) \
	X(share_setopt, curl_share_setopt) \
	X(share_cleanup, curl_share_cleanup) \
	X(slist_append, curl_slist_append) \
	X(slist_free_all, curl_slist_free_all) \
	X(url, curl_url) \
	X(url_cleanup, curl_url_cleanup) \
	X(url_set, curl_url_set) \
	X(url_get, curl_url_get) \
	X(url_strerror, curl_url_strerror) \
	X(getdate, curl_getdate) \
	X(free, curl_free)

/* X(field, symbol): every libcrypto function the daemons call. */
#define DYNLOAD_CRYPTO_FUNCS(X) \
	X(digest, EVP_Digest) \
	X(md5, EVP_md5) \
	X(encode_block, EVP_EncodeBlock)

#define DYNLOAD_FIELD(field, sym) __typeof__(sym) *field;

struct dynload_curl {
	DYNLOAD_CURL_FUNCS(DYNLOAD_FIELD)
};

struct dynload_crypto {
	DYNLOAD_CRYPTO_FUNCS(DYNLOAD_FIELD)
};

/* One table entry: the symbol's name and where its pointer goes in the table. */
struct dynload_sym {
	const char *name;
	size_t offset;
};

int dynload_curl(const struct dynload_curl **out, char *err, size_t errlen);
int dynload_crypto(const struct dynload_crypto **out, char *err, size_t errlen);

/*
 * dlopen(soname) and fill table + syms[i].offset with each symbol's address. On
 * failure the library is closed again, -1 returned with err set as above, and the
 * table's contents are unspecified.
 */
int dynload_resolve(const char *soname, const struct dynload_sym *syms, size_t nsyms, void *table,
		    char *err, size_t errlen);

#endif
