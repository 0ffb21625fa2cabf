/*
 * sdnotify: the systemd service notification protocol (Type=notify), spoken
 * directly rather than through libsystemd.
 *
 * Why not libsystemd: sd_notify is all we used of it, and linking it cost each
 * daemon 0.6-0.7 MiB of RSS at start (libsystemd plus libgcrypt, libgpg-error,
 * liblz4, liblzma, libcap: docs/dependencies.md). The protocol is documented as
 * stable (sd_notify(3), "Notes"): one datagram of newline-separated KEY=VALUE
 * assignments on an AF_UNIX SOCK_DGRAM socket to the address in $NOTIFY_SOCKET,
 * a file system path ('/') or a Linux abstract-namespace name ('@', sent with a
 * leading NUL). Other address forms are ignored.
 *
 * Contract:
 * - Every call is a no-op when the process was not started by systemd
 *   (NOTIFY_SOCKET unset or empty), so daemons call them unconditionally. Failures
 *   to send are ignored too, as sd_notify's callers ignore them: a notification is
 *   advice to the service manager, never a reason to stop.
 * - sdnotify_watchdog_interval_ms() tells how often WATCHDOG=1 must be sent (half
 *   the WatchdogSec systemd granted, from $WATCHDOG_USEC, and only when
 *   $WATCHDOG_PID is unset or names this process), 0 when no watchdog is configured.
 * - Thread-safe: each call opens, uses and closes its own socket. The environment
 *   must not be modified concurrently (getenv).
 */
#ifndef LGTM_SDNOTIFY_H
#define LGTM_SDNOTIFY_H

#include <stdint.h>

void sdnotify_ready(void);
void sdnotify_reloading(void);
void sdnotify_stopping(void);
void sdnotify_watchdog(void);
void sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t sdnotify_watchdog_interval_ms(void);

#endif
