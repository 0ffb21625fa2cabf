/*
 * sdnotify: the systemd service protocol (Type=notify) through libsystemd.
 *
 * Contract:
 * - Every call is a no-op when the process was not started by systemd
 *   (NOTIFY_SOCKET unset), so daemons call them unconditionally.
 * - sdnotify_watchdog_interval_ms() tells how often WATCHDOG=1 must be sent (half
 *   the WatchdogSec systemd granted), 0 when no watchdog is configured.
 * - Thread-safe (sd_notify opens a datagram socket per call).
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
