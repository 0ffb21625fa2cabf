/*
 * kB of this process's resident set in file mappings whose path contains `part`
 * (/proc/self/smaps): what the memory tests use to see whether a block's files or the
 * chunk store's scratch file stay resident. Include after cmocka.h.
 */
#ifndef LGTM_TEST_MAPPED_RSS_H
#define LGTM_TEST_MAPPED_RSS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static long mapped_rss_kb(const char *part)
{
	char line[1024];
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi;
	bool in = false;
	long kb = 0, v;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = strstr(line, part) != NULL;
		else if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
			kb += v;
	}
	fclose(f);
	return kb;
}

#endif
