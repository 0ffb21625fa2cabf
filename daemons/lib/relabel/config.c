/*
 * Relabel rules as configuration: defaults, the YAML schema, and Prometheus'
 * validation (model/relabel Config.Validate plus what its YAML unmarshalling
 * rejects: unknown actions, invalid source label names, bad regexes). Label names
 * are validated with the legacy rules, as remote-write 1.0 and Prometheus 2 do.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dynload/dynload.h"
#include "relabel/relabel.h"

static const char *const action_names[] = {
	[RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",
	[RELABEL_DROP] = "drop",           [RELABEL_KEEPEQUAL] = "keepequal",
	[RELABEL_DROPEQUAL] = "dropequal", [RELABEL_HASHMOD] = "hashmod",
	[RELABEL_LABELMAP] = "labelmap",   [RELABEL_LABELDROP] = "labeldrop",
	[RELABEL_LABELKEEP] = "labelkeep", [RELABEL_LOWERCASE] = "lowercase",
	[RELABEL_UPPERCASE] = "uppercase",
};

#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

const char *relabel_action_name(enum relabel_action a)
{
	return (size_t)a < NACTIONS ? action_names[a] : "?";
}

void relabel_config_init(struct relabel_config *c)
{
	memset(c, 0, sizeof(*c));
	c->separator = RELABEL_DEFAULT_SEPARATOR;
	c->regex = RELABEL_DEFAULT_REGEX;
	c->target_label = "";
	c->replacement = RELABEL_DEFAULT_REPLACEMENT;
	c->action = RELABEL_DEFAULT_ACTION;
}

static void init_elem(void *elem)
{
	relabel_config_init(elem);
}

static const struct cfg_field relabel_fields[] = {
	{ "source_labels", CFG_STRING_LIST, offsetof(struct relabel_config, source_labels), NULL, 0, 0, NULL },
	{ "separator", CFG_STRING, offsetof(struct relabel_config, separator), NULL, 0, CFG_VERBATIM, NULL },
	{ "regex", CFG_STRING, offsetof(struct relabel_config, regex), NULL, 0, CFG_VERBATIM, NULL },
	{ "modulus", CFG_INT, offsetof(struct relabel_config, modulus), NULL, 0, 0, NULL },
	{ "target_label", CFG_STRING, offsetof(struct relabel_config, target_label), NULL, 0, CFG_VERBATIM, NULL },
	{ "replacement", CFG_STRING, offsetof(struct relabel_config, replacement), NULL, 0, CFG_VERBATIM, NULL },
	{ "action", CFG_STRING, offsetof(struct relabel_config, action), NULL, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

const struct cfg_schema relabel_config_schema = {
	.name = "relabel_config",
	.fields = relabel_fields,
	.init = init_elem,
};

static const char *str(const char *s)
{
	return s ? s : "";
}

static bool valid_name(const char *s)
{
	return labels_valid_name(s, strlen(s));
}

static bool word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Upstream's relabelTargetLegacy, ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$: word
 * characters and well-formed $refs, not starting with a digit. */
static bool valid_template_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	while (*s) {
		if (*s != '$') {
			if (!word(*s++))
				return false;
			continue;
		}
		s++;
		if (*s == '{') {
			const char *b = ++s;
			while (word(*s))
				s++;
			if (s == b || *s != '}')
				return false;
			s++;
		} else {
			const char *b = s;
			while (word(*s))
				s++;
			if (s == b)
				return false;
		}
	}
	return true;
}

static int parse_action(const char *s, enum relabel_action *act, char *err, size_t errlen)
{
	if (!*s) {
		snprintf(err, errlen, "relabel action cannot be empty");
		return -1;
	}
	for (size_t i = 0; i < NACTIONS; i++)
		if (strcasecmp(s, action_names[i]) == 0) {
			*act = (enum relabel_action)i;
			return 0;
		}
	snprintf(err, errlen, "unknown relabel action \"%s\"", s);
	return -1;
}

static bool needs_target(enum relabel_action a)
{
	return a == RELABEL_REPLACE || a == RELABEL_HASHMOD || a == RELABEL_LOWERCASE ||
	       a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
}

static bool case_or_equal(enum relabel_action a)
{
	return a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL ||
	       a == RELABEL_DROPEQUAL;
}

/* Config.Validate's checks, in its order. */
static int check_fields(const struct relabel_config *c, enum relabel_action a, char *err,
			size_t errlen)
{
	const char *target = str(c->target_label), *repl = str(c->replacement), *name = action_names[a];
	bool default_repl = strcmp(repl, RELABEL_DEFAULT_REPLACEMENT) == 0;
	bool default_sep = strcmp(str(c->separator), RELABEL_DEFAULT_SEPARATOR) == 0;
	bool templ = strchr(target, '$') != NULL;
	const struct dynload_crypto *cr;

	if (c->modulus == 0 && a == RELABEL_HASHMOD)
		return snprintf(err, errlen, "relabel configuration for hashmod requires non-zero modulus"), -1;
	/* hashmod's MD5 is libcrypto's, bound here so a missing library fails the config. */
	if (a == RELABEL_HASHMOD && dynload_crypto(&cr, err, errlen) < 0)
		return -1;
	if (needs_target(a) && !*target)
		return snprintf(err, errlen, "relabel configuration for %s action requires 'target_label' value", name), -1;
	if ((a == RELABEL_REPLACE && !(templ ? valid_template_name(target) : valid_name(target))) ||
	    ((case_or_equal(a) || a == RELABEL_HASHMOD) && !valid_name(target)))
		return snprintf(err, errlen, "\"%s\" is invalid 'target_label' for %s action", target, name), -1;
	if (case_or_equal(a) && !default_repl)
		return snprintf(err, errlen, "'replacement' can not be set for %s action", name), -1;
	if (a == RELABEL_LABELMAP && !valid_template_name(repl))
		return snprintf(err, errlen, "\"%s\" is invalid 'replacement' for %s action", repl, name), -1;
	if ((a == RELABEL_DROPEQUAL || a == RELABEL_KEEPEQUAL) &&
	    (strcmp(str(c->regex), RELABEL_DEFAULT_REGEX) != 0 || c->modulus || !default_sep || !default_repl))
		return snprintf(err, errlen, "%s action requires only 'source_labels' and `target_label`, and no other fields", name), -1;
	if ((a == RELABEL_LABELDROP || a == RELABEL_LABELKEEP) &&
	    (c->source_labels.n || *target || c->modulus || !default_sep || !default_repl))
		return snprintf(err, errlen, "%s action requires only 'regex', and no other fields", name), -1;
	return 0;
}

/* Everything Prometheus rejects at load; the compiled regex goes to *re when asked. */
static int check_rule(const struct relabel_config *c, enum relabel_action *act,
		      struct labels_regex **re, char *err, size_t errlen)
{
	struct labels_regex *tmp;

	if (parse_action(str(c->action), act, err, errlen))
		return -1;
	for (size_t i = 0; i < c->source_labels.n; i++)
		if (!valid_name(str(c->source_labels.v[i]))) {
			snprintf(err, errlen, "\"%s\" is not a valid label name", str(c->source_labels.v[i]));
			return -1;
		}
	if (c->modulus < 0) {
		snprintf(err, errlen, "invalid modulus %lld: must not be negative", (long long)c->modulus);
		return -1;
	}
	if (check_fields(c, *act, err, errlen))
		return -1;
	if (labels_regex_compile(str(c->regex), &tmp, err, errlen))
		return -1;
	if (re)
		*re = tmp;
	else
		labels_regex_free(tmp);
	return 0;
}

int relabel_config_validate(const struct relabel_config *c, char *err, size_t errlen)
{
	enum relabel_action a;

	return check_rule(c, &a, NULL, err, errlen);
}

int relabel_configs_check(const void *list, char *err, size_t errlen)
{
	const struct cfg_list *l = list;
	const struct relabel_config *c = l->v;
	char why[256];

	for (size_t i = 0; i < l->n; i++)
		if (relabel_config_validate(&c[i], why, sizeof(why))) {
			snprintf(err, errlen, "item %zu: %s", i, why);
			return -1;
		}
	return 0;
}

int relabel_configs_compile(struct relabel_config *c, size_t n, char *err, size_t errlen)
{
	char why[256];

	for (size_t i = 0; i < n; i++) {
		/* Processing reads the strings without NULL checks. */
		c[i].separator = (char *)str(c[i].separator);
		c[i].regex = (char *)str(c[i].regex);
		c[i].target_label = (char *)str(c[i].target_label);
		c[i].replacement = (char *)str(c[i].replacement);
		c[i].action = (char *)str(c[i].action);
		c[i].re = NULL;
		if (check_rule(&c[i], &c[i].act, &c[i].re, why, sizeof(why))) {
			if (n > 1)
				snprintf(err, errlen, "item %zu: %s", i, why);
			else
				snprintf(err, errlen, "%s", why);
			relabel_configs_release(c, i);
			return -1;
		}
	}
	return 0;
}

void relabel_configs_release(struct relabel_config *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		labels_regex_free(c[i].re);
		c[i].re = NULL;
	}
}
