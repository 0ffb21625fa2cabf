/*
 * The discovery thread: keeps file SD targets current. Like Prometheus it watches
 * the directories of the patterns (not the files, so editors that write a new
 * file and rename it over the old one are seen) and also re-reads every
 * refresh_interval in case an event was missed. Only events that finish a change
 * count (close after write, rename in or out, delete), and reading waits for
 * DEBOUNCE_MS of quiet, so a file is not read while it is being written.
 *
 * Everything it touches (pools, their file SD state) is under the manager's
 * mutex; it sleeps in poll(2) without it, woken by file events, the next refresh
 * deadline, or the manager's eventfd (new config, stop).
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log/log.h"
#include "scrape/mgr_internal.h"

#define DEBOUNCE_MS 50
#define EVENT_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_Q_OVERFLOW)

struct watch {
	int wd;
	char *dir;
};

struct watcher {
	int fd;
	struct watch *v;
	size_t n;
};

static int64_t now_ms(void)
{
	return sm_mono_ns() / 1000000;
}

/* The directory part of a pattern (patterns have no '*' before the last '/') and
 * where its file name part starts. */
static const char *split(const char *pattern, char *dir, size_t cap)
{
	const char *slash = strrchr(pattern, '/');

	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == pattern)
		snprintf(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - pattern), pattern);
	return slash ? slash + 1 : pattern;
}

static void watcher_close(struct watcher *w)
{
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].dir);
	free(w->v);
	*w = (struct watcher){ .fd = -1 };
}

static bool watched(const struct watcher *w, const char *dir)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->v[i].dir, dir))
			return true;
	return false;
}

static void watch_dir(struct watcher *w, const char *pattern)
{
	char path[PATH_MAX], *dir = NULL;
	struct watch *v;
	int wd;

	split(pattern, path, sizeof(path));
	if (watched(w, path) || !(dir = strdup(path)))
		goto out;
	wd = inotify_add_watch(w->fd, dir, EVENT_MASK);
	if (wd < 0) {
		/* Not there yet, or no permission: the refresh interval still covers it. */
		LOG_DEBUG("scrape", "cannot watch file SD directory", "dir", dir, "err",
			  strerror(errno));
		goto out;
	}
	v = realloc(w->v, (w->n + 1) * sizeof(*v));
	if (!v)
		goto out;
	w->v = v;
	w->v[w->n++] = (struct watch){ wd, dir };
	dir = NULL;
out:
	free(dir);
}

/* A fresh inotify instance watching the directories of every file SD pattern. */
static void rewatch(struct scrape_manager *m, struct watcher *w)
{
	watcher_close(w);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		LOG_WARN("scrape", "inotify unavailable, file SD relies on refresh_interval", "err",
			 strerror(errno));
		return;
	}
	for (size_t i = 0; i < m->npools; i++)
		for (size_t j = 0; j < m->pools[i]->nsds; j++)
			for (size_t k = 0; k < m->pools[i]->sds[j].npatterns; k++)
				watch_dir(w, m->pools[i]->sds[j].patterns[k]);
}

static bool pattern_matches(const char *pattern, const char *dir, const char *name)
{
	char pdir[PATH_MAX];
	const char *base = split(pattern, pdir, sizeof(pdir));

	return !strcmp(pdir, dir) && (!name || fnmatch(base, name, 0) == 0);
}

/* Mark the file SD configs an event concerns (dir NULL: all of them). */
static void mark(struct scrape_manager *m, const char *dir, const char *name)
{
	int64_t at = now_ms() + DEBOUNCE_MS;

	for (size_t i = 0; i < m->npools; i++)
		for (size_t j = 0; j < m->pools[i]->nsds; j++) {
			struct sm_filesd *sd = &m->pools[i]->sds[j];

			for (size_t k = 0; k < sd->npatterns; k++)
				if (!dir || pattern_matches(sd->patterns[k], dir, name))
					sd->dirty_at_ms = at;
		}
}

static const char *wd_dir(const struct watcher *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].wd == wd)
			return w->v[i].dir;
	return NULL;
}

static void read_events(struct scrape_manager *m, struct watcher *w)
{
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const char *dir = wd_dir(w, ev->wd);

			if (ev->mask & IN_Q_OVERFLOW)
				mark(m, NULL, NULL);
			else if (dir)
				mark(m, dir, ev->len ? ev->name : NULL);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* Refresh what is due; returns the milliseconds until the next deadline. */
static int64_t refresh_due(struct scrape_manager *m)
{
	int64_t now = now_ms(), wait = 60000;

	for (size_t i = 0; i < m->npools; i++) {
		struct sm_pool *p = m->pools[i];
		bool changed = false;

		for (size_t j = 0; j < p->nsds; j++) {
			struct sm_filesd *sd = &p->sds[j];
			int64_t next;

			if (!sd->next_refresh_ms)
				sd->next_refresh_ms = now + sd->refresh_ms;
			if ((sd->dirty_at_ms && now >= sd->dirty_at_ms) || now >= sd->next_refresh_ms) {
				changed |= sm_filesd_refresh(sd, &m->met, p->cfg->job_name) > 0;
				sd->dirty_at_ms = 0;
				sd->next_refresh_ms = now + sd->refresh_ms;
			}
			next = sd->dirty_at_ms ? sd->dirty_at_ms : sd->next_refresh_ms;
			if (next - now < wait)
				wait = next - now;
		}
		if (changed)
			sm_pool_sync(p, NULL);
	}
	return wait < 0 ? 0 : wait;
}

void *sm_discovery_main(void *arg)
{
	struct scrape_manager *m = arg;
	struct watcher w = { .fd = -1 };
	int64_t wait;

	for (;;) {
		struct pollfd pfd[2] = { { m->wake_fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
		uint64_t v;

		pthread_mutex_lock(&m->mu);
		if (m->stopping) {
			pthread_mutex_unlock(&m->mu);
			break;
		}
		if (m->reconfigure) {
			m->reconfigure = false;
			rewatch(m, &w);
		}
		wait = refresh_due(m);
		pthread_mutex_unlock(&m->mu);
		pfd[1].fd = w.fd;
		if (poll(pfd, 2, (int)(wait > INT_MAX ? INT_MAX : wait)) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			(void)!read(m->wake_fd, &v, sizeof(v));
		if (pfd[1].revents & POLLIN) {
			pthread_mutex_lock(&m->mu);
			read_events(m, &w);
			pthread_mutex_unlock(&m->mu);
		}
	}
	watcher_close(&w);
	labels_regex_thread_cleanup();
	return NULL;
}

void sm_discovery_wake(struct scrape_manager *m)
{
	uint64_t one = 1;

	(void)!write(m->wake_fd, &one, sizeof(one));
}
