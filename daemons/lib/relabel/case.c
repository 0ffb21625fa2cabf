/*
 * lowercase / uppercase as Go's strings.ToLower / ToUpper: Unicode simple case
 * mapping rune by rune, with invalid UTF-8 bytes becoming U+FFFD. ASCII takes a
 * fast path; other runes use towlower/towupper of the C.UTF-8 locale (glibc's
 * Unicode tables), opened once. Without that locale only ASCII changes case.
 */
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#include "relabel/internal.h"

static locale_t utf8_locale;
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;

static void open_locale(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decode one rune; invalid input gives U+FFFD and consumes one byte. */
static uint32_t decode(const unsigned char *s, size_t n, size_t *used)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] < 0xc0 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf8 ? 4 : 0;
	uint32_t cp;

	*used = 1;
	if (len == 0 || len > n || !labels_valid_utf8((const char *)s, len))
		return 0xfffd;
	if (len == 1)
		return s[0];
	cp = s[0] & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
	for (size_t k = 1; k < len; k++)
		cp = (cp << 6) | (s[k] & 0x3f);
	*used = len;
	return cp;
}

static size_t encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t map_rune(uint32_t cp, bool upper)
{
	wint_t r;

	if (cp < 0x80) {
		if (upper && cp >= 'a' && cp <= 'z')
			return cp - 32;
		if (!upper && cp >= 'A' && cp <= 'Z')
			return cp + 32;
		return cp;
	}
	if (!utf8_locale)
		return cp;
	r = upper ? towupper_l((wint_t)cp, utf8_locale) : towlower_l((wint_t)cp, utf8_locale);
	/* A mapping must stay a valid scalar value to be re-encoded. */
	return r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff) ? cp : (uint32_t)r;
}

const char *relabel_case(struct arena *a, const char *s, size_t n, bool upper)
{
	/* Case mappings change a rune's length by at most one byte, and invalid bytes
	 * (1) become U+FFFD (3). */
	char *out = arena_alloc(a, 3 * n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	pthread_once(&locale_once, open_locale);
	for (size_t i = 0; i < n;) {
		size_t used;
		uint32_t cp = decode((const unsigned char *)s + i, n - i, &used);
		o += encode(map_rune(cp, upper), out + o);
		i += used;
	}
	out[o] = '\0';
	return out;
}
