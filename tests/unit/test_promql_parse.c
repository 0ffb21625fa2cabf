/*
 * promql parser: upstream's parse and printer test cases (inputs and the String()
 * or error text Prometheus gives for them), precedence and AST shape, feature
 * gates, limits, the literal conversions, the function table, duration
 * evaluation, and the lezer parse corpus (embedded, and from
 * ../shared/conformance/promql-parse when that directory is present).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "promql/promql.h"

/* lezer-promql's test queries (Prometheus web/ui, Apache-2.0), as in
 * ../shared/conformance/promql-parse/: all must parse, or all must fail. */
static const char *const corpus_valid[] = {
	"0.123e3",
	"\"test string\"",
	"'test string'",
	"`test string`",
	"\"test\\n\\nstring\"",
	"1 + 2",
	"sum by(job, mode) (rate(node_cpu_seconds_total[1m])) / on(job) group_left sum by(job)(rate(node_cpu_seconds_total[1m]))",
	"sum by(\"job\", mode) (test_metric) / on(\"job\") group_left sum by(\"job\")(test_metric)",
	"SuM BY(testlabel1) (testmetric1) / IGNOring(testlabel2) AVG withOUT(testlabel3) (testmetric2)",
	"metric1 and metric2 AND metric3 unless metric4 UNLESS metric5 or metric6 OR metric7",
	"foo[1y2w3d4h5m6s7ms]",
	"foo[step()]",
	"foo[11s+10s-5*2^2]",
	"foo[-(10s-5s)+20s]",
	"foo[-2^2]",
	"rate(foo[min_of(5m, range())])",
	"avg_over_time(foo[max_of(step(), 1m)])",
	"foo[1h:step()]",
	"foo{range=\"5m\"}",
	"some_range_metric[5m]",
	"foo offset step()",
	"foo offset range()",
	"foo offset (1h / 2)",
	"foo offset ((2 ^ 3) * 1m)",
	"foo offset 5s-8",
	"rate",
	"metric_name{a=\"1\",b!=\"2\",c=~\"3\",d!~\"4\"}",
	"metric_name > bool 1",
	"metric1 + on(foo) group_left(bar, baz) metric2",
	"last_over_time(data[1m])",
	"first_over_time(data[1m])",
	"sgn(data)",
	"clamp(data,0,1)",
	"start",
	"end",
	"start()",
	"end()",
	"range()",
	"step()",
	"foo @ start()",
	"foo @ end()",
	"foo @ 1234",
	"foo @ start(                 )",
	"rate(process_cpu_seconds_total[1m]) and topk(7, rate(process_cpu_seconds_total[1h] @ 1234))",
	"foo @ - 1234",
	"foo @ + 1234",
	"infra",
	"nananere",
	"NaN",
	"nan",
	"Inf",
	"-Inf",
	"+Inf",
	"inf",
	"INF",
	"-42",
	"+42",
	"foo offset -5d",
	"foo offset - 5d",
	"foo offset 5d",
	"sum:my_metric_name:rate5m",
	"1 + foo atan2 bar",
	"{\"metric_name\"}",
	"{\"foo\"=\"bar\"}",
	"{\"metric_name\", \"foo\"=\"bar\"}",
	"increase(caddy_http_requests_total[5m] anchored)",
	"rate(caddy_http_requests_total[5m] smoothed)",
	"metric1 </ metric2",
	"metric1 >/ metric2",
};

static const char *const corpus_invalid[] = {
	"foo[1m2h]",
	"NaN{foo=\"bar\"}",
	"Inf{foo=\"bar\"}",
};

/* Upstream's accepted inputs and their String(); NULL means "prints as written". */
static const struct {
	const char *in, *out;
} ok_cases[] = {
	/* Number literals. */
	{ "1", NULL },
	{ "+Inf", NULL },
	{ "-Inf", NULL },
	{ ".5", "0.5" },
	{ "5.", "5" },
	{ "123.4567", NULL },
	{ "5e-3", "0.005" },
	{ "5e3", "5000" },
	{ "0xc", "12" },
	{ "0755", "493" },
	{ "+5.5e-3", "0.0055" },
	{ "-0755", "-493" },
	{ "1_000", "1000" },
	{ "NaN", NULL },
	{ "nan", "NaN" },
	{ "inf", "+Inf" },
	{ "1048576", NULL },
	{ "1e21", "1000000000000000000000" },
	{ "1e-7", "0.0000001" },
	{ "1h", NULL },
	{ "1h + 1", NULL },
	/* Scalar arithmetic, precedence and associativity. */
	{ "1 + 1", NULL },
	{ "1 - 1", NULL },
	{ "1 * 1", NULL },
	{ "1 % 1", NULL },
	{ "1 / 1", NULL },
	{ "1 == bool 1", NULL },
	{ "1 != bool 1", NULL },
	{ "1 > bool 1", NULL },
	{ "1 >= bool 1", NULL },
	{ "1 < bool 1", NULL },
	{ "1 <= bool 1", NULL },
	{ "-1^2", "-1 ^ 2" },
	{ "-1*2", "-1 * 2" },
	{ "-1+2", "-1 + 2" },
	{ "-1^-2", "-1 ^ -2" },
	{ "+1 + -2 * 1", "1 + -2 * 1" },
	{ "1 + 2/(3*1)", "1 + 2 / (3 * 1)" },
	{ "1 < bool 2 - 1 * 2", NULL },
	{ "-some_metric", NULL },
	{ "+some_metric", NULL },
	{ " +some_metric", "+some_metric" },
	{ " +{\"some_metric\"}", "+{__name__=\"some_metric\"}" },
	{ "2 ^ 3 ^ 2", NULL },
	{ "1 + foo atan2 bar", NULL },
	/* Vector operations and matching. */
	{ "offset{step=\"1s\"}[5m]", NULL },
	{ "step{offset=\"1s\"}[5m]", NULL },
	{ "anchored{job=\"test\"}", NULL },
	{ "smoothed{job=\"test\"}", NULL },
	{ "foo * bar", NULL },
	{ "foo * sum", NULL },
	{ "foo == 1", NULL },
	{ "foo == bool 1", NULL },
	{ "2.5 / bar", NULL },
	{ "foo and bar", NULL },
	{ "foo or bar", NULL },
	{ "foo unless bar", NULL },
	{ "foo + bar or bla and blub", NULL },
	{ "foo and bar unless baz or qux", NULL },
	{ "bar + on(foo) bla / on(baz, buz) group_right(test) blub",
	  "bar + on (foo) bla / on (baz, buz) group_right (test) blub" },
	{ "foo * on(test,blub) bar", "foo * on (test, blub) bar" },
	{ "foo * on(test,blub) group_left bar", "foo * on (test, blub) group_left () bar" },
	{ "foo and on(test,blub) bar", "foo and on (test, blub) bar" },
	{ "foo and on() bar", "foo and on () bar" },
	{ "foo and ignoring(test,blub) bar", "foo and ignoring (test, blub) bar" },
	{ "foo and ignoring() bar", "foo and bar" },
	{ "foo unless on(bar) baz", "foo unless on (bar) baz" },
	{ "foo / on(test,blub) group_left(bar) bar", "foo / on (test, blub) group_left (bar) bar" },
	{ "foo / ignoring(test,blub) group_left(blub) bar",
	  "foo / ignoring (test, blub) group_left (blub) bar" },
	{ "foo - on(test,blub) group_right(bar,foo) bar",
	  "foo - on (test, blub) group_right (bar, foo) bar" },
	{ "a - on() c", "a - on () c" },
	{ "a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c" },
	{ "a - on(b) group_left c", "a - on (b) group_left () c" },
	{ "a - on(b) group_left() (c)", "a - on (b) group_left () (c)" },
	{ "a - ignoring(b) c", "a - ignoring (b) c" },
	{ "a - ignoring() c", "a - c" },
	{ "a - ignoring() group_left(__name__) c", "a - ignoring () group_left (__name__) c" },
	{ "up > bool 0", NULL },
	{ "sum by(\"job\", mode) (test_metric) / on(\"job\") group_left sum by(\"job\")(test_metric)",
	  "sum by (job, mode) (test_metric) / on (job) group_left () sum by (job) (test_metric)" },
	{ "a + on(\"foo.bar\") b", "a + on (\"foo.bar\") b" },
	/* Fill modifiers and trim operators. */
	{ "a + fill(-23) b", "a + fill (-23) b" },
	{ "a + fill_left(-23) b", "a + fill_left (-23) b" },
	{ "a + fill_right(42) b", "a + fill_right (42) b" },
	{ "a + fill_left(-23) fill_right(42) b", "a + fill_left (-23) fill_right (42) b" },
	{ "a + fill_right(42) fill_left(-23) b", "a + fill_left (-23) fill_right (42) b" },
	{ "a + on(b) group_left fill(-23) c", "a + on (b) group_left () fill (-23) c" },
	{ "a == bool fill(1e6) b", "a == bool fill (1e+06) b" },
	{ "a + fill(0.00001) b", "a + fill (1e-05) b" },
	{ "a + fill(123456) b", "a + fill (123456) b" },
	{ "a + fill(Inf) b", "a + fill (Inf) b" },
	{ "a + fill(-Inf) b", "a + fill (-Inf) b" },
	{ "a + fill(NaN) b", "a + fill (NaN) b" },
	{ "fill + fill(0) other", "fill + fill (0) other" },
	{ "other + fill_left(0) fill_left", "other + fill_left (0) fill_left" },
	{ "h </ 1.5", NULL },
	{ "h >/ -Inf", NULL },
	{ "h </ 1 + 2", NULL },
	/* Selectors, offsets, @. */
	{ "foo", NULL },
	{ "min", NULL },
	{ "foo offset 5m", NULL },
	{ "foo offset -7m", NULL },
	{ "foo offset +(5)", "foo offset (5)" },
	{ "foo offset -(5)", NULL },
	{ "foo offset (5)", NULL },
	{ "foo[(5s)]", NULL },
	{ "foo OFFSET 1h30m", "foo offset 1h30m" },
	{ "foo OFFSET 1m30ms", "foo offset 1m30ms" },
	{ "foo @ 1603774568", "foo @ 1603774568.000" },
	{ "foo @ -100", "foo @ -100.000" },
	{ "foo @ .3", "foo @ 0.300" },
	{ "foo @ 3.", "foo @ 3.000" },
	{ "foo @ 3.33", "foo @ 3.330" },
	{ "foo @ 3.3333", "foo @ 3.333" },
	{ "foo @ 3.3335", "foo @ 3.334" },
	{ "foo @ 3e2", "foo @ 300.000" },
	{ "foo @ 3e-1", "foo @ 0.300" },
	{ "foo @ 0xA", "foo @ 10.000" },
	{ "foo @ -3.3e1", "foo @ -33.000" },
	{ "foo @ - 1234", "foo @ -1234.000" },
	{ "metric @ 100s", "metric @ 100.000" },
	{ "metric @ 1m40s", "metric @ 100.000" },
	{ "metric @ 100 offset 50", "metric @ 100.000 offset 50s" },
	{ "metric offset 50 @ 100", "metric @ 100.000 offset 50s" },
	{ "metric @ 0 offset -50", "metric @ 0.000 offset -50s" },
	{ "metric offset -50 @ 0", "metric @ 0.000 offset -50s" },
	{ "foo:bar{a=\"bc\"}", NULL },
	{ "{\"foo\"}", "{__name__=\"foo\"}" },
	{ "{'foo\\'bar', 'a\\\\dos\\\\path'='boo\\\\urns'}",
	  "{\"a\\\\dos\\\\path\"=\"boo\\\\urns\",__name__=\"foo'bar\"}" },
	{ "{'foo\\'bar', `a\\dos\\path`=\"boo\"}", "{\"a\\\\dos\\\\path\"=\"boo\",__name__=\"foo'bar\"}" },
	{ "{\"foo\", a=\"bc\"}", "{__name__=\"foo\",a=\"bc\"}" },
	{ "foo{NaN='bc'}", "foo{NaN=\"bc\"}" },
	{ "foo{bar='}'}", "foo{bar=\"}\"}" },
	{ "foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\"}",
	  "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}" },
	{ "foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\",}",
	  "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}" },
	{ "{a=\"b\", foo!=\"bar\", \"foo\", test=~\"test\", bar!~\"baz\"}",
	  "{__name__=\"foo\",a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}" },
	{ "{__name__=~\"bar\", __name__!~\"baz\"}", "{__name__!~\"baz\",__name__=~\"bar\"}" },
	{ "{__name__=\"bar\", __name__=\"baz\"}", "{__name__=\"bar\",__name__=\"baz\"}" },
	{ "{\"bar\", __name__=\"baz\"}", "{__name__=\"bar\",__name__=\"baz\"}" },
	{ "{__name__=\"a\"}", NULL },
	{ "{__name__=\"\",a=\"x\"}", NULL },
	{ "{\"a.b\"=\"c\"}", NULL },
	{ "{\"0\"=\"1\"}", NULL },
	{ "{\"_0\"=\"1\"}", "{_0=\"1\"}" },
	{ "{\"\"=\"0\"}", NULL },
	{ "{``=\"0\"}", "{\"\"=\"0\"}" },
	{ "a{b!=\"c\"}[1m]", NULL },
	{ "a{b=~\"c\"}[1m]", NULL },
	{ "a{b!~\"c\"}[1m]", NULL },
	{ "a @ 10", "a @ 10.000" },
	{ "a[1m] @ 10", "a[1m] @ 10.000" },
	{ "a @ start()", NULL },
	{ "a @ end()", NULL },
	{ "a[1m] @ start()", NULL },
	{ "a[1m] @ end()", NULL },
	{ "a anchored", NULL },
	{ "a[5m] anchored", NULL },
	{ "a{b=\"c\"}[5m] anchored offset 1m", NULL },
	{ "a{b=\"c\"}[5m] anchored @ start() offset 1m", NULL },
	{ "a{b=\"c\"}[5m] smoothed @ start() offset 1m", NULL },
	{ "a smoothed", NULL },
	{ "a offset 1m anchored", "a anchored offset 1m" },
	/* Ranges and subqueries. */
	{ "test[1000ms]", "test[1s]" },
	{ "test[1001ms]", "test[1s1ms]" },
	{ "test[5s]", NULL },
	{ "foo[5m30s]", NULL },
	{ "test[5h] OFFSET 5m", "test[5h] offset 5m" },
	{ "test[5d] OFFSET 10s", "test[5d] offset 10s" },
	{ "test[5w] offset 2w", NULL },
	{ "test{a=\"b\"}[5y] OFFSET 3d", "test{a=\"b\"}[5y] offset 3d" },
	{ "test{a=\"b\"}[5m] OFFSET 3600", "test{a=\"b\"}[5m] offset 1h" },
	{ "foo[3ms] @ 2.345", NULL },
	{ "foo[4s180ms] @ 2.345", NULL },
	{ "foo[4.18] @ 2.345", "foo[4s180ms] @ 2.345" },
	{ "foo[4.018] @ 2.345", "foo[4s18ms] @ 2.345" },
	{ "test[5]", "test[5s]" },
	{ "some_metric[5m] @ 1m", "some_metric[5m] @ 60.000" },
	{ "foo[1y2w3d4h5m6s7ms]", "foo[382d4h5m6s7ms]" },
	{ "foo{bar=\"baz\"}[10m:6s]", NULL },
	{ "foo{bar=\"baz\"}[10m5s:1h6ms]", NULL },
	{ "foo[10m:]", NULL },
	{ "foo[10m::1m]", NULL },
	{ "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:5s])", NULL },
	{ "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:])[4m:3s]", NULL },
	{ "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]", NULL },
	{ "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ 1603775091)[4m:3s]",
	  "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ 1603775091.000)[4m:3s]" },
	{ "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509)[4m:3s]",
	  "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509.000)[4m:3s]" },
	{ "sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]",
	  "sum without (and, by, avg, count, alert, annotations) (some_metric)[30m:10s]" },
	{ "some_metric OFFSET 1m [10m:5s]", "some_metric offset 1m[10m:5s]" },
	{ "some_metric @ 123 [10m:5s]", "some_metric @ 123.000[10m:5s]" },
	{ "some_metric @ 123 offset 1m [10m:5s]", "some_metric @ 123.000 offset 1m[10m:5s]" },
	{ "some_metric offset 1m @ 123 [10m:5s]", "some_metric @ 123.000 offset 1m[10m:5s]" },
	{ "some_metric[10m:5s] offset 1m @ 123", "some_metric[10m:5s] @ 123.000 offset 1m" },
	{ "(foo + bar{nm=\"val\"})[5m:]", NULL },
	{ "(foo + bar{nm=\"val\"})[5m:] offset 10m", NULL },
	{ "(foo + bar{nm=\"val\"} @ 1234)[5m:] @ 1603775019",
	  "(foo + bar{nm=\"val\"} @ 1234.000)[5m:] @ 1603775019.000" },
	{ "sum_over_time(metric{job=\"1\"}[100:1] offset 20 @ 100)",
	  "sum_over_time(metric{job=\"1\"}[1m40s:1s] @ 100.000 offset 20s)" },
	{ "foo @ start()", NULL },
	{ "foo @ end()", NULL },
	{ "test[5y] @ start()", NULL },
	{ "test[5y] @ end()", NULL },
	{ "foo[10m:6s] @ start()", NULL },
	{ "foo[10m:6s] @ end()", NULL },
	{ "start()", NULL },
	{ "end()", NULL },
	{ "start", NULL },
	{ "end", NULL },
	{ "start{end=\"foo\"}", NULL },
	{ "end{start=\"foo\"}", NULL },
	{ "foo unless on(start) bar", "foo unless on (start) bar" },
	{ "foo unless on(end) bar", "foo unless on (end) bar" },
	/* Aggregations. */
	{ "sum by (foo)(some_metric)", "sum by (foo) (some_metric)" },
	{ "sum by (anchored)(some_metric)", "sum by (anchored) (some_metric)" },
	{ "sum by (\"foo bar\")({\"some.metric\"})", "sum by (\"foo bar\") ({__name__=\"some.metric\"})" },
	{ "sum by (\"foo\", bar, 'baz')({\"some.metric\"})",
	  "sum by (foo, bar, baz) ({__name__=\"some.metric\"})" },
	{ "avg by (foo)(some_metric)", "avg by (foo) (some_metric)" },
	{ "max by (foo)(some_metric)", "max by (foo) (some_metric)" },
	{ "sum without (foo) (some_metric)", NULL },
	{ "sum (some_metric) without (foo)", "sum without (foo) (some_metric)" },
	{ "stddev(some_metric)", NULL },
	{ "stdvar by (foo)(some_metric)", "stdvar by (foo) (some_metric)" },
	{ "sum by ()(some_metric)", "sum(some_metric)" },
	{ "sum without() (task:errors:rate10s{job=\"s\"})",
	  "sum without () (task:errors:rate10s{job=\"s\"})" },
	{ "sum by (foo,bar,)(some_metric)", "sum by (foo, bar) (some_metric)" },
	{ "sum by (foo,)(some_metric)", "sum by (foo) (some_metric)" },
	{ "topk(5, some_metric)", NULL },
	{ "count_values(\"value\", some_metric)", NULL },
	{ "sum without(and, by, avg, count, alert, annotations)(some_metric)",
	  "sum without (and, by, avg, count, alert, annotations) (some_metric)" },
	{ "quantile(0.9, x)", NULL },
	{ "limitk(2, x)", NULL },
	{ "limit_ratio(0.5, x)", NULL },
	{ "group(x)", NULL },
	{ "SuM BY(testlabel1) (testmetric1) / IGNOring(testlabel2) AVG withOUT(testlabel3) (testmetric2)",
	  "sum by (testlabel1) (testmetric1) / ignoring (testlabel2) avg without (testlabel3) (testmetric2)" },
	{ "sum(sum)", NULL },
	{ "a + sum", NULL },
	{ "(sum(foo))", NULL },
	{ "(sum(foo) )", "(sum(foo))" },
	{ "(sum(foo) by (bar))", "(sum by (bar) (foo))" },
	{ "sum by (job)(rate(http_requests_total[30m]))", "sum by (job) (rate(http_requests_total[30m]))" },
	/* Function calls. */
	{ "time()", NULL },
	{ "floor(some_metric{foo!=\"bar\"})", NULL },
	{ "rate(some_metric[5m])", NULL },
	{ "round(some_metric)", NULL },
	{ "round(some_metric, 5)", NULL },
	{ "hour()", NULL },
	{ "label_join(x, \"a\", \",\", \"b\", \"c\", \"d\")", NULL },
	{ "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")", NULL },
	{ "sort_by_label(x, \"a\", \"b\")", NULL },
	{ "histogram_quantiles(h, \"q\", 0.5, 0.9)", NULL },
	{ "double_exponential_smoothing(x[5m], 0.5, 0.5)", NULL },
	{ "predict_linear(foo[1h], 3000)", NULL },
	{ "info(rate(http_request_counter_total{}[5m]))",
	  "info(rate(http_request_counter_total[5m]))" },
	{ "info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\", bar=\"baz\"})",
	  "info(http_request_counter_total{namespace=\"zzz\"}, {bar=\"baz\",foo=\"bar\"})" },
	{ "min_of(3, 5)", NULL },
	{ "max_of(NaN, 3)", NULL },
	{ "vector(step())", NULL },
	{ "start_timestamp(x)", NULL },
	/* Strings. */
	{ "\"double-quoted string \\\" with escaped quote\"", NULL },
	{ "'single-quoted string \\' with escaped quote'", "\"single-quoted string ' with escaped quote\"" },
	{ "`backtick-quoted string`", "\"backtick-quoted string\"" },
	{ "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - \\xFF\\377\\u1234\\U00010111\\U0001011111\xe2\x98\xba\"",
	  "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - \\xff\\xff\xe1\x88\xb4\xf0\x90\x84\x91\xf0\x90\x84\x91" "11\xe2\x98\xba\"" },
	{ "'\\a\\b\\f\\n\\r\\t\\v\\\\\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111\xe2\x98\xba'",
	  "\"\\a\\b\\f\\n\\r\\t\\v\\\\' - \\xff\\xff\xe1\x88\xb4\xf0\x90\x84\x91\xf0\x90\x84\x91" "11\xe2\x98\xba\"" },
	{ "`\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111\xe2\x98\xba`",
	  "\"\\\\a\\\\b\\\\f\\\\n\\\\r\\\\t\\\\v\\\\\\\\\\\\\\\"\\\\' - \\\\xFF\\\\377\\\\u1234\\\\U00010111\\\\U0001011111\xe2\x98\xba\"" },
	{ "\"\\u00a0\\u200b\\x00\\x7f\"", NULL },
	/* Duration expressions. */
	{ "foo[11s+10s-5*2^2]", "foo[11s + 10s - 5 * 2 ^ 2]" },
	{ "foo[-(10s-5s)+20s]", "foo[-(10s - 5s) + 20s]" },
	{ "foo[-10s+15s]", "foo[-10s + 15s]" },
	{ "foo[step()]", NULL },
	{ "foo[  -  step  (  )  ]", "foo[-step()]" },
	{ "foo[   step  (  )  ]", "foo[step()]" },
	{ "foo[-step()]", NULL },
	{ "foo[(step())]", NULL },
	{ "foo[-(step())]", NULL },
	{ "foo offset step()", NULL },
	{ "foo offset -step()", NULL },
	{ "foo offset (step())", NULL },
	{ "foo offset -(step())", NULL },
	{ "foo offset +(5*2)", "foo offset (5 * 2)" },
	{ "foo[max_of(step(),5s)]", "foo[max_of(step(), 5s)]" },
	{ "foo offset max_of(step(),5s)", "foo offset max_of(step(), 5s)" },
	{ "foo offset -min_of(5s,step()+8s)", "foo offset -min_of(5s, step() + 8s)" },
	{ "foo offset +min_of(10s, 20s)", "foo offset min_of(10s, 20s)" },
	{ "foo offset -min_of(10s, +max_of(step() ^ 2, 2))", "foo offset -min_of(10s, max_of(step() ^ 2, 2))" },
	{ "foo[200-min_of(-step()^+step(),1)]", "foo[200 - min_of(-step() ^ step(), 1)]" },
	{ "foo[range()]", NULL },
	{ "foo[2m/range()]", "foo[2m / range()]" },
	{ "foo[-range()]", NULL },
	{ "foo offset range()", NULL },
	{ "foo offset -range()", NULL },
	{ "foo[max_of(range(),5s)]", "foo[max_of(range(), 5s)]" },
	{ "foo[4s+4s:1s*2] offset (5s-8)", "foo[4s + 4s:1s * 2] offset (5s - 8)" },
	{ "foo offset 5s-8", "foo offset 5s - 8" },
	{ "rate(foo[2m+2m])", "rate(foo[2m + 2m])" },
	{ "foo offset -1^1", "foo offset -1s ^ 1" },
	{ "foo offset -(1^2)", "foo offset -(1 ^ 2)" },
	{ "foo offset (-1^2)", "foo offset (-1 ^ 2)" },
	{ "foo[-2^2]", "foo[-2 ^ 2]" },
	{ "foo[0+-2^2]", "foo[0 + -2 ^ 2]" },
	{ "foo[1+(STep()-5)*2]", "foo[1 + (step() - 5) * 2]" },
	{ "foo offset STEP()", "foo offset step()" },
	{ "foo offset (1h) + 5", "foo offset (1h) + 5" },
	/* Comments and whitespace. */
	{ "foo # a comment\n + bar", "foo + bar" },
	{ "sum by (a) # c\n (x)", "sum by (a) (x)" },
	{ "foo{a=\"b\", # c\n c=\"d\"}", "foo{a=\"b\",c=\"d\"}" },
};

/* Upstream's rejected inputs and its error text (the first error). */
static const struct {
	const char *in, *err;
} err_cases[] = {
	{ "", "unknown position: parse error: no expression found in input" },
	{ "# just a comment\n\n", "1:1: parse error: no expression found in input" },
	{ "1+", "1:3: parse error: unexpected end of input" },
	{ ".", "1:1: parse error: unexpected character: '.'" },
	{ "2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\"" },
	{ "100..4", "1:1: parse error: bad number or duration syntax: \"100..\"" },
	{ "0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\"" },
	{ "0x1e", "1:1: parse error: bad number or duration syntax: \"0x1e\"" },
	{ "0x1p4", "1:1: parse error: bad number or duration syntax: \"0x1\"" },
	{ "1 /", "1:4: parse error: unexpected end of input" },
	{ "*1", "1:1: parse error: unexpected <op:*>" },
	{ "(1))", "1:5: parse error: unexpected right parenthesis ')'" },
	{ "((1)", "1:5: parse error: unclosed left parenthesis" },
	{ "(", "1:2: parse error: unclosed left parenthesis" },
	{ "1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression" },
	{ "1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier" },
	{ "1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression" },
	{ "1 unless 1", "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression" },
	{ "1 !~ 1", "1:3: parse error: unexpected character after '!': '~'" },
	{ "1 =~ 1", "1:3: parse error: unexpected character after '=': '~'" },
	{ "-\"string\"", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"" },
	{ "-test[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"" },
	{ "*test", "1:1: parse error: unexpected <op:*>" },
	{ "@@", "1:1: parse error: unexpected <op:@>" },
	{ "1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery" },
	{ "foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times" },
	{ "a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>" },
	{ "foo and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression" },
	{ "1 and foo", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression" },
	{ "foo or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression" },
	{ "foo unless 1", "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression" },
	{ "1 or on(bar) foo", "1:1: parse error: vector matching only allowed between instant vectors" },
	{ "foo == on(bar) 10", "1:1: parse error: vector matching only allowed between instant vectors" },
	{ "foo + group_left(baz) bar", "1:7: parse error: unexpected <group_left>" },
	{ "foo and on(bar) group_left(baz) bar", "1:1: parse error: no grouping allowed for \"and\" operation" },
	{ "foo or on(bar) group_right(baz) bar", "1:1: parse error: no grouping allowed for \"or\" operation" },
	{ "foo unless on(bar) group_left(baz) bar", "1:1: parse error: no grouping allowed for \"unless\" operation" },
	{ "http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}",
	  "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once" },
	{ "foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators" },
	{ "foo + bool 10", "1:5: parse error: bool modifier can only be used on comparison operators" },
	{ "foo and bool 10", "1:5: parse error: bool modifier can only be used on comparison operators" },
	{ "foo @ +Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf" },
	{ "foo @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf" },
	{ "foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN" },
	{ "foo @ 9223372036854775808.000000", "1:1: parse error: timestamp out of bounds for @ modifier: 9223372036854775808.000000" },
	{ "foo @ -9223372036854775808.000000", "1:1: parse error: timestamp out of bounds for @ modifier: -9223372036854775808.000000" },
	{ "{", "1:2: parse error: unexpected end of input inside braces" },
	{ "}", "1:1: parse error: unexpected character: '}'" },
	{ "some{", "1:6: parse error: unexpected end of input inside braces" },
	{ "some}", "1:5: parse error: unexpected character: '}'" },
	{ "some_metric{a=b}", "1:15: parse error: unexpected identifier \"b\" in label matching, expected string" },
	{ "some_metric{a:b=\"b\"}", "1:14: parse error: unexpected character inside braces: ':'" },
	{ "foo{a*\"b\"}", "1:6: parse error: unexpected character inside braces: '*'" },
	{ "foo{a>=\"b\"}", "1:6: parse error: unexpected character inside braces: '>'" },
	{ "some_metric{a=\"\xff\"}", "1:15: parse error: invalid UTF-8 rune" },
	{ "foo{gibberish}", "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator" },
	{ "foo{1}", "1:5: parse error: unexpected character inside braces: '1'" },
	{ "{}", "1:1: parse error: vector selector must contain at least one non-empty matcher" },
	{ "{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher" },
	{ "{x=~\".*\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher" },
	{ "{x!~\".+\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher" },
	{ "{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher" },
	{ "foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"" },
	{ "foo{__name__= =}", "1:15: parse error: unexpected \"=\" in label matching, expected string" },
	{ "foo{,}", "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\"" },
	{ "foo{__name__ == \"bar\"}", "1:15: parse error: unexpected \"=\" in label matching, expected string" },
	{ "foo{__name__=\"bar\" lol}", "1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or \"}\"" },
	{ "foo{\"a\"=}", "1:9: parse error: unexpected \"}\" in label matching, expected string" },
	{ "foo[5mm]", "1:5: parse error: bad number or duration syntax: \"5mm\"" },
	{ "foo[5m1]", "1:5: parse error: bad number or duration syntax: \"5m1\"" },
	{ "foo[5m:1m1]", "1:8: parse error: bad number or duration syntax: \"1m1\"" },
	{ "foo[5y1hs]", "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\"" },
	{ "foo[5m1h]", "1:5: parse error: not a valid duration string: \"5m1h\"" },
	{ "foo[5m1m]", "1:5: parse error: not a valid duration string: \"5m1m\"" },
	{ "foo[1m2h]", "1:5: parse error: not a valid duration string: \"1m2h\"" },
	{ "foo[0m]", "1:5: parse error: duration must be greater than 0" },
	{ "foo[\"5m\"]", "1:5: parse error: unexpected character in duration expression: '\"'" },
	{ "foo[]", "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()" },
	{ "foo[-1]", "1:5: parse error: duration must be greater than 0" },
	{ "some_metric[5m] OFFSET 1mm", "1:24: parse error: bad number or duration syntax: \"1mm\"" },
	{ "some_metric[5m] OFFSET", "1:23: parse error: unexpected end of input in offset, expected number, duration, step(), or range()" },
	{ "some_metric OFFSET 1m[5m]", "1:22: parse error: no offset modifiers allowed before range" },
	{ "some_metric[5m] @", "1:18: parse error: unexpected end of input in @, expected timestamp" },
	{ "some_metric @ 1234 [5m]", "1:20: parse error: no @ modifiers allowed before range" },
	{ "some_metric @ start() [5m]", "1:23: parse error: no @ modifiers allowed before range" },
	{ "some_metric @ end()[5m]", "1:20: parse error: no @ modifiers allowed before range" },
	{ "some_metric offset step()[5m]", "1:26: parse error: no offset modifiers allowed before range" },
	{ "(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors" },
	{ "sum by (\"foo)(some_metric{})", "1:9: parse error: unterminated quoted string" },
	{ "sum without(==)(some_metric)", "1:13: parse error: unexpected <op:==> in grouping opts, expected label" },
	{ "sum without(,)(some_metric)", "1:13: parse error: unexpected \",\" in grouping opts, expected label" },
	{ "sum without(foo,,)(some_metric)", "1:17: parse error: unexpected \",\" in grouping opts, expected label" },
	{ "sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\"" },
	{ "sum (some_metric) by test", "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\"" },
	{ "sum () by (test)", "1:1: parse error: no arguments for aggregate expression provided" },
	{ "MIN keep_common (some_metric)", "1:5: parse error: unexpected identifier \"keep_common\"" },
	{ "MIN (some_metric) keep_common", "1:19: parse error: unexpected identifier \"keep_common\"" },
	{ "sum (some_metric) without (test) by (test)", "1:34: parse error: unexpected <by>" },
	{ "sum without (test) (some_metric) by (test)", "1:34: parse error: unexpected <by>" },
	{ "topk(some_metric)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1" },
	{ "topk(some_metric,)", "1:17: parse error: trailing commas not allowed in function call args" },
	{ "topk(some_metric, other_metric)", "1:6: parse error: expected type scalar in aggregation parameter, got instant vector" },
	{ "count_values(5, other_metric)", "1:14: parse error: expected type string in aggregation parameter, got scalar" },
	{ "rate(some_metric[5m]) @ 1234", "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery" },
	{ "floor()", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0" },
	{ "floor(some_metric, other_metric)", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2" },
	{ "floor(some_metric, 1)", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2" },
	{ "floor(1)", "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar" },
	{ "hour(some_metric, some_metric, some_metric)", "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3" },
	{ "time(some_metric)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1" },
	{ "label_join(x, \"a\")", "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2" },
	{ "non_existent_function_far_bar()", "1:1: parse error: unknown function with name \"non_existent_function_far_bar\"" },
	{ "rate(some_metric)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector" },
	{ "label_replace(a, `b`, `c\xff`, `d`, `.*`)", "1:23: parse error: invalid UTF-8 rune" },
	{ "-=", "1:2: parse error: unexpected \"=\"" },
	{ "++-++-+-+-<", "1:11: parse error: unexpected <op:<>" },
	{ "e-+=/(0)", "1:4: parse error: unexpected \"=\"" },
	{ "a>b()", "1:3: parse error: unknown function with name \"b\"" },
	{ "rate(avg)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector" },
	{ "`\\``", "1:4: parse error: unterminated raw string" },
	{ "\"\\", "1:1: parse error: escape sequence not terminated" },
	{ "\"\\c\"", "1:1: parse error: unknown escape sequence U+0063 'c'" },
	{ "\"\\x.\"", "1:1: parse error: illegal character U+002E '.' in escape sequence" },
	{ "\"\\'\"", "1:1: parse error: unknown escape sequence U+0027 '''" },
	{ "\"\\uD800\"", "1:1: parse error: escape sequence is an invalid Unicode code point" },
	{ "\"abc\ndef\"", "1:1: parse error: unterminated quoted string" },
	{ "foo{bar=\"baz\"}[", "1:16: parse error: unexpected end of input in duration expression" },
	{ "test[5d] OFFSET 10s [10m:5s]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead" },
	{ "(foo + bar{nm=\"val\"})[5m:][10m:5s]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead" },
	{ "rate(food[1m])[1h] offset 1h", "1:15: parse error: ranges only allowed for vector selectors" },
	{ "rate(food[1m])[1h] @ 100", "1:15: parse error: ranges only allowed for vector selectors" },
	{ "info(rate(http_request_counter_total{}[5m]), target_info{foo=\"bar\"})", "1:46: parse error: expected label selectors only, got vector selector instead" },
	{ "info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\"} == 1)", "1:51: parse error: expected label selectors only" },
	{ "foo[step]", "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()" },
	{ "foo[step()/0d]", "1:11: parse error: division by zero" },
	{ "foo[5s/0d]", "1:7: parse error: division by zero" },
	{ "foo offset (4d/0)", "1:15: parse error: division by zero" },
	{ "foo[5s%0d]", "1:7: parse error: modulo by zero" },
	{ "foo offset 9.5e10", "1:12: parse error: duration out of range" },
	{ "foo[9.5e10]", "1:5: parse error: duration out of range" },
	{ "sum(", "1:5: parse error: unclosed left parenthesis" },
	{ "sum(rate(", "1:10: parse error: unclosed left parenthesis" },
	{ "foo[5s x 5s]", "1:8: parse error: unexpected character: 'x', expected ':'" },
	{ "foo[5s s 5s]", "1:8: parse error: unexpected character: 's', expected ':'" },
	{ "foo[5m", "1:7: parse error: unclosed left bracket" },
	{ "1[5m] smoothed", "1:2: parse error: ranges only allowed for vector selectors" },
	{ "1[5m] anchored", "1:2: parse error: ranges only allowed for vector selectors" },
	{ "NaN{foo=\"bar\"}", "1:4: parse error: unexpected \"{\"" },
	{ "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
	  "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\": value out of range" },
	/* Beyond upstream's table: the rest of the rules, in upstream's words. */
	{ "foo + \"a\"", "1:7: parse error: binary expression must contain only scalar and instant vector types" },
	{ "foo[5m] + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types" },
	{ "sum(foo[5m])", "1:5: parse error: expected type instant vector in aggregation expression, got range vector" },
	{ "foo[5m] anchored smoothed", "1:1: parse error: anchored and smoothed modifiers cannot be used together" },
	{ "foo[5m:1m] anchored", "1:1: parse error: anchored modifier is not supported for subqueries" },
	{ "sum(foo) smoothed", "1:1: parse error: smoothed modifier not implemented" },
	{ "1 + fill(0) foo", "1:1: parse error: filling in missing series only allowed between instant vectors" },
	{ "a and fill(0) b", "1:1: parse error: filling in missing series not allowed for set operators" },
	{ "foo </ bool 1", "1:5: parse error: bool modifier can only be used on comparison operators" },
	{ "foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times" },
	{ "foo[5m] @ start() @ end()", "1:1: parse error: @ <timestamp> may not be set multiple times" },
	{ "rate(x[5m]) offset 1m", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery" },
	{ "foo[5m:0s]", "1:8: parse error: duration must be greater than 0" },
	{ "foo[5m:1m:1m]", "1:10: parse error: unexpected colon ':'" },
	{ "foo[:5m]", "1:6: parse error: unexpected colon before duration in duration expression" },
	{ "foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors" },
	{ "sum by (foo:bar) (x)", "1:9: parse error: unexpected metric identifier \"foo:bar\" in grouping opts, expected label" },
	{ "sum by (\"\") (x)", "1:9: parse error: unexpected string \"\\\"\\\"\" in grouping opts, expected label" },
	{ "sum(x) foo", "1:8: parse error: unexpected identifier \"foo\"" },
	{ "sum by (a)", "1:11: parse error: unexpected end of input in aggregation" },
	{ "rate(x, )", "1:7: parse error: trailing commas not allowed in function call args" },
	{ "rate(x,, y)", "1:7: parse error: trailing commas not allowed in function call args" },
	{ "foo{a=~\"(\"}", NULL },
	{ "foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces" },
	{ "\"a\" \"b\"", "1:5: parse error: unexpected string \"\\\"b\\\"\"" },
	{ "foo 1234567890123", "1:5: parse error: unexpected number \"1234567890\"..." },
	{ "foo +\n  bar +\n  *", "3:3: parse error: unexpected <op:*>" },
	{ "foo\n{", "2:2: parse error: unexpected end of input inside braces" },
	{ "foo +\n\n bar baz", "3:6: parse error: unexpected identifier \"baz\"" },
	{ "foo \xc3\xa9", "1:5: parse error: unexpected character: '\xc3\xa9'" },
	{ "foo{a!b}", "1:6: parse error: unexpected character after '!' inside braces: 'b'" },
	{ "foo{{", "1:5: parse error: unexpected left brace '{'" },
	{ "foo]", "1:4: parse error: unexpected right bracket ']'" },
	{ "foo[5m[", "1:7: parse error: unexpected left bracket '['" },
	{ "foo[#]", "1:5: parse error: unexpected character in duration expression: '#'" },
	{ "foo[5m:x]", "1:8: parse error: unexpected character: 'x', expected ':'" },
	{ "foo[5m:\"a\"]", "1:8: parse error: unexpected string \"\\\"a\\\"\" in subquery selector, expected number, duration, step(), range(), or \"]\"" },
	{ "foo[5m 1m]", "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\"" },
	{ "foo[5m:1m 1m]", "1:11: parse error: unexpected duration \"1m\" in subquery selector, expected \"]\"" },
	{ "foo[step(]", "1:10: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()" },
	{ "foo offset foo", "1:12: parse error: unexpected identifier \"foo\" in offset, expected number, duration, step(), or range()" },
	{ "foo @ foo", "1:7: parse error: unexpected identifier \"foo\" in @, expected timestamp" },
	{ "foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp" },
	{ "foo + fill(a) bar", "1:12: parse error: unexpected identifier \"a\"" },
};

static struct promql_node *parse_all(struct arena *a, const char *q);

static void test_parse_ok(void **state)
{
	struct arena *a = arena_new(0);

	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const char *want = ok_cases[i].out ? ok_cases[i].out : ok_cases[i].in;
		struct buf b = { 0 }, b2 = { 0 };
		struct promql_node *n;

		arena_reset(a);
		n = parse_all(a, ok_cases[i].in);
		assert_int_not_equal(promql_node_type(n), PROMQL_TYPE_NONE);
		promql_format(n, &b);
		if (strcmp(b.data, want))
			fail_msg("%s: printed %s, want %s", ok_cases[i].in, b.data, want);
		/* The canonical text parses back to itself. */
		promql_format(parse_all(a, b.data), &b2);
		assert_string_equal(b2.data, b.data);
		buf_free(&b);
		buf_free(&b2);
	}
	arena_free(a);
}

static void test_parse_errors(void **state)
{
	struct promql_parse_opts all = PROMQL_PARSE_OPTS_ALL;
	struct arena *a = arena_new(0);
	char err[2048];

	assert_non_null(a);
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		struct promql_node *n = NULL;
		struct promql_parse_error pe;

		arena_reset(a);
		if (!promql_parse(a, err_cases[i].in, &all, &n, &pe, err, sizeof(err)))
			fail_msg("%s: parsed, want error %s", err_cases[i].in, err_cases[i].err);
		if (!err_cases[i].err) {
			assert_non_null(strstr(err, "error parsing regexp"));
			continue;
		}
		if (strcmp(err, err_cases[i].err))
			fail_msg("%s:\n got %s\nwant %s", err_cases[i].in, err, err_cases[i].err);
		assert_true(pe.pos.start <= pe.pos.end);
		assert_true(pe.pos.end <= strlen(err_cases[i].in));
		assert_non_null(strstr(err, pe.msg));
	}
	arena_free(a);
}

static struct promql_node *parse_all(struct arena *a, const char *q)
{
	struct promql_parse_opts all = PROMQL_PARSE_OPTS_ALL;
	struct promql_node *n = NULL;
	char err[512];

	if (promql_parse(a, q, &all, &n, NULL, err, sizeof(err)))
		fail_msg("%s: %s", q, err);
	return n;
}

struct render_case {
	const char *in, *want;
};

/* Parse each input and compare what render() makes of the tree. */
static void check_renders(const struct render_case *cases, size_t n,
			  void (*render)(const struct promql_node *, struct buf *))
{
	struct arena *a = arena_new(0);

	for (size_t i = 0; i < n; i++) {
		struct buf b = { 0 };

		arena_reset(a);
		render(parse_all(a, cases[i].in), &b);
		if (strcmp(b.data, cases[i].want))
			fail_msg("%s:\n got %s\nwant %s", cases[i].in, b.data, cases[i].want);
		buf_free(&b);
	}
	arena_free(a);
}

/* The tree with every operator application in parentheses. */
static void shape(const struct promql_node *n, struct buf *out)
{
	switch (n->kind) {
	case PROMQL_BINARY:
		buf_putc(out, '(');
		shape(n->binary.lhs, out);
		buf_printf(out, " %s ", promql_binop_str(n->binary.op));
		shape(n->binary.rhs, out);
		buf_putc(out, ')');
		break;
	case PROMQL_UNARY:
		buf_printf(out, "(%s", promql_binop_str(n->unary.op));
		shape(n->unary.expr, out);
		buf_putc(out, ')');
		break;
	default:
		promql_format(n, out);
	}
}

static void test_precedence(void **state)
{
	static const struct render_case cases[] = {
		{ "-1^2", "(-(1 ^ 2))" },
		{ "-1*2", "(-1 * 2)" },
		{ "-a^-b", "(-(a ^ (-b)))" },
		{ "2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))" },
		{ "1 - 2 - 3", "((1 - 2) - 3)" },
		{ "a + b * c", "(a + (b * c))" },
		{ "a * b % c / d", "(((a * b) % c) / d)" },
		{ "a or b and c unless d", "(a or ((b and c) unless d))" },
		{ "a > b + c and d", "((a > (b + c)) and d)" },
		{ "a == b != c", "((a == b) != c)" },
		{ "a atan2 b * c", "((a atan2 b) * c)" },
		{ "h </ 1 + 2", "(h </ (1 + 2))" },
		{ "h </ 1 > 2", "((h </ 1) > 2)" },
		{ "-foo offset 5m", "(-foo offset 5m)" },
		{ "a + b offset 1m", "(a + b offset 1m)" },
		{ "foo offset 2 ^ 2", "(foo offset 2s ^ 2)" },
		{ "foo offset 5s-8", "(foo offset 5s - 8)" },
		{ "-sum(x) * 2", "((-sum(x)) * 2)" },
		{ "- - 1", "1" },
	};

	check_renders(cases, sizeof(cases) / sizeof(cases[0]), shape);
}

/* Pre-order "kind start-end" of every node, duration expressions included. */
static void positions(const struct promql_node *n, struct buf *out)
{
	static const char *const kinds[] = {
		"num", "str", "vs", "matrix", "subquery", "call", "agg", "bin", "unary", "paren",
		"dur",
	};

	if (!n)
		return;
	buf_printf(out, "%s%s %u-%u", out->len ? " " : "", kinds[n->kind], n->pos.start,
		   n->pos.end);
	switch (n->kind) {
	case PROMQL_VECTOR_SELECTOR:
		positions(n->vs.mod.offset_expr, out);
		break;
	case PROMQL_MATRIX_SELECTOR:
		positions(n->matrix.vs, out);
		positions(n->matrix.range_expr, out);
		break;
	case PROMQL_SUBQUERY:
		positions(n->subquery.expr, out);
		positions(n->subquery.range_expr, out);
		positions(n->subquery.step_expr, out);
		positions(n->subquery.mod.offset_expr, out);
		break;
	case PROMQL_CALL:
		for (size_t i = 0; i < n->call.nargs; i++)
			positions(n->call.args[i], out);
		break;
	case PROMQL_AGGREGATE:
		positions(n->agg.param, out);
		positions(n->agg.expr, out);
		break;
	case PROMQL_BINARY:
		positions(n->binary.lhs, out);
		positions(n->binary.rhs, out);
		break;
	case PROMQL_UNARY:
		positions(n->unary.expr, out);
		break;
	case PROMQL_PAREN:
		positions(n->paren.expr, out);
		break;
	case PROMQL_DURATION:
		positions(n->duration.lhs, out);
		positions(n->duration.rhs, out);
		break;
	default:
		break;
	}
}

/* Node ranges, from upstream's parse tests (its PosRange/EndPos/StartPos values). */
static void test_positions(void **state)
{
	static const struct render_case cases[] = {
		{ "-1^2", "unary 0-4 bin 1-4 num 1-2 num 3-4" },
		{ "-1^-2", "unary 0-5 bin 1-5 num 1-2 num 3-5" },
		{ "+1 + -2 * 1", "bin 0-11 num 0-2 bin 5-11 num 5-7 num 10-11" },
		{ "1 + 2/(3*1)", "bin 0-11 num 0-1 bin 4-11 num 4-5 paren 6-11 bin 7-10 num 7-8 num 9-10" },
		{ " +some_metric", "unary 1-13 vs 2-13" },
		{ " +{\"some_metric\"}", "unary 1-17 vs 2-17" },
		{ "offset{step=\"1s\"}[5m]", "matrix 0-21 vs 0-17" },
		{ "foo offset 5m", "vs 0-13" },
		{ "foo offset -7m", "vs 0-14" },
		{ "foo offset (5)", "vs 0-14 dur 11-14 num 12-13" },
		{ "foo[(5s)]", "matrix 0-9 vs 0-3 dur 4-8 num 5-7" },
		{ "foo @ 3.3335", "vs 0-12" },
		{ "foo @ start()", "vs 0-13" },
		{ "test[5h] OFFSET 5m", "matrix 0-18 vs 0-4" },
		{ "test{a=\"b\"}[5y] @ 1603774699", "matrix 0-28 vs 0-11" },
		{ "sum by (foo)(some_metric)", "agg 0-25 vs 13-24" },
		{ "sum (some_metric) without (foo)", "agg 0-31 vs 5-16" },
		{ "topk(5, some_metric)", "agg 0-20 num 5-6 vs 8-19" },
		{ "count_values(\"value\", some_metric)", "agg 0-34 str 13-20 vs 22-33" },
		{ "rate(some_metric[5m])", "call 0-21 matrix 5-20 vs 5-16" },
		{ "round(some_metric, 5)", "call 0-21 vs 6-17 num 19-20" },
		{ "foo{bar=\"baz\"}[10m5s:1h6ms]", "subquery 0-27 vs 0-14" },
		{ "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]",
		  "subquery 0-61 call 0-54 subquery 14-53 call 14-38 matrix 19-37 vs 19-33" },
		{ "some_metric @ 123 offset 1m [10m:5s]", "subquery 0-36 vs 0-27" },
		{ "some_metric[10m:5s] offset 1m @ 123", "subquery 0-35 vs 0-11" },
		{ "(foo + bar{nm=\"val\"} @ 1234)[5m:] @ 1603775019",
		  "subquery 0-46 paren 0-28 bin 1-27 vs 1-4 vs 7-27" },
		{ "(sum(foo))", "paren 0-10 agg 1-9 vs 5-8" },
		{ "(sum(foo) )", "paren 0-11 agg 1-9 vs 5-8" },
		{ "(sum(foo) by (bar))", "paren 0-19 agg 1-18 vs 5-8" },
		{ "info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\", bar=\"baz\"})",
		  "call 0-73 vs 5-48 vs 50-72" },
		{ "foo[11s+10s-5*2^2]",
		  "matrix 0-18 vs 0-3 dur 4-17 dur 4-11 num 4-7 num 8-11 dur 12-17 num 12-13 dur 14-17 "
		  "num 14-15 num 16-17" },
		{ "foo[-10s+15s]", "matrix 0-13 vs 0-3 dur 4-12 num 4-8 num 9-12" },
		{ "foo[step()]", "matrix 0-11 vs 0-3 dur 4-10" },
		{ "foo[  -  step  (  )  ]", "matrix 0-22 vs 0-3 dur 6-19 dur 9-19" },
		{ "foo offset -min_of(5s,step()+8s)",
		  "vs 0-32 dur 11-32 dur 12-32 num 19-21 dur 22-31 dur 22-28 num 29-31" },
		{ "foo[4s+4s:1s*2] offset (5s-8)",
		  "subquery 0-29 vs 0-3 dur 4-9 num 4-6 num 7-9 dur 10-14 num 10-12 num 13-14 "
		  "dur 24-28 num 24-26 num 27-28" },
		{ "foo offset 5s-8", "bin 0-15 vs 0-13 num 14-15" },
	};

	check_renders(cases, sizeof(cases) / sizeof(cases[0]), positions);
}

static void test_ast(void **state)
{
	struct arena *a = arena_new(0);
	struct promql_node *n, *vs;

	n = parse_all(a, "sum by (foo)(some_metric)");
	assert_int_equal(n->kind, PROMQL_AGGREGATE);
	assert_int_equal(n->agg.op, PROMQL_AGG_SUM);
	assert_int_equal(n->pos.start, 0);
	assert_int_equal(n->pos.end, 25);
	assert_int_equal(n->agg.expr->pos.start, 13);
	assert_int_equal(n->agg.expr->pos.end, 24);
	assert_int_equal(n->agg.grouping.n, 1);
	assert_string_equal(n->agg.grouping.v[0].s, "foo");
	assert_false(n->agg.without);
	assert_null(n->agg.param);

	n = parse_all(a, "sum (some_metric) without (foo)");
	assert_int_equal(n->pos.end, 31);
	assert_true(n->agg.without);

	n = parse_all(a, "topk(5, x)");
	assert_true(n->agg.param->kind == PROMQL_NUMBER && n->agg.param->number.val == 5);

	n = parse_all(a, "foo{a=\"b\", c=~\"d.*\"}");
	assert_int_equal(n->kind, PROMQL_VECTOR_SELECTOR);
	assert_string_equal(n->vs.name.s, "foo");
	assert_int_equal(n->vs.nmatchers, 3);
	assert_string_equal(n->vs.matchers[0].name.s, "a");
	assert_int_equal(n->vs.matchers[1].type, PROMQL_MATCH_RE);
	assert_string_equal(n->vs.matchers[1].value.s, "d.*");
	assert_string_equal(n->vs.matchers[2].name.s, "__name__");
	assert_string_equal(n->vs.matchers[2].value.s, "foo");
	assert_int_equal(n->pos.end, 20);

	n = parse_all(a, "foo{a=\"x\\x00y\"}");
	assert_int_equal(n->vs.matchers[0].value.len, 3);
	assert_int_equal(n->vs.matchers[0].value.s[1], 0);

	n = parse_all(a, "test{a=\"b\"}[5y] @ 1603774699 offset -3d");
	assert_int_equal(n->kind, PROMQL_MATRIX_SELECTOR);
	assert_true(n->matrix.range_ms == 5LL * 365 * 86400000);
	assert_null(n->matrix.range_expr);
	vs = n->matrix.vs;
	assert_int_equal(vs->vs.mod.at, PROMQL_AT_TIMESTAMP);
	assert_true(vs->vs.mod.at_ms == 1603774699000LL);
	assert_true(vs->vs.mod.offset_ms == -3LL * 86400000);
	assert_int_equal(n->pos.start, 0);
	assert_int_equal(n->pos.end, 39);

	n = parse_all(a, "foo @ 3.3335");
	assert_true(n->vs.mod.at_ms == 3334);
	n = parse_all(a, "foo @ end()");
	assert_int_equal(n->vs.mod.at, PROMQL_AT_END);
	assert_int_equal(n->pos.end, 11);

	n = parse_all(a, "foo[10m:]");
	assert_int_equal(n->kind, PROMQL_SUBQUERY);
	assert_true(n->subquery.range_ms == 600000);
	assert_true(n->subquery.step_ms == 0);
	assert_null(n->subquery.step_expr);
	assert_int_equal(n->pos.end, 9);

	n = parse_all(a, "rate(foo[5m+step()])");
	assert_int_equal(n->call.fn->id, PROMQL_FN_RATE);
	assert_int_equal(n->call.nargs, 1);
	assert_int_equal(n->call.args[0]->matrix.range_ms, 0);
	assert_non_null(n->call.args[0]->matrix.range_expr);
	assert_int_equal(n->call.args[0]->matrix.range_expr->duration.op, PROMQL_DUR_ADD);

	n = parse_all(a, "foo == 1");
	assert_null(n->binary.vm);
	n = parse_all(a, "foo and bar");
	assert_non_null(n->binary.vm);
	assert_int_equal(n->binary.vm->card, PROMQL_CARD_MANY_TO_MANY);
	n = parse_all(a, "foo * on(a) group_right(b) bar");
	assert_int_equal(n->binary.vm->card, PROMQL_CARD_ONE_TO_MANY);
	assert_true(n->binary.vm->on);
	assert_string_equal(n->binary.vm->include.v[0].s, "b");
	n = parse_all(a, "a + fill_left(1) fill_right(2) b");
	assert_true(n->binary.vm->fill_lhs_set && n->binary.vm->fill_rhs_set);
	assert_false(n->binary.vm->fill_both);
	assert_true(n->binary.vm->fill_lhs == 1 && n->binary.vm->fill_rhs == 2);

	n = parse_all(a, "info(x, {a=\"b\"})");
	assert_true(n->call.args[1]->vs.bypass_empty_matcher_check);
	n = parse_all(a, "info(x, {a=~\".*\"})");
	assert_true(n->call.args[1]->vs.bypass_empty_matcher_check);

	n = parse_all(a, "\"a\\x00b\"");
	assert_int_equal(n->kind, PROMQL_STRING);
	assert_int_equal(n->string.len, 3);
	assert_int_equal(promql_node_type(n), PROMQL_TYPE_STRING);

	n = parse_all(a, "scalar(x) + 1");
	assert_int_equal(promql_node_type(n), PROMQL_TYPE_SCALAR);
	assert_int_equal(n->depth, 3);
	n = parse_all(a, "foo[5m] smoothed");
	assert_true(n->matrix.vs->vs.smoothed);
	arena_free(a);
}

/* format_query's Pretty(0): one line up to 100 bytes, then split by node. */
static void test_pretty(void **state)
{
	static const struct render_case cases[] = {
		{ "sum(rate(x[5m]))", "sum(rate(x[5m]))" },
		{ "sum by (job) (rate(http_requests_total{job=\"api-server\",handler=\"/api/comments\","
		  "method=\"GET\",code=\"200\"}[5m]))",
		  "sum by (job) (\n  rate(http_requests_total{code=\"200\",handler=\"/api/comments\","
		  "job=\"api-server\",method=\"GET\"}[5m])\n)" },
		{ "topk(5, sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\",job=\"node_"
		  "exporter_with_a_long_name\"}[5m])))",
		  "topk(\n  5,\n  sum by (instance) (\n    rate(node_cpu_seconds_total{job=\"node_exporter"
		  "_with_a_long_name\",mode!=\"idle\"}[5m])\n  )\n)" },
		{ "a + on(instance) group_left(node) node_uname_info{job=\"node-exporter-daemonset-in-"
		  "namespace-monitoring\",x=\"y\"}",
		  "  a\n+ on (instance) group_left (node)\n  node_uname_info{job=\"node-exporter-"
		  "daemonset-in-namespace-monitoring\",x=\"y\"}" },
		{ "-sum(rate(http_requests_total{job=\"api-server\",handler=\"/api/comments\",method="
		  "\"GET\",code=\"200\",instance=\"a\"}[5m]))",
		  "-sum(\n  rate(\n    http_requests_total{code=\"200\",handler=\"/api/comments\","
		  "instance=\"a\",job=\"api-server\",method=\"GET\"}[5m]\n  )\n)" },
		{ "max_over_time(rate(demo_api_request_duration_seconds_count{job=\"a_very_long_job_name"
		  "_to_split\",instance=\"xyz:1234\"}[1m])[1h:] @ start() offset 1m)",
		  "max_over_time(\n  rate(\n    demo_api_request_duration_seconds_count{instance=\"xyz:"
		  "1234\",job=\"a_very_long_job_name_to_split\"}[1m]\n  )[1h:] @ start() offset 1m\n)" },
		{ "(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa + bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		  "bbbbbbbbbbbbbbbbbbbbbbbbbbbb)",
		  "(\n    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n  +\n    bbbbbbbbbbbbbbbbb"
		  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n)" },
		/* upstream's quirk: a subquery that fits is not indented */
		{ "quantile_over_time(0.5, aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa[1h:])",
		  "quantile_over_time(\n  0.5,\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa[1h:]\n)" },
	};

	check_renders(cases, sizeof(cases) / sizeof(cases[0]), promql_format_pretty);
}

static void check_error(const struct promql_parse_opts *o, const char *q, const char *want)
{
	struct arena *a = arena_new(0);
	struct promql_node *n;
	char err[512];

	assert_non_null(a);
	if (!promql_parse(a, q, o, &n, NULL, err, sizeof(err)))
		fail_msg("%s: parsed, want %s", q, want);
	if (strcmp(err, want))
		fail_msg("%s:\n got %s\nwant %s", q, err, want);
	arena_free(a);
}

/* Stock Prometheus (no feature flags) rejects the experimental syntax. */
static void test_feature_gates(void **state)
{
	check_error(NULL, "mad_over_time(foo[5m])",
		    "1:1: parse error: function \"mad_over_time\" is not enabled");
	check_error(NULL, "limitk(2, foo)", "1:1: parse error: limitk() is experimental and must "
		    "be enabled with --enable-feature=promql-experimental-functions");
	check_error(NULL, "foo[5m+1m]",
		    "1:5: parse error: experimental duration expression is not enabled");
	check_error(NULL, "foo offset step()",
		    "1:12: parse error: experimental duration expression is not enabled");
	check_error(NULL, "foo[(5m)]",
		    "1:6: parse error: experimental duration expression is not enabled");
	check_error(NULL, "foo[5m] anchored",
		    "1:1: parse error: anchored modifier is experimental and not enabled");
	check_error(NULL, "foo smoothed",
		    "1:1: parse error: smoothed modifier is experimental and not enabled");
	check_error(NULL, "a + fill(0) b",
		    "1:1: parse error: binop fill modifiers are experimental and not enabled");
	check_error(NULL, "step()", "1:1: parse error: function \"step\" is not enabled");
	{
		struct arena *a = arena_new(0);
		struct promql_node *n;
		char err[256];

		/* Plain literals need no flag, negative offsets included. */
		assert_int_equal(promql_parse(a, "rate(foo[5m] offset -1h) @ 3 + sum(x)", NULL, &n,
					      NULL, err, sizeof(err)), -1);
		assert_int_equal(promql_parse(a, "rate(foo[5m] offset -1h @ 3) + sum(x)", NULL, &n,
					      NULL, err, sizeof(err)), 0);
		arena_free(a);
	}
}

static void repeat(struct buf *b, const char *s, int n)
{
	for (int i = 0; i < n; i++)
		buf_puts(b, s);
}

/* Over-deep queries fail cleanly instead of overflowing the stack later. */
static void test_limits(void **state)
{
	static const struct {
		const char *head, *rep, *tail;
		int n;
		bool ok;
	} cases[] = {
		{ "", "(", "1", 1100, false },
		{ "x", " + x", "", 1500, false },
		{ "x", " + x", "", 900, true },
		{ "", "-", "x", 1500, false },
		{ "foo[", "(", "5m", 1100, false },
	};
	struct promql_parse_opts all = PROMQL_PARSE_OPTS_ALL;
	struct arena *a = arena_new(0);
	struct promql_node *n;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf q = { 0 };

		buf_puts(&q, cases[i].head);
		repeat(&q, cases[i].rep, cases[i].n);
		buf_puts(&q, cases[i].tail);
		if (!strcmp(cases[i].rep, "("))
			repeat(&q, ")", cases[i].n);
		arena_reset(a);
		if (cases[i].ok) {
			assert_int_equal(promql_parse(a, q.data, &all, &n, NULL, err, sizeof(err)), 0);
			assert_int_equal(n->depth, cases[i].n + 1);
		} else {
			assert_int_equal(promql_parse(a, q.data, &all, &n, NULL, err, sizeof(err)), -1);
			assert_non_null(strstr(err, "too deeply nested"));
		}
		buf_free(&q);
	}
	arena_free(a);
}

static void test_corpus(void **state)
{
	struct promql_parse_opts all = PROMQL_PARSE_OPTS_ALL;
	struct arena *a = arena_new(0);
	struct promql_node *n;
	char err[512];

	for (size_t i = 0; i < sizeof(corpus_valid) / sizeof(corpus_valid[0]); i++) {
		arena_reset(a);
		if (promql_parse(a, corpus_valid[i], &all, &n, NULL, err, sizeof(err)))
			fail_msg("%s: %s", corpus_valid[i], err);
	}
	for (size_t i = 0; i < sizeof(corpus_invalid) / sizeof(corpus_invalid[0]); i++) {
		arena_reset(a);
		if (!promql_parse(a, corpus_invalid[i], &all, &n, NULL, err, sizeof(err)))
			fail_msg("%s: parsed", corpus_invalid[i]);
	}
	arena_free(a);
}

/* The same corpus read from the shared conformance directory, when present. */
static int check_file(const char *dir, const char *name, bool valid)
{
	struct promql_parse_opts all = PROMQL_PARSE_OPTS_ALL;
	struct arena *a = arena_new(0);
	char path[512], *line = NULL, err[512];
	size_t cap = 0;
	ssize_t len;
	int count = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		struct promql_node *n;

		while (len && line[len - 1] == '\n')
			line[--len] = 0;
		if (!len)
			continue;
		arena_reset(a);
		if ((promql_parse(a, line, &all, &n, NULL, err, sizeof(err)) == 0) != valid)
			fail_msg("%s: %s %s", path, line, valid ? err : "parsed");
		count++;
	}
	free(line);
	fclose(f);
	arena_free(a);
	return count;
}

static void test_corpus_files(void **state)
{
	const char *env = getenv("LGTM_CONFORMANCE_DIR");
	const char *dirs[] = { env, "../shared/conformance", "../../shared/conformance" };
	char dir[512];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		FILE *f;

		if (!dirs[i])
			continue;
		snprintf(dir, sizeof(dir), "%s/promql-parse", dirs[i]);
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/valid-queries.txt");
		f = fopen(dir, "r");
		if (!f)
			continue;
		fclose(f);
		snprintf(dir, sizeof(dir), "%s/promql-parse", dirs[i]);
		assert_true(check_file(dir, "valid-queries.txt", true) > 50);
		assert_true(check_file(dir, "invalid-queries.txt", false) > 0);
		return;
	}
	skip();
}

static void test_selector(void **state)
{
	struct arena *a = arena_new(0);
	struct promql_node *n;
	char err[256];

	assert_int_equal(promql_parse_selector(a, "up{job=\"x\"}", &n, NULL, err, sizeof(err)), 0);
	assert_int_equal(n->kind, PROMQL_VECTOR_SELECTOR);
	assert_int_equal(n->vs.nmatchers, 2);
	assert_int_equal(promql_parse_selector(a, "{__name__=~\"a.*\"}", &n, NULL, err,
					       sizeof(err)), 0);
	assert_int_equal(n->vs.matchers[0].type, PROMQL_MATCH_RE);
	assert_int_equal(promql_parse_selector(a, "sum", &n, NULL, err, sizeof(err)), 0);
	assert_string_equal(n->vs.name.s, "sum");
	assert_int_equal(promql_parse_selector(a, "up + 1", &n, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "1:4: parse error: unexpected <op:+>");
	assert_int_equal(promql_parse_selector(a, "rate(x[5m])", &n, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "1:5: parse error: unexpected \"(\"");
	assert_int_equal(promql_parse_selector(a, "1", &n, NULL, err, sizeof(err)), -1);
	arena_free(a);
}

static void test_literals(void **state)
{
	struct arena *a = arena_new(0);
	struct promql_str s;
	struct buf b = { 0 };
	char err[256];
	int64_t ms;

	/* positions as upstream prints them */
	{
		uint32_t line, col;

		promql_position("ab\ncd\n\nxy", 0, &line, &col);
		assert_true(line == 1 && col == 1);
		promql_position("ab\ncd\n\nxy", 4, &line, &col);
		assert_true(line == 2 && col == 2);
		promql_position("ab\ncd\n\nxy", 7, &line, &col);
		assert_true(line == 4 && col == 1);
	}

	/* model.ParseDuration */
	assert_int_equal(promql_parse_duration("1h30m", 5, &ms, err, sizeof(err)), 0);
	assert_true(ms == 5400000);
	assert_int_equal(promql_parse_duration("0", 1, &ms, err, sizeof(err)), 0);
	assert_true(ms == 0);
	assert_int_equal(promql_parse_duration("10s53ms", 7, &ms, err, sizeof(err)), 0);
	assert_true(ms == 10053);
	assert_int_equal(promql_parse_duration("292y", 4, &ms, err, sizeof(err)), 0);
	assert_int_equal(promql_parse_duration("300y", 4, &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "duration out of range");
	assert_int_equal(promql_parse_duration("", 0, &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "empty duration string");
	assert_int_equal(promql_parse_duration("1m2h", 4, &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "not a valid duration string: \"1m2h\"");
	assert_int_equal(promql_parse_duration("5x", 2, &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown unit \"x\" in duration \"5x\"");
	assert_int_equal(promql_parse_duration("-5m", 3, &ms, err, sizeof(err)), -1);

	/* model.Duration.String */
	promql_format_duration(0, &b);
	buf_putc(&b, ' ');
	promql_format_duration(5400000, &b);
	buf_putc(&b, ' ');
	promql_format_duration(90LL * 86400000, &b);
	buf_putc(&b, ' ');
	promql_format_duration(14LL * 86400000, &b);
	buf_putc(&b, ' ');
	promql_format_duration(365LL * 86400000 + 1, &b);
	buf_putc(&b, ' ');
	promql_format_duration(-60000, &b);
	assert_string_equal(b.data, "0s 1h30m 90d 2w 365d1ms -1m");
	buf_reset(&b);

	/* strconv.FormatFloat(v, 'f', -1, 64) */
	promql_format_float(0.1, &b);
	buf_putc(&b, ' ');
	promql_format_float(-0.0, &b);
	buf_putc(&b, ' ');
	promql_format_float(123456789.123, &b);
	buf_putc(&b, ' ');
	promql_format_float(1.0 / 3, &b);
	buf_putc(&b, ' ');
	promql_format_float(NAN, &b);
	buf_putc(&b, ' ');
	promql_format_float(-INFINITY, &b);
	assert_string_equal(b.data, "0.1 -0 123456789.123 0.3333333333333333 NaN -Inf");
	buf_reset(&b);
	promql_format_float(5e-324, &b);
	assert_int_equal(b.len, 2 + 323 + 1);
	assert_int_equal(b.data[b.len - 1], '5');
	buf_reset(&b);

	/* strconv.Quote */
	promql_quote("a\"b\\c\n\x01\xff\xc3\xa9\xc2\xa0\x7f", 13, &b);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\x01\\xff\xc3\xa9\\u00a0\\x7f\"");
	buf_reset(&b);
	promql_quote("\xf0\x9f\x98\x80\xef\xbb\xbf", 7, &b);
	assert_string_equal(b.data, "\"\xf0\x9f\x98\x80\\ufeff\"");
	buf_free(&b);

	/* strutil.Unquote */
	assert_int_equal(promql_unquote(a, "'a\\'b'", 6, &s), 0);
	assert_string_equal(s.s, "a'b");
	assert_int_equal(promql_unquote(a, "\"\\u00e9\\U0001F600\"", 18, &s), 0);
	assert_string_equal(s.s, "\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(promql_unquote(a, "\"\\377\\x41\"", 10, &s), 0);
	assert_int_equal(s.len, 2);
	assert_int_equal((unsigned char)s.s[0], 0xff);
	assert_int_equal(promql_unquote(a, "`a\\nb`", 6, &s), 0);
	assert_string_equal(s.s, "a\\nb");
	assert_int_equal(promql_unquote(a, "\"\\q\"", 4, &s), -1);
	assert_int_equal(promql_unquote(a, "\"a", 2, &s), -1);
	assert_int_equal(promql_unquote(a, "\"\\400\"", 6, &s), -1);
	assert_int_equal(promql_unquote(a, "'\"'", 3, &s), 0);
	assert_int_equal(promql_unquote(a, "\"\\'\"", 4, &s), -1);
	arena_free(a);
}

static void test_functions(void **state)
{
	for (int i = 0; i < PROMQL_FN_COUNT; i++) {
		const struct promql_function *fn = promql_function_get((enum promql_func_id)i);

		assert_non_null(fn->name);
		assert_int_equal(fn->id, i);
		assert_ptr_equal(promql_function_lookup(fn->name, strlen(fn->name)), fn);
		if (i)
			assert_true(strcmp(promql_function_get((enum promql_func_id)(i - 1))->name,
					   fn->name) < 0);
		assert_true(fn->nargs <= 5);
		assert_true(fn->variadic == 0 || fn->nargs > 0);
		assert_true(fn->ret == PROMQL_TYPE_VECTOR || fn->ret == PROMQL_TYPE_SCALAR);
	}
	assert_null(promql_function_lookup("rat", 3));
	assert_null(promql_function_lookup("rates", 5));
	assert_null(promql_function_lookup("Rate", 4));
	assert_null(promql_function_get(PROMQL_FN_COUNT));
	assert_int_equal(promql_function_lookup("label_replace", 13)->nargs, 5);
	assert_int_equal(promql_function_lookup("label_join", 10)->variadic, -1);
	assert_true(promql_function_lookup("info", 4)->experimental);
	assert_false(promql_function_lookup("rate", 4)->experimental);
}

static void test_duration_eval(void **state)
{
	/* A range (or offset) expression, step and range in ms, expected seconds;
	 * err set means evaluation must fail with that message. */
	static const struct {
		const char *q;
		int64_t step, range;
		double want;
		const char *err;
	} cases[] = {
		{ "foo[step() * 2 + range() / 2]", 10000, 60000, 50, NULL },
		{ "foo offset -(min_of(step(), 2s) - 5)", 5000, 0, 3, NULL },
		{ "foo[1h30m % 1h]", 0, 0, 1800, NULL },
		{ "foo[max_of(step(), 2^3)]", 1000, 0, 8, NULL },
		{ "foo[5m / (step() - step())]", 1000, 0, 0, "division by zero" },
		{ "foo[5m % (step() - step())]", 1000, 0, 0, "modulo by zero" },
	};
	struct arena *a = arena_new(0);
	char err[128];
	int64_t ms;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct promql_node *n = parse_all(a, cases[i].q);
		struct promql_node *e = n->kind == PROMQL_MATRIX_SELECTOR ? n->matrix.range_expr :
					n->vs.mod.offset_expr;
		double s = -1;
		int rc = promql_duration_eval(e, cases[i].step, cases[i].range, &s, err, sizeof(err));

		if (cases[i].err) {
			assert_int_equal(rc, -1);
			assert_string_equal(err, cases[i].err);
		} else if (rc || s != cases[i].want) {
			fail_msg("%s: rc %d, %g seconds", cases[i].q, rc, s);
		}
	}
	assert_int_equal(promql_seconds_to_ms(1.5, &ms, err, sizeof(err)), 0);
	assert_true(ms == 1500);
	assert_int_equal(promql_seconds_to_ms(-0.0015, &ms, err, sizeof(err)), 0);
	assert_true(ms == -1);
	assert_int_equal(promql_seconds_to_ms(1e10, &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "duration out of range");
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_ast),
		cmocka_unit_test(test_pretty),
		cmocka_unit_test(test_feature_gates),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_files),
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_duration_eval),
	};

	return cmocka_run_group_tests_name("promql_parse", tests, NULL, NULL);
}
