/*
 * sdnotify: the notify protocol against sockets this test binds itself, a file
 * system path and an abstract name, as systemd binds them; the environment
 * variables it reads (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID), including
 * absent, empty and malformed values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "sdnotify/sdnotify.h"

struct peer {
	int fd;
	char dir[64];
	char path[108];
};

/* Binds a datagram socket at a fresh path (abstract: a fresh '@' name), sets NOTIFY_SOCKET. */
static void peer_open(struct peer *p, int abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;

	memset(p, 0, sizeof(*p));
	p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(p->fd >= 0);
	if (abstract) {
		snprintf(p->path, sizeof(p->path), "@lgtm-sdnotify-test-%d-%d", (int)getpid(), rand());
		memcpy(sa.sun_path, p->path, strlen(p->path));
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(p->path));
	} else {
		snprintf(p->dir, sizeof(p->dir), "/tmp/lgtm-sdnotify-XXXXXX");
		assert_non_null(mkdtemp(p->dir));
		snprintf(p->path, sizeof(p->path), "%s/notify", p->dir);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
		len = sizeof(sa);
	}
	assert_int_equal(bind(p->fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", p->path, 1), 0);
}

static void peer_close(struct peer *p)
{
	close(p->fd);
	if (p->dir[0]) {
		unlink(p->path);
		rmdir(p->dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, NUL-terminated; "" when none is waiting. */
static const char *peer_recv(struct peer *p)
{
	static char msg[2048];
	ssize_t n = recv(p->fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);

	msg[n > 0 ? n : 0] = '\0';
	return msg;
}

static void each_message(struct peer *p)
{
	const char *m;

	sdnotify_ready();
	assert_string_equal(peer_recv(p), "READY=1");
	sdnotify_stopping();
	assert_string_equal(peer_recv(p), "STOPPING=1");
	sdnotify_watchdog();
	assert_string_equal(peer_recv(p), "WATCHDOG=1");
	sdnotify_status("loaded %d rules from %s", 12, "rules.yml");
	assert_string_equal(peer_recv(p), "STATUS=loaded 12 rules from rules.yml");
	sdnotify_reloading();
	m = peer_recv(p);
	assert_true(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	assert_true(m[27] >= '1' && m[27] <= '9');
	assert_int_equal(strspn(m + 27, "0123456789"), strlen(m + 27));
	assert_string_equal(peer_recv(p), "");
}

/* The same messages to a file system path and to an abstract name. */
static void test_path_and_abstract_sockets(void **state)
{
	struct peer p;

	(void)state;
	for (int abstract = 0; abstract <= 1; abstract++) {
		peer_open(&p, abstract);
		each_message(&p);
		peer_close(&p);
	}
}

static void test_status_truncated(void **state)
{
	char big[1000];
	struct peer p;
	const char *m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	peer_open(&p, 1);
	sdnotify_status("%s", big);
	m = peer_recv(&p);
	assert_int_equal(strlen(m), strlen("STATUS=") + 511);
	assert_true(strncmp(m, "STATUS=xxx", 10) == 0);
	peer_close(&p);
}

/* Unset, empty, relative, too long or a dead socket: nothing is sent, nothing fails. */
static void test_no_socket_is_silent(void **state)
{
	char longpath[200];
	struct peer p;
	const char *bound;

	(void)state;
	peer_open(&p, 0);
	bound = strdup(p.path);
	assert_non_null(bound);
	unsetenv("NOTIFY_SOCKET");
	sdnotify_ready();
	setenv("NOTIFY_SOCKET", "", 1);
	sdnotify_ready();
	setenv("NOTIFY_SOCKET", bound + 1, 1); /* relative: not a form we speak */
	sdnotify_ready();
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longpath, 1);
	sdnotify_ready();
	setenv("NOTIFY_SOCKET", "/nonexistent/lgtm/notify", 1);
	sdnotify_ready();
	setenv("NOTIFY_SOCKET", "@", 1);
	sdnotify_ready();
	assert_string_equal(peer_recv(&p), "");
	/* The socket itself works: the silence above was the variable's doing. */
	setenv("NOTIFY_SOCKET", bound, 1);
	sdnotify_watchdog();
	assert_string_equal(peer_recv(&p), "WATCHDOG=1");
	free((void *)bound);
	peer_close(&p);
}

static void test_watchdog_interval(void **state)
{
	char pid[32];

	(void)state;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_USEC", "3000000", 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 1500);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 1500);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_PID", "x", 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "12x", 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_USEC", "", 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_USEC", "99999999999999999999999", 1);
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_USEC", "1999", 1); /* under 2 ms: no whole half-millisecond */
	assert_int_equal(sdnotify_watchdog_interval_ms(), 0);
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_and_abstract_sockets),
		cmocka_unit_test(test_status_truncated),
		cmocka_unit_test(test_no_socket_is_silent),
		cmocka_unit_test(test_watchdog_interval),
	};

	return cmocka_run_group_tests_name("sdnotify", tests, NULL, NULL);
}
