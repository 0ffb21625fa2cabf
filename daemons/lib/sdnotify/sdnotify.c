/*
 * The notify protocol of sd_notify(3) in a few lines: build the message, send it
 * as one datagram to $NOTIFY_SOCKET. READY=1 is sent with the current status so a
 * `systemctl status` right after start shows what the daemon is doing.
 * RELOADING=1 carries MONOTONIC_USEC, which systemd >= 253 needs for
 * Type=notify-reload and older versions ignore.
 */
#include "sdnotify/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* STATUS= plus the 512 bytes sdnotify_status() keeps of a message. */
#define MSG_MAX 600

/* The socket address of $NOTIFY_SOCKET; 0 when unset or of a form we do not speak. */
static socklen_t notify_addr(struct sockaddr_un *sa)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return 0;
	n = strlen(path);
	if (n < 2 || n > sizeof(sa->sun_path))
		return 0;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	/* A path is sent NUL-terminated when it fits; an abstract name by its length. */
	if (path[0] == '/' && n < sizeof(sa->sun_path))
		n++;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static void notify(const char *msg)
{
	struct sockaddr_un sa;
	socklen_t salen = notify_addr(&sa);
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = salen, .msg_iov = &iov, .msg_iovlen = 1 };
	int fd, saved = errno;

	if (!salen)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL);
	close(fd);
	errno = saved;
}

void sdnotify_ready(void)
{
	notify("READY=1");
}

void sdnotify_reloading(void)
{
	char msg[MSG_MAX];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
		 (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
	notify(msg);
}

void sdnotify_stopping(void)
{
	notify("STOPPING=1");
}

void sdnotify_watchdog(void)
{
	notify("WATCHDOG=1");
}

void sdnotify_status(const char *fmt, ...)
{
	char text[512], msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "STATUS=%s", text);
	notify(msg);
}

/* A positive decimal, all of s; 0 otherwise. */
static unsigned long long env_number(const char *name)
{
	const char *s = getenv(name);
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno || *end ? 0 : v;
}

int64_t sdnotify_watchdog_interval_ms(void)
{
	unsigned long long usec = env_number("WATCHDOG_USEC");

	/* systemd sets WATCHDOG_PID so a child that inherited the environment stays out. */
	if (getenv("WATCHDOG_PID") && env_number("WATCHDOG_PID") != (unsigned long long)getpid())
		return 0;
	return (int64_t)(usec / 2000);
}
