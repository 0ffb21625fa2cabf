/*
 * Growable arrays: the one doubling-realloc helper the tsdb files share.
 */
#include <stdlib.h>

#include "tsdb/internal.h"

int tsdb_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (c > SIZE_MAX / elem)
		return -1;
	np = realloc(*p, c * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = c;
	return 0;
}
