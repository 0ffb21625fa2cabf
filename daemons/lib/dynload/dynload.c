/*
 * The loader behind dynload.h. Each library is loaded under its own pthread_once;
 * the outcome (table or error text) is kept in statics written only inside that
 * once routine, which is what makes reading them afterwards race-free. The symbol
 * lists come from the same X-macros that declare the tables, so a field cannot be
 * added without being resolved.
 */
#include "dynload/dynload.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CURL_SYM(field, sym) { #sym, offsetof(struct dynload_curl, field) },
#define CRYPTO_SYM(field, sym) { #sym, offsetof(struct dynload_crypto, field) },

static const struct dynload_sym curl_syms[] = { DYNLOAD_CURL_FUNCS(CURL_SYM) };
static const struct dynload_sym crypto_syms[] = { DYNLOAD_CRYPTO_FUNCS(CRYPTO_SYM) };

/* The outcome of one library's once routine. */
struct lib {
	pthread_once_t once;
	int rc;
	char err[256];
};

static struct dynload_curl curl_table;
static struct dynload_crypto crypto_table;
static struct lib curl_lib = { .once = PTHREAD_ONCE_INIT, .rc = -1 };
static struct lib crypto_lib = { .once = PTHREAD_ONCE_INIT, .rc = -1 };

int dynload_resolve(const char *soname, const struct dynload_sym *syms, size_t nsyms, void *table,
		    char *err, size_t errlen)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(err, errlen, "%s not loadable: %s", soname, dlerror());
		return -1;
	}
	for (size_t i = 0; i < nsyms; i++) {
		void *p = dlsym(h, syms[i].name);

		if (!p) {
			snprintf(err, errlen, "%s not loadable: no symbol %s", soname, syms[i].name);
			dlclose(h);
			return -1;
		}
		/* POSIX guarantees data and function pointers convert through void *. */
		memcpy((char *)table + syms[i].offset, &p, sizeof(p));
	}
	return 0;
}

static void curl_load(void)
{
	curl_lib.rc = dynload_resolve(DYNLOAD_CURL_SONAME, curl_syms,
				      sizeof(curl_syms) / sizeof(curl_syms[0]), &curl_table,
				      curl_lib.err, sizeof(curl_lib.err));
}

static void crypto_load(void)
{
	crypto_lib.rc = dynload_resolve(DYNLOAD_CRYPTO_SONAME, crypto_syms,
					sizeof(crypto_syms) / sizeof(crypto_syms[0]), &crypto_table,
					crypto_lib.err, sizeof(crypto_lib.err));
}

static int outcome(const struct lib *l, char *err, size_t errlen)
{
	if (l->rc < 0)
		snprintf(err, errlen, "%s", l->err);
	return l->rc;
}

int dynload_curl(const struct dynload_curl **out, char *err, size_t errlen)
{
	pthread_once(&curl_lib.once, curl_load);
	*out = curl_lib.rc == 0 ? &curl_table : NULL;
	return outcome(&curl_lib, err, errlen);
}

int dynload_crypto(const struct dynload_crypto **out, char *err, size_t errlen)
{
	pthread_once(&crypto_lib.once, crypto_load);
	*out = crypto_lib.rc == 0 ? &crypto_table : NULL;
	return outcome(&crypto_lib, err, errlen);
}
