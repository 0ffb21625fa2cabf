/*
 * dynload: both tables bind and their entries are the real functions (a URL round
 * trip through libcurl, MD5 and base64 through libcrypto against known vectors);
 * one load per process; a missing library or symbol is an error that names the
 * soname, and no partial table is handed out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dynload/dynload.h"

static void test_curl_table(void **state)
{
	const struct dynload_curl *cu = NULL, *again = NULL;
	char err[256] = "", *host = NULL, *url = NULL;
	CURLU *u;

	(void)state;
	assert_int_equal(dynload_curl(&cu, err, sizeof(err)), 0);
	assert_non_null(cu);
	assert_string_equal(err, "");
	assert_int_equal(dynload_curl(&again, err, sizeof(err)), 0);
	assert_ptr_equal(cu, again);
	u = cu->url();
	assert_non_null(u);
	assert_int_equal(cu->url_set(u, CURLUPART_URL, "https://a:b@example.org:8443/x?y", 0), CURLUE_OK);
	assert_int_equal(cu->url_get(u, CURLUPART_HOST, &host, 0), CURLUE_OK);
	assert_string_equal(host, "example.org");
	assert_int_equal(cu->url_set(u, CURLUPART_PASSWORD, NULL, 0), CURLUE_OK);
	assert_int_equal(cu->url_get(u, CURLUPART_URL, &url, 0), CURLUE_OK);
	assert_string_equal(url, "https://a@example.org:8443/x?y");
	assert_int_equal(cu->url_set(u, CURLUPART_URL, "http://[::1/", 0) != CURLUE_OK, 1);
	assert_non_null(cu->url_strerror(CURLUE_MALFORMED_INPUT));
	assert_int_equal(cu->getdate("Sun, 06 Nov 1994 08:49:37 GMT", NULL), 784111777);
	cu->free(host);
	cu->free(url);
	cu->url_cleanup(u);
}

static void test_crypto_table(void **state)
{
	static const unsigned char md5_abc[16] = {
		0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
		0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72,
	};
	const struct dynload_crypto *cr = NULL, *again = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], b64[32];
	unsigned int mdlen = 0;
	char err[256] = "";

	(void)state;
	assert_int_equal(dynload_crypto(&cr, err, sizeof(err)), 0);
	assert_non_null(cr);
	assert_int_equal(dynload_crypto(&again, err, sizeof(err)), 0);
	assert_ptr_equal(cr, again);
	assert_int_equal(cr->digest("abc", 3, md, &mdlen, cr->md5(), NULL), 1);
	assert_int_equal(mdlen, 16);
	assert_memory_equal(md, md5_abc, 16);
	assert_int_equal(cr->encode_block(b64, (const unsigned char *)"user:pass", 9), 12);
	assert_string_equal((char *)b64, "dXNlcjpwYXNz");
}

static void test_missing_library(void **state)
{
	static const struct dynload_sym syms[] = { { "f", 0 } };
	void *table[1] = { (void *)&table };
	char err[256] = "";

	(void)state;
	assert_int_equal(dynload_resolve("liblgtm-no-such-library.so.9", syms, 1, table, err,
					 sizeof(err)), -1);
	assert_true(strncmp(err, "liblgtm-no-such-library.so.9 not loadable: ", 43) == 0);
	assert_true(strlen(err) > 43); /* the loader's reason follows */
	/* A short buffer still gets a terminated prefix. */
	assert_int_equal(dynload_resolve("liblgtm-no-such-library.so.9", syms, 1, table, err, 8), -1);
	assert_string_equal(err, "liblgtm");
}

static void test_missing_symbol(void **state)
{
	static const struct dynload_sym syms[] = {
		{ "curl_url", 0 },
		{ "curl_lgtm_no_such_function", sizeof(void *) },
	};
	void *table[2] = { NULL, NULL };
	char err[256] = "";

	(void)state;
	assert_int_equal(dynload_resolve(DYNLOAD_CURL_SONAME, syms, 2, table, err, sizeof(err)), -1);
	assert_string_equal(err, "libcurl.so.4 not loadable: no symbol curl_lgtm_no_such_function");
	assert_int_equal(dynload_resolve(DYNLOAD_CURL_SONAME, syms, 1, table, err, sizeof(err)), 0);
	assert_non_null(table[0]);
	assert_null(table[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curl_table),
		cmocka_unit_test(test_crypto_table),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_missing_symbol),
	};

	return cmocka_run_group_tests_name("dynload", tests, NULL, NULL);
}
