/*
 * libyaml events -> node tree. The event API (not libyaml's document loader) lets
 * every limit be enforced while reading: nesting depth is checked as collections
 * open, and the size the tree would have with aliases expanded is counted as nodes
 * and aliases arrive, so an alias bomb stops at the first alias that crosses
 * CFG_MAX_NODES instead of after building or walking anything large.
 *
 * Children of the open collections share one pending stack; a collection's
 * children are the slots above its base, copied into the arena when it closes.
 * The key path is kept alongside so loader errors read like decoder errors.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	struct cfg_node *node;
	size_t base;     /* first pending slot holding this collection's children */
	size_t path_len; /* key path length to restore when it closes */
};

struct anchor {
	const char *name;
	struct cfg_node *node;
};

struct loader {
	struct cfg_report *r;
	struct arena *tmp;
	struct frame frames[CFG_MAX_DEPTH];
	size_t depth;
	struct cfg_node **pending;
	size_t npending, cappending;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	size_t expanded;
	bool have_doc;
	struct cfg_node *root;
};

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*v, ncap * elem);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

/* Fail at a libyaml mark (0-based) in the 1-based form of every message. */
#define AT(l, m, ...) \
	cfg_fail((l)->r, (unsigned)(m).line + 1, (unsigned)(m).column + 1, __VA_ARGS__)

static struct cfg_node *node_new(struct loader *l, enum cfg_node_kind kind, yaml_mark_t m)
{
	struct cfg_node *n = arena_calloc(l->tmp, 1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (unsigned)m.line + 1;
	n->col = (unsigned)m.column + 1;
	n->weight = 1;
	return n;
}

static struct frame *top(struct loader *l)
{
	return l->depth ? &l->frames[l->depth - 1] : NULL;
}

/* Extend the path with the segment of the slot the next node goes into. */
static size_t slot_enter(struct loader *l)
{
	struct frame *f = top(l);
	struct cfg_node *key;
	size_t n;

	if (!f)
		return l->r->path.len;
	n = l->npending - f->base;
	if (f->node->kind == CFG_NODE_SEQ)
		return cfg_path_index(&l->r->path, n);
	if (n % 2 == 0)
		return l->r->path.len;
	key = l->pending[l->npending - 1];
	return cfg_path_key(&l->r->path, key->str, key->len);
}

static int place(struct loader *l, struct cfg_node *n, yaml_mark_t m)
{
	struct frame *f = top(l);

	if (!f) {
		l->root = n;
		return 0;
	}
	if (f->node->kind == CFG_NODE_MAP && (l->npending - f->base) % 2 == 0 &&
	    n->kind != CFG_NODE_SCALAR)
		return AT(l, m, "mapping key must be a scalar");
	if (grow((void **)&l->pending, &l->cappending, l->npending + 1, sizeof(*l->pending)))
		return AT(l, m, "out of memory");
	l->pending[l->npending++] = n;
	return 0;
}

static int count(struct loader *l, size_t weight, yaml_mark_t m)
{
	if (weight > CFG_MAX_NODES - l->expanded) {
		l->expanded = CFG_MAX_NODES + 1;
		return AT(l, m, "document expands to more than %d nodes (alias bomb?)",
			  CFG_MAX_NODES);
	}
	l->expanded += weight;
	return 0;
}

static int anchor_add(struct loader *l, const yaml_char_t *name, struct cfg_node *n,
		      yaml_mark_t m)
{
	struct anchor *a;

	if (!name)
		return 0;
	if (grow((void **)&l->anchors, &l->capanchors, l->nanchors + 1, sizeof(*a)))
		return AT(l, m, "out of memory");
	a = &l->anchors[l->nanchors];
	a->name = arena_strdup(l->tmp, (const char *)name);
	if (!a->name)
		return AT(l, m, "out of memory");
	a->node = n;
	l->nanchors++;
	return 0;
}

static struct cfg_node *scalar_new(struct loader *l, const yaml_event_t *ev)
{
	struct cfg_node *n = node_new(l, CFG_NODE_SCALAR, ev->start_mark);

	if (!n)
		return NULL;
	n->len = ev->data.scalar.length;
	n->str = arena_strndup(l->tmp, (const char *)ev->data.scalar.value, n->len);
	n->complete = true;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
	return n->str ? n : NULL;
}

static int on_scalar(struct loader *l, const yaml_event_t *ev)
{
	size_t old = slot_enter(l);
	struct cfg_node *n;
	int rc;

	/* C strings would silently cut "a\0b" short: refuse it instead. */
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
		rc = AT(l, ev->start_mark, "NUL character in a scalar");
	else if (!(n = scalar_new(l, ev)))
		rc = AT(l, ev->start_mark, "out of memory");
	else if (!(rc = count(l, 1, ev->start_mark)) && !(rc = place(l, n, ev->start_mark)))
		rc = anchor_add(l, ev->data.scalar.anchor, n, ev->start_mark);
	cfg_path_restore(&l->r->path, old);
	return rc;
}

static int on_alias(struct loader *l, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct cfg_node *n = NULL;
	size_t i, old;
	int rc = -1;

	for (i = l->nanchors; i-- > 0;) {
		if (!strcmp(l->anchors[i].name, name)) {
			n = l->anchors[i].node;
			break;
		}
	}
	old = slot_enter(l);
	if (!n)
		AT(l, ev->start_mark, "unknown anchor \"%s\"", name);
	else if (!n->complete)
		AT(l, ev->start_mark, "alias \"%s\" refers to a node that contains it", name);
	else if (l->depth + n->height > CFG_MAX_DEPTH)
		AT(l, ev->start_mark, "alias \"%s\" nests too deep", name);
	else if (!count(l, n->weight, ev->start_mark))
		rc = place(l, n, ev->start_mark);
	cfg_path_restore(&l->r->path, old);
	return rc;
}

static int on_open(struct loader *l, const yaml_event_t *ev, enum cfg_node_kind kind,
		   const yaml_char_t *anchor)
{
	struct cfg_node *n;
	struct frame *f;
	size_t old;

	old = slot_enter(l);
	if (l->depth == CFG_MAX_DEPTH)
		return AT(l, ev->start_mark, "nesting deeper than %d levels", CFG_MAX_DEPTH);
	n = node_new(l, kind, ev->start_mark);
	if (!n)
		return AT(l, ev->start_mark, "out of memory");
	if (count(l, 1, ev->start_mark) || place(l, n, ev->start_mark) ||
	    anchor_add(l, anchor, n, ev->start_mark))
		return -1;
	f = &l->frames[l->depth++];
	f->node = n;
	f->base = l->npending;
	f->path_len = old;
	return 0;
}

static int on_close(struct loader *l)
{
	struct frame *f = top(l);
	struct cfg_node *n = f->node;
	struct cfg_node **kv = l->pending + f->base;
	size_t i, nkv = l->npending - f->base;

	if (n->kind == CFG_NODE_MAP) {
		if (cfg_map_build(l->r, l->tmp, n, kv, nkv))
			return -1;
	} else if (nkv) {
		n->kids = arena_alloc(l->tmp, nkv * sizeof(*n->kids));
		if (!n->kids)
			return cfg_fail(l->r, n->line, n->col, "out of memory");
		memcpy(n->kids, kv, nkv * sizeof(*n->kids));
		n->n = nkv;
	}
	nkv = n->kind == CFG_NODE_MAP ? 2 * n->n : n->n;
	n->height = 1;
	for (i = 0; i < nkv; i++) {
		/* Bounded by CFG_MAX_NODES per child, so the sum cannot wrap. */
		n->weight += n->kids[i]->weight;
		if (n->kids[i]->height + 1 > n->height)
			n->height = n->kids[i]->height + 1;
	}
	n->complete = true;
	l->npending = f->base;
	cfg_path_restore(&l->r->path, f->path_len);
	l->depth--;
	return 0;
}

static int on_event(struct loader *l, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (l->have_doc)
			return AT(l, ev->start_mark, "%s",
				  "more than one YAML document in the file");
		l->have_doc = true;
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(l, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(l, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_open(l, ev, CFG_NODE_SEQ, ev->data.sequence_start.anchor);
	case YAML_MAPPING_START_EVENT:
		return on_open(l, ev, CFG_NODE_MAP, ev->data.mapping_start.anchor);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_close(l);
	default:
		return 0;
	}
}

/* libyaml's reader decodes ahead of the scanner, so for an encoding error only the
 * byte offset is right; the line and column (in characters) are counted here. */
static yaml_mark_t offset_mark(const char *text, size_t len, size_t off)
{
	yaml_mark_t m = { off, 0, 0 };
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int syntax_error(struct loader *l, const yaml_parser_t *p, const char *text, size_t len)
{
	yaml_mark_t m = p->error == YAML_READER_ERROR ?
			offset_mark(text, len, p->problem_offset) : p->problem_mark;
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR)
		return AT(l, p->mark, "out of memory");
	cfg_path_restore(&l->r->path, 0);
	if (p->context)
		return AT(l, m, "yaml: %s (%s at %u:%u)", problem, p->context,
			  (unsigned)p->context_mark.line + 1,
			  (unsigned)p->context_mark.column + 1);
	return AT(l, m, "yaml: %s", problem);
}

int cfg_tree_load(struct cfg_report *r, const char *text, size_t len,
		  struct arena *tmp, struct cfg_node **root)
{
	struct loader *l;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	*root = NULL;
	l = calloc(1, sizeof(*l));
	if (!l || !yaml_parser_initialize(&parser)) {
		free(l);
		return cfg_fail(r, 1, 1, "out of memory");
	}
	l->r = r;
	l->tmp = tmp;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(l, &parser, text, len);
			goto fail;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(l, &ev);
		yaml_event_delete(&ev);
		if (rc)
			goto fail;
	}
	*root = l->root;
fail:
	yaml_parser_delete(&parser);
	free(l->pending);
	free(l->anchors);
	free(l);
	return rc;
}
