/*
 * Environment references in scalars: `${VAR}`, `${VAR:-default}`, otelcol's
 * `${env:VAR}` (also with a default), and `$$` for a literal `$`. A `$` followed by
 * anything else stays as it is, so prices and regex anchors survive untouched.
 *
 * `:-` follows the shell: the default applies when the variable is unset or empty.
 * A default may itself hold references (`${A:-${B}}`), so the closing brace is found
 * by counting nested `${`; the nesting is bounded to keep recursion small. Values
 * from the environment are inserted as they are, never expanded again.
 */
#include "config/config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf/buf.h"

#define MAX_NEST 8
#define MAX_NAME 255

static int expand(struct buf *out, const char *s, size_t len, int nest, char *err,
		  size_t errlen);

/* Index of the `}` closing a reference whose body starts at `i`, or `len`. */
static size_t closing_brace(const char *s, size_t len, size_t i)
{
	int depth = 1;

	while (i < len) {
		if (s[i] == '$' && i + 1 < len && (s[i + 1] == '$' || s[i + 1] == '{')) {
			depth += s[i + 1] == '{';
			i += 2;
			continue;
		}
		if (s[i] == '}' && --depth == 0)
			return i;
		i++;
	}
	return len;
}

static bool name_char(char c, bool first)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (!first && c >= '0' && c <= '9');
}

/* One reference body (between `${` and `}`). */
static int reference(struct buf *out, const char *r, size_t n, int nest, char *err,
		     size_t errlen)
{
	const char *body = r, *val;
	char name[MAX_NAME + 1];
	size_t i = 0, whole = n;

	if (n >= 4 && !memcmp(r, "env:", 4)) {
		r += 4;
		n -= 4;
	}
	while (i < n && name_char(r[i], i == 0))
		i++;
	if (!i || i > MAX_NAME || (i < n && (n - i < 2 || memcmp(r + i, ":-", 2))))
		goto bad;
	memcpy(name, r, i);
	name[i] = '\0';
	val = getenv(name);
	if (val && *val) {
		buf_puts(out, val);
		return 0;
	}
	if (i == n)
		return 0;
	if (nest >= MAX_NEST) {
		snprintf(err, errlen, "references nested deeper than %d", MAX_NEST);
		return -1;
	}
	return expand(out, r + i + 2, n - i - 2, nest + 1, err, errlen);
bad:
	snprintf(err, errlen, "invalid variable reference \"${%.*s}\"",
		 (int)(whole > 200 ? 200 : whole), body);
	return -1;
}

static int expand(struct buf *out, const char *s, size_t len, int nest, char *err,
		  size_t errlen)
{
	size_t i = 0, run, end;

	while (i < len) {
		run = i;
		while (run < len && s[run] != '$')
			run++;
		buf_append(out, s + i, run - i);
		i = run;
		if (i == len)
			break;
		if (i + 1 < len && s[i + 1] == '$') {
			buf_putc(out, '$');
			i += 2;
			continue;
		}
		if (i + 1 >= len || s[i + 1] != '{') {
			buf_putc(out, '$');
			i++;
			continue;
		}
		end = closing_brace(s, len, i + 2);
		if (end == len) {
			snprintf(err, errlen, "unterminated \"${\" reference");
			return -1;
		}
		if (reference(out, s + i + 2, end - i - 2, nest, err, errlen))
			return -1;
		i = end + 1;
	}
	return 0;
}

char *cfg_expand_env(struct arena *a, const char *s, char *err, size_t errlen)
{
	struct buf b = { 0 };
	char *res = NULL;

	if (expand(&b, s, strlen(s), 0, err, errlen))
		goto fail;
	if (b.oom)
		goto oom;
	res = arena_strndup(a, b.len ? b.data : "", b.len);
	if (!res)
		goto oom;
	buf_free(&b);
	return res;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	buf_free(&b);
	return NULL;
}
