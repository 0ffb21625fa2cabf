/*
 * Prometheus durations (model.ParseDuration / Duration.String). Parsing works in
 * nanoseconds like upstream so the same inputs overflow ("300y" is refused there,
 * so it is refused here); the result is whole milliseconds because no unit is finer.
 * A unit is every non-digit run after a number, so "1hm" is an unknown unit, not
 * "1h" followed by junk.
 */
#include "config/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_DAY (24 * 3600 * 1000LL)

static const struct {
	const char *name;
	int64_t ms;
	bool exact; /* formatted only when it divides the remainder exactly */
} units[] = {
	{ "y", 365 * MS_PER_DAY, true },
	{ "w", 7 * MS_PER_DAY, true },
	{ "d", MS_PER_DAY, false },
	{ "h", 3600 * 1000LL, false },
	{ "m", 60 * 1000LL, false },
	{ "s", 1000LL, false },
	{ "ms", 1LL, false },
};

#define NUNITS (sizeof(units) / sizeof(units[0]))
#define NS_PER_MS 1000000ULL

/* Index of the unit spelled by the non-digit run at *s, advancing *s; -1 if none. */
static int scan_unit(const char **s)
{
	size_t n = strcspn(*s, "0123456789");
	size_t i;

	for (i = 0; n && i < NUNITS; i++) {
		if (strlen(units[i].name) == n && !memcmp(*s, units[i].name, n)) {
			*s += n;
			return (int)i;
		}
	}
	return -1;
}

int cfg_parse_duration(const char *s, int64_t *ms)
{
	uint64_t v, mult, ns = 0;
	int u, last = -1;

	if (!s || !*s)
		return -1;
	if (!strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	while (*s) {
		if (cfg_scan_u64(&s, &v))
			return -1;
		u = scan_unit(&s);
		if (u <= last)
			return -1;
		last = u;
		mult = (uint64_t)units[u].ms * NS_PER_MS;
		if (v > (1ULL << 63) / mult)
			return -1;
		/* Each term is at most 2^63 and ns at most 2^63-1: the sum cannot wrap. */
		ns += v * mult;
		if (ns > (uint64_t)INT64_MAX)
			return -1;
	}
	*ms = (int64_t)(ns / NS_PER_MS);
	return 0;
}

void cfg_format_duration(int64_t ms, char *out, size_t cap)
{
	uint64_t left = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	size_t i, len = 0;
	int n;

	if (!cap)
		return;
	out[0] = '\0';
	if (!ms) {
		snprintf(out, cap, "0s");
		return;
	}
	if (ms < 0)
		len = (size_t)snprintf(out, cap, "-");
	for (i = 0; i < NUNITS; i++) {
		uint64_t mult = (uint64_t)units[i].ms, v = left / mult;

		if (!v || (units[i].exact && left % mult))
			continue;
		n = snprintf(out + len, cap - len, "%" PRIu64 "%s", v, units[i].name);
		if (n < 0 || (size_t)n >= cap - len) {
			/* Whole units or none: "1h3" would read as a different duration. */
			out[len] = '\0';
			return;
		}
		len += (size_t)n;
		left -= v * mult;
	}
}
