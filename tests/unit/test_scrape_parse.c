/*
 * scrape: the text format and OpenMetrics parsers against Prometheus' own parser
 * tests (model/textparse promparse_test.go, openmetricsparse_test.go: inputs and
 * the entries or errors they give), plus a node_exporter body captured from
 * Debian's prometheus-node-exporter (tests/fixtures/scrape/node_exporter.txt),
 * limits, options and Content-Type selection.
 *
 * Each parse is rendered as text, one line per entry, and compared as a whole:
 *   HELP <family> <text> | TYPE <family> <word> | UNIT <family> <unit>
 *   {labels} <value> [@<ts ms>] [# {labels} <value> [@<ts ms>]]
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scrape/scrape.h"

struct rec {
	struct buf out;
	size_t samples, metas;
	size_t fail_at; /* 1-based sample that the callback rejects; 0 never */
	double last;
};

static void put_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else
		buf_printf(b, "%g", v);
}

static int on_sample(void *ctx, const struct scrape_sample *s, char *err, size_t errlen)
{
	struct rec *r = ctx;

	r->samples++;
	r->last = s->value;
	if (r->fail_at && r->samples == r->fail_at) {
		snprintf(err, errlen, "rejected %s", s->name);
		return -1;
	}
	assert_string_equal(s->name, labels_get(&s->labels, "__name__"));
	labels_format(&s->labels, &r->out);
	buf_putc(&r->out, ' ');
	put_value(&r->out, s->value);
	if (s->has_ts)
		buf_printf(&r->out, " @%lld", (long long)s->ts_ms);
	if (s->exemplar) {
		buf_puts(&r->out, " # ");
		labels_format(&s->exemplar->labels, &r->out);
		buf_putc(&r->out, ' ');
		put_value(&r->out, s->exemplar->value);
		if (s->exemplar->has_ts)
			buf_printf(&r->out, " @%lld", (long long)s->exemplar->ts_ms);
	}
	buf_putc(&r->out, '\n');
	return 0;
}

static int on_meta(void *ctx, const struct scrape_meta *m, char *err, size_t errlen)
{
	static const char *kinds[] = { "TYPE", "HELP", "UNIT" };
	struct rec *r = ctx;

	r->metas++;
	buf_printf(&r->out, "%s %s ", kinds[m->kind], m->family);
	if (m->kind == SCRAPE_META_TYPE)
		buf_puts(&r->out, scrape_type_name(m->type));
	else
		buf_append(&r->out, m->text, m->text_len);
	buf_putc(&r->out, '\n');
	return 0;
}

static int parse_opts(enum scrape_format f, const char *body, size_t len,
		      const struct scrape_options *o, struct rec *r, char *err, size_t errlen)
{
	struct scrape_handler h = { on_sample, on_meta, r };

	return scrape_parse(f, body, len, o, &h, NULL, err, errlen);
}

/* Parse and compare the rendering; want NULL expects an error equal to want_err. */
static void check(enum scrape_format f, const char *body, size_t len,
		  const struct scrape_options *o, const char *want, const char *want_err)
{
	struct rec r = { 0 };
	char err[512] = "";
	int rc = parse_opts(f, body, len, o, &r, err, sizeof(err));

	if (want_err) {
		if (rc == 0 || strcmp(err, want_err) != 0)
			fail_msg("input %.*s\nwant error: %s\ngot (%d):   %s", (int)len, body, want_err,
				 rc, err);
	} else {
		if (rc != 0)
			fail_msg("input %.*s\nunexpected error: %s", (int)len, body, err);
		assert_false(r.out.oom);
		assert_string_equal(r.out.data ? r.out.data : "", want);
	}
	buf_free(&r.out);
}

#define TEXT(body, want) check(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, NULL, want, NULL)
#define TEXT_ERR(body, e) check(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, NULL, NULL, e)
#define OM(body, want) check(SCRAPE_FORMAT_OPENMETRICS, body, sizeof(body) - 1, NULL, want, NULL)
#define OM_ERR(body, e) check(SCRAPE_FORMAT_OPENMETRICS, body, sizeof(body) - 1, NULL, NULL, e)

/* The same stretch of both upstream tests' expectations. */
#define GOROUTINES_RESULT                                                    \
	"{__name__=\"go_gc_duration_seconds_count\"} 99\n"                     \
	"{__name__=\"some:aggregate:rate5m\", a_b=\"c\"} 1\n"                  \
	"HELP go_goroutines Number of goroutines that currently exist.\n"   \
	"TYPE go_goroutines gauge\n"                                          \
	"{__name__=\"go_goroutines\"} 33 @123123\n"

/* promparse_test.go TestPromParse, minus the NUL byte in a label value (an error
 * here, see test_nul_bytes). */
static void test_text_upstream(void **state)
{
	TEXT("# HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
	     "# \tTYPE go_gc_duration_seconds summary\n"
	     "go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
	     "go_gc_duration_seconds{quantile=\"0.25\",} 7.424100000000001e-05\n"
	     "go_gc_duration_seconds{quantile=\"0.5\",a=\"b\"} 8.3835e-05\n"
	     "go_gc_duration_seconds{quantile=\"0.8\", a=\"b\"} 8.3835e-05\n"
	     "go_gc_duration_seconds{ quantile=\"0.9\", a=\"b\"} 8.3835e-05\n"
	     "# Hrandom comment starting with prefix of HELP\n"
	     "#\n"
	     "wind_speed{A=\"2\",c=\"3\"} 12345\n"
	     "# comment with escaped \\n newline\n"
	     "# comment with escaped \\ escape character\n"
	     "# HELP nohelp1\n"
	     "# HELP nohelp2 \n"
	     "go_gc_duration_seconds{ quantile=\"1.0\", a=\"b\" } 8.3835e-05\n"
	     "go_gc_duration_seconds { quantile=\"1.0\", a=\"b\" } 8.3835e-05\n"
	     "go_gc_duration_seconds { quantile= \"1.0\", a= \"b\", } 8.3835e-05\n"
	     "go_gc_duration_seconds { quantile = \"1.0\", a = \"b\" } 8.3835e-05\n"
	     "go_gc_duration_seconds_count 99\n"
	     "some:aggregate:rate5m{a_b=\"c\"}\t1\n"
	     "# HELP go_goroutines Number of goroutines that currently exist.\n"
	     "# TYPE go_goroutines gauge\n"
	     "go_goroutines 33  \t123123\n"
	     "_metric_starting_with_underscore 1\n"
	     "testmetric{_label_starting_with_underscore=\"foo\"} 1\n"
	     "testmetric{label=\"\\\"bar\\\"\"} 1",
	     "HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
	     "TYPE go_gc_duration_seconds summary\n"
	     "{__name__=\"go_gc_duration_seconds\", quantile=\"0\"} 4.9351e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", quantile=\"0.25\"} 7.4241e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"0.5\"} 8.3835e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"0.8\"} 8.3835e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"0.9\"} 8.3835e-05\n"
	     "{A=\"2\", __name__=\"wind_speed\", c=\"3\"} 12345\n"
	     "HELP nohelp1 \n"
	     "HELP nohelp2 \n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"1.0\"} 8.3835e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"1.0\"} 8.3835e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"1.0\"} 8.3835e-05\n"
	     "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"1.0\"} 8.3835e-05\n"
	     GOROUTINES_RESULT
	     "{__name__=\"_metric_starting_with_underscore\"} 1\n"
	     "{__name__=\"testmetric\", _label_starting_with_underscore=\"foo\"} 1\n"
	     "{__name__=\"testmetric\", label=\"\\\"bar\\\"\"} 1\n");
}

static void test_text_escapes_and_blanks(void **state)
{
	/* Label values: \" \\ \n resolved, other escapes kept; raw newlines allowed.
	 * HELP: \\ and \n resolved, \" kept. Blank and whitespace-only lines skipped,
	 * commas optional between labels, empty values dropped. */
	TEXT("\n   \n# HELP m a\\\\b\\nc\\\"d\\te\n"
	     "m{a=\"x\\\"y\\\\z\\nw\\t\" b=\"raw\nline\",empty=\"\"} -1.5e3\n\n",
	     "HELP m a\\b\nc\\\"d\\te\n"
	     "{__name__=\"m\", a=\"x\\\"y\\\\z\\nw\\\\t\", b=\"raw\\nline\"} -1500\n");
	/* The first byte after the name is dropped whatever it is, as upstream. */
	TEXT("# HELP foo-bar\n# HELP foo  two\n",
	     "HELP foo bar\nHELP foo  two\n");
}

static void test_text_values(void **state)
{
	struct rec r = { 0 };
	char err[256];
	uint64_t bits;
	static const struct {
		const char *in;
		double want; /* 0 with nan set for NaN */
		bool nan;
	} ok[] = {
		{ "a NaN\n", 0, true }, { "a nan\n", 0, true }, { "a NAN\n", 0, true },
		{ "a +Inf\n", INFINITY, false }, { "a -Inf\n", -INFINITY, false },
		{ "a inf\n", INFINITY, false }, { "a Infinity\n", INFINITY, false },
		{ "a -infinity\n", -INFINITY, false }, { "a 1e-400\n", 0, false },
		{ "a .5\n", 0.5, false }, { "a 5.\n", 5, false }, { "a +3E2\n", 300, false },
		{ "a 1.7976931348623157e308\n", 1.7976931348623157e308, false },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r.samples = 0;
		assert_int_equal(parse_opts(SCRAPE_FORMAT_TEXT, ok[i].in, strlen(ok[i].in), NULL, &r,
					    err, sizeof(err)), 0);
		assert_int_equal(r.samples, 1);
		if (ok[i].nan) {
			memcpy(&bits, &r.last, sizeof(bits));
			/* Prometheus' NormalNaN, never the stale marker. */
			assert_true(bits == SCRAPE_NORMAL_NAN_BITS);
		} else {
			assert_true(r.last == ok[i].want);
		}
	}
	buf_free(&r.out);
	TEXT_ERR("a +nan\n", "line 1: strconv.ParseFloat: parsing \"+nan\": invalid syntax while parsing: \"a +nan\"");
	TEXT_ERR("a infin\n", "line 1: strconv.ParseFloat: parsing \"infin\": invalid syntax while parsing: \"a infin\"");
	TEXT_ERR("a 1e999\n", "line 1: strconv.ParseFloat: parsing \"1e999\": value out of range while parsing: \"a 1e999\"");
	TEXT_ERR("a 1e\n", "line 1: strconv.ParseFloat: parsing \"1e\": invalid syntax while parsing: \"a 1e\"");
	TEXT_ERR("a 0x10\n", "line 1: strconv.ParseFloat: parsing \"0x10\": invalid syntax while parsing: \"a 0x10\"");
	TEXT_ERR("a 1 99999999999999999999\n",
		 "line 1: strconv.ParseInt: parsing \"99999999999999999999\": value out of range while parsing: \"a 1 99999999999999999999\"");
}

/* promparse_test.go TestPromParseErrors and TestPromNullByteHandling, with the
 * line number in front. */
static void test_text_errors(void **state)
{
	TEXT_ERR("a", "line 1: expected value after metric, got \"\\n\" (\"INVALID\") while parsing: \"a\\n\"");
	TEXT_ERR("a{b='c'} 1\n", "line 1: expected label value, got \"'\" (\"INVALID\") while parsing: \"a{b='\"");
	TEXT_ERR("a{b=\n", "line 1: expected label value, got \"\\n\" (\"INVALID\") while parsing: \"a{b=\\n\"");
	TEXT_ERR("a{\xff=\"foo\"} 1\n", "line 1: expected label name, got \"\\xff\" (\"INVALID\") while parsing: \"a{\\xff\"");
	TEXT_ERR("a{b=\"\xff\"} 1\n", "line 1: invalid UTF-8 label value: \"\\\"\\xff\\\"\"");
	TEXT_ERR("a true\n", "line 1: strconv.ParseFloat: parsing \"true\": invalid syntax while parsing: \"a true\"");
	TEXT_ERR("something_weird{problem=\"",
		 "line 1: expected label value, got \"\\\"\\n\" (\"INVALID\") while parsing: \"something_weird{problem=\\\"\\n\"");
	TEXT_ERR("empty_label_name{=\"\"} 0",
		 "line 1: expected label name, got \"=\\\"\" (\"EQUAL\") while parsing: \"empty_label_name{=\\\"\"");
	TEXT_ERR("foo 1_2\n", "line 1: unsupported character in float while parsing: \"foo 1_2\"");
	TEXT_ERR("foo 0x1p-3\n", "line 1: unsupported character in float while parsing: \"foo 0x1p-3\"");
	TEXT_ERR("foo 0x1P-3\n", "line 1: unsupported character in float while parsing: \"foo 0x1P-3\"");
	TEXT_ERR("foo 0 1_2\n", "line 1: expected next entry after timestamp, got \"_\" (\"INVALID\") while parsing: \"foo 0 1_\"");
	TEXT_ERR("{a=\"ok\"} 1", "line 1: expected a valid start token, got \"{\" (\"INVALID\") while parsing: \"{\"");
	TEXT_ERR("# TYPE #\n#EOF\n", "line 1: expected metric name after TYPE, got \"#\" (\"INVALID\") while parsing: \"# TYPE #\"");
	TEXT_ERR("# HELP #\n#EOF\n", "line 1: expected metric name after HELP, got \"#\" (\"INVALID\") while parsing: \"# HELP #\"");
	TEXT_ERR("a{b=\x00\"ssss\"} 1\n", "line 1: expected label value, got \"\\x00\" (\"INVALID\") while parsing: \"a{b=\\x00\"");
	TEXT_ERR("a{b=\"\x00", "line 1: expected label value, got \"\\\"\\x00\\n\" (\"INVALID\") while parsing: \"a{b=\\\"\\x00\\n\"");
	TEXT_ERR("a{b\x00=\"hiih\"}\t1", "line 1: expected equal, got \"\\x00\" (\"INVALID\") while parsing: \"a{b\\x00\"");
	TEXT_ERR("a\x00{b=\"ddd\"} 1", "line 1: expected value after metric, got \"\\x00\" (\"INVALID\") while parsing: \"a\\x00\"");
	TEXT_ERR("a 0 1\x00", "line 1: expected next entry after timestamp, got \"\\x00\" (\"INVALID\") while parsing: \"a 0 1\\x00\"");
	/* Ours: line numbers, duplicates, types, UTF-8 in HELP. */
	TEXT_ERR("a 1\n\n# comment\nb{c=\"d\" e 2\n",
		 "line 4: expected equal, got \"2\" (\"INVALID\") while parsing: \"b{c=\\\"d\\\" e 2\"");
	TEXT_ERR("a{b=\"1\",b=\"2\"} 1\n", "line 1: label name \"b\" is not unique");
	TEXT_ERR("a{__name__=\"b\"} 1\n", "line 1: label name \"__name__\" is not unique");
	TEXT_ERR("# TYPE a gaugehistogram\n", "line 1: invalid metric type \"gaugehistogram\"");
	TEXT_ERR("# TYPE a counter \n", "line 1: invalid metric type \"counter \"");
	TEXT_ERR("# HELP a \xff\n", "line 1: help text \"\\xff\" is not a valid utf8 string");
	TEXT_ERR("a 1 # no comments here\n",
		 "line 1: expected timestamp or new record, got \"#\" (\"INVALID\") while parsing: \"a 1 #\"");
	TEXT_ERR("a 1\n9 1\n", "line 2: expected a valid start token, got \"9\" (\"INVALID\") while parsing: \"9\"");
}

static void test_nul_bytes(void **state)
{
	/* Upstream keeps NUL bytes in label values; our labels are C strings. */
	TEXT_ERR("null_byte_metric{a=\"abc\x00\"} 1", "line 1: label a: NUL byte in the value");
	OM_ERR("a{b=\"\x00\"} 1\n# EOF", "line 1: label b: NUL byte in the value");
	/* In HELP they are kept, as upstream does. */
	struct rec r = { 0 };
	char err[256];

	assert_int_equal(parse_opts(SCRAPE_FORMAT_TEXT, "# HELP metric foo\x00" "bar\n", 22, NULL, &r,
				    err, sizeof(err)), 0);
	assert_int_equal(r.out.len, 20);
	assert_memory_equal(r.out.data, "HELP metric foo\x00" "bar\n", 20);
	buf_free(&r.out);
	/* A NUL where a line starts ends the body, as upstream's `\0` rule does. */
	check(SCRAPE_FORMAT_TEXT, "a 1\n\x00garbage{\n", 14, NULL, "{__name__=\"a\"} 1\n", NULL);
}

/* openmetricsparse_test.go TestOpenMetricsParse, minus the NUL label value. */
static void test_om_upstream(void **state)
{
	OM("# HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
	   "# TYPE go_gc_duration_seconds summary\n"
	   "# UNIT go_gc_duration_seconds seconds\n"
	   "go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
	   "go_gc_duration_seconds{quantile=\"0.25\"} 7.424100000000001e-05\n"
	   "go_gc_duration_seconds{quantile=\"0.5\",a=\"b\"} 8.3835e-05\n"
	   "# HELP nohelp1 \n"
	   "# HELP help2 escape \\ \\n \\\\ \\\" \\x chars\n"
	   "# UNIT nounit \n"
	   "go_gc_duration_seconds{quantile=\"1.0\",a=\"b\"} 8.3835e-05\n"
	   "go_gc_duration_seconds_count 99\n"
	   "some:aggregate:rate5m{a_b=\"c\"} 1\n"
	   "# HELP go_goroutines Number of goroutines that currently exist.\n"
	   "# TYPE go_goroutines gauge\n"
	   "go_goroutines 33 123.123\n"
	   "# TYPE hh histogram\n"
	   "hh_bucket{le=\"+Inf\"} 1\n"
	   "# TYPE gh gaugehistogram\n"
	   "gh_bucket{le=\"+Inf\"} 1\n"
	   "# TYPE hhh histogram\n"
	   "hhh_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4\n"
	   "# TYPE ggh gaugehistogram\n"
	   "ggh_bucket{le=\"+Inf\"} 1 # {cc=\"dd\",xx=\"yy\"} 4 123.123\n"
	   "# TYPE ii info\n"
	   "ii{foo=\"bar\"} 1\n"
	   "# TYPE ss stateset\n"
	   "ss{ss=\"foo\"} 1\n"
	   "ss{ss=\"bar\"} 0\n"
	   "ss{A=\"a\"} 0\n"
	   "# TYPE un unknown\n"
	   "_metric_starting_with_underscore 1\n"
	   "testmetric{_label_starting_with_underscore=\"foo\"} 1\n"
	   "testmetric{label=\"\\\"bar\\\"\"} 1\n"
	   "# TYPE foo counter\n"
	   "foo_total 17.0 1520879607.789 # {xx=\"yy\"} 5\n"
	   "# EOF\n",
	   "HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
	   "TYPE go_gc_duration_seconds summary\n"
	   "UNIT go_gc_duration_seconds seconds\n"
	   "{__name__=\"go_gc_duration_seconds\", quantile=\"0\"} 4.9351e-05\n"
	   "{__name__=\"go_gc_duration_seconds\", quantile=\"0.25\"} 7.4241e-05\n"
	   "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"0.5\"} 8.3835e-05\n"
	   "HELP nohelp1 \n"
	   "HELP help2 escape \\ \n \\ \" \\x chars\n"
	   "UNIT nounit \n"
	   "{__name__=\"go_gc_duration_seconds\", a=\"b\", quantile=\"1.0\"} 8.3835e-05\n"
	   GOROUTINES_RESULT
	   "TYPE hh histogram\n"
	   "{__name__=\"hh_bucket\", le=\"+Inf\"} 1\n"
	   "TYPE gh gaugehistogram\n"
	   "{__name__=\"gh_bucket\", le=\"+Inf\"} 1\n"
	   "TYPE hhh histogram\n"
	   "{__name__=\"hhh_bucket\", le=\"+Inf\"} 1 # {aa=\"bb\"} 4\n"
	   "TYPE ggh gaugehistogram\n"
	   "{__name__=\"ggh_bucket\", le=\"+Inf\"} 1 # {cc=\"dd\", xx=\"yy\"} 4 @123123\n"
	   "TYPE ii info\n"
	   "{__name__=\"ii\", foo=\"bar\"} 1\n"
	   "TYPE ss stateset\n"
	   "{__name__=\"ss\", ss=\"foo\"} 1\n"
	   "{__name__=\"ss\", ss=\"bar\"} 0\n"
	   "{A=\"a\", __name__=\"ss\"} 0\n"
	   "TYPE un unknown\n"
	   "{__name__=\"_metric_starting_with_underscore\"} 1\n"
	   "{__name__=\"testmetric\", _label_starting_with_underscore=\"foo\"} 1\n"
	   "{__name__=\"testmetric\", label=\"\\\"bar\\\"\"} 1\n"
	   "TYPE foo counter\n"
	   "{__name__=\"foo_total\"} 17 @1520879607789 # {xx=\"yy\"} 5\n");
	/* "# EOF" with or without the newline. */
	OM("# EOF", "");
	OM("a 1\n# EOF", "{__name__=\"a\"} 1\n");
}

/* openmetricsparse_test.go TestOpenMetricsParseErrors (the 2.x texts, in the full
 * form of parseError) and TestOMNullByteHandling. */
static void test_om_errors(void **state)
{
	OM_ERR("", "line 1: data does not end with # EOF");
	OM_ERR("\n", "line 1: expected a valid start token, got \"\\n\" (\"INVALID\") while parsing: \"\\n\"");
	/* At the end of input upstream's lexer leaves the token start where it was. */
	OM_ERR("metric", "line 1: expected value after metric, got \"metric\" (\"EOF\") while parsing: \"metric\"");
	OM_ERR("metric 1", "line 1: data does not end with # EOF");
	OM_ERR("metric 1\n", "line 2: data does not end with # EOF");
	OM_ERR("metric_total 1 # {aa=\"bb\"} 4", "line 1: data does not end with # EOF");
	OM_ERR("a\n#EOF\n", "line 1: expected value after metric, got \"\\n\" (\"INVALID\") while parsing: \"a\\n\"");
	OM_ERR("\n\n#EOF\n", "line 1: expected a valid start token, got \"\\n\" (\"INVALID\") while parsing: \"\\n\"");
	OM_ERR(" a 1\n#EOF\n", "line 1: expected a valid start token, got \" \" (\"INVALID\") while parsing: \" \"");
	OM_ERR("9\n#EOF\n", "line 1: expected a valid start token, got \"9\" (\"INVALID\") while parsing: \"9\"");
	OM_ERR("# TYPE u untyped\n#EOF\n", "line 1: invalid metric type \"untyped\"");
	OM_ERR("# TYPE c counter \n#EOF\n", "line 1: invalid metric type \"counter \"");
	OM_ERR("#  TYPE c counter\n#EOF\n", "line 1: expected a valid start token, got \"#  \" (\"INVALID\") while parsing: \"#  \"");
	OM_ERR("# TYPE \n#EOF\n", "line 1: expected metric name after TYPE, got \"\\n\" (\"INVALID\") while parsing: \"# TYPE \\n\"");
	OM_ERR("# TYPE m\n#EOF\n", "line 1: expected text in TYPE");
	OM_ERR("# UNIT metric suffix\n#EOF\n", "line 1: unit \"suffix\" not a suffix of metric \"metric\"");
	OM_ERR("# UNIT metricsuffix suffix\n#EOF\n", "line 1: unit \"suffix\" not a suffix of metric \"metricsuffix\"");
	OM_ERR("# UNIT m suffix\n#EOF\n", "line 1: unit \"suffix\" not a suffix of metric \"m\"");
	OM_ERR("# UNIT m\n#EOF\n", "line 1: expected text in UNIT");
	OM_ERR("# HELP m\n#EOF\n", "line 1: expected text in HELP");
	OM_ERR("a\t1\n#EOF\n", "line 1: expected value after metric, got \"\\t\" (\"INVALID\") while parsing: \"a\\t\"");
	OM_ERR("a 1\t2\n#EOF\n", "line 1: strconv.ParseFloat: parsing \"1\\t2\": invalid syntax while parsing: \"a 1\\t2\"");
	OM_ERR("a 1 2 \n#EOF\n", "line 1: expected next entry after timestamp, got \" \\n\" (\"INVALID\") while parsing: \"a 1 2 \\n\"");
	OM_ERR("a 1 2 #\n#EOF\n", "line 1: expected next entry after timestamp, got \" #\\n\" (\"TIMESTAMP\") while parsing: \"a 1 2 #\\n\"");
	OM_ERR("a 1 1z\n#EOF\n", "line 1: strconv.ParseFloat: parsing \"1z\": invalid syntax while parsing: \"a 1 1z\"");
	OM_ERR(" # EOF\n", "line 1: expected a valid start token, got \" \" (\"INVALID\") while parsing: \" \"");
	OM_ERR("# EOF\na 1", "line 1: unexpected data after # EOF");
	OM_ERR("# EOF\n\n", "line 1: unexpected data after # EOF");
	OM_ERR("# EOFa 1", "line 1: unexpected data after # EOF");
	OM_ERR("#\tTYPE c counter\n", "line 1: expected a valid start token, got \"#\\t\" (\"INVALID\") while parsing: \"#\\t\"");
	OM_ERR("# TYPE c  counter\n", "line 1: invalid metric type \" counter\"");
	OM_ERR("a 1 1 1\n# EOF\n", "line 1: expected next entry after timestamp, got \" 1\\n\" (\"TIMESTAMP\") while parsing: \"a 1 1 1\\n\"");
	OM_ERR("a{b='c'} 1\n# EOF\n", "line 1: expected label value, got \"'\" (\"INVALID\") while parsing: \"a{b='\"");
	OM_ERR("a{b=\"c\",} 1\n# EOF\n", "line 1: expected label name, got \"} \" (\"BCLOSE\") while parsing: \"a{b=\\\"c\\\",} \"");
	OM_ERR("a{,b=\"c\"} 1\n# EOF\n", "line 1: expected label name or left brace, got \",b\" (\"COMMA\") while parsing: \"a{,b\"");
	OM_ERR("a{b=\"c\"d=\"e\"} 1\n# EOF\n", "line 1: expected comma, got \"d=\" (\"LNAME\") while parsing: \"a{b=\\\"c\\\"d=\"");
	OM_ERR("a{b=\"c\",,d=\"e\"} 1\n# EOF\n", "line 1: expected label name, got \",d\" (\"COMMA\") while parsing: \"a{b=\\\"c\\\",,d\"");
	OM_ERR("a{b=\n# EOF\n", "line 1: expected label value, got \"\\n\" (\"INVALID\") while parsing: \"a{b=\\n\"");
	OM_ERR("a{\xff=\"foo\"} 1\n# EOF\n", "line 1: expected label name or left brace, got \"\\xff\" (\"INVALID\") while parsing: \"a{\\xff\"");
	OM_ERR("a{b=\"\xff\"} 1\n# EOF\n", "line 1: invalid UTF-8 label value: \"\\\"\\xff\\\"\"");
	OM_ERR("something_weird{problem=\"\n# EOF\n",
	       "line 1: expected label value, got \"\\\"\\n\" (\"INVALID\") while parsing: \"something_weird{problem=\\\"\\n\"");
	OM_ERR("empty_label_name{=\"\"} 0\n# EOF\n",
	       "line 1: expected label name or left brace, got \"=\\\"\" (\"EQUAL\") while parsing: \"empty_label_name{=\\\"\"");
	OM_ERR("foo 1_2\n\n# EOF\n", "line 1: unsupported character in float while parsing: \"foo 1_2\"");
	OM_ERR("foo 0x1P-3\n\n# EOF\n", "line 1: unsupported character in float while parsing: \"foo 0x1P-3\"");
	OM_ERR("foo 0 1_2\n\n# EOF\n", "line 1: unsupported character in float while parsing: \"foo 0 1_2\"");
	OM_ERR("custom_metric_total 1 # {aa=bb}\n# EOF\n",
	       "line 1: expected label value, got \"b\" (\"INVALID\") while parsing: \"custom_metric_total 1 # {aa=b\"");
	OM_ERR("custom_metric_total 1 # {aa=\"bb\"}\n# EOF\n",
	       "line 1: expected value after exemplar labels, got \"\\n\" (\"INVALID\") while parsing: \"custom_metric_total 1 # {aa=\\\"bb\\\"}\\n\"");
	OM_ERR("custom_metric_total 1 # {aa=\"bb\"}",
	       "line 1: expected value after exemplar labels, got \"}\" (\"EOF\") while parsing: \"custom_metric_total 1 # {aa=\\\"bb\\\"}\"");
	OM_ERR("custom_metric_total 1 # {aa=\"bb\",,cc=\"dd\"} 1",
	       "line 1: expected label name, got \",c\" (\"COMMA\") while parsing: \"custom_metric_total 1 # {aa=\\\"bb\\\",,c\"");
	OM_ERR("custom_metric_total 1 # {aa=\"bb\"} 1_2",
	       "line 1: unsupported character in float while parsing: \"custom_metric_total 1 # {aa=\\\"bb\\\"} 1_2\"");
	OM_ERR("custom_metric_total 1 # {aa=\"bb\"} true",
	       "line 1: strconv.ParseFloat: parsing \"true\": invalid syntax while parsing: \"custom_metric_total 1 # {aa=\\\"bb\\\"} true\"");
	OM_ERR("custom_metric_total 1 # {aa=\"bb\"} 1 2 3\n# EOF\n",
	       "line 1: expected next entry after exemplar timestamp, got \" 3\\n\" (\"TIMESTAMP\") while parsing: \"custom_metric_total 1 # {aa=\\\"bb\\\"} 1 2 3\\n\"");
	OM_ERR("{b=\"c\",} 1", "line 1: expected a valid start token, got \"{\" (\"INVALID\") while parsing: \"{\"");
	OM_ERR("a 1 NaN", "line 1: invalid timestamp NaN");
	OM_ERR("a 1 -Inf", "line 1: invalid timestamp -Inf");
	OM_ERR("a 1 Inf", "line 1: invalid timestamp +Inf");
	OM_ERR("# TYPE hhh histogram\nhhh_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 NaN",
	       "line 2: invalid exemplar timestamp NaN");
	OM_ERR("a{b=\x00\"ssss\"} 1\n# EOF\n", "line 1: expected label value, got \"\\x00\" (\"INVALID\") while parsing: \"a{b=\\x00\"");
	OM_ERR("a{b\x00=\"hiih\"}\t1", "line 1: expected equal, got \"\\x00\" (\"INVALID\") while parsing: \"a{b\\x00\"");
	OM_ERR("#", "line 1: expected a valid start token, got \"#\" (\"INVALID\") while parsing: \"#\"");
	OM_ERR("# H", "line 1: expected a valid start token, got \"# H\" (\"INVALID\") while parsing: \"# H\"");
	OM_ERR("custom_metric_total 1 # {b=\"\x00ss\"} 1\n",
	       "line 1: expected label value, got \"\\\"\\x00\" (\"INVALID\") while parsing: \"custom_metric_total 1 # {b=\\\"\\x00\"");
	OM_ERR("a 1\n# comment\n# EOF\n", "line 2: expected a valid start token, got \"# c\" (\"INVALID\") while parsing: \"# c\"");
	OM_ERR("a{b=\"1\",b=\"2\"} 1\n# EOF\n", "line 1: label name \"b\" is not unique");
}

static const char om_body[] =
	"# TYPE http_requests counter\n"
	"# HELP http_requests Requests served, by \\\"code\\\".\n"
	"http_requests_total{code=\"200\"} 1027 1395066363.000\n"
	"http_requests_created{code=\"200\"} 1395066000.5\n"
	"# TYPE rpc_duration_seconds summary\n"
	"# UNIT rpc_duration_seconds seconds\n"
	"rpc_duration_seconds{quantile=\"0.5\"} 0.0042\n"
	"rpc_duration_seconds{quantile=\"1\"} 0.99\n"
	"rpc_duration_seconds_sum 17.5\n"
	"rpc_duration_seconds_count 2693\n"
	"rpc_duration_seconds_created 1395066000\n"
	"# TYPE latency histogram\n"
	"latency_bucket{le=\"0.005\"} 24 # {trace_id=\"KOO5S4vxi0o\"} 0.0043 1395066363.123\n"
	"latency_bucket{le=\"1\"} 33 # {trace_id=\"oHg5SJYRHA0\",empty=\"\"} 0.9\n"
	"latency_bucket{le=\"100000\"} 34\n"
	"latency_bucket{le=\"1e6\"} 35\n"
	"latency_bucket{le=\"+Inf\"} 36\n"
	"latency_sum 324.78\n"
	"latency_count 36\n"
	"# TYPE queue gauge\n"
	"queue_created 3\n"
	"queue{le=\"1\"} 3.5 # {} 1\n"
	"# EOF\n";

static void test_om_families(void **state)
{
	struct scrape_options skip = { .skip_created = true, .normalize_floats = true };

	OM(om_body,
	   "TYPE http_requests counter\n"
	   "HELP http_requests Requests served, by \"code\".\n"
	   "{__name__=\"http_requests_total\", code=\"200\"} 1027 @1395066363000\n"
	   "{__name__=\"http_requests_created\", code=\"200\"} 1.39507e+09\n"
	   "TYPE rpc_duration_seconds summary\n"
	   "UNIT rpc_duration_seconds seconds\n"
	   "{__name__=\"rpc_duration_seconds\", quantile=\"0.5\"} 0.0042\n"
	   "{__name__=\"rpc_duration_seconds\", quantile=\"1\"} 0.99\n"
	   "{__name__=\"rpc_duration_seconds_sum\"} 17.5\n"
	   "{__name__=\"rpc_duration_seconds_count\"} 2693\n"
	   "{__name__=\"rpc_duration_seconds_created\"} 1.39507e+09\n"
	   "TYPE latency histogram\n"
	   "{__name__=\"latency_bucket\", le=\"0.005\"} 24 # {trace_id=\"KOO5S4vxi0o\"} 0.0043 @1395066363123\n"
	   "{__name__=\"latency_bucket\", le=\"1\"} 33 # {trace_id=\"oHg5SJYRHA0\"} 0.9\n"
	   "{__name__=\"latency_bucket\", le=\"100000\"} 34\n"
	   "{__name__=\"latency_bucket\", le=\"1e6\"} 35\n"
	   "{__name__=\"latency_bucket\", le=\"+Inf\"} 36\n"
	   "{__name__=\"latency_sum\"} 324.78\n"
	   "{__name__=\"latency_count\"} 36\n"
	   "TYPE queue gauge\n"
	   "{__name__=\"queue_created\"} 3\n"
	   "{__name__=\"queue\", le=\"1\"} 3.5 # {} 1\n");
	/* Prometheus 3 with created-timestamp ingestion: _created gone (not for the
	 * gauge), le and quantile in OpenMetrics float form (not for the gauge). */
	check(SCRAPE_FORMAT_OPENMETRICS, om_body, sizeof(om_body) - 1, &skip,
	      "TYPE http_requests counter\n"
	      "HELP http_requests Requests served, by \"code\".\n"
	      "{__name__=\"http_requests_total\", code=\"200\"} 1027 @1395066363000\n"
	      "TYPE rpc_duration_seconds summary\n"
	      "UNIT rpc_duration_seconds seconds\n"
	      "{__name__=\"rpc_duration_seconds\", quantile=\"0.5\"} 0.0042\n"
	      "{__name__=\"rpc_duration_seconds\", quantile=\"1.0\"} 0.99\n"
	      "{__name__=\"rpc_duration_seconds_sum\"} 17.5\n"
	      "{__name__=\"rpc_duration_seconds_count\"} 2693\n"
	      "TYPE latency histogram\n"
	      "{__name__=\"latency_bucket\", le=\"0.005\"} 24 # {trace_id=\"KOO5S4vxi0o\"} 0.0043 @1395066363123\n"
	      "{__name__=\"latency_bucket\", le=\"1.0\"} 33 # {trace_id=\"oHg5SJYRHA0\"} 0.9\n"
	      "{__name__=\"latency_bucket\", le=\"100000.0\"} 34\n"
	      "{__name__=\"latency_bucket\", le=\"1e+06\"} 35\n"
	      "{__name__=\"latency_bucket\", le=\"+Inf\"} 36\n"
	      "{__name__=\"latency_sum\"} 324.78\n"
	      "{__name__=\"latency_count\"} 36\n"
	      "TYPE queue gauge\n"
	      "{__name__=\"queue_created\"} 3\n"
	      "{__name__=\"queue\", le=\"1\"} 3.5 # {} 1\n", NULL);
}

static void test_normalize_text(void **state)
{
	static const char body[] =
		"# TYPE h histogram\n"
		"h_bucket{le=\"0.0001\"} 1\nh_bucket{le=\"0.00001\"} 1\nh_bucket{le=\"2.50\"} 1\n"
		"h_bucket{le=\"10\"} 1\nh_bucket{le=\"123456789\"} 1\nh_bucket{le=\"-1\"} 1\n"
		"h_bucket{le=\"0\"} 1\nh_bucket{le=\"+inf\"} 1\nh_bucket{le=\"abc\"} 1\n"
		"# TYPE s summary\ns{quantile=\"0.99\",le=\"1\"} 1\n";
	struct scrape_options o = { .normalize_floats = true };

	check(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, &o,
	      "TYPE h histogram\n"
	      "{__name__=\"h_bucket\", le=\"0.0001\"} 1\n{__name__=\"h_bucket\", le=\"1e-05\"} 1\n"
	      "{__name__=\"h_bucket\", le=\"2.5\"} 1\n{__name__=\"h_bucket\", le=\"10.0\"} 1\n"
	      "{__name__=\"h_bucket\", le=\"1.23456789e+08\"} 1\n{__name__=\"h_bucket\", le=\"-1.0\"} 1\n"
	      "{__name__=\"h_bucket\", le=\"0.0\"} 1\n{__name__=\"h_bucket\", le=\"+Inf\"} 1\n"
	      "{__name__=\"h_bucket\", le=\"abc\"} 1\n"
	      "TYPE s summary\n{__name__=\"s\", le=\"1\", quantile=\"0.99\"} 1\n", NULL);
	/* Off by default: Prometheus 2 keeps the values as written. */
	TEXT("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n",
	     "TYPE h histogram\n{__name__=\"h_bucket\", le=\"1\"} 1\n");
}

static void test_limits(void **state)
{
	static const char body[] = "a{x=\"1\"} 1\nb{x=\"2\",y=\"3\"} 2\nc 3\nd 4\n";
	struct scrape_limits lim = { 0 };
	struct scrape_options o = { .limits = &lim };
	struct scrape_handler h;
	struct scrape_stats st;
	struct rec r = { 0 };
	char err[256];

	h = (struct scrape_handler){ on_sample, NULL, &r };
	lim.sample_limit = 2;
	/* Parsing goes on to count every sample, then the scrape fails. */
	assert_int_equal(scrape_parse(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, &o, &h, &st, err,
				      sizeof(err)), -1);
	assert_string_equal(err, "sample limit exceeded");
	assert_int_equal(r.samples, 2);
	assert_int_equal(st.samples, 4);
	/* A syntax error past the limit wins, as upstream. */
	check(SCRAPE_FORMAT_TEXT, "a 1\nb 2\nc 3\nd{\n", 15, &o, NULL,
	      "line 4: expected label name, got \"\\n\" (\"INVALID\") while parsing: \"d{\\n\"");
	lim.sample_limit = 4;
	check(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, &o,
	      "{__name__=\"a\", x=\"1\"} 1\n{__name__=\"b\", x=\"2\", y=\"3\"} 2\n"
	      "{__name__=\"c\"} 3\n{__name__=\"d\"} 4\n", NULL);
	lim = (struct scrape_limits){ .label_limit = 2 };
	check(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, &o, NULL,
	      "label_limit exceeded (metric: b, number of labels: 3, limit: 2)");
	lim = (struct scrape_limits){ .label_name_length_limit = 1 };
	check(SCRAPE_FORMAT_TEXT, body, sizeof(body) - 1, &o, NULL,
	      "label_name_length_limit exceeded (metric: a, label name: __name__, length: 8, limit: 1)");
	lim = (struct scrape_limits){ .label_value_length_limit = 3 };
	check(SCRAPE_FORMAT_TEXT, "m{v=\"lo\\\"ng\"} 1\n", 16, &o, NULL,
	      "label_value_length_limit exceeded (metric: m, label name: v, value: \"lo\\\"ng\", length: 5, limit: 3)");
	assert_int_equal(scrape_limits_check_samples(&lim, 1000, err, sizeof(err)), 0);
	assert_int_equal(scrape_limits_check_samples(NULL, 1000, err, sizeof(err)), 0);
	buf_free(&r.out);
}

static void test_callback_abort(void **state)
{
	struct rec r = { .fail_at = 2 };
	char err[256];

	assert_int_equal(parse_opts(SCRAPE_FORMAT_TEXT, "a 1\nb 2\nc 3\n", 12, NULL, &r, err,
				    sizeof(err)), -1);
	assert_string_equal(err, "rejected b");
	assert_int_equal(r.samples, 2);
	buf_free(&r.out);
	assert_int_equal(scrape_parse(SCRAPE_FORMAT_NONE, "", 0, NULL,
				      &(struct scrape_handler){ on_sample, NULL, &r }, NULL, err,
				      sizeof(err)), -1);
}

static void test_format_detect(void **state)
{
	enum scrape_format f;
	char err[256];

	assert_int_equal(scrape_format_detect("application/openmetrics-text; version=1.0.0; charset=utf-8",
					      SCRAPE_FORMAT_NONE, &f, err, sizeof(err)), 0);
	assert_int_equal(f, SCRAPE_FORMAT_OPENMETRICS);
	assert_int_equal(scrape_format_detect("Text/Plain;version=0.0.4;", SCRAPE_FORMAT_NONE, &f, err,
					      sizeof(err)), 0);
	assert_int_equal(f, SCRAPE_FORMAT_TEXT);
	assert_int_equal(scrape_format_detect("text/plain; charset=\"utf-8\"", SCRAPE_FORMAT_NONE, &f,
					      err, sizeof(err)), 0);
	/* Prometheus 3 without fallback_scrape_protocol: the scrape fails. */
	assert_int_equal(scrape_format_detect("", SCRAPE_FORMAT_NONE, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target");
	assert_int_equal(scrape_format_detect("application/json", SCRAPE_FORMAT_NONE, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "received unsupported Content-Type \"application/json\" and no fallback_scrape_protocol specified for target");
	assert_int_equal(scrape_format_detect("text/plain; charset", SCRAPE_FORMAT_NONE, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot parse Content-Type \"text/plain; charset\" and no fallback_scrape_protocol for target");
	assert_int_equal(scrape_format_detect("/plain", SCRAPE_FORMAT_NONE, &f, err, sizeof(err)), -1);
	assert_int_equal(scrape_format_detect("text/", SCRAPE_FORMAT_NONE, &f, err, sizeof(err)), -1);
	/* With a fallback (Prometheus 2 always falls back to text): a warning. */
	assert_int_equal(scrape_format_detect(NULL, SCRAPE_FORMAT_TEXT, &f, err, sizeof(err)), 1);
	assert_int_equal(f, SCRAPE_FORMAT_TEXT);
	assert_string_equal(err, "non-compliant scrape target sending blank Content-Type, using fallback_scrape_protocol \"text/plain\"");
	assert_int_equal(scrape_format_detect("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
					      SCRAPE_FORMAT_OPENMETRICS, &f, err, sizeof(err)), 1);
	assert_int_equal(f, SCRAPE_FORMAT_OPENMETRICS);
	assert_int_equal(scrape_format_detect("text/plain; x=\"unterminated", SCRAPE_FORMAT_TEXT, &f,
					      err, sizeof(err)), 1);
	assert_string_equal(err, "could not parse received Content-Type \"text/plain; x=\\\"unterminated\", using fallback_scrape_protocol \"text/plain\"");
	assert_string_equal(scrape_type_name(SCRAPE_TYPE_GAUGEHISTOGRAM), "gaugehistogram");
	assert_string_equal(scrape_type_name(SCRAPE_TYPE_UNKNOWN), "unknown");
}

static char *read_fixture(const char *name, size_t *len)
{
	const char *root = getenv("LGTM_FIXTURES");
	char path[512];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/scrape/%s", root ? root : "tests/fixtures", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

struct counts {
	size_t types[8], helps, samples, empty_dropped, summary_quantiles;
};

static int count_sample(void *ctx, const struct scrape_sample *s, char *err, size_t errlen)
{
	struct counts *c = ctx;
	char e[256];

	c->samples++;
	if (labels_check(&s->labels, e, sizeof(e)))
		fail_msg("%s: %s", s->name, e);
	if (strcmp(s->name, "node_os_info") == 0 && !labels_get(&s->labels, "build_id"))
		c->empty_dropped++;
	if (strcmp(s->name, "go_gc_duration_seconds") == 0 && labels_get(&s->labels, "quantile"))
		c->summary_quantiles++;
	return 0;
}

static int count_meta(void *ctx, const struct scrape_meta *m, char *err, size_t errlen)
{
	struct counts *c = ctx;

	if (m->kind == SCRAPE_META_TYPE)
		c->types[m->type]++;
	else
		c->helps++;
	return 0;
}

/* A real node_exporter 1.5 body (Debian's prometheus-node-exporter, scraped on
 * 127.0.0.1): 283 families (60 counters, 175 gauges, 1 summary, 47 untyped) and
 * 507 sample lines, as `grep -c` counts them. */
static void test_node_exporter_fixture(void **state)
{
	struct counts c = { 0 };
	struct scrape_handler h = { count_sample, count_meta, &c };
	struct scrape_stats st;
	char err[256];
	size_t len;
	char *body = read_fixture("node_exporter.txt", &len);

	assert_int_equal(scrape_parse(SCRAPE_FORMAT_TEXT, body, len, NULL, &h, &st, err, sizeof(err)), 0);
	assert_int_equal(c.helps, 283);
	assert_int_equal(c.types[SCRAPE_TYPE_COUNTER], 60);
	assert_int_equal(c.types[SCRAPE_TYPE_GAUGE], 175);
	assert_int_equal(c.types[SCRAPE_TYPE_SUMMARY], 1);
	assert_int_equal(c.types[SCRAPE_TYPE_UNKNOWN], 47);
	assert_int_equal(c.samples, 507);
	assert_int_equal(st.samples, 507);
	assert_int_equal(c.empty_dropped, 1);
	assert_int_equal(c.summary_quantiles, 5);
	/* The same body cut mid-line fails with the line it stopped in. */
	body[len / 2] = '{';
	assert_int_equal(scrape_parse(SCRAPE_FORMAT_TEXT, body, len, NULL, &h, NULL, err, sizeof(err)), -1);
	assert_true(strncmp(err, "line ", 5) == 0);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_upstream),
		cmocka_unit_test(test_text_escapes_and_blanks),
		cmocka_unit_test(test_text_values),
		cmocka_unit_test(test_text_errors),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_om_upstream),
		cmocka_unit_test(test_om_errors),
		cmocka_unit_test(test_om_families),
		cmocka_unit_test(test_normalize_text),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_callback_abort),
		cmocka_unit_test(test_format_detect),
		cmocka_unit_test(test_node_exporter_fixture),
	};

	return cmocka_run_group_tests_name("scrape_parse", tests, NULL, NULL);
}
