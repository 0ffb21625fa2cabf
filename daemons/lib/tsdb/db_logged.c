/*
 * The "series record is in the WAL" bitmap (see db_internal.h). A batch that uses a
 * series the WAL has no record of yet logs the record itself, so a sample in the log
 * never depends on another batch's success.
 */
#include <stdlib.h>

#include "tsdb/db_internal.h"

bool tsdb_logged_test(struct tsdb_logged *l, uint64_t ref)
{
	uint64_t *page;

	if (ref / LOGGED_PAGE_BITS >= LOGGED_PAGES)
		return false;
	page = atomic_load_explicit(&l->pages[ref / LOGGED_PAGE_BITS], memory_order_acquire);
	if (!page)
		return false;
	ref %= LOGGED_PAGE_BITS;
	return (__atomic_load_n(&page[ref / 64], __ATOMIC_RELAXED) >> (ref % 64)) & 1;
}

int tsdb_logged_mark(struct tsdb_logged *l, uint64_t ref)
{
	_Atomic(uint64_t *) *slot;
	uint64_t *page, *fresh;

	if (ref / LOGGED_PAGE_BITS >= LOGGED_PAGES)
		return -1;
	slot = &l->pages[ref / LOGGED_PAGE_BITS];
	page = atomic_load_explicit(slot, memory_order_acquire);
	if (!page) {
		fresh = calloc(LOGGED_PAGE_BITS / 64, sizeof(uint64_t));
		if (!fresh)
			return -1;
		page = NULL;
		if (atomic_compare_exchange_strong(slot, &page, fresh))
			page = fresh;
		else
			free(fresh); /* another thread installed it first */
	}
	ref %= LOGGED_PAGE_BITS;
	__atomic_fetch_or(&page[ref / 64], 1ull << (ref % 64), __ATOMIC_RELAXED);
	return 0;
}

void tsdb_logged_free(struct tsdb_logged *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < LOGGED_PAGES; i++)
		free(atomic_load(&l->pages[i]));
	free(l);
}
