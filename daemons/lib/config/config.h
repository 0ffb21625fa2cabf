/*
 * config: YAML configuration files (through libyaml) decoded into typed C structs by
 * a declared schema, nginx-style: each struct has a table of fields (key, type,
 * offset). Upstream formats (prometheus.yml, Loki, Tempo, otelcol) are described by
 * such tables, so the supported subset of a format is visible in one place.
 *
 * Contract:
 * - The caller fills the output struct with defaults, then loads: keys present in
 *   the file overwrite their fields, absent keys keep the defaults.
 * - An unknown key, a value of the wrong type (a map where a string belongs, "abc"
 *   for an integer, a bad duration...), a duplicate key, a missing CFG_REQUIRED
 *   field, or a failing field check is an error; `err` reads
 *     "<file>:<line>:<column>: <key path>: <reason>"
 *   e.g. "lgtm-metrics.yml:7:3: global.scrape_intervall: unknown key". YAML syntax
 *   errors carry the position libyaml reports.
 * - Scalar values (not keys, not CFG_VERBATIM fields) have `${VAR}`,
 *   `${VAR:-default}` and otelcol's `${env:VAR}` expanded from the environment
 *   before they are typed; an unset
 *   variable without a default expands to the empty string; `:-` also applies to
 *   an empty variable, as in the shell; `$$` is a literal `$`, and a `$` before
 *   anything else is kept as it is.
 * - Every string and array of the result lives in the arena the caller passed; a
 *   reload parses into a fresh arena and swaps, so readers of the old config are
 *   never disturbed.
 * - Reentrant: no global state, so loads may run on any thread.
 *
 * Details the tables rely on:
 * - A null value (`~`, `null`, or nothing after the colon) leaves the field's
 *   default; for a CFG_REQUIRED field it counts as missing. Quoted "" is a string.
 * - A field's check runs only when the file gave the field a non-null value.
 * - A present list or map replaces the default one, it is not appended to. Elements
 *   of CFG_LIST / CFG_OBJECT_MAP get schema->init before decoding; a null element
 *   keeps just those defaults (otelcol's `otlp:` with no body).
 * - Anchors, aliases and `<<` merge keys work; keys written in a mapping win over
 *   merged ones. A value reached through an alias is reported at its anchor.
 * - Limits: CFG_MAX_INPUT bytes of input, CFG_MAX_DEPTH nested collections, and
 *   CFG_MAX_NODES nodes once aliases are expanded (so a "billion laughs" file is
 *   refused while it is read, not while it is decoded).
 * - On failure `out` may be partly written: discard it together with the arena.
 *
 * After loading:
 * - A CFG_POS field (any key, CFG_POS_FIELD below; never matched against the file)
 *   records where the object's mapping began (line 0 when the file had no such
 *   object), so checks that run after loading (cross-field, cross-object, defaults
 *   from another section) report "<file>:<line>:<col>: <path>: ..." with
 *   cfg_pos_error() exactly as load errors read.
 * - cfg_equal() and cfg_copy() walk a schema: a reloading daemon compares the old
 *   and the new section to keep what did not change, and copies a section it keeps
 *   beyond the life of the config's arena.
 */
#ifndef LGTM_CONFIG_H
#define LGTM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"

enum cfg_type {
	CFG_STRING,      /* char * */
	CFG_BOOL,        /* bool: true/false, True/False, TRUE/FALSE; yes/no/on/off are rejected */
	CFG_INT,         /* int64_t: decimal with optional sign, or 0x hex / 0o octal */
	CFG_DOUBLE,      /* double: decimal or exponent form, .inf/-.inf/.nan */
	CFG_DURATION,    /* int64_t milliseconds; Prometheus syntax "1h30m", "15s", "500ms", "0" */
	CFG_BYTES,       /* uint64_t bytes; "512MiB", "1GB", "64KB", "100" */
	CFG_STRING_LIST, /* struct cfg_strlist */
	CFG_STRING_MAP,  /* struct cfg_strmap (labels, headers) */
	CFG_OBJECT,      /* nested struct at offset, described by sub */
	CFG_LIST,        /* struct cfg_list of elem_size structs, each described by sub */
	CFG_OBJECT_MAP,  /* struct cfg_objmap: arbitrary keys -> elem_size structs (otelcol components) */
	CFG_STRLIST_MAP, /* struct cfg_strlistmap: keys -> string lists (Prometheus' params) */
	CFG_POS,         /* struct cfg_pos: not a key; where the object's mapping began */
};

#define CFG_REQUIRED 0x1u
/* A scalar taken as written, without environment expansion: for fields whose own
 * syntax uses `$`, such as relabeling's `${1}` templates (Prometheus expands no
 * environment variables there). On a string list or map it applies to the items. */
#define CFG_VERBATIM 0x2u
/* A credential: cfg_dump_yaml() prints "<secret>" instead of the value. */
#define CFG_SECRET 0x4u

#define CFG_MAX_INPUT (16u << 20)
#define CFG_MAX_DEPTH 64
#define CFG_MAX_NODES 1000000

struct cfg_strlist { char **v; size_t n; };
struct cfg_strmap { char **keys; char **vals; size_t n; };
struct cfg_list { void *v; size_t n; };
struct cfg_objmap { char **keys; void *vals; size_t n; };
struct cfg_strlistmap { char **keys; struct cfg_strlist *vals; size_t n; };

/* Where a decoded object began; file and path live in the config's arena. */
struct cfg_pos {
	const char *file;
	const char *path; /* e.g. "scrape_configs[1]" */
	unsigned line, col; /* 1-based; line 0: not in the file */
};

struct cfg_schema;

struct cfg_field {
	const char *key;
	enum cfg_type type;
	size_t offset;
	const struct cfg_schema *sub;  /* CFG_OBJECT, CFG_LIST, CFG_OBJECT_MAP */
	size_t elem_size;              /* CFG_LIST, CFG_OBJECT_MAP */
	unsigned flags;
	/* Optional check of the decoded value (points at the field); returns 0 or fills err. */
	int (*check)(const void *value, char *err, size_t errlen);
};

struct cfg_schema {
	const char *name;               /* used in messages, e.g. "global" */
	const struct cfg_field *fields; /* terminated by an entry with key == NULL */
	/* Optional: fill defaults of a list/map element before it is decoded. */
	void (*init)(void *elem);
};

/* The schema row recording an object's position into its struct cfg_pos member. */
#define CFG_POS_FIELD(type, member) \
	{ "(position)", CFG_POS, offsetof(type, member), NULL, 0, 0, NULL }

int cfg_load_file(const char *path, const struct cfg_schema *schema, void *out,
		  struct arena *a, char *err, size_t errlen);
/* `name` stands for the file name in messages. */
int cfg_load_buffer(const char *name, const char *text, size_t len,
		    const struct cfg_schema *schema, void *out, struct arena *a,
		    char *err, size_t errlen);

/* A file whose top level is a sequence of `elem` objects (Prometheus' file_sd
 * target files): decoded into `out` like a CFG_LIST field; an empty file is an
 * empty list. Messages name items as "[2].labels". */
int cfg_load_list_buffer(const char *name, const char *text, size_t len,
			 const struct cfg_schema *elem, size_t elem_size, struct cfg_list *out,
			 struct arena *a, char *err, size_t errlen);

/* "<file>:<line>:<col>: <path>: <reason>" from a recorded position (no position
 * part when line is 0, no path part when it is empty). Always returns -1. */
int cfg_pos_error(const struct cfg_pos *p, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Whether two objects of `s` hold the same values in every field the schema
 * declares (recursively; NULL and "" strings are equal; positions and members the
 * schema does not declare are ignored). */
bool cfg_equal(const struct cfg_schema *s, const void *a, const void *b);
/* `obj` holds a bitwise copy of another object of `s` (memcpy); replace every
 * string, array and element the schema declares (positions included) with copies
 * in `a`, so that obj no longer shares memory with the original. Members the
 * schema does not declare keep their bitwise value, in list elements too.
 * 0, or -1 when memory runs out. */
int cfg_copy(const struct cfg_schema *s, void *obj, struct arena *a);

/* Prometheus duration syntax: [0-9]+(ms|s|m|h|d|w|y) units in decreasing order,
 * each at most once ("1h30m", "15s", "0"); y is 365d. Result in milliseconds.
 * As upstream, the total must fit an int64 of nanoseconds (about 292y). 0 or -1. */
int cfg_parse_duration(const char *s, int64_t *ms);
/* Format milliseconds back to the shortest Prometheus duration ("1h30m", "0s";
 * y and w only when they divide exactly, so 90d stays "90d"; negative gets "-"). */
void cfg_format_duration(int64_t ms, char *out, size_t cap);
/* Byte sizes: a plain integer, or an integer with a unit B, KB/MB/GB/TB/PB or
 * KiB/MiB/GiB/TiB/PiB; both spellings are powers of 1024, as Prometheus'
 * units.ParseBase2Bytes reads "512MB". Overflow is an error. 0 or -1. */
int cfg_parse_bytes(const char *s, uint64_t *bytes);
/* Environment expansion as described above, into an arena string; NULL on OOM or a
 * malformed reference ("${" without "}"), with err filled. */
char *cfg_expand_env(struct arena *a, const char *s, char *err, size_t errlen);

/* The decoded config back as YAML (2-space indentation), for /api/v1/status/config:
 * every declared field that has a value (NULL strings and empty lists and maps are
 * left out), durations in Prometheus' form, CFG_SECRET values as "<secret>". */
void cfg_dump_yaml(const struct cfg_schema *schema, const void *obj, struct buf *out);

#endif
