/*
 * The daemon's config behind a reference count. A reload builds a complete new
 * config in its own arena and swaps the pointer; readers that acquired the old one
 * keep it until they release it, so no request ever sees a half-applied config.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime_internal.h"

#define HOLDER_PAD 16

int runtime_cfg_load(const struct runtime_spec *spec, const char *path, struct runtime_cfg **out,
		     char *err, size_t errlen)
{
	struct runtime_cfg *c = calloc(1, sizeof(*c));
	char *base;

	if (!c)
		goto oom;
	c->arena = arena_new(0);
	/* A back-pointer to the holder sits just before the config (16 bytes keep the
	 * config aligned), so runtime_config_release() needs only the config pointer. */
	base = c->arena ? arena_calloc(c->arena, 1, HOLDER_PAD + spec->config_size) : NULL;
	if (!base)
		goto oom;
	*(struct runtime_cfg **)base = c;
	c->cfg = base + HOLDER_PAD;
	atomic_init(&c->refs, 1);
	if (spec->config_defaults)
		spec->config_defaults(c->cfg);
	if (cfg_load_file(path, spec->config_schema, c->cfg, c->arena, err, errlen) < 0)
		goto fail;
	if (spec->config_check && spec->config_check(c->cfg, err, errlen) < 0)
		goto fail;
	*out = c;
	return 0;
oom:
	snprintf(err, errlen, "out of memory loading %s", path);
fail:
	if (c)
		arena_free(c->arena);
	free(c);
	return -1;
}

void runtime_cfg_put(struct runtime_cfg *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
		arena_free(c->arena);
		free(c);
	}
}

void runtime_cfg_swap(struct runtime *rt, struct runtime_cfg *next)
{
	struct runtime_cfg *old;

	pthread_mutex_lock(&rt->cfg_lock);
	old = rt->cur;
	rt->cur = next;
	pthread_mutex_unlock(&rt->cfg_lock);
	runtime_cfg_put(old);
}

const void *runtime_config_acquire(struct runtime *rt)
{
	struct runtime_cfg *c;

	pthread_mutex_lock(&rt->cfg_lock);
	c = rt->cur;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&rt->cfg_lock);
	return c->cfg;
}

void runtime_config_release(struct runtime *rt, const void *cfg)
{
	struct runtime_cfg *c;

	(void)rt;
	if (!cfg)
		return;
	c = *(struct runtime_cfg *const *)((const char *)cfg - HOLDER_PAD);
	runtime_cfg_put(c);
}
