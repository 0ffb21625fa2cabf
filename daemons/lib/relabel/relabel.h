/*
 * relabel: Prometheus relabeling (relabel_configs, metric_relabel_configs,
 * write_relabel_configs) with every action upstream has: replace, keep, drop,
 * keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase and
 * uppercase.
 *
 * Contract:
 * - struct relabel_config holds a rule as configured (the YAML keys) plus its
 *   compiled form. relabel_config_init() sets Prometheus' defaults (separator ";",
 *   regex "(.*)", replacement "$1", action replace); the schema below applies them
 *   to every list element through its init hook, and its check validates the list
 *   with Prometheus' rules and messages (legacy label-name validation).
 * - relabel_configs_compile() validates and compiles the regexes; the rules are
 *   then read-only and may be used by any number of threads at once.
 *   relabel_configs_release() frees what compile allocated (the strings stay the
 *   caller's, e.g. the config arena's).
 * - relabel_process() applies compiled rules in order to a sorted label set and
 *   writes a sorted result whose array and new strings live in the arena (values
 *   left untouched still point into `in`). As Prometheus' label builder does,
 *   labels with an empty value are absent: setting a label to "" (a replace that
 *   expands to nothing, a lowercase of an empty value) deletes it.
 * - labelmap sets whatever name the replacement expands to, as upstream does
 *   (an empty one excepted); replace skips targets that are not valid names.
 *   Moduli are int64 (uint64 upstream), so hashmod takes moduli up to 2^63-1.
 * - Regexes are anchored at both ends, `.` matches newlines, and templates expand
 *   `$1`, `${1}`, `$name`, `${name}` as Go's regexp.Expand does (labels module).
 *
 * Errors: 0 / -1 with `err` filled; relabel_process returns -1 only when memory
 * runs out or the rules were not compiled.
 */
#ifndef LGTM_RELABEL_H
#define LGTM_RELABEL_H

#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "config/config.h"
#include "labels/labels.h"

enum relabel_action {
	RELABEL_REPLACE,
	RELABEL_KEEP,
	RELABEL_DROP,
	RELABEL_KEEPEQUAL,
	RELABEL_DROPEQUAL,
	RELABEL_HASHMOD,
	RELABEL_LABELMAP,
	RELABEL_LABELDROP,
	RELABEL_LABELKEEP,
	RELABEL_LOWERCASE,
	RELABEL_UPPERCASE,
};

#define RELABEL_DEFAULT_SEPARATOR ";"
#define RELABEL_DEFAULT_REGEX "(.*)"
#define RELABEL_DEFAULT_REPLACEMENT "$1"
#define RELABEL_DEFAULT_ACTION "replace"

struct relabel_config {
	/* As configured. */
	struct cfg_strlist source_labels;
	char *separator;
	char *regex;
	int64_t modulus;
	char *target_label;
	char *replacement;
	char *action; /* case-insensitive, as upstream */
	/* Filled by relabel_configs_compile(). */
	enum relabel_action act;
	struct labels_regex *re;
};

/* Defaults (pointing at static strings, never written through). */
void relabel_config_init(struct relabel_config *c);

/* One element of `relabel_configs:`; its init hook applies the defaults. */
extern const struct cfg_schema relabel_config_schema;
/* Field check for a CFG_LIST of struct relabel_config: every rule must validate. */
int relabel_configs_check(const void *list, char *err, size_t errlen);
/* A schema field for a relabel list, e.g.
 *   RELABEL_CONFIGS_FIELD("metric_relabel_configs", struct scrape_config, metric_relabel)
 * where the member is a struct cfg_list. */
#define RELABEL_CONFIGS_FIELD(key, type, member)                                           \
	{ (key), CFG_LIST, offsetof(type, member), &relabel_config_schema,               \
	  sizeof(struct relabel_config), 0, relabel_configs_check }

/* Prometheus' config validation of one rule, with its messages, e.g.
 * "relabel configuration for hashmod requires non-zero modulus". */
int relabel_config_validate(const struct relabel_config *c, char *err, size_t errlen);
/* Validate and compile n rules; on failure nothing stays allocated. The message
 * names the rule's index when n > 1. */
int relabel_configs_compile(struct relabel_config *c, size_t n, char *err, size_t errlen);
void relabel_configs_release(struct relabel_config *c, size_t n);

#define RELABEL_DROPPED 0
#define RELABEL_KEPT 1

/* RELABEL_KEPT with *out filled, RELABEL_DROPPED, or -1 (out of memory). */
int relabel_process(const struct relabel_config *c, size_t n, const struct labels *in,
		    struct arena *a, struct labels *out);

/* "replace", "keep", ... */
const char *relabel_action_name(enum relabel_action a);

#endif
