/*
 * The WAL's files and names: segments are "%08d" files, checkpoints "checkpoint.%08d"
 * directories (".tmp" while being written), as in Prometheus, so an operator's tools
 * and habits carry over. Directory entries are made durable with an fsync of the
 * directory itself, since fsyncing a file does not persist its name.
 */
#include "tsdb/wal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wal_segment_path(char *out, size_t outlen, const char *dir, int seg)
{
	int n = snprintf(out, outlen, "%s/%08d", dir, seg);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int wal_checkpoint_path(char *out, size_t outlen, const char *waldir, int n, bool tmp)
{
	int k = snprintf(out, outlen, "%s/" WAL_CHECKPOINT_PREFIX "%08d%s", waldir, n,
			 tmp ? ".tmp" : "");

	return k < 0 || (size_t)k >= outlen ? -1 : 0;
}

/* All digits, at most 9 of them (fits an int), then exactly `suffix`; -1 otherwise. */
static int parse_index(const char *s, const char *suffix)
{
	size_t n = strspn(s, "0123456789");
	int v = 0;

	if (n == 0 || n > 9 || strcmp(s + n, suffix) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Numbers of the entries of dir named prefix<index>suffix, ascending. */
static int list_indexed(const char *dir, const char *prefix, const char *suffix, int **out,
			size_t *n, char *err, size_t errlen)
{
	size_t plen = strlen(prefix), cap = 0;
	int *v = NULL;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return WAL_FAIL(err, errlen, -1, "open directory %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		int k;

		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		k = parse_index(de->d_name + plen, suffix);
		if (k < 0)
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				*n = 0;
				return WAL_FAIL(err, errlen, -1, "list %s: out of memory", dir);
			}
			v = nv;
			cap = ncap;
		}
		v[(*n)++] = k;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_int);
	*out = v;
	return 0;
}

int wal_list_segments(const char *dir, int **segs, size_t *n, char *err, size_t errlen)
{
	return list_indexed(dir, "", "", segs, n, err, errlen);
}

int wal_list_checkpoints(const char *waldir, bool tmp, int **cps, size_t *n, char *err,
			 size_t errlen)
{
	return list_indexed(waldir, WAL_CHECKPOINT_PREFIX, tmp ? ".tmp" : "", cps, n, err, errlen);
}

bool wal_contiguous(const int *segs, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (segs[i] != segs[i - 1] + 1)
			return false;
	return true;
}

int tsdb_wal_segments(const char *dir, int *first, int *last, char *err, size_t errlen)
{
	int *segs;
	size_t n;

	*first = *last = -1;
	if (wal_list_segments(dir, &segs, &n, err, errlen) < 0)
		return -1;
	if (n) {
		*first = segs[0];
		*last = segs[n - 1];
	}
	free(segs);
	return 0;
}

int tsdb_wal_checkpoint_last(const char *waldir, int *n, char *path, size_t pathlen, char *err,
			     size_t errlen)
{
	int *cps;
	size_t k;

	*n = -1;
	if (wal_list_checkpoints(waldir, false, &cps, &k, err, errlen) < 0)
		return -1;
	if (k)
		*n = cps[k - 1];
	free(cps);
	if (*n >= 0 && path && wal_checkpoint_path(path, pathlen, waldir, *n, false) < 0)
		return WAL_FAIL(err, errlen, -1, "checkpoint path too long");
	return 0;
}

int wal_mkdir_p(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return WAL_FAIL(err, errlen, -1, "bad WAL directory name");
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			return WAL_FAIL(err, errlen, -1, "create directory %s: %s", path,
					strerror(errno));
		path[i] = i == len ? '\0' : '/';
	}
	return 0;
}

int wal_fsync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return WAL_FAIL(err, errlen, -1, "open directory %s: %s", dir, strerror(errno));
	if (fsync(fd) < 0) {
		int e = errno;

		close(fd);
		return WAL_FAIL(err, errlen, -1, "fsync directory %s: %s", dir, strerror(e));
	}
	close(fd);
	return 0;
}

int wal_remove_dir(const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int dfd;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return WAL_FAIL(err, errlen, -1, "open directory %s: %s", dir, strerror(errno));
	}
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT) {
			int e = errno;

			closedir(d);
			return WAL_FAIL(err, errlen, -1, "remove %s/%s: %s", dir, de->d_name,
					strerror(e));
		}
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return WAL_FAIL(err, errlen, -1, "remove directory %s: %s", dir, strerror(errno));
	return 0;
}

int wal_remove_segment(const char *dir, int seg, char *err, size_t errlen)
{
	char path[4096];

	if (wal_segment_path(path, sizeof(path), dir, seg) < 0)
		return WAL_FAIL(err, errlen, -1, "segment path too long");
	if (unlink(path) < 0 && errno != ENOENT)
		return WAL_FAIL(err, errlen, -1, "remove WAL segment %s: %s", path, strerror(errno));
	return 0;
}

int wal_truncate_segment(const char *dir, int seg, int64_t size, char *err, size_t errlen)
{
	char path[4096];
	int fd, e;

	if (wal_segment_path(path, sizeof(path), dir, seg) < 0)
		return WAL_FAIL(err, errlen, -1, "segment path too long");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return WAL_FAIL(err, errlen, -1, "open %s: %s", path, strerror(errno));
	if (ftruncate(fd, size) < 0 || fdatasync(fd) < 0) {
		e = errno;
		close(fd);
		return WAL_FAIL(err, errlen, -1, "truncate %s to %lld bytes: %s", path,
				(long long)size, strerror(e));
	}
	close(fd);
	return 0;
}
