/*
 * Byte sizes as Prometheus' units.ParseBase2Bytes reads them: "KB" and "KiB" are both
 * 1024, because that is what existing Prometheus/Loki configs mean by "512MB". Only
 * one integer and one unit: fractions ("1.5GB") and blanks are refused, as they are
 * easy to misread in a config and nothing upstream writes them.
 */
#include "config/internal.h"

#include <string.h>

static const struct {
	const char *name;
	unsigned shift;
} units[] = {
	{ "", 0 }, { "B", 0 },
	{ "KB", 10 }, { "KiB", 10 },
	{ "MB", 20 }, { "MiB", 20 },
	{ "GB", 30 }, { "GiB", 30 },
	{ "TB", 40 }, { "TiB", 40 },
	{ "PB", 50 }, { "PiB", 50 },
};

int cfg_parse_bytes(const char *s, uint64_t *bytes)
{
	uint64_t v;
	size_t i;

	if (!s || cfg_scan_u64(&s, &v))
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].name))
			continue;
		if (v > UINT64_MAX >> units[i].shift)
			return -1;
		*bytes = v << units[i].shift;
		return 0;
	}
	return -1;
}
