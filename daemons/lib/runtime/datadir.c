/*
 * The data directory: created if missing (0750, as the deployed layout wants) and
 * locked with flock(2) on <dir>/lock, so a second instance pointed at the same
 * directory fails at start instead of corrupting it. The lock dies with the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		snprintf(err, errlen, "invalid data directory \"%s\"", dir);
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "create data directory %s: %s", path, strerror(errno));
	return -1;
}

int runtime_datadir_open(const char *dir, int *lock_fd, char *err, size_t errlen)
{
	char path[4200];
	int fd;

	if (mkdir_p(dir, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "lock data directory %s: %s (is another instance running?)",
			 dir, strerror(errno));
		close(fd);
		return -1;
	}
	*lock_fd = fd;
	return 0;
}
