/*
 * promql_parse: run the PromQL parser over query files, for the parse corpus and
 * the promqltest scripts.
 *
 *   promql_parse [--stock] [--print|--pretty] [--expect valid|invalid] [--promqltest]
 *                FILE...
 *
 * Each non-empty line of a FILE is one query (with --promqltest, the expression
 * of each `eval`/`eval_fail` line of a promqltest script instead). Queries are
 * parsed with every experimental feature on, as the conformance scripts need,
 * unless --stock is given; a query that parses only with the features on is
 * marked "[experimental]". Without --expect every query is listed with its
 * outcome (and its canonical form with --print, or upstream's multi-line
 * format_query form with --pretty); with --expect only the queries
 * that do not meet the expectation are listed. The last line is a summary, and
 * the exit status is 1 if any expectation failed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "promql/promql.h"

struct opts {
	bool stock, print, pretty, promqltest;
	int expect;	/* 0 none, 1 valid, -1 invalid */
};

struct counts {
	unsigned ok, failed, unmet, experimental;
};

/* The expression of a promqltest eval line, or NULL if the line is not one. */
static char *eval_expr(char *line)
{
	/* The words before the expression; "*" is any word (a time or a step). */
	static const char *const instant[] = { "instant", "at", "*", NULL };
	static const char *const range[] = { "range", "from", "*", "to", "*", "step", "*", NULL };
	const char *const *w;
	char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!strncmp(p, "eval_fail ", 10))
		p += 10;
	else if (!strncmp(p, "eval ", 5))
		p += 5;
	else
		return NULL;
	while (*p == ' ')
		p++;
	for (w = !strncmp(p, "range ", 6) ? range : instant; *w; w++) {
		size_t n = strcspn(p, " \t");

		if (strcmp(*w, "*") && (n != strlen(*w) || strncmp(p, *w, n)))
			return NULL;
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	return p;
}

static bool parse_one(struct arena *a, const char *q, bool stock, bool pretty, struct buf *out,
		      char *err, size_t errlen)
{
	struct promql_parse_opts all = PROMQL_PARSE_OPTS_ALL;
	struct promql_node *n;

	arena_reset(a);
	if (promql_parse(a, q, stock ? NULL : &all, &n, NULL, err, errlen))
		return false;
	if (out && pretty)
		promql_format_pretty(n, out);
	else if (out)
		promql_format(n, out);
	return true;
}

static void check_query(struct arena *a, const char *q, const struct opts *o, struct counts *c)
{
	char err[1024], serr[1024];
	struct buf text = { 0 };
	bool show = o->print || o->pretty;
	bool ok = parse_one(a, q, o->stock, o->pretty, show ? &text : NULL, err, sizeof(err));
	bool exp = ok && !o->stock && !parse_one(a, q, true, false, NULL, serr, sizeof(serr));
	bool unmet = (o->expect > 0 && !ok) || (o->expect < 0 && ok);

	ok ? c->ok++ : c->failed++;
	c->experimental += exp;
	c->unmet += unmet;
	if (o->expect && !unmet)
		goto out;
	printf("%s%s\t%s", ok ? "ok" : "fail", exp ? " [experimental]" : "", q);
	if (!ok)
		printf("\t%s", err);
	else if (show && text.data)
		printf(o->pretty ? "\n%s" : "\t=> %s", text.data);
	putchar('\n');
out:
	buf_free(&text);
}

static int run_file(struct arena *a, const char *path, const struct opts *o, struct counts *c)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *q = line;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (o->promqltest)
			q = eval_expr(line);
		if (q && *q)
			check_query(a, q, o, c);
	}
	free(line);
	fclose(f);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: promql_parse [--stock] [--print|--pretty] "
		"[--expect valid|invalid] [--promqltest] FILE...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct counts c = { 0 };
	struct arena *a;
	int i, rc = 0;

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--stock"))
			o.stock = true;
		else if (!strcmp(argv[i], "--print"))
			o.print = true;
		else if (!strcmp(argv[i], "--pretty"))
			o.pretty = true;
		else if (!strcmp(argv[i], "--promqltest"))
			o.promqltest = true;
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			o.expect = !strcmp(argv[++i], "valid") ? 1 :
				   !strcmp(argv[i], "invalid") ? -1 : 2;
		else
			return usage();
	}
	if (i == argc || o.expect == 2)
		return usage();
	a = arena_new(0);
	if (!a)
		return 1;
	for (; i < argc; i++)
		if (run_file(a, argv[i], &o, &c))
			rc = 1;
	arena_free(a);
	printf("%u parsed, %u failed, %u need experimental features, %u unexpected\n", c.ok,
	       c.failed, c.experimental, c.unmet);
	return rc || c.unmet ? 1 : 0;
}
