/*
 * Entry points: read the input (bounded by CFG_MAX_INPUT), load it into a node tree
 * in a scratch arena, decode the tree into the caller's struct, drop the scratch
 * arena. The tree never touches the caller's arena, so a long-lived config keeps
 * only its decoded values.
 *
 * Files are read with read(2) up to the limit rather than trusting st_size, so
 * /dev/stdin, pipes and files that grow while read are bounded the same way.
 */
#include "config/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int too_large(const char *name, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: larger than the %u MiB limit for a config file", name,
		 CFG_MAX_INPUT >> 20);
	return -1;
}

/* What a load decodes the tree into: an object of `schema`, or a list of them. */
struct target {
	const struct cfg_schema *schema;
	void *out;            /* the object, or the struct cfg_list */
	size_t elem_size;     /* 0: an object */
};

static int load(const char *name, const char *text, size_t len, const struct target *t,
		struct arena *a, char *err, size_t errlen)
{
	struct cfg_report r = { .file = name, .err = err, .errlen = errlen };
	struct cfg_node *root;
	struct arena *tmp;
	int rc = -1;

	if (len > CFG_MAX_INPUT)
		return too_large(name, err, errlen);
	tmp = arena_new(0);
	if (!tmp) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	if (cfg_tree_load(&r, len ? text : "", len, tmp, &root))
		goto fail;
	if (t->elem_size ? cfg_tree_decode_list(&r, root, t->schema, t->elem_size, t->out, a, tmp) :
			   cfg_tree_decode(&r, root, t->schema, t->out, a, tmp))
		goto fail;
	rc = 0;
fail:
	arena_free(tmp);
	return rc;
}

int cfg_load_buffer(const char *name, const char *text, size_t len,
		    const struct cfg_schema *schema, void *out, struct arena *a,
		    char *err, size_t errlen)
{
	const struct target t = { schema, out, 0 };

	return load(name, text, len, &t, a, err, errlen);
}

int cfg_load_list_buffer(const char *name, const char *text, size_t len,
			 const struct cfg_schema *elem, size_t elem_size, struct cfg_list *out,
			 struct arena *a, char *err, size_t errlen)
{
	const struct target t = { elem, out, elem_size ? elem_size : 1 };

	return load(name, text, len, &t, a, err, errlen);
}

/* Read all of fd into a malloc'd buffer; 0 or an errno value (E2BIG over the limit). */
static int read_all(int fd, char **data, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *p = malloc(cap), *q;
	ssize_t got;
	int e = ENOMEM;

	if (!p)
		return e;
	for (;;) {
		if (n == cap) {
			cap *= 2;
			q = realloc(p, cap);
			if (!q)
				goto fail;
			p = q;
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > CFG_MAX_INPUT) {
			e = E2BIG;
			goto fail;
		}
	}
	*data = p;
	*len = n;
	return 0;
fail:
	free(p);
	return e;
}

int cfg_load_file(const char *path, const struct cfg_schema *schema, void *out,
		  struct arena *a, char *err, size_t errlen)
{
	char ebuf[128], *data = NULL;
	struct stat st;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 strerror_r(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot read: is a directory", path);
		close(fd);
		return -1;
	}
	rc = read_all(fd, &data, &len);
	close(fd);
	if (rc == E2BIG)
		return too_large(path, err, errlen);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror_r(rc, ebuf, sizeof(ebuf)));
		return -1;
	}
	rc = cfg_load_buffer(path, data, len, schema, out, a, err, errlen);
	free(data);
	return rc;
}
