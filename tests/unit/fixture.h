/*
 * Golden payloads for the unit tests: tests/fixtures/proto/<name> (see generate.mjs
 * there for who made which), or $LGTM_FIXTURES/proto/<name>. Include after cmocka.h
 * and buf/buf.h; tests run from the repository root.
 */
#ifndef LGTM_TEST_FIXTURE_H
#define LGTM_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

static void read_fixture(const char *name, struct buf *out)
{
	const char *root = getenv("LGTM_FIXTURES");
	char path[512], chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proto/%s", root ? root : "tests/fixtures", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s (run from the repo root or set LGTM_FIXTURES)",
			 path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	assert_false(out->oom);
	assert_true(out->len > 0);
}

#endif
