/*
 * process_* metrics, named and described as client_golang's process collector does
 * so existing dashboards and alerts work unchanged.
 *
 * One collector reads /proc once per scrape (stat for CPU time, memory and start
 * time; /proc/stat for the boot time; the fd directory for open files) rather than
 * one function per metric re-reading the same file. Whatever cannot be read is left
 * out of that scrape instead of being reported as zero.
 */
#include "metrics/internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *const process_names[] = {
	"process_cpu_seconds_total",  "process_open_fds",
	"process_max_fds",	      "process_virtual_memory_bytes",
	"process_resident_memory_bytes", "process_start_time_seconds",
	NULL,
};

/* proc(5) field numbers in /proc/self/stat */
enum { F_UTIME = 14, F_STIME = 15, F_STARTTIME = 22, F_VSIZE = 23, F_RSS = 24, F_COUNT };

/* The command name (field 2) may hold spaces and ')', so fields count from the last ')'. */
static int read_proc_stat(unsigned long long *f)
{
	char text[4096], *p, *tok, *save;
	ssize_t n;
	int fd, field = 3;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	p = strrchr(text, ')');
	if (!p)
		return -1;
	for (tok = strtok_r(p + 1, " \n", &save); tok && field < F_COUNT;
	     tok = strtok_r(NULL, " \n", &save), field++)
		f[field] = strtoull(tok, NULL, 10);
	return field == F_COUNT ? 0 : -1;
}

static int read_boot_time(double *btime)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	int rc = -1;
	unsigned long long v;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "btime %llu", &v) == 1) {
			*btime = (double)v;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Our own handle on the directory is an artefact of counting, so it is left out. */
static int count_open_fds(double *n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long count = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			count++;
	closedir(d);
	*n = (double)count;
	return 0;
}

static void put(struct buf *out, const char *name, const char *help, enum metric_type type,
		double v)
{
	metrics_write_header(out, name, help, type);
	metrics_write_sample(out, name, v);
}

static void collect_process(struct buf *out, void *arg)
{
	unsigned long long f[F_COUNT];
	struct rlimit rl;
	double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
	double btime, fds;
	bool have_stat = read_proc_stat(f) == 0 && ticks > 0;

	if (have_stat)
		put(out, process_names[0], "Total user and system CPU time spent in seconds.",
		    METRIC_COUNTER, (double)(f[F_UTIME] + f[F_STIME]) / ticks);
	if (count_open_fds(&fds) == 0)
		put(out, process_names[1], "Number of open file descriptors.", METRIC_GAUGE, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		put(out, process_names[2], "Maximum number of open file descriptors.", METRIC_GAUGE,
		    rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	if (!have_stat)
		return;
	put(out, process_names[3], "Virtual memory size in bytes.", METRIC_GAUGE,
	    (double)f[F_VSIZE]);
	put(out, process_names[4], "Resident memory size in bytes.", METRIC_GAUGE,
	    (double)f[F_RSS] * page);
	if (read_boot_time(&btime) == 0)
		put(out, process_names[5], "Start time of the process since unix epoch in seconds.",
		    METRIC_GAUGE, btime + (double)f[F_STARTTIME] / ticks);
}

int metrics_register_process(struct metrics_registry *r)
{
	return metrics_add_collector(r, collect_process, NULL, process_names);
}
