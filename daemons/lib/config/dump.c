/*
 * Config back to YAML, driven by the same schema tables that decoded it, so the
 * dump always shows exactly the supported keys. Strings are written plain when YAML
 * would read them back as the same string, otherwise double-quoted with escapes.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"

static void indent(struct buf *out, int level)
{
	for (int i = 0; i < level; i++)
		buf_puts(out, "  ");
}

/* Would a plain scalar read back as this exact string? */
static bool plain_ok(const char *s)
{
	static const char *const special[] = { "true", "false", "null", "~", "yes", "no", "on", "off", "" };
	char *end;

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcasecmp(s, special[i]) == 0)
			return false;
	strtod(s, &end);
	if (*end == '\0')
		return false; /* looks like a number */
	if (strchr("-?:,[]{}#&*!|>'\"%@`$ ", s[0]) || s[strlen(s) - 1] == ' ')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (*p == ':' && (p[1] == ' ' || !p[1])) ||
		    (*p == ' ' && p[1] == '#'))
			return false;
	return true;
}

static void scalar(struct buf *out, const char *s)
{
	if (plain_ok(s)) {
		buf_puts(out, s);
		return;
	}
	buf_putc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c == '\n')
			buf_puts(out, "\\n");
		else if (c == '\t')
			buf_puts(out, "\\t");
		else if (c < 0x20)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

static void dump_object(const struct cfg_schema *s, const char *obj, struct buf *out, int level);

/* "key:" and the items one per line ("key: []" when there are none), then a newline. */
static void strlist(struct buf *out, const char *key, const struct cfg_strlist *l, int level)
{
	indent(out, level);
	scalar(out, key);
	buf_puts(out, l->n ? ":" : ": []");
	for (size_t i = 0; i < l->n; i++) {
		buf_putc(out, '\n');
		indent(out, level);
		buf_puts(out, "- ");
		scalar(out, l->v[i]);
	}
	buf_putc(out, '\n');
}

static bool absent(const struct cfg_schema *s, const char *obj)
{
	for (const struct cfg_field *f = s->fields; f->key; f++)
		if (f->type == CFG_POS)
			return ((const struct cfg_pos *)(obj + f->offset))->line == 0;
	return false;
}

/* "key:" followed by a scalar on the same line, or nothing when the field is unset. */
static void dump_field(const struct cfg_field *f, const char *obj, struct buf *out, int level)
{
	const void *p = obj + f->offset;
	char tmp[64];

	switch (f->type) {
	case CFG_STRING: {
		const char *v = *(char *const *)p;
		if (!v)
			return;
		indent(out, level);
		buf_printf(out, "%s: ", f->key);
		scalar(out, (f->flags & CFG_SECRET) && *v ? "<secret>" : v);
		break;
	}
	case CFG_BOOL:
		indent(out, level);
		buf_printf(out, "%s: %s", f->key, *(const bool *)p ? "true" : "false");
		break;
	case CFG_INT:
		indent(out, level);
		buf_printf(out, "%s: %" PRId64, f->key, *(const int64_t *)p);
		break;
	case CFG_DOUBLE:
		indent(out, level);
		buf_printf(out, "%s: %.17g", f->key, *(const double *)p);
		break;
	case CFG_DURATION:
		cfg_format_duration(*(const int64_t *)p, tmp, sizeof(tmp));
		indent(out, level);
		buf_printf(out, "%s: %s", f->key, tmp);
		break;
	case CFG_BYTES:
		indent(out, level);
		buf_printf(out, "%s: %" PRIu64 "B", f->key, *(const uint64_t *)p);
		break;
	case CFG_STRING_LIST:
		if (((const struct cfg_strlist *)p)->n)
			strlist(out, f->key, p, level);
		return;
	case CFG_STRING_MAP: {
		const struct cfg_strmap *m = p;
		if (!m->n)
			return;
		indent(out, level);
		buf_printf(out, "%s:", f->key);
		for (size_t i = 0; i < m->n; i++) {
			buf_putc(out, '\n');
			indent(out, level + 1);
			scalar(out, m->keys[i]);
			buf_puts(out, ": ");
			scalar(out, (f->flags & CFG_SECRET) ? "<secret>" : m->vals[i]);
		}
		break;
	}
	case CFG_STRLIST_MAP: {
		const struct cfg_strlistmap *m = p;
		if (!m->n)
			return;
		indent(out, level);
		buf_printf(out, "%s:\n", f->key);
		for (size_t i = 0; i < m->n; i++)
			strlist(out, m->keys[i], &m->vals[i], level + 1);
		return;
	}
	case CFG_OBJECT:
		/* An object that records its position and has none was not written. */
		if (absent(f->sub, p))
			return;
		indent(out, level);
		buf_printf(out, "%s:\n", f->key);
		dump_object(f->sub, p, out, level + 1);
		return;
	case CFG_POS:
		return;
	case CFG_LIST: {
		const struct cfg_list *l = p;
		if (!l->n)
			return;
		indent(out, level);
		buf_printf(out, "%s:\n", f->key);
		for (size_t i = 0; i < l->n; i++) {
			struct buf item = { 0 };
			/* The first line of an item carries the "- " marker. */
			dump_object(f->sub, (const char *)l->v + i * f->elem_size, &item, level + 1);
			if (item.len > (size_t)(level + 1) * 2) {
				indent(out, level);
				buf_puts(out, "- ");
				buf_append(out, item.data + (level + 1) * 2, item.len - (level + 1) * 2);
			} else {
				indent(out, level);
				buf_puts(out, "- {}\n");
			}
			buf_free(&item);
		}
		return;
	}
	case CFG_OBJECT_MAP: {
		const struct cfg_objmap *m = p;
		if (!m->n)
			return;
		indent(out, level);
		buf_printf(out, "%s:\n", f->key);
		for (size_t i = 0; i < m->n; i++) {
			indent(out, level + 1);
			scalar(out, m->keys[i]);
			buf_puts(out, ":\n");
			dump_object(f->sub, (const char *)m->vals + i * f->elem_size, out, level + 2);
		}
		return;
	}
	}
	buf_putc(out, '\n');
}

static void dump_object(const struct cfg_schema *s, const char *obj, struct buf *out, int level)
{
	for (const struct cfg_field *f = s->fields; f->key; f++)
		dump_field(f, obj, out, level);
}

void cfg_dump_yaml(const struct cfg_schema *schema, const void *obj, struct buf *out)
{
	dump_object(schema, obj, out, 0);
}
