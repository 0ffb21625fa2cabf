/*
 * Position files: where a queue stands in the WAL, saved so that a restart resumes
 * instead of skipping (Prometheus has no such file and starts "now"). The file is
 * three short text lines so an operator can read it; it is replaced atomically
 * (write a tmp file, fsync it, rename over, fsync the directory), so a crash leaves
 * the old or the new position, never a torn one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rwsend/internal.h"

#define HEADER "lgtm remote_write position v1\n"

int rws_position_path(const char *data_dir, const char *name, char *out, size_t outlen)
{
	char esc[3 * RWS_NAME_MAX + 1];
	size_t k = 0;

	for (const char *p = name; *p && k + 4 < sizeof(esc); p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-')
			esc[k++] = (char)c;
		else
			k += (size_t)snprintf(esc + k, sizeof(esc) - k, "%%%02X", c);
	}
	esc[k] = '\0';
	if ((size_t)snprintf(out, outlen, "%s/remote_write/%s.pos", data_dir, esc) >= outlen)
		return -1;
	return 0;
}

int rws_position_load(const char *path, struct rws_pos *pos, char *err, size_t errlen)
{
	char text[256];
	long long off;
	size_t len;
	int seg, used = -1;
	FILE *f = fopen(path, "re");

	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	if (sscanf(text, HEADER "segment=%d\noffset=%lld\n%n", &seg, &off, &used) != 2 ||
	    used != (int)len || seg < 0 || off < 0) {
		snprintf(err, errlen, "%s: not a position file", path);
		return -1;
	}
	pos->seg = seg;
	pos->off = off;
	return 1;
}

static int fsync_dir(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	return mkdir(dir, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int rws_position_save(const char *path, struct rws_pos pos, char *err, size_t errlen)
{
	char tmp[4200], text[128];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(text, sizeof(text), HEADER "segment=%d\noffset=%lld\n", pos.seg,
		     (long long)pos.off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && make_parent(path) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return fsync_dir(path, err, errlen);
}
