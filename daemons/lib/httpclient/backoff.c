/*
 * Waiting between attempts. The delay is jittered so that many senders failing
 * together do not come back together; arc4random is thread-safe and needs no
 * seeding. The wait is sliced so a cancel flag (an atomic the owner flips, which
 * cannot wake a condition variable) is noticed within HTTPC_CANCEL_POLL_MS.
 */
#include "httpclient/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

unsigned httpc_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned retry)
{
	uint64_t ceiling = min_ms ? min_ms : 1;

	if (max_ms < min_ms)
		max_ms = min_ms;
	for (unsigned i = 0; i < retry && ceiling < max_ms; i++)
		ceiling *= 2;
	if (ceiling > max_ms)
		ceiling = max_ms;
	if (ceiling <= min_ms)
		return min_ms;
	return min_ms + arc4random_uniform((uint32_t)(ceiling - min_ms) + 1);
}

bool httpc_canceled(const struct httpc *c, const struct httpc_req *req)
{
	return (c->cancel && atomic_load(c->cancel)) ||
	       (req && req->cancel && atomic_load(req->cancel));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int httpc_sleep(const struct httpc *c, const struct httpc_req *req, unsigned ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		int64_t left = end - now_ms();
		struct timespec ts;

		if (httpc_canceled(c, req))
			return HTTPC_ECANCELED;
		if (left <= 0)
			return 0;
		if (left > HTTPC_CANCEL_POLL_MS)
			left = HTTPC_CANCEL_POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
}
