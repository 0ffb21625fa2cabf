/*
 * Thin wrapper over sd_notify(3). READY=1 is sent with the current status so a
 * `systemctl status` right after start shows what the daemon is doing.
 * RELOADING=1 carries MONOTONIC_USEC, which systemd >= 253 needs for
 * Type=notify-reload and older versions ignore.
 */
#include "sdnotify/sdnotify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

void sdnotify_ready(void)
{
	sd_notify(0, "READY=1");
}

void sdnotify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld",
		   (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
}

void sdnotify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void sdnotify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

void sdnotify_status(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", msg);
}

int64_t sdnotify_watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (int64_t)(usec / 2000);
}
