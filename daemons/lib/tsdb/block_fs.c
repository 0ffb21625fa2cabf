/*
 * File-system chores of blocks and the database directory: durable small files,
 * recursive removal and sizes. Durability follows the usual rule: a file's data is
 * fsynced before it is renamed into place, and the directory holding a new name is
 * fsynced after.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/wal_internal.h"

int tsdb_fs_fsync_dir(const char *dir, char *err, size_t errlen)
{
	return wal_fsync_dir(dir, err, errlen);
}

int tsdb_fs_write_file(const char *path, const void *data, size_t len, char *err,
		       size_t errlen)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return TSDB_EFAIL;
}

/* Remove what `dfd` holds, recursively. */
static int empty_dir(int dfd, const char *path, char *err, size_t errlen)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(dfd);
		snprintf(err, errlen, "open directory %s: %s", path, strerror(errno));
		return TSDB_EFAIL;
	}
	while (rc == 0 && (de = readdir(d))) {
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			snprintf(err, errlen, "remove %s/%s: %s", path, de->d_name, strerror(errno));
			rc = TSDB_EFAIL;
			break;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0 && empty_dir(sub, de->d_name, err, errlen) < 0) {
			rc = TSDB_EFAIL;
		} else if (sub < 0 || (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 &&
				       errno != ENOENT)) {
			snprintf(err, errlen, "remove %s/%s: %s", path, de->d_name, strerror(errno));
			rc = TSDB_EFAIL;
		}
	}
	closedir(d);
	return rc;
}

int tsdb_fs_remove_tree(const char *path, char *err, size_t errlen)
{
	int fd;

	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "remove %s: %s", path, strerror(errno));
		return TSDB_EFAIL;
	}
	if (empty_dir(fd, path, err, errlen) < 0)
		return TSDB_EFAIL;
	if (rmdir(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove %s: %s", path, strerror(errno));
		return TSDB_EFAIL;
	}
	return 0;
}

uint64_t tsdb_fs_tree_size(const char *path)
{
	struct stat st;
	struct dirent *de;
	uint64_t total = 0;
	DIR *d;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char sub[4096];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < (int)sizeof(sub))
			total += tsdb_fs_tree_size(sub);
	}
	closedir(d);
	return total;
}

int tsdb_fs_remove_block(const char *dir, char *err, size_t errlen)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s%s", dir, BLOCK_TMP_DELETE) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "path too long: %s", dir);
		return TSDB_EFAIL;
	}
	if (rename(dir, tmp) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "rename %s: %s", dir, strerror(errno));
		return TSDB_EFAIL;
	}
	return tsdb_fs_remove_tree(tmp, err, errlen);
}
