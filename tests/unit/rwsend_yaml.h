/*
 * Shared by the rwsend tests: load `remote_write:` entries (YAML list items) through
 * the schema fragment, as a daemon's config file would.
 */
#ifndef TEST_RWSEND_YAML_H
#define TEST_RWSEND_YAML_H

#include <string.h>

#include "rwsend/rwsend.h"

struct rwsend_yaml_wrap {
	struct cfg_list rw;
};

static const struct cfg_field rwsend_yaml_fields[] = {
	RWSEND_CONFIGS_FIELD("remote_write", struct rwsend_yaml_wrap, rw),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct cfg_schema rwsend_yaml_schema = { "test", rwsend_yaml_fields, NULL };

static inline int rwsend_yaml_load(const char *entries, struct arena *a, struct cfg_list *out,
				   char *err, size_t errlen)
{
	struct rwsend_yaml_wrap w;
	struct buf doc = { 0 };
	int rc;

	buf_printf(&doc, "remote_write:\n%s", entries);
	memset(&w, 0, sizeof(w));
	rc = cfg_load_buffer("test.yml", doc.data, doc.len, &rwsend_yaml_schema, &w, a, err, errlen);
	buf_free(&doc);
	*out = w.rw;
	return rc;
}

#endif
