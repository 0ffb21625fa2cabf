/*
 * Flag parsing. The table drives everything: lookup by name (with aliases), typed
 * conversion, and the usage text, so a daemon declares each flag once.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

/* Does `names` ("a|b|c") contain `name` (of length n)? */
static bool names_match(const char *names, const char *name, size_t n)
{
	const char *p = names;

	while (*p) {
		const char *end = strchr(p, '|');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

static struct cli_flag *find_n(struct cli_flag *flags, const char *name, size_t n)
{
	for (struct cli_flag *f = flags; f->names; f++)
		if (names_match(f->names, name, n))
			return f;
	return NULL;
}

struct cli_flag *cli_find(struct cli_flag *flags, const char *name)
{
	return find_n(flags, name, strlen(name));
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int set_value(struct cli_flag *f, const char *v)
{
	switch (f->type) {
	case CLI_STRING:
		*(const char **)f->target = v;
		return 0;
	case CLI_BOOL:
		return parse_bool(v, f->target);
	case CLI_INT: {
		char *end;
		long long x;
		errno = 0;
		x = strtoll(v, &end, 10);
		if (errno || end == v || *end)
			return -1;
		*(int64_t *)f->target = x;
		return 0;
	}
	case CLI_DURATION:
		return cfg_parse_duration(v, f->target);
	case CLI_BYTES:
		return cfg_parse_bytes(v, f->target);
	}
	return -1;
}

static const char *primary_name(const struct cli_flag *f, char *tmp, size_t cap)
{
	size_t n = strcspn(f->names, "|");

	snprintf(tmp, cap, "%.*s", (int)n, f->names);
	return tmp;
}

int cli_parse(struct cli_flag *flags, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *val = NULL;
		struct cli_flag *f;
		size_t n;
		bool negated = false;

		if (arg[0] != '-' || arg[1] == '\0') {
			snprintf(err, errlen, "unexpected argument %s", arg);
			return CLI_ERROR;
		}
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		if (eq)
			val = eq + 1;
		if ((n == 4 && !strncmp(name, "help", 4)) || (n == 1 && name[0] == 'h'))
			return CLI_HELP;
		if (n == 7 && !strncmp(name, "version", 7))
			return CLI_VERSION;
		f = find_n(flags, name, n);
		if (!f && n > 3 && !strncmp(name, "no-", 3) && !eq) {
			f = find_n(flags, name + 3, n - 3);
			if (f && f->type != CLI_BOOL)
				f = NULL;
			negated = f != NULL;
		}
		if (!f) {
			snprintf(err, errlen, "unknown flag --%.*s", (int)n, name);
			return CLI_ERROR;
		}
		if (f->type == CLI_BOOL && !val) {
			*(bool *)f->target = !negated;
			f->set = true;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "flag --%.*s needs a value", (int)n, name);
				return CLI_ERROR;
			}
			val = argv[++i];
		}
		if (set_value(f, val) < 0) {
			char tmp[128];
			snprintf(err, errlen, "invalid value \"%s\" for flag --%s", val,
				 primary_name(f, tmp, sizeof(tmp)));
			return CLI_ERROR;
		}
		f->set = true;
	}
	return CLI_OK;
}

static void print_default(FILE *out, const struct cli_flag *f)
{
	char tmp[64];

	switch (f->type) {
	case CLI_STRING: {
		const char *v = *(const char *const *)f->target;
		if (v && *v)
			fprintf(out, " (default: %s)", v);
		break;
	}
	case CLI_BOOL:
		if (*(const bool *)f->target)
			fprintf(out, " (default: true)");
		break;
	case CLI_INT:
		fprintf(out, " (default: %" PRId64 ")", *(const int64_t *)f->target);
		break;
	case CLI_DURATION:
		cfg_format_duration(*(const int64_t *)f->target, tmp, sizeof(tmp));
		fprintf(out, " (default: %s)", tmp);
		break;
	case CLI_BYTES:
		if (*(const uint64_t *)f->target)
			fprintf(out, " (default: %" PRIu64 "B)", *(const uint64_t *)f->target);
		break;
	}
}

void cli_usage(FILE *out, const char *prog, const char *summary, const struct cli_flag *flags)
{
	static const char *const metavars[] = { "<string>", "", "<int>", "<duration>", "<bytes>" };
	char tmp[128];

	fprintf(out, "usage: %s [<flags>]\n\n%s\n\nFlags:\n", prog, summary);
	fprintf(out, "  --help                     Show this help and exit.\n");
	fprintf(out, "  --version                  Show the version and exit.\n");
	for (const struct cli_flag *f = flags; f->names; f++) {
		const char *mv = f->metavar ? f->metavar : metavars[f->type];
		int w = fprintf(out, "  --%s%s%s", primary_name(f, tmp, sizeof(tmp)), *mv ? "=" : "", mv);
		fprintf(out, "%*s%s", w < 29 ? 29 - w : 1, "", f->help);
		print_default(out, f);
		fputc('\n', out);
	}
}
