/*
 * File SD, as Prometheus' discovery/file: the patterns are globbed, every file
 * matched is read as a list of target groups, and the union is the config's
 * groups. A file that cannot be read or parsed keeps the groups of its last good
 * read (logged, counted in prometheus_sd_file_read_errors_total), so a half-written
 * or broken file never takes targets away; a file that disappears from the glob
 * takes its groups with it. Reads are skipped when a file's bytes did not change
 * (a hash of the content), so the discovery thread's periodic refresh is cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log/log.h"
#include "scrape/mgr_internal.h"

int sm_filesd_init(struct sm_filesd *sd, const struct scrape_file_sd_config *c,
		   const char *base)
{
	memset(sd, 0, sizeof(*sd));
	sd->refresh_ms = c->refresh_interval_ms;
	sd->patterns = calloc(c->files.n + 1, sizeof(*sd->patterns));
	if (!sd->patterns)
		return -1;
	for (size_t i = 0; i < c->files.n; i++) {
		const char *f = c->files.v[i];

		if (f[0] == '/' || !base)
			sd->patterns[i] = strdup(f);
		else if (asprintf(&sd->patterns[i], "%s/%s", base, f) < 0)
			sd->patterns[i] = NULL;
		if (!sd->patterns[i])
			return -1;
		sd->npatterns++;
	}
	return 0;
}

static void file_free(struct sm_sdfile *f)
{
	free(f->path);
	arena_free(f->arena);
}

void sm_filesd_free(struct sm_filesd *sd)
{
	for (size_t i = 0; i < sd->npatterns; i++)
		free(sd->patterns[i]);
	free(sd->patterns);
	for (size_t i = 0; i < sd->nfiles; i++)
		file_free(&sd->files[i]);
	free(sd->files);
	memset(sd, 0, sizeof(*sd));
}

/* The whole file, bounded like a config file; NULL with err on failure. */
static char *slurp(const char *path, size_t *len, double *mtime, char *err, size_t errlen)
{
	struct stat st;
	char *data = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;
	size_t n = 0;

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_size > CFG_MAX_INPUT) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, CFG_MAX_INPUT);
		goto fail;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (n < (size_t)st.st_size && (got = read(fd, data + n, (size_t)st.st_size - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		n += (size_t)got;
	}
	close(fd);
	data[n] = '\0';
	*len = n;
	*mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	return data;
fail:
	if (fd >= 0)
		close(fd);
	free(data);
	return NULL;
}

/* Read one file into *f (which may hold its previous state); 1 when its groups
 * changed. On error the previous state stays. */
static int read_one(struct sm_sdfile *f, const struct sm_metrics *met, const char *job)
{
	char err[1024];
	double mtime = 0;
	size_t len = 0;
	char *data = slurp(f->path, &len, &mtime, err, sizeof(err));
	struct arena *a = NULL;
	struct sm_tgroup *g;
	uint64_t h;
	size_t n;
	int rc = 0;

	if (!data)
		goto fail;
	metrics_set(metrics_childv(met->sd_mtime, f->path, NULL), mtime);
	h = XXH3_64bits(data, len);
	if (f->arena && h == f->content_hash)
		goto out;
	a = arena_new(0);
	if (!a) {
		snprintf(err, sizeof(err), "%s: out of memory", f->path);
		goto fail;
	}
	if (sm_tgroups_parse_file(f->path, data, len, a, &g, &n, err, sizeof(err)))
		goto fail;
	arena_free(f->arena);
	f->arena = a;
	f->groups = g;
	f->ngroups = n;
	f->content_hash = h;
	rc = 1;
	goto out;
fail:
	arena_free(a);
	sm_count(met->sd_read_errors, 1);
	LOG_ERROR("scrape", "error reading file SD file", "scrape_pool", job, "err", err);
out:
	free(data);
	return rc;
}

static struct sm_sdfile *find_file(struct sm_sdfile *v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].path && !strcmp(v[i].path, path))
			return &v[i];
	return NULL;
}

/* The files matched now, in pattern then name order, without repeats. */
static int list_files(const struct sm_filesd *sd, glob_t *g, char ***out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < sd->npatterns; i++) {
		int rc = glob(sd->patterns[i], GLOB_PERIOD | (i ? GLOB_APPEND : 0), NULL, g);

		if (rc && rc != GLOB_NOMATCH)
			return -1;
	}
	cap = g->gl_pathc;
	*out = calloc(cap + 1, sizeof(**out));
	if (!*out)
		return -1;
	for (size_t i = 0; i < g->gl_pathc; i++) {
		size_t j;

		for (j = 0; j < *n && strcmp((*out)[j], g->gl_pathv[i]); j++)
			;
		if (j == *n)
			(*out)[(*n)++] = g->gl_pathv[i];
	}
	return 0;
}

int sm_filesd_refresh(struct sm_filesd *sd, const struct sm_metrics *met, const char *job)
{
	glob_t g = { 0 };
	char **paths = NULL;
	struct sm_sdfile *next;
	size_t n = 0;
	int changed = 0;

	if (list_files(sd, &g, &paths, &n))
		goto out;
	next = calloc(n + 1, sizeof(*next));
	if (!next)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct sm_sdfile *prev = find_file(sd->files, sd->nfiles, paths[i]);

		if (prev) {
			next[i] = *prev;
			prev->path = NULL;
			prev->arena = NULL;
		} else {
			next[i].path = strdup(paths[i]);
			changed |= next[i].path != NULL;
		}
		if (next[i].path)
			changed |= read_one(&next[i], met, job);
	}
	for (size_t i = 0; i < sd->nfiles; i++) {
		changed |= sd->files[i].path != NULL; /* gone from the glob */
		file_free(&sd->files[i]);
	}
	free(sd->files);
	sd->files = next;
	sd->nfiles = n;
out:
	free(paths);
	globfree(&g);
	return changed;
}
