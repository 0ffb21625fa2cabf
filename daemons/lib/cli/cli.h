/*
 * cli: command-line flags declared as a table, parsed in the upstream spirit.
 *
 * Accepted forms: `--name=value`, `--name value`, and the single-dash Go forms
 * `-name=value`, `-name value` (Loki, Tempo and Mimir operators type those). Boolean
 * flags take no value (`--check-config`), or `=true|false`; `--no-name` sets false.
 * A flag may have aliases (`storage.tsdb.path|storage.path`); the first is shown.
 *
 * Contract:
 * - cli_parse() writes each given flag through its target pointer (typed by the
 *   flag's type) and marks it as set; flags not given keep whatever the target held.
 * - An unknown flag, a missing or ill-typed value, or a positional argument returns
 *   CLI_ERROR with `err` naming the flag. The caller prints err and the usage and
 *   exits 2.
 * - --help and --version are handled by the caller on CLI_HELP / CLI_VERSION.
 * - No global state; not thread-safe (called once from main).
 */
#ifndef LGTM_CLI_H
#define LGTM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_type {
	CLI_STRING,   /* const char ** (points into argv) */
	CLI_BOOL,     /* bool * */
	CLI_INT,      /* int64_t * */
	CLI_DURATION, /* int64_t * milliseconds, Prometheus syntax */
	CLI_BYTES,    /* uint64_t * */
};

struct cli_flag {
	const char *names;     /* "name" or "name|alias|..." without dashes */
	enum cli_type type;
	void *target;
	const char *help;
	const char *metavar;   /* shown in usage; NULL: derived from the type */
	bool set;              /* filled by cli_parse */
};

#define CLI_OK 0
#define CLI_HELP 1
#define CLI_VERSION 2
#define CLI_ERROR (-1)

/* flags: terminated by an entry with names == NULL. */
int cli_parse(struct cli_flag *flags, int argc, char **argv, char *err, size_t errlen);
/* Find a flag by any of its names (tests, and callers checking `set`). */
struct cli_flag *cli_find(struct cli_flag *flags, const char *name);
/* Usage text: "usage: prog [<flags>]", then each flag with its help and default. */
void cli_usage(FILE *out, const char *prog, const char *summary, const struct cli_flag *flags);

#endif
