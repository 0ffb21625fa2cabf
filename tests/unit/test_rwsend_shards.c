/*
 * The remote_write shard computation on its own (rwsend/reshard.c): Prometheus'
 * EWMA rate, calculateDesiredShards and shouldReshard, with the figures worked out
 * by hand. The threads that act on the result are tested end to end in
 * test_rwsend.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "rwsend/internal.h"

/* Steady state: 1000 samples/s in and out, nothing dropped, nothing behind, each
 * sample taking `per_sample` seconds to send. */
static struct rws_shard_calc steady(int shards, double per_sample)
{
	return (struct rws_shard_calc){
		.in_rate = 1000,
		.out_rate = 1000,
		.out_seconds_rate = 1000 * per_sample,
		.highest_in_s = 5000,
		.highest_sent_s = 5000,
		.shards = shards,
		.min_shards = 1,
		.max_shards = 200,
	};
}

static void test_no_estimate_without_sends(void **state)
{
	struct rws_shard_calc c = steady(4, 0.01);
	double d;

	c.out_rate = 0;
	assert_int_equal(rws_desired_shards(&c, &d), 4);
	assert_true(isnan(d));
	c.out_rate = -1; /* never happens; still no estimate */
	assert_int_equal(rws_desired_shards(&c, &d), 4);
}

static void test_grows_to_the_work(void **state)
{
	/* 9.5 ms per sample at 1000/s keeps 9.5 shards busy: rounded up. */
	struct rws_shard_calc c = steady(1, 0.0095);
	double d;

	assert_int_equal(rws_desired_shards(&c, &d), 10);
	assert_float_equal(d, 9.5, 1e-9);
	c = steady(1, 0.0102);
	assert_int_equal(rws_desired_shards(&c, &d), 11);
}

static void test_tolerance_band(void **state)
{
	double d;
	/* From 10 shards the band is [7, 13] after rounding up. */
	struct rws_shard_calc c = steady(10, 0.0129); /* 12.9 -> 13: inside */

	assert_int_equal(rws_desired_shards(&c, &d), 10);
	c = steady(10, 0.0131); /* 13.1 -> 14 */
	assert_int_equal(rws_desired_shards(&c, &d), 14);
	c = steady(10, 0.0062); /* 6.2 -> 7: inside */
	assert_int_equal(rws_desired_shards(&c, &d), 10);
	c = steady(10, 0.0059); /* 5.9 -> 6 */
	assert_int_equal(rws_desired_shards(&c, &d), 6);
	assert_float_equal(d, 5.9, 1e-9);
}

static void test_clamped(void **state)
{
	struct rws_shard_calc c = steady(10, 1.0); /* wants 1000 */
	double d;

	c.max_shards = 50;
	assert_int_equal(rws_desired_shards(&c, &d), 50);
	assert_float_equal(d, 1000.0, 1e-9); /* the gauge shows the raw wish */
	c = steady(10, 0.0001);                /* wants 0.1 -> 1 */
	c.min_shards = 3;
	assert_int_equal(rws_desired_shards(&c, &d), 3);
	/* Nothing coming in at all: down to the minimum. */
	c = steady(10, 0.01);
	c.in_rate = 0;
	c.min_shards = 2;
	assert_int_equal(rws_desired_shards(&c, &d), 2);
	assert_float_equal(d, 0.0, 1e-9);
}

static void test_backlog_catch_up(void **state)
{
	/* 90 s behind at 1000/s: 90000 pending, 5 % of it per second more to send. */
	struct rws_shard_calc c = steady(1, 0.001);
	double d;

	c.highest_sent_s = c.highest_in_s - 90;
	assert_int_equal(rws_desired_shards(&c, &d), 6);
	assert_float_equal(d, 0.001 * (1000 + 0.05 * 90000), 1e-9);
}

static void test_dropped_share(void **state)
{
	/* Three quarters of what comes in is dropped by relabeling: a quarter of the
	 * incoming rate is work, and the backlog is scaled the same way. */
	struct rws_shard_calc c = steady(1, 0.01);
	double d;

	c.out_rate = 250;
	c.out_seconds_rate = 250 * 0.01;
	c.dropped_rate = 750;
	c.highest_sent_s = c.highest_in_s - 8;
	assert_int_equal(rws_desired_shards(&c, &d), 4);
	assert_float_equal(d, 0.01 * (250 + 0.05 * 8 * 250), 1e-9);
}

static void test_no_downsharding_when_behind(void **state)
{
	struct rws_shard_calc c = steady(20, 0.001); /* wants ~1 */
	double d;

	c.highest_sent_s = c.highest_in_s - 11; /* 11 s behind: keep */
	assert_int_equal(rws_desired_shards(&c, &d), 20);
	c.highest_sent_s = c.highest_in_s - 10; /* 10 s is not "more than ten" */
	assert_int_equal(rws_desired_shards(&c, &d), 2);
	/* Growing is allowed however far behind. */
	c = steady(1, 0.01);
	c.highest_sent_s = c.highest_in_s - 3600;
	assert_int_equal(rws_desired_shards(&c, &d), 200);
}

static void test_ewma(void **state)
{
	struct rws_ewma e = { 0 };

	/* No events: not started, rate 0 (the first non-empty tick sets it outright). */
	rws_ewma_tick(&e, 0, 10);
	assert_false(e.init);
	assert_float_equal(e.rate, 0, 0);
	rws_ewma_tick(&e, 1000, 10); /* 1000 events in 10 s */
	assert_true(e.init);
	assert_float_equal(e.rate, 100, 1e-9);
	rws_ewma_tick(&e, 1000 + 2000, 10); /* instant 200: 100 + 0.2 * 100 */
	assert_float_equal(e.rate, 120, 1e-9);
	rws_ewma_tick(&e, 3000, 10); /* instant 0: 120 - 0.2 * 120 */
	assert_float_equal(e.rate, 96, 1e-9);
	/* A counter that went back (a replaced source) counts as no events. */
	rws_ewma_tick(&e, 10, 10);
	assert_float_equal(e.rate, 76.8, 1e-9);
	rws_ewma_tick(&e, 20, 0.5); /* 10 events in half a second */
	assert_float_equal(e.rate, 76.8 + 0.2 * (20 - 76.8), 1e-9);
}

static void test_should_reshard(void **state)
{
	int64_t now = 1700000000000;

	assert_false(rws_should_reshard(3, 3, now, now, 5000));
	assert_true(rws_should_reshard(4, 3, now - 1000, now, 5000));
	assert_true(rws_should_reshard(1, 3, now - 10000, now, 5000)); /* exactly 2 x 5 s */
	assert_false(rws_should_reshard(4, 3, now - 10001, now, 5000));
	assert_false(rws_should_reshard(4, 3, 0, now, 5000)); /* never sent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_estimate_without_sends),
		cmocka_unit_test(test_grows_to_the_work),
		cmocka_unit_test(test_tolerance_band),
		cmocka_unit_test(test_clamped),
		cmocka_unit_test(test_backlog_catch_up),
		cmocka_unit_test(test_dropped_share),
		cmocka_unit_test(test_no_downsharding_when_behind),
		cmocka_unit_test(test_ewma),
		cmocka_unit_test(test_should_reshard),
	};

	return cmocka_run_group_tests_name("rwsend_shards", tests, NULL, NULL);
}
