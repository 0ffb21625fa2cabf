/*
 * Time for the queues: the monotonic clock for deadlines and backoff (immune to
 * clock steps), the wall clock only for sample timestamps. Condition variables are
 * bound to the monotonic clock so a timed wait means the same on every thread.
 */
#include <time.h>

#include "rwsend/internal.h"

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rws_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t rws_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rws_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int rws_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t at;
	int rc;

	if (pthread_condattr_init(&at))
		return -1;
	rc = pthread_condattr_setclock(&at, CLOCK_MONOTONIC) || pthread_cond_init(cv, &at) ? -1 : 0;
	pthread_condattr_destroy(&at);
	return rc;
}

void rws_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cv, mu, &ts);
}
