/*
 * rwload: a Prometheus remote-write 1.0 load generator for side-by-side benchmarks.
 *
 * Workload model. The active series are the series of T simulated node_exporter
 * targets (job="node", instance="10.x.y.z:9100"), about 570 series per target with
 * the label shapes node_exporter really produces (cpu x mode, device x fstype x
 * mountpoint, network and disk devices, info metrics with per-host values, collector
 * durations, Go runtime metrics) plus the five series Prometheus adds per scrape.
 * Values follow simple models per metric (counters with two decimals like CPU
 * seconds, integer byte/packet counters, page-sized gauges, durations measured by a
 * nanosecond clock and reported as Go's Duration.Seconds() does, clock readings,
 * constants), so compressed sizes resemble real data rather than a best case.
 *
 * Time is a sequence of ticks (one "scrape" of every active series per tick). In
 * synthetic mode tick i carries timestamp start + i*step and ticks are sent as fast
 * as the rate limit allows, which backfills a long span quickly; in real-time mode a
 * tick is sent when the wall clock reaches it. Churn replaces whole targets
 * (a new instance value, as when a host is replaced) at a rate given in series per
 * minute of sample time, round-robin over targets, so that every worker can compute
 * any target's generation from the tick alone.
 *
 * Sending. Targets are partitioned over the workers (like Prometheus' shards), each
 * worker sends its series in time order with one request in flight, so a receiver
 * never sees an out-of-order sample. Workers are kept within --max-skew ticks of each
 * other: a receiver that cuts blocks (or rejects samples below head max - 1h) would
 * otherwise refuse a lagging worker's samples as out of bounds.
 *
 * This is a benchmark tool, not library code: it exits on setup errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "compress/compress.h"
#include "httpclient/httpclient.h"
#include "json/json.h"
#include "proto/proto.h"
#include "prometheus/remote.pb-c.h"
#include "prometheus/types.pb-c.h"

#define MAX_TMPL_LABELS 6
#define MAX_HEADERS 8

/* ---- options ---------------------------------------------------------------------- */

struct opts {
	const char *url;
	long series;
	double churn_per_min;  /* series replaced per minute of sample time */
	double rate;           /* samples/s, 0: unlimited */
	long batch;            /* samples per request */
	long per_series;       /* consecutive samples of one series in one request */
	long concurrency;
	double duration_s;     /* wall-clock cap, 0: none */
	uint64_t total;        /* samples cap, 0: none */
	bool realtime;
	int64_t start_ms;      /* synthetic: timestamp of tick 0; INT64_MIN: now - span */
	int64_t step_ms;
	int64_t span_ms;       /* synthetic: ticks = span / step */
	long jitter_ms;
	long cpus;             /* per simulated host */
	long max_skew;         /* ticks */
	long retries;
	long timeout_ms;
	double progress_s;
	uint64_t seed;
	bool json;
	bool dump;
	const char *job;
	struct httpc_header headers[MAX_HEADERS];
	size_t nheaders;
};

/* ---- value models and templates -------------------------------------------------- */

enum model {
	M_CONST,   /* a fixed value: sizes, limits, info metrics */
	M_CNT_F,   /* counter in hundredths (CPU seconds from USER_HZ ticks) */
	M_CNT_I,   /* integer counter (bytes, packets, interrupts) */
	M_INC1,    /* +1 per scrape (promhttp requests) */
	M_WALK_I,  /* integer gauge doing a random walk */
	M_WALK_P,  /* byte gauge moving in 4 KiB pages */
	M_RAND_F,  /* noisy float gauge at full precision (NTP frequency ratio) */
	M_DUR,     /* duration with a nanosecond clock: Go's Duration.Seconds() */
	M_LOAD,    /* float gauge with two decimals (load average) */
	M_SMALL,   /* small random integer (procs running) */
	M_TIME,    /* a clock read just after the scrape started: float64(UnixNano)/1e9 */
	M_GC_TIME, /* an earlier clock reading, renewed on about half the scrapes */
};

/* a: typical magnitude; b: change per second (counters), step size (walks) or clock
 * resolution in seconds (durations). */
struct tmpl {
	const char *name;
	const char *ln[MAX_TMPL_LABELS];
	const char *lv[MAX_TMPL_LABELS];
	int nl;
	enum model model;
	double a, b;
};

struct tmpl_set {
	struct tmpl *v;
	size_t n, cap;
	bool oom;
};

static void tadd(struct tmpl_set *s, const char *name, enum model m, double a, double b,
		 int nl, ...)
{
	va_list ap;
	struct tmpl *t;

	if (s->oom)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct tmpl *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->oom = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	t = &s->v[s->n++];
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->model = m;
	t->a = a;
	t->b = b;
	t->nl = nl;
	va_start(ap, nl);
	for (int i = 0; i < nl; i++) {
		t->ln[i] = va_arg(ap, const char *);
		t->lv[i] = va_arg(ap, const char *);
	}
	va_end(ap);
}

struct named_model {
	const char *name;
	enum model model;
	double a, b;
};

static void tadd_list(struct tmpl_set *s, const struct named_model *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tadd(s, l[i].name, l[i].model, l[i].a, l[i].b, 0);
}

static char cpu_names[256][4];

static void tmpl_cpu(struct tmpl_set *s, long cpus)
{
	static const char *const modes[] = { "idle", "iowait", "irq", "nice",
					     "softirq", "steal", "system", "user" };
	static const double rates[] = { 0.8, 0.01, 0, 0.001, 0.005, 0.002, 0.05, 0.12 };

	for (long c = 0; c < cpus; c++) {
		const char *cpu = cpu_names[c];

		for (size_t m = 0; m < 8; m++)
			tadd(s, "node_cpu_seconds_total", rates[m] > 0 ? M_CNT_F : M_CONST,
			     1e5 * rates[m] + 3, rates[m], 2, "cpu", cpu, "mode", modes[m]);
		tadd(s, "node_cpu_guest_seconds_total", M_CONST, 0, 0, 2, "cpu", cpu, "mode", "nice");
		tadd(s, "node_cpu_guest_seconds_total", M_CONST, 0, 0, 2, "cpu", cpu, "mode", "user");
		tadd(s, "node_schedstat_running_seconds_total", M_CNT_F, 1e5, 0.3, 1, "cpu", cpu);
		tadd(s, "node_schedstat_timeslices_total", M_CNT_I, 1e8, 400, 1, "cpu", cpu);
		tadd(s, "node_schedstat_waiting_seconds_total", M_CNT_F, 1e4, 0.02, 1, "cpu", cpu);
		tadd(s, "node_softnet_processed_total", M_CNT_I, 1e7, 80, 1, "cpu", cpu);
		tadd(s, "node_softnet_dropped_total", M_CONST, 0, 0, 1, "cpu", cpu);
		tadd(s, "node_softnet_times_squeezed_total", M_CONST, 3, 0, 1, "cpu", cpu);
	}
}

static void tmpl_filesystem(struct tmpl_set *s)
{
	static const char *const fs[][3] = {
		{ "/dev/vda1", "ext4", "/" },          { "/dev/vda15", "vfat", "/boot/efi" },
		{ "tmpfs", "tmpfs", "/run" },          { "tmpfs", "tmpfs", "/run/lock" },
		{ "tmpfs", "tmpfs", "/dev/shm" },      { "tmpfs", "tmpfs", "/run/user/1000" },
	};

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		bool busy = i == 0 || i == 2;
#define FS 3, "device", fs[i][0], "fstype", fs[i][1], "mountpoint", fs[i][2]
		tadd(s, "node_filesystem_avail_bytes", busy ? M_WALK_P : M_CONST, 2e10, 4e5, FS);
		tadd(s, "node_filesystem_free_bytes", busy ? M_WALK_P : M_CONST, 2.2e10, 4e5, FS);
		tadd(s, "node_filesystem_size_bytes", M_CONST, 5e10, 0, FS);
		tadd(s, "node_filesystem_files", M_CONST, 3e6, 0, FS);
		tadd(s, "node_filesystem_files_free", busy ? M_WALK_I : M_CONST, 2.5e6, 20, FS);
		tadd(s, "node_filesystem_readonly", M_CONST, 0, 0, FS);
		tadd(s, "node_filesystem_device_error", M_CONST, 0, 0, FS);
#undef FS
	}
}

static void tmpl_network(struct tmpl_set *s)
{
	static const char *const devs[] = { "lo", "eth0", "eth1", "docker0" };
	static const struct named_model counters[] = {
		{ "node_network_receive_bytes_total", M_CNT_I, 1e11, 2e5 },
		{ "node_network_receive_packets_total", M_CNT_I, 1e9, 400 },
		{ "node_network_receive_errs_total", M_CONST, 0, 0 },
		{ "node_network_receive_drop_total", M_CNT_I, 1e3, 0.01 },
		{ "node_network_receive_fifo_total", M_CONST, 0, 0 },
		{ "node_network_receive_frame_total", M_CONST, 0, 0 },
		{ "node_network_receive_compressed_total", M_CONST, 0, 0 },
		{ "node_network_receive_multicast_total", M_CNT_I, 1e4, 0.02 },
		{ "node_network_transmit_bytes_total", M_CNT_I, 1e11, 1e5 },
		{ "node_network_transmit_packets_total", M_CNT_I, 1e9, 300 },
		{ "node_network_transmit_errs_total", M_CONST, 0, 0 },
		{ "node_network_transmit_drop_total", M_CONST, 0, 0 },
		{ "node_network_transmit_fifo_total", M_CONST, 0, 0 },
		{ "node_network_transmit_colls_total", M_CONST, 0, 0 },
		{ "node_network_transmit_carrier_total", M_CONST, 0, 0 },
		{ "node_network_transmit_compressed_total", M_CONST, 0, 0 },
		{ "node_network_up", M_CONST, 1, 0 },
		{ "node_network_mtu_bytes", M_CONST, 1500, 0 },
		{ "node_network_speed_bytes", M_CONST, 1.25e9, 0 },
		{ "node_network_carrier", M_CONST, 1, 0 },
		{ "node_network_carrier_changes_total", M_CONST, 2, 0 },
		{ "node_network_flags", M_CONST, 4099, 0 },
		{ "node_network_iface_id", M_CONST, 2, 0 },
		{ "node_network_iface_link", M_CONST, 2, 0 },
		{ "node_network_transmit_queue_length", M_CONST, 1000, 0 },
		{ "node_network_dormant", M_CONST, 0, 0 },
		{ "node_network_protocol_type", M_CONST, 1, 0 },
		{ "node_network_address_assign_type", M_CONST, 0, 0 },
		{ "node_network_net_dev_group", M_CONST, 0, 0 },
	};

	for (size_t d = 0; d < sizeof(devs) / sizeof(devs[0]); d++) {
		for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
			tadd(s, counters[i].name, counters[i].model, counters[i].a,
			     counters[i].b * (d == 1 ? 1 : 0.1), 1, "device", devs[d]);
		tadd(s, "node_network_info", M_CONST, 1, 0, 6, "address", d ? "{mac}" : "00:00:00:00:00:00",
		     "broadcast", d ? "ff:ff:ff:ff:ff:ff" : "00:00:00:00:00:00", "device", devs[d],
		     "duplex", d ? "full" : "unknown", "ifalias", devs[d],
		     "operstate", d ? "up" : "unknown");
	}
}

static void tmpl_disk(struct tmpl_set *s)
{
	static const char *const devs[][3] = {
		{ "vda", "254", "0" }, { "vdb", "254", "16" }, { "sr0", "11", "0" }, { "dm-0", "253", "0" },
	};
	static const struct named_model m[] = {
		{ "node_disk_reads_completed_total", M_CNT_I, 1e6, 5 },
		{ "node_disk_reads_merged_total", M_CNT_I, 1e5, 1 },
		{ "node_disk_read_bytes_total", M_CNT_I, 1e10, 8e4 },
		{ "node_disk_read_time_seconds_total", M_CNT_F, 1e3, 0.005 },
		{ "node_disk_writes_completed_total", M_CNT_I, 1e7, 20 },
		{ "node_disk_writes_merged_total", M_CNT_I, 1e6, 8 },
		{ "node_disk_written_bytes_total", M_CNT_I, 1e11, 3e5 },
		{ "node_disk_write_time_seconds_total", M_CNT_F, 1e4, 0.03 },
		{ "node_disk_io_now", M_SMALL, 2, 0 },
		{ "node_disk_io_time_seconds_total", M_CNT_F, 1e4, 0.02 },
		{ "node_disk_io_time_weighted_seconds_total", M_CNT_F, 2e4, 0.04 },
		{ "node_disk_discards_completed_total", M_CNT_I, 1e4, 0.01 },
		{ "node_disk_discards_merged_total", M_CONST, 0, 0 },
		{ "node_disk_discarded_sectors_total", M_CNT_I, 1e8, 20 },
		{ "node_disk_discard_time_seconds_total", M_CNT_F, 10, 0.0001 },
		{ "node_disk_flush_requests_total", M_CNT_I, 1e6, 2 },
		{ "node_disk_flush_requests_time_seconds_total", M_CNT_F, 1e3, 0.002 },
	};

	for (size_t d = 0; d < sizeof(devs) / sizeof(devs[0]); d++) {
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			tadd(s, m[i].name, d == 2 ? M_CONST : m[i].model, m[i].a, m[i].b, 1,
			     "device", devs[d][0]);
		tadd(s, "node_disk_info", M_CONST, 1, 0, 3, "device", devs[d][0], "major", devs[d][1],
		     "minor", devs[d][2]);
	}
}

static void tmpl_memory(struct tmpl_set *s)
{
	static const struct named_model m[] = {
		{ "node_memory_Active_bytes", M_WALK_P, 4e9, 2e6 },
		{ "node_memory_Active_anon_bytes", M_WALK_P, 2e9, 2e6 },
		{ "node_memory_Active_file_bytes", M_WALK_P, 2e9, 1e6 },
		{ "node_memory_AnonHugePages_bytes", M_CONST, 0, 0 },
		{ "node_memory_AnonPages_bytes", M_WALK_P, 2e9, 2e6 },
		{ "node_memory_Bounce_bytes", M_CONST, 0, 0 },
		{ "node_memory_Buffers_bytes", M_WALK_P, 3e8, 1e5 },
		{ "node_memory_Cached_bytes", M_WALK_P, 6e9, 3e6 },
		{ "node_memory_CommitLimit_bytes", M_CONST, 8e9, 0 },
		{ "node_memory_Committed_AS_bytes", M_WALK_P, 9e9, 4e6 },
		{ "node_memory_DirectMap1G_bytes", M_CONST, 4e9, 0 },
		{ "node_memory_DirectMap2M_bytes", M_CONST, 1.2e10, 0 },
		{ "node_memory_DirectMap4k_bytes", M_CONST, 2e8, 0 },
		{ "node_memory_Dirty_bytes", M_WALK_P, 1e6, 5e5 },
		{ "node_memory_FileHugePages_bytes", M_CONST, 0, 0 },
		{ "node_memory_FilePmdMapped_bytes", M_CONST, 0, 0 },
		{ "node_memory_HardwareCorrupted_bytes", M_CONST, 0, 0 },
		{ "node_memory_HugePages_Free", M_CONST, 0, 0 },
		{ "node_memory_HugePages_Rsvd", M_CONST, 0, 0 },
		{ "node_memory_HugePages_Surp", M_CONST, 0, 0 },
		{ "node_memory_HugePages_Total", M_CONST, 0, 0 },
		{ "node_memory_Hugepagesize_bytes", M_CONST, 2097152, 0 },
		{ "node_memory_Hugetlb_bytes", M_CONST, 0, 0 },
		{ "node_memory_Inactive_bytes", M_WALK_P, 5e9, 2e6 },
		{ "node_memory_Inactive_anon_bytes", M_WALK_P, 1e8, 1e5 },
		{ "node_memory_Inactive_file_bytes", M_WALK_P, 5e9, 2e6 },
		{ "node_memory_KReclaimable_bytes", M_WALK_P, 5e8, 1e5 },
		{ "node_memory_KernelStack_bytes", M_WALK_P, 1.5e7, 3e4 },
		{ "node_memory_Mapped_bytes", M_WALK_P, 8e8, 2e5 },
		{ "node_memory_MemAvailable_bytes", M_WALK_P, 1e10, 4e6 },
		{ "node_memory_MemFree_bytes", M_WALK_P, 3e9, 4e6 },
		{ "node_memory_MemTotal_bytes", M_CONST, 1.6e10, 0 },
		{ "node_memory_Mlocked_bytes", M_CONST, 0, 0 },
		{ "node_memory_NFS_Unstable_bytes", M_CONST, 0, 0 },
		{ "node_memory_PageTables_bytes", M_WALK_P, 4e7, 5e4 },
		{ "node_memory_Percpu_bytes", M_CONST, 5e6, 0 },
		{ "node_memory_SReclaimable_bytes", M_WALK_P, 5e8, 1e5 },
		{ "node_memory_SUnreclaim_bytes", M_WALK_P, 2e8, 5e4 },
		{ "node_memory_ShmemHugePages_bytes", M_CONST, 0, 0 },
		{ "node_memory_ShmemPmdMapped_bytes", M_CONST, 0, 0 },
		{ "node_memory_Shmem_bytes", M_WALK_P, 5e7, 1e4 },
		{ "node_memory_Slab_bytes", M_WALK_P, 7e8, 1e5 },
		{ "node_memory_SwapCached_bytes", M_CONST, 0, 0 },
		{ "node_memory_SwapFree_bytes", M_CONST, 0, 0 },
		{ "node_memory_SwapTotal_bytes", M_CONST, 0, 0 },
		{ "node_memory_Unevictable_bytes", M_CONST, 0, 0 },
		{ "node_memory_VmallocChunk_bytes", M_CONST, 0, 0 },
		{ "node_memory_VmallocTotal_bytes", M_CONST, 3.5e13, 0 },
		{ "node_memory_VmallocUsed_bytes", M_WALK_P, 4e7, 1e4 },
		{ "node_memory_WritebackTmp_bytes", M_CONST, 0, 0 },
		{ "node_memory_Writeback_bytes", M_CONST, 0, 0 },
	};

	tadd_list(s, m, sizeof(m) / sizeof(m[0]));
}

/* Unlabelled kernel counters and gauges from the stat, netstat, sockstat, vmstat,
 * timex, pressure and misc collectors. */
static void tmpl_misc(struct tmpl_set *s)
{
	static const struct named_model m[] = {
		{ "node_load1", M_LOAD, 1.5, 0 },
		{ "node_load5", M_LOAD, 1.2, 0 },
		{ "node_load15", M_LOAD, 1.0, 0 },
		{ "node_boot_time_seconds", M_CONST, 1.7e9, 0 },
		{ "node_time_seconds", M_TIME, 0, 0 },
		{ "node_context_switches_total", M_CNT_I, 1e10, 3000 },
		{ "node_intr_total", M_CNT_I, 1e10, 2000 },
		{ "node_forks_total", M_CNT_I, 1e7, 5 },
		{ "node_procs_running", M_SMALL, 4, 0 },
		{ "node_procs_blocked", M_SMALL, 2, 0 },
		{ "node_entropy_available_bits", M_CONST, 256, 0 },
		{ "node_entropy_pool_size_bits", M_CONST, 256, 0 },
		{ "node_filefd_allocated", M_WALK_I, 3000, 10 },
		{ "node_filefd_maximum", M_CONST, 9.2e18, 0 },
		{ "node_nf_conntrack_entries", M_WALK_I, 400, 10 },
		{ "node_nf_conntrack_entries_limit", M_CONST, 262144, 0 },
		{ "node_sockstat_TCP_alloc", M_WALK_I, 300, 5 },
		{ "node_sockstat_TCP_inuse", M_WALK_I, 100, 3 },
		{ "node_sockstat_TCP_mem", M_WALK_I, 50, 3 },
		{ "node_sockstat_TCP_mem_bytes", M_WALK_P, 2e5, 1e4 },
		{ "node_sockstat_TCP_orphan", M_CONST, 0, 0 },
		{ "node_sockstat_TCP_tw", M_WALK_I, 80, 5 },
		{ "node_sockstat_UDP_inuse", M_CONST, 5, 0 },
		{ "node_sockstat_UDP_mem", M_CONST, 4, 0 },
		{ "node_sockstat_UDP_mem_bytes", M_CONST, 16384, 0 },
		{ "node_sockstat_UDPLITE_inuse", M_CONST, 0, 0 },
		{ "node_sockstat_RAW_inuse", M_CONST, 0, 0 },
		{ "node_sockstat_FRAG_inuse", M_CONST, 0, 0 },
		{ "node_sockstat_FRAG_memory", M_CONST, 0, 0 },
		{ "node_sockstat_sockets_used", M_WALK_I, 600, 5 },
		{ "node_netstat_Tcp_ActiveOpens", M_CNT_I, 1e6, 3 },
		{ "node_netstat_Tcp_PassiveOpens", M_CNT_I, 1e6, 2 },
		{ "node_netstat_Tcp_CurrEstab", M_WALK_I, 60, 3 },
		{ "node_netstat_Tcp_InErrs", M_CONST, 12, 0 },
		{ "node_netstat_Tcp_InSegs", M_CNT_I, 1e9, 500 },
		{ "node_netstat_Tcp_OutSegs", M_CNT_I, 1e9, 450 },
		{ "node_netstat_Tcp_OutRsts", M_CNT_I, 1e5, 0.5 },
		{ "node_netstat_Tcp_RetransSegs", M_CNT_I, 1e5, 0.2 },
		{ "node_netstat_Udp_InDatagrams", M_CNT_I, 1e7, 5 },
		{ "node_netstat_Udp_InErrors", M_CONST, 0, 0 },
		{ "node_netstat_Udp_NoPorts", M_CNT_I, 1e3, 0.01 },
		{ "node_netstat_Udp_OutDatagrams", M_CNT_I, 1e7, 5 },
		{ "node_netstat_Udp_RcvbufErrors", M_CONST, 0, 0 },
		{ "node_netstat_Udp_SndbufErrors", M_CONST, 0, 0 },
		{ "node_netstat_Udp6_InDatagrams", M_CONST, 0, 0 },
		{ "node_netstat_Udp6_OutDatagrams", M_CONST, 0, 0 },
		{ "node_netstat_Icmp_InErrors", M_CONST, 0, 0 },
		{ "node_netstat_Icmp_InMsgs", M_CNT_I, 1e4, 0.05 },
		{ "node_netstat_Icmp_OutMsgs", M_CNT_I, 1e4, 0.05 },
		{ "node_netstat_Ip_Forwarding", M_CONST, 1, 0 },
		{ "node_netstat_IpExt_InOctets", M_CNT_I, 1e11, 2e5 },
		{ "node_netstat_IpExt_OutOctets", M_CNT_I, 1e11, 1e5 },
		{ "node_netstat_TcpExt_ListenDrops", M_CONST, 0, 0 },
		{ "node_netstat_TcpExt_ListenOverflows", M_CONST, 0, 0 },
		{ "node_netstat_TcpExt_SyncookiesFailed", M_CONST, 0, 0 },
		{ "node_netstat_TcpExt_SyncookiesRecv", M_CONST, 0, 0 },
		{ "node_netstat_TcpExt_SyncookiesSent", M_CONST, 0, 0 },
		{ "node_netstat_TcpExt_TCPSynRetrans", M_CNT_I, 1e3, 0.01 },
		{ "node_netstat_TcpExt_TCPTimeouts", M_CNT_I, 1e4, 0.05 },
		{ "node_vmstat_oom_kill", M_CONST, 0, 0 },
		{ "node_vmstat_pgfault", M_CNT_I, 1e10, 2e3 },
		{ "node_vmstat_pgmajfault", M_CNT_I, 1e5, 0.1 },
		{ "node_vmstat_pgpgin", M_CNT_I, 1e8, 50 },
		{ "node_vmstat_pgpgout", M_CNT_I, 1e9, 300 },
		{ "node_vmstat_pswpin", M_CONST, 0, 0 },
		{ "node_vmstat_pswpout", M_CONST, 0, 0 },
		{ "node_pressure_cpu_waiting_seconds_total", M_CNT_F, 1e4, 0.02 },
		{ "node_pressure_io_stalled_seconds_total", M_CNT_F, 1e3, 0.004 },
		{ "node_pressure_io_waiting_seconds_total", M_CNT_F, 2e3, 0.006 },
		{ "node_pressure_memory_stalled_seconds_total", M_CONST, 0.5, 0 },
		{ "node_pressure_memory_waiting_seconds_total", M_CONST, 0.7, 0 },
		{ "node_timex_estimated_error_seconds", M_CONST, 0, 0 },
		{ "node_timex_frequency_adjustment_ratio", M_RAND_F, 1, 0 },
		{ "node_timex_loop_time_constant", M_CONST, 7, 0 },
		{ "node_timex_maxerror_seconds", M_DUR, 0.5, 1e-6 },
		{ "node_timex_offset_seconds", M_DUR, 1e-5, 1e-9 },
		{ "node_timex_pps_calibration_total", M_CONST, 0, 0 },
		{ "node_timex_pps_error_total", M_CONST, 0, 0 },
		{ "node_timex_pps_frequency_hertz", M_CONST, 0, 0 },
		{ "node_timex_pps_jitter_seconds", M_CONST, 0, 0 },
		{ "node_timex_pps_jitter_total", M_CONST, 0, 0 },
		{ "node_timex_pps_shift_seconds", M_CONST, 0, 0 },
		{ "node_timex_pps_stability_exceeded_total", M_CONST, 0, 0 },
		{ "node_timex_pps_stability_hertz", M_CONST, 0, 0 },
		{ "node_timex_status", M_CONST, 8193, 0 },
		{ "node_timex_sync_status", M_CONST, 1, 0 },
		{ "node_timex_tai_offset_seconds", M_CONST, 37, 0 },
		{ "node_timex_tick_seconds", M_CONST, 0.01, 0 },
		{ "node_selinux_enabled", M_CONST, 0, 0 },
		{ "node_textfile_scrape_error", M_CONST, 0, 0 },
		{ "node_udp_queues", M_CONST, 0, 0 },
	};

	tadd_list(s, m, sizeof(m) / sizeof(m[0]));
	tadd(s, "node_uname_info", M_CONST, 1, 0, 6, "domainname", "(none)", "machine", "x86_64",
	     "nodename", "{host}", "release", "6.1.0-18-amd64", "sysname", "Linux",
	     "version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
	tadd(s, "node_os_info", M_CONST, 1, 0, 6, "id", "debian", "name", "Debian GNU/Linux",
	     "pretty_name", "Debian GNU/Linux 12 (bookworm)", "version", "12 (bookworm)",
	     "version_codename", "bookworm", "version_id", "12");
	tadd(s, "node_os_version", M_CONST, 12, 0, 2, "id", "debian", "id_like", "debian");
	tadd(s, "node_exporter_build_info", M_CONST, 1, 0, 4, "branch", "debian/sid",
	     "goversion", "go1.19.8", "revision", "1.5.0-1+b6", "version", "1.5.0");
	tadd(s, "node_dmi_info", M_CONST, 1, 0, 5, "bios_vendor", "SeaBIOS", "bios_version", "1.16.2",
	     "product_name", "Standard PC (Q35 + ICH9, 2009)", "system_vendor", "QEMU",
	     "product_uuid", "{host}");
	for (int i = 1; i <= 3; i++) {
		static const char *const sensors[] = { "temp1", "temp2", "temp3" };

		tadd(s, "node_hwmon_temp_celsius", M_WALK_I, 45, 1, 2, "chip", "platform_coretemp_0",
		     "sensor", sensors[i - 1]);
		tadd(s, "node_hwmon_temp_crit_celsius", M_CONST, 100, 0, 2, "chip", "platform_coretemp_0",
		     "sensor", sensors[i - 1]);
	}
	tadd(s, "node_hwmon_chip_names", M_CONST, 1, 0, 2, "chip", "platform_coretemp_0",
	     "chip_name", "coretemp");
}

static void tmpl_collectors(struct tmpl_set *s)
{
	static const char *const c[] = {
		"arp", "bcache", "bonding", "btrfs", "conntrack", "cpu", "cpufreq", "diskstats",
		"dmi", "edac", "entropy", "fibrechannel", "filefd", "filesystem", "hwmon",
		"infiniband", "ipvs", "loadavg", "mdadm", "meminfo", "netclass", "netdev",
		"netstat", "nfs", "nfsd", "nvme", "os", "powersupplyclass", "pressure", "rapl",
		"schedstat", "selinux", "sockstat", "softnet", "stat", "tapestats", "textfile",
		"thermal_zone", "time", "timex", "udp_queues", "uname", "vmstat", "xfs", "zfs",
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		tadd(s, "node_scrape_collector_duration_seconds", M_DUR, 2e-4, 1e-9, 1, "collector", c[i]);
		tadd(s, "node_scrape_collector_success", M_CONST, i % 9 == 3 ? 0 : 1, 0, 1, "collector", c[i]);
	}
}

static void tmpl_runtime(struct tmpl_set *s)
{
	static const char *const q[] = { "0", "0.25", "0.5", "0.75", "1" };
	static const struct named_model m[] = {
		{ "go_gc_duration_seconds_sum", M_CNT_F, 50, 0.0001 },
		{ "go_gc_duration_seconds_count", M_CNT_I, 1e5, 0.2 },
		{ "go_goroutines", M_WALK_I, 8, 1 },
		{ "go_threads", M_CONST, 9, 0 },
		{ "go_memstats_alloc_bytes", M_WALK_P, 3e6, 5e5 },
		{ "go_memstats_alloc_bytes_total", M_CNT_I, 1e11, 3e5 },
		{ "go_memstats_buck_hash_sys_bytes", M_CONST, 1.5e6, 0 },
		{ "go_memstats_frees_total", M_CNT_I, 1e9, 2e3 },
		{ "go_memstats_gc_sys_bytes", M_CONST, 8.6e6, 0 },
		{ "go_memstats_heap_alloc_bytes", M_WALK_P, 3e6, 5e5 },
		{ "go_memstats_heap_idle_bytes", M_WALK_P, 8e6, 5e5 },
		{ "go_memstats_heap_inuse_bytes", M_WALK_P, 5e6, 3e5 },
		{ "go_memstats_heap_objects", M_WALK_I, 2e4, 2e3 },
		{ "go_memstats_heap_released_bytes", M_WALK_P, 6e6, 3e5 },
		{ "go_memstats_heap_sys_bytes", M_CONST, 1.2e7, 0 },
		{ "go_memstats_last_gc_time_seconds", M_GC_TIME, 0, 0 },
		{ "go_memstats_lookups_total", M_CONST, 0, 0 },
		{ "go_memstats_mallocs_total", M_CNT_I, 1e9, 2e3 },
		{ "go_memstats_mcache_inuse_bytes", M_CONST, 4800, 0 },
		{ "go_memstats_mcache_sys_bytes", M_CONST, 15600, 0 },
		{ "go_memstats_mspan_inuse_bytes", M_WALK_I, 1.2e5, 500 },
		{ "go_memstats_mspan_sys_bytes", M_CONST, 1.6e5, 0 },
		{ "go_memstats_next_gc_bytes", M_WALK_P, 6e6, 2e5 },
		{ "go_memstats_other_sys_bytes", M_CONST, 1e6, 0 },
		{ "go_memstats_stack_inuse_bytes", M_CONST, 8e5, 0 },
		{ "go_memstats_stack_sys_bytes", M_CONST, 8e5, 0 },
		{ "go_memstats_sys_bytes", M_CONST, 2.4e7, 0 },
		{ "process_cpu_seconds_total", M_CNT_F, 3e4, 0.005 },
		{ "process_max_fds", M_CONST, 8192, 0 },
		{ "process_open_fds", M_SMALL, 12, 0 },
		{ "process_resident_memory_bytes", M_WALK_P, 2.4e7, 1e5 },
		{ "process_start_time_seconds", M_CONST, 1.7e9, 0 },
		{ "process_virtual_memory_bytes", M_WALK_P, 7.4e8, 1e5 },
		{ "process_virtual_memory_max_bytes", M_CONST, 1.8e19, 0 },
		{ "promhttp_metric_handler_requests_in_flight", M_CONST, 1, 0 },
	};

	for (size_t i = 0; i < 5; i++)
		tadd(s, "go_gc_duration_seconds", M_DUR, 3e-5 * (double)(i + 1), 1e-9, 1, "quantile", q[i]);
	tadd_list(s, m, sizeof(m) / sizeof(m[0]));
	tadd(s, "go_info", M_CONST, 1, 0, 1, "version", "go1.19.8");
	tadd(s, "promhttp_metric_handler_errors_total", M_CONST, 0, 0, 1, "cause", "encoding");
	tadd(s, "promhttp_metric_handler_errors_total", M_CONST, 0, 0, 1, "cause", "gathering");
	tadd(s, "promhttp_metric_handler_requests_total", M_INC1, 1e4, 0, 1, "code", "200");
	tadd(s, "promhttp_metric_handler_requests_total", M_CONST, 0, 0, 1, "code", "500");
	tadd(s, "promhttp_metric_handler_requests_total", M_CONST, 0, 0, 1, "code", "503");
	/* What Prometheus adds to every scraped target before remote-writing it. */
	tadd(s, "up", M_CONST, 1, 0, 0);
	tadd(s, "scrape_duration_seconds", M_DUR, 0.02, 1e-9, 0);
	tadd(s, "scrape_samples_scraped", M_CONST, 1000, 0, 0);
	tadd(s, "scrape_samples_post_metric_relabeling", M_CONST, 1000, 0, 0);
	tadd(s, "scrape_series_added", M_CONST, 0, 0, 0);
}

static int build_templates(struct tmpl_set *s, long cpus)
{
	for (unsigned i = 0; i < 256; i++)
		snprintf(cpu_names[i], sizeof(cpu_names[i]), "%u", i & 255);
	tmpl_cpu(s, cpus);
	tmpl_filesystem(s);
	tmpl_network(s);
	tmpl_disk(s);
	tmpl_memory(s);
	tmpl_misc(s);
	tmpl_collectors(s);
	tmpl_runtime(s);
	return s->oom ? -1 : 0;
}

/* ---- randomness ------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double rnd01(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return (double)((*st * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

/* ---- series state ------------------------------------------------------------------ */

struct series {
	Prometheus__Label **lp;
	size_t nl;
	double v;
	const struct tmpl *t;
};

struct target {
	uint64_t k;     /* slot, 0..T-1 */
	uint64_t gen;   /* how many times this slot was replaced */
	struct arena *ar;
	struct series *s;
	size_t ns;
};

static double round2(double x)
{
	return round(x * 100.0) / 100.0;
}

static double init_value(const struct tmpl *t, uint64_t h)
{
	double u = (double)(h >> 11) * 0x1.0p-53;

	switch (t->model) {
	case M_CONST:
		/* Sizes differ per host; flags and zeros do not. */
		return t->a >= 1e6 ? floor(t->a * (0.5 + u) / 4096) * 4096 : t->a;
	case M_CNT_F:
		return round2(t->a * u);
	case M_CNT_I:
	case M_INC1:
	case M_WALK_I:
		return floor(t->a * (0.5 + u));
	case M_WALK_P:
		return floor(t->a * (0.5 + u) / 4096) * 4096;
	default:
		return 0;
	}
}

static double next_value(struct series *s, int64_t ts_ms, double step_s, uint64_t *rng)
{
	const struct tmpl *t = s->t;
	double r = rnd01(rng);

	switch (t->model) {
	case M_CONST:
		break;
	case M_CNT_F:
		s->v = round2(s->v + t->b * step_s * (0.2 + 1.6 * r));
		break;
	case M_CNT_I:
		s->v += floor(t->b * step_s * (0.2 + 1.6 * r));
		break;
	case M_INC1:
		s->v += 1;
		break;
	case M_WALK_I:
		s->v = fmax(0, s->v + round((r - 0.5) * 2 * t->b));
		break;
	case M_WALK_P:
		s->v = fmax(0, s->v + round((r - 0.5) * 2 * t->b / 4096) * 4096);
		break;
	case M_RAND_F:
		s->v = t->a * (0.5 + r);
		break;
	case M_DUR:
		/* A count of clock ticks (b seconds each) divided by 10^k, as Go's
		 * Duration.Seconds() and the kernel's timex fields are reported. */
		s->v = round(t->a * (0.5 + r) / t->b) / round(1 / t->b);
		break;
	case M_LOAD:
		s->v = round2(t->a * (0.5 + r));
		break;
	case M_SMALL:
		s->v = floor(r * t->a);
		break;
	case M_TIME:
		/* node_exporter's time.Now() some milliseconds into the scrape, with
		 * nanosecond resolution; float64(UnixNano()) / 1e9. */
		s->v = (double)(ts_ms * 1000000 + (int64_t)(r * 5e6)) / 1e9;
		break;
	case M_GC_TIME:
		if (r < 0.5 || s->v == 0)
			s->v = (double)(ts_ms * 1000000 - (int64_t)(r * 6e10)) / 1e9;
		break;
	}
	return s->v;
}

static int label_cmp(const void *a, const void *b)
{
	const Prometheus__Label *x = *(Prometheus__Label *const *)a;
	const Prometheus__Label *y = *(Prometheus__Label *const *)b;

	return strcmp(x->name, y->name);
}

static const char *subst(struct arena *ar, const char *v, uint64_t uid, size_t ti)
{
	if (strcmp(v, "{host}") == 0)
		return arena_sprintf(ar, "host-%06" PRIu64, uid);
	if (strcmp(v, "{mac}") == 0) {
		uint64_t h = splitmix64(uid * 131 + ti);

		return arena_sprintf(ar, "52:54:%02x:%02x:%02x:%02x", (unsigned)(h & 255),
				     (unsigned)((h >> 8) & 255), (unsigned)((h >> 16) & 255),
				     (unsigned)((h >> 24) & 255));
	}
	return arena_strdup(ar, v);
}

static int add_label(struct arena *ar, Prometheus__Label **slot, const char *n, const char *v)
{
	Prometheus__Label *l = arena_alloc(ar, sizeof(*l));

	if (!l || !v)
		return -1;
	prometheus__label__init(l);
	l->name = arena_strdup(ar, n);
	l->value = arena_strdup(ar, v);
	if (!l->name || !l->value)
		return -1;
	*slot = l;
	return 0;
}

/* (Re)build the label sets of target slot k in generation gen: a fresh instance. */
static int target_build(struct target *tg, const struct tmpl *tm, size_t ntm, uint64_t ntargets,
			const char *job, uint64_t seed)
{
	uint64_t uid = tg->k + tg->gen * ntargets;
	uint64_t u = uid + 1;
	char inst[64];

	arena_reset(tg->ar);
	snprintf(inst, sizeof(inst), "10.%u.%u.%u:9100", (unsigned)((u >> 16) & 255),
		 (unsigned)((u >> 8) & 255), (unsigned)(u & 255));
	tg->s = arena_calloc(tg->ar, tg->ns, sizeof(*tg->s));
	if (!tg->s)
		return -1;
	for (size_t i = 0; i < tg->ns && i < ntm; i++) {
		const struct tmpl *t = &tm[i];
		struct series *s = &tg->s[i];
		size_t n = 0;

		s->t = t;
		s->nl = (size_t)t->nl + 3;
		s->lp = arena_calloc(tg->ar, s->nl, sizeof(*s->lp));
		if (!s->lp)
			return -1;
		if (add_label(tg->ar, &s->lp[n++], "__name__", t->name) < 0 ||
		    add_label(tg->ar, &s->lp[n++], "instance", inst) < 0 ||
		    add_label(tg->ar, &s->lp[n++], "job", job) < 0)
			return -1;
		for (int j = 0; j < t->nl; j++)
			if (add_label(tg->ar, &s->lp[n++], t->ln[j], subst(tg->ar, t->lv[j], uid, i)) < 0)
				return -1;
		qsort(s->lp, s->nl, sizeof(*s->lp), label_cmp);
		s->v = init_value(t, splitmix64(seed ^ (uid * 1000003 + i)));
	}
	return 0;
}

/* ---- latency histogram (log-linear, 16 buckets per power of two) ------------------ */

#define HIST_N 640

struct hist {
	uint64_t n[HIST_N];
	uint64_t count;
	uint64_t max_us;
};

static unsigned hist_index(uint64_t us)
{
	unsigned msb, idx;

	if (us < 16)
		return (unsigned)us;
	msb = 63u - (unsigned)__builtin_clzll(us);
	idx = 16 + (msb - 4) * 16 + (unsigned)((us >> (msb - 4)) & 15);
	return idx < HIST_N ? idx : HIST_N - 1;
}

static uint64_t hist_upper(unsigned idx)
{
	unsigned msb, sub;

	if (idx < 16)
		return idx + 1;
	msb = (idx - 16) / 16 + 4;
	sub = (idx - 16) % 16;
	return (uint64_t)(17 + sub) << (msb - 4);
}

static void hist_add(struct hist *h, uint64_t us)
{
	h->n[hist_index(us)]++;
	h->count++;
	if (us > h->max_us)
		h->max_us = us;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_N; i++)
		dst->n[i] += src->n[i];
	dst->count += src->count;
	if (src->max_us > dst->max_us)
		dst->max_us = src->max_us;
}

static double hist_quantile_ms(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h->n[i];
		if (seen >= rank) {
			uint64_t up = hist_upper(i);

			return (double)(up < h->max_us ? up : h->max_us) / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}

/* ---- run state -------------------------------------------------------------------- */

struct stats {
	uint64_t req_ok, req_fail;
	uint64_t samples_ok, samples_fail;
	uint64_t st_4xx, st_5xx, st_transport;
	uint64_t bytes_raw, bytes_wire;
	struct hist lat;
};

struct run {
	const struct opts *o;
	const struct tmpl *tm;
	size_t ntm;
	uint64_t ntargets;
	uint64_t ticks;          /* UINT64_MAX: until stopped */
	int64_t start_ms;
	double start_wall;
	struct httpc *http;
	_Atomic bool stop;
	_Atomic uint64_t sent;   /* samples handed to the network */
	_Atomic uint64_t ok;     /* samples acknowledged */
	_Atomic int64_t *wtick;  /* per worker: tick being built; INT64_MAX when done */
	pthread_mutex_t rate_mu;
	double rate_next;        /* wall time the next request may start */
	pthread_mutex_t err_mu;
	int errs_printed;
};

struct worker {
	struct run *r;
	unsigned id;
	uint64_t rng;
	struct target *tg;
	size_t ntg;
	/* the request being built */
	Prometheus__TimeSeries *tsv;
	Prometheus__TimeSeries **tsp;
	Prometheus__Sample *smp;
	Prometheus__Sample **sp;
	size_t nts, nsamp;
	struct buf pb, cb;
	struct httpc_response resp;
	struct stats st;
	uint64_t series_created;
	int64_t last_ts;
	pthread_t th;
};

static volatile sig_atomic_t g_sigint;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Global pacing: each request books its slot; at most one second of credit builds up. */
static void rate_wait(struct run *r, size_t n)
{
	double t, now;

	if (r->o->rate <= 0)
		return;
	pthread_mutex_lock(&r->rate_mu);
	now = now_s();
	if (r->rate_next < now - 1.0)
		r->rate_next = now - 1.0;
	t = r->rate_next;
	r->rate_next += (double)n / r->o->rate;
	pthread_mutex_unlock(&r->rate_mu);
	sleep_s(t - now);
}

static void skew_wait(struct run *r, unsigned me, uint64_t tick)
{
	long c = r->o->concurrency;

	atomic_store(&r->wtick[me], (int64_t)tick);
	for (;;) {
		int64_t min = INT64_MAX;

		for (long i = 0; i < c; i++) {
			int64_t v = atomic_load(&r->wtick[i]);

			if (v < min)
				min = v;
		}
		if ((int64_t)tick <= min + r->o->max_skew || atomic_load(&r->stop))
			return;
		sleep_s(0.0002);
	}
}

static void report_error(struct run *r, const char *what)
{
	pthread_mutex_lock(&r->err_mu);
	if (r->errs_printed < 5) {
		fprintf(stderr, "rwload: request failed: %.300s\n", what);
		if (++r->errs_printed == 5)
			fprintf(stderr, "rwload: (further errors are only counted)\n");
	}
	pthread_mutex_unlock(&r->err_mu);
}

static int worker_send(struct worker *w)
{
	struct run *r = w->r;
	Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
	static const struct httpc_header hdr[] = {
		{ "X-Prometheus-Remote-Write-Version", "0.1.0" },
	};
	struct httpc_req hr = { 0 };
	char err[256];
	double t0;
	int rc;

	if (!w->nts)
		return 0;
	req.n_timeseries = w->nts;
	req.timeseries = w->tsp;
	buf_reset(&w->pb);
	buf_reset(&w->cb);
	if (proto_pack(&req.base, &w->pb, err, sizeof(err)) < 0 ||
	    compress_encode(COMPRESS_SNAPPY, w->pb.data, w->pb.len, 0, &w->cb, err, sizeof(err)) < 0) {
		fprintf(stderr, "rwload: encoding a request: %s\n", err);
		return -1;
	}
	rate_wait(r, w->nsamp);
	hr.method = "POST";
	hr.url = r->o->url;
	hr.content_type = "application/x-protobuf";
	hr.content_encoding = "snappy";
	hr.body = w->cb.data;
	hr.body_len = w->cb.len;
	hr.headers = hdr;
	hr.nheaders = 1;
	atomic_fetch_add(&r->sent, w->nsamp);
	t0 = now_s();
	rc = httpc_do(r->http, &hr, &w->resp, err, sizeof(err));
	hist_add(&w->st.lat, (uint64_t)((now_s() - t0) * 1e6));
	w->st.bytes_raw += w->pb.len;
	w->st.bytes_wire += w->cb.len;
	if (rc == 0 && w->resp.status >= 200 && w->resp.status < 300) {
		w->st.req_ok++;
		w->st.samples_ok += w->nsamp;
		atomic_fetch_add(&r->ok, w->nsamp);
	} else {
		char msg[400];

		w->st.req_fail++;
		w->st.samples_fail += w->nsamp;
		if (rc == 0 || rc == HTTPC_ESTATUS) {
			if (w->resp.status >= 500 || w->resp.status == 429)
				w->st.st_5xx++;
			else
				w->st.st_4xx++;
			snprintf(msg, sizeof(msg), "HTTP %d: %.*s", w->resp.status,
				 (int)(w->resp.body.len < 300 ? w->resp.body.len : 300),
				 w->resp.body.data ? w->resp.body.data : "");
		} else {
			w->st.st_transport++;
			snprintf(msg, sizeof(msg), "%s", err);
		}
		report_error(r, msg);
	}
	w->nts = 0;
	w->nsamp = 0;
	return 0;
}

/* Replacements made by this tick, in targets (churn is counted in sample time). */
static uint64_t churn_replacements(const struct run *r, uint64_t tick)
{
	double minutes = (double)tick * (double)r->o->step_ms / 60000.0;

	if (r->o->churn_per_min <= 0)
		return 0;
	return (uint64_t)(minutes * r->o->churn_per_min / (double)r->ntm);
}

static uint64_t target_gen(uint64_t k, uint64_t repl, uint64_t ntargets)
{
	return repl > k ? (repl - 1 - k) / ntargets + 1 : 0;
}

static int64_t tick_ts(const struct worker *w, uint64_t tick)
{
	const struct run *r = w->r;
	int64_t ts = r->start_ms + (int64_t)tick * r->o->step_ms;

	if (r->o->jitter_ms > 0)
		ts += (int64_t)(splitmix64(tick ^ ((uint64_t)w->id << 40)) % (uint64_t)(r->o->jitter_ms + 1));
	return ts;
}

static int worker_tick(struct worker *w, uint64_t tick, uint64_t kb)
{
	struct run *r = w->r;
	uint64_t repl = churn_replacements(r, tick);
	double step_s = (double)r->o->step_ms / 1000.0;

	for (size_t i = 0; i < w->ntg; i++) {
		struct target *tg = &w->tg[i];
		uint64_t gen = target_gen(tg->k, repl, r->ntargets);

		if (gen != tg->gen) {
			/* The pending request points at this target's labels: send it first. */
			if (worker_send(w) < 0)
				return -1;
			tg->gen = gen;
			if (target_build(tg, r->tm, r->ntm, r->ntargets, r->o->job, r->o->seed) < 0)
				return -1;
			w->series_created += tg->ns;
		}
		for (size_t j = 0; j < tg->ns; j++) {
			struct series *s = &tg->s[j];
			Prometheus__TimeSeries *ts;

			if (w->nsamp + kb > (uint64_t)r->o->batch && worker_send(w) < 0)
				return -1;
			ts = &w->tsv[w->nts];
			prometheus__time_series__init(ts);
			ts->labels = s->lp;
			ts->n_labels = s->nl;
			ts->samples = &w->sp[w->nsamp];
			ts->n_samples = kb;
			for (uint64_t k = 0; k < kb; k++) {
				Prometheus__Sample *sm = &w->smp[w->nsamp + k];
				int64_t t = tick_ts(w, tick + k);

				sm->timestamp = t;
				sm->value = next_value(s, t, step_s, &w->rng);
				if (t > w->last_ts)
					w->last_ts = t;
			}
			w->tsp[w->nts++] = ts;
			w->nsamp += kb;
		}
	}
	return 0;
}

static bool should_stop(struct run *r)
{
	if (atomic_load(&r->stop))
		return true;
	if (r->o->total && atomic_load(&r->sent) >= r->o->total) {
		atomic_store(&r->stop, true);
		return true;
	}
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	uint64_t K = r->o->realtime ? 1 : (uint64_t)r->o->per_series;

	for (uint64_t tick = 0; tick < r->ticks && !should_stop(r); tick += K) {
		uint64_t kb = r->ticks - tick < K ? r->ticks - tick : K;

		skew_wait(r, w->id, tick);
		if (r->o->realtime) {
			sleep_s(r->start_wall + (double)tick * (double)r->o->step_ms / 1000.0 - now_s());
			if (should_stop(r))
				break;
		}
		if (worker_tick(w, tick, kb) < 0)
			break;
		/* Real time: a scrape's samples leave at once, as batch_send_deadline does. */
		if (r->o->realtime && worker_send(w) < 0)
			break;
	}
	worker_send(w);
	atomic_store(&r->wtick[w->id], INT64_MAX);
	return NULL;
}

/* ---- setup and reporting ---------------------------------------------------------- */

static int worker_init(struct worker *w, struct run *r, unsigned id)
{
	size_t cap = (size_t)r->o->batch;

	memset(w, 0, sizeof(*w));
	w->r = r;
	w->id = id;
	w->rng = splitmix64(r->o->seed + id + 1) | 1;
	w->last_ts = INT64_MIN;
	w->tsv = calloc(cap, sizeof(*w->tsv));
	w->tsp = calloc(cap, sizeof(*w->tsp));
	w->smp = calloc(cap, sizeof(*w->smp));
	w->sp = calloc(cap, sizeof(*w->sp));
	if (!w->tsv || !w->tsp || !w->smp || !w->sp)
		return -1;
	for (size_t i = 0; i < cap; i++) {
		prometheus__sample__init(&w->smp[i]);
		w->sp[i] = &w->smp[i];
	}
	for (uint64_t k = id; k < r->ntargets; k += (uint64_t)r->o->concurrency)
		w->ntg++;
	w->tg = calloc(w->ntg ? w->ntg : 1, sizeof(*w->tg));
	if (!w->tg)
		return -1;
	for (size_t i = 0; i < w->ntg; i++) {
		struct target *tg = &w->tg[i];
		uint64_t k = id + i * (uint64_t)r->o->concurrency;
		uint64_t before = k * r->ntm;

		tg->k = k;
		tg->ns = (uint64_t)r->o->series - before < r->ntm ? (size_t)((uint64_t)r->o->series - before)
								  : r->ntm;
		tg->ar = arena_new(64 << 10);
		if (!tg->ar || target_build(tg, r->tm, r->ntm, r->ntargets, r->o->job, r->o->seed) < 0)
			return -1;
		w->series_created += tg->ns;
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	for (size_t i = 0; i < w->ntg; i++)
		arena_free(w->tg[i].ar);
	free(w->tg);
	free(w->tsv);
	free(w->tsp);
	free(w->smp);
	free(w->sp);
	buf_free(&w->pb);
	buf_free(&w->cb);
	httpc_response_free(&w->resp);
}

static double cpu_self_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

struct summary {
	struct stats st;
	double elapsed;
	double cpu;
	uint64_t series_created;
	int64_t first_ts, last_ts;
};

static void print_json(const struct run *r, const struct summary *m)
{
	const struct opts *o = r->o;
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "url", o->url);
	jw_kstr(&w, "mode", o->realtime ? "realtime" : "synthetic");
	jw_kint(&w, "active_series", o->series);
	jw_kint(&w, "series_per_target", (int64_t)r->ntm);
	jw_kint(&w, "targets", (int64_t)r->ntargets);
	jw_key(&w, "churn_series_per_min"); jw_double(&w, o->churn_per_min);
	jw_kint(&w, "series_created", (int64_t)m->series_created);
	jw_kint(&w, "step_ms", o->step_ms);
	jw_kint(&w, "first_ts_ms", m->first_ts);
	jw_kint(&w, "last_ts_ms", m->last_ts);
	jw_kint(&w, "batch", o->batch);
	jw_kint(&w, "per_series", o->per_series);
	jw_kint(&w, "concurrency", o->concurrency);
	jw_kint(&w, "requests_ok", (int64_t)m->st.req_ok);
	jw_kint(&w, "requests_failed", (int64_t)m->st.req_fail);
	jw_kint(&w, "samples_ok", (int64_t)m->st.samples_ok);
	jw_kint(&w, "samples_failed", (int64_t)m->st.samples_fail);
	jw_kint(&w, "errors_4xx", (int64_t)m->st.st_4xx);
	jw_kint(&w, "errors_5xx", (int64_t)m->st.st_5xx);
	jw_kint(&w, "errors_transport", (int64_t)m->st.st_transport);
	jw_kint(&w, "bytes_protobuf", (int64_t)m->st.bytes_raw);
	jw_kint(&w, "bytes_wire", (int64_t)m->st.bytes_wire);
	jw_key(&w, "elapsed_s"); jw_double(&w, m->elapsed);
	jw_key(&w, "samples_per_s"); jw_double(&w, m->elapsed > 0 ? (double)m->st.samples_ok / m->elapsed : 0);
	jw_key(&w, "latency_ms");
	jw_obj_begin(&w);
	jw_key(&w, "p50"); jw_double(&w, hist_quantile_ms(&m->st.lat, 0.50));
	jw_key(&w, "p90"); jw_double(&w, hist_quantile_ms(&m->st.lat, 0.90));
	jw_key(&w, "p99"); jw_double(&w, hist_quantile_ms(&m->st.lat, 0.99));
	jw_key(&w, "max"); jw_double(&w, (double)m->st.lat.max_us / 1000.0);
	jw_obj_end(&w);
	jw_key(&w, "generator_cpu_s"); jw_double(&w, m->cpu);
	jw_obj_end(&w);
	if (!jw_failed(&w))
		printf("%s\n", b.data);
	buf_free(&b);
}

static void print_text(const struct run *r, const struct summary *m)
{
	const struct stats *st = &m->st;
	uint64_t nreq = st->req_ok + st->req_fail;

	printf("rwload: %s, %ld active series (%" PRIu64 " targets x %zu), %" PRIu64 " series created\n",
	       r->o->realtime ? "real-time" : "synthetic", r->o->series, r->ntargets, r->ntm,
	       m->series_created);
	printf("  samples ok      %" PRIu64 " in %.2f s = %.0f samples/s\n", st->samples_ok,
	       m->elapsed, m->elapsed > 0 ? (double)st->samples_ok / m->elapsed : 0);
	printf("  samples failed  %" PRIu64 " (requests: %" PRIu64 " 4xx, %" PRIu64 " 5xx/429, %" PRIu64
	       " transport)\n", st->samples_fail, st->st_4xx, st->st_5xx, st->st_transport);
	printf("  requests        %" PRIu64 ", %.1f KiB protobuf, %.1f KiB snappy on average\n", nreq,
	       nreq ? (double)st->bytes_raw / (double)nreq / 1024 : 0,
	       nreq ? (double)st->bytes_wire / (double)nreq / 1024 : 0);
	printf("  latency ms      p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	       hist_quantile_ms(&st->lat, 0.5), hist_quantile_ms(&st->lat, 0.9),
	       hist_quantile_ms(&st->lat, 0.99), (double)st->lat.max_us / 1000.0);
	printf("  timestamps      %" PRId64 " .. %" PRId64 " (step %" PRId64 " ms)\n", m->first_ts,
	       m->last_ts, r->o->step_ms);
	printf("  generator CPU   %.2f s\n", m->cpu);
}

static void dump_target(const struct run *r)
{
	struct target tg = { .k = 0, .ns = r->ntm };

	tg.ar = arena_new(64 << 10);
	if (!tg.ar || target_build(&tg, r->tm, r->ntm, r->ntargets, r->o->job, r->o->seed) < 0) {
		fprintf(stderr, "rwload: out of memory\n");
		arena_free(tg.ar);
		return;
	}
	for (size_t i = 0; i < tg.ns; i++) {
		const struct series *s = &tg.s[i];
		const char *name = "";

		for (size_t j = 0; j < s->nl; j++)
			if (!strcmp(s->lp[j]->name, "__name__"))
				name = s->lp[j]->value;
		printf("%s{", name);
		for (size_t j = 0, first = 1; j < s->nl; j++) {
			if (!strcmp(s->lp[j]->name, "__name__"))
				continue;
			printf("%s%s=\"%s\"", first ? "" : ",", s->lp[j]->name, s->lp[j]->value);
			first = 0;
		}
		printf("} %.17g\n", s->v);
	}
	arena_free(tg.ar);
}

/* ---- command line ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rwload --url=URL [options]\n"
		"Sends Prometheus remote-write 1.0 traffic shaped like node_exporter targets.\n\n"
		"  --url=URL               remote-write endpoint (http://127.0.0.1:9090/api/v1/write)\n"
		"  --series=N              active series [10000]\n"
		"  --churn=N               series replaced per minute of sample time [0]\n"
		"                          (whole targets are replaced: a new instance label)\n"
		"  --rate=N                samples per second, 0 = as fast as possible [0]\n"
		"  --batch=N               samples per request [2000]\n"
		"  --per-series=N          consecutive samples of one series per request [1]\n"
		"  --concurrency=N         workers, each with one request in flight [4]\n"
		"  --duration=D            stop after this wall-clock time (e.g. 60s, 5m)\n"
		"  --total-samples=N       stop after about N samples\n"
		"  --realtime              timestamps are the wall clock, one tick per --step\n"
		"  --span=D                synthetic: send ticks covering this span (e.g. 24h)\n"
		"  --start=T               synthetic: first timestamp, ms since epoch or -D from\n"
		"                          now [now - span]\n"
		"  --step=D                interval between a series' samples [15s]\n"
		"  --jitter=D              add 0..D to each tick's timestamps [0]\n"
		"  --cpus=N                CPUs per simulated host (8 cpu series each) [4]\n"
		"  --max-skew=N            ticks a worker may run ahead of the slowest [4]\n"
		"  --job=NAME              job label [node]\n"
		"  --header='Name: value'  extra request header (repeatable)\n"
		"  --retries=N             retries of a failed request [0]\n"
		"  --timeout=D             per request [30s]\n"
		"  --progress=D            print progress to stderr every D, 0 = off [10s]\n"
		"  --seed=N                value and label randomness [1]\n"
		"  --json                  print the result as one JSON object\n"
		"  --dump-target           print the series of one target and exit\n");
}

/* "15s", "24h", "500ms", "1h30m", or a bare number of seconds. Returns ms or -1. */
static int64_t parse_dur_ms(const char *s)
{
	int64_t total = 0;
	char *end;

	if (!*s)
		return -1;
	while (*s) {
		double v = strtod(s, &end);
		int64_t mul;

		if (end == s || v < 0)
			return -1;
		if (!*end)
			return total + (int64_t)(v * 1000);
		s = end;
		if (!strncmp(s, "ms", 2)) {
			mul = 1;
			s += 2;
		} else {
			switch (*s) {
			case 's': mul = 1000; break;
			case 'm': mul = 60000; break;
			case 'h': mul = 3600000; break;
			case 'd': mul = 86400000; break;
			default: return -1;
			}
			s++;
		}
		total += (int64_t)(v * (double)mul);
	}
	return total;
}

static long parse_long(const char *name, const char *v, long min)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < min) {
		fprintf(stderr, "rwload: --%s: invalid value '%s'\n", name, v);
		exit(2);
	}
	return x;
}

static double parse_double(const char *name, const char *v)
{
	char *end;
	double x = strtod(v, &end);

	if (*end || !(x >= 0)) {
		fprintf(stderr, "rwload: --%s: invalid value '%s'\n", name, v);
		exit(2);
	}
	return x;
}

static int64_t parse_dur_opt(const char *name, const char *v)
{
	int64_t ms = parse_dur_ms(v);

	if (ms < 0) {
		fprintf(stderr, "rwload: --%s: invalid duration '%s'\n", name, v);
		exit(2);
	}
	return ms;
}

static void add_header(struct opts *o, char *h)
{
	char *colon = strchr(h, ':');

	if (!colon || o->nheaders == MAX_HEADERS) {
		fprintf(stderr, "rwload: --header: expected 'Name: value' (at most %d)\n", MAX_HEADERS);
		exit(2);
	}
	*colon++ = '\0';
	while (*colon == ' ')
		colon++;
	o->headers[o->nheaders].name = h;
	o->headers[o->nheaders++].value = colon;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_URL = 1, O_SERIES, O_CHURN, O_RATE, O_BATCH, O_PER, O_CONC, O_DUR, O_TOTAL,
	       O_RT, O_SPAN, O_START, O_STEP, O_JIT, O_CPUS, O_SKEW, O_JOB, O_HDR, O_RETR,
	       O_TMO, O_PROG, O_SEED, O_JSON, O_DUMP, O_HELP };
	static const struct option lo[] = {
		{ "url", 1, 0, O_URL }, { "series", 1, 0, O_SERIES }, { "churn", 1, 0, O_CHURN },
		{ "rate", 1, 0, O_RATE }, { "batch", 1, 0, O_BATCH }, { "per-series", 1, 0, O_PER },
		{ "concurrency", 1, 0, O_CONC }, { "duration", 1, 0, O_DUR },
		{ "total-samples", 1, 0, O_TOTAL }, { "realtime", 0, 0, O_RT }, { "span", 1, 0, O_SPAN },
		{ "start", 1, 0, O_START }, { "step", 1, 0, O_STEP }, { "jitter", 1, 0, O_JIT },
		{ "cpus", 1, 0, O_CPUS }, { "max-skew", 1, 0, O_SKEW }, { "job", 1, 0, O_JOB },
		{ "header", 1, 0, O_HDR }, { "retries", 1, 0, O_RETR }, { "timeout", 1, 0, O_TMO },
		{ "progress", 1, 0, O_PROG }, { "seed", 1, 0, O_SEED }, { "json", 0, 0, O_JSON },
		{ "dump-target", 0, 0, O_DUMP }, { "help", 0, 0, O_HELP }, { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct opts){ .series = 10000, .batch = 2000, .per_series = 1, .concurrency = 4,
			    .start_ms = INT64_MIN, .step_ms = 15000, .cpus = 4, .max_skew = 4,
			    .timeout_ms = 30000, .progress_s = 10, .seed = 1, .job = "node" };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_URL: o->url = optarg; break;
		case O_SERIES: o->series = parse_long("series", optarg, 1); break;
		case O_CHURN: o->churn_per_min = parse_double("churn", optarg); break;
		case O_RATE: o->rate = parse_double("rate", optarg); break;
		case O_BATCH: o->batch = parse_long("batch", optarg, 1); break;
		case O_PER: o->per_series = parse_long("per-series", optarg, 1); break;
		case O_CONC: o->concurrency = parse_long("concurrency", optarg, 1); break;
		case O_DUR: o->duration_s = (double)parse_dur_opt("duration", optarg) / 1000.0; break;
		case O_TOTAL: o->total = (uint64_t)parse_long("total-samples", optarg, 1); break;
		case O_RT: o->realtime = true; break;
		case O_SPAN: o->span_ms = parse_dur_opt("span", optarg); break;
		case O_START:
			o->start_ms = optarg[0] == '-' ? wall_ms() - parse_dur_opt("start", optarg + 1)
						       : (int64_t)parse_long("start", optarg, 0);
			break;
		case O_STEP: o->step_ms = parse_dur_opt("step", optarg); break;
		case O_JIT: o->jitter_ms = (long)parse_dur_opt("jitter", optarg); break;
		case O_CPUS: o->cpus = parse_long("cpus", optarg, 1); break;
		case O_SKEW: o->max_skew = parse_long("max-skew", optarg, 0); break;
		case O_JOB: o->job = optarg; break;
		case O_HDR: add_header(o, optarg); break;
		case O_RETR: o->retries = parse_long("retries", optarg, 0); break;
		case O_TMO: o->timeout_ms = (long)parse_dur_opt("timeout", optarg); break;
		case O_PROG: o->progress_s = (double)parse_dur_opt("progress", optarg) / 1000.0; break;
		case O_SEED: o->seed = (uint64_t)parse_long("seed", optarg, 0); break;
		case O_JSON: o->json = true; break;
		case O_DUMP: o->dump = true; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || (!o->url && !o->dump) || o->step_ms <= 0 || o->cpus > 256 ||
	    o->concurrency > 1024) {
		usage(stderr);
		exit(2);
	}
	if (o->per_series > o->batch)
		o->per_series = o->batch;
	if (!o->realtime && !o->span_ms && !o->total && !o->dump) {
		fprintf(stderr, "rwload: synthetic mode needs --span or --total-samples\n");
		exit(2);
	}
	if (o->realtime && !o->duration_s && !o->total) {
		fprintf(stderr, "rwload: --realtime needs --duration or --total-samples\n");
		exit(2);
	}
}

static void on_sigint(int sig)
{
	(void)sig;
	g_sigint = 1;
}

static void plan_time(struct run *r)
{
	const struct opts *o = r->o;

	if (o->realtime) {
		r->ticks = UINT64_MAX;
	} else {
		r->ticks = o->span_ms ? (uint64_t)(o->span_ms / o->step_ms)
				      : (o->total + (uint64_t)o->series - 1) / (uint64_t)o->series;
		if (r->ticks == 0)
			r->ticks = 1;
		r->start_ms = o->start_ms != INT64_MIN ? o->start_ms
			      : (wall_ms() - (int64_t)r->ticks * o->step_ms) / o->step_ms * o->step_ms;
	}
}

static void progress_loop(struct run *r, struct worker *ws, long started)
{
	const struct opts *o = r->o;
	double t0 = r->start_wall, last_p = t0;
	uint64_t last_ok = 0;
	int done = 0;

	while (!done) {
		double now;

		sleep_s(0.1);
		now = now_s();
		if (g_sigint || (o->duration_s > 0 && now - t0 >= o->duration_s))
			atomic_store(&r->stop, true);
		done = 1;
		for (long i = 0; i < o->concurrency; i++)
			if (atomic_load(&r->wtick[i]) != INT64_MAX)
				done = 0;
		if (o->progress_s > 0 && now - last_p >= o->progress_s) {
			uint64_t ok = atomic_load(&r->ok);
			int64_t min = INT64_MAX;

			for (long i = 0; i < o->concurrency; i++)
				if (atomic_load(&r->wtick[i]) < min)
					min = atomic_load(&r->wtick[i]);
			fprintf(stderr, "rwload: %.0fs %" PRIu64 " samples ok, %.0f/s now, tick %" PRId64 "\n",
				now - t0, ok, (double)(ok - last_ok) / (now - last_p),
				min == INT64_MAX ? -1 : min);
			last_p = now;
			last_ok = ok;
		}
	}
	for (long i = 0; i < started; i++)
		pthread_join(ws[i].th, NULL);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct tmpl_set ts = { 0 };
	struct run r = { 0 };
	struct worker *ws = NULL;
	struct httpc_config hc = { 0 };
	struct summary m = { 0 };
	char err[256];
	long started;
	int rc = 1;

	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sigint);
	if (build_templates(&ts, o.cpus) < 0) {
		fprintf(stderr, "rwload: out of memory\n");
		goto fail;
	}
	r.o = &o;
	r.tm = ts.v;
	r.ntm = ts.n;
	r.ntargets = ((uint64_t)o.series + ts.n - 1) / ts.n;
	if (o.dump) {
		dump_target(&r);
		rc = 0;
		goto fail;
	}
	plan_time(&r);
	pthread_mutex_init(&r.rate_mu, NULL);
	pthread_mutex_init(&r.err_mu, NULL);
	hc.timeout_ms = (unsigned)o.timeout_ms;
	hc.max_retries = (unsigned)o.retries;
	hc.max_idle_handles = (unsigned)o.concurrency;
	hc.headers = o.headers;
	hc.nheaders = o.nheaders;
	hc.user_agent = "lgtm-rwload";
	if (httpc_new(&hc, &r.http, err, sizeof(err)) < 0) {
		fprintf(stderr, "rwload: %s\n", err);
		goto fail;
	}
	r.wtick = calloc((size_t)o.concurrency, sizeof(*r.wtick));
	ws = calloc((size_t)o.concurrency, sizeof(*ws));
	if (!r.wtick || !ws) {
		fprintf(stderr, "rwload: out of memory\n");
		goto fail;
	}
	for (long i = 0; i < o.concurrency; i++)
		if (worker_init(&ws[i], &r, (unsigned)i) < 0) {
			fprintf(stderr, "rwload: out of memory building series\n");
			goto fail;
		}
	r.start_wall = now_s();
	r.rate_next = r.start_wall;
	if (o.realtime)
		r.start_ms = wall_ms(); /* tick 0 is due now, after the series were built */
	for (started = 0; started < o.concurrency; started++)
		if (pthread_create(&ws[started].th, NULL, worker_main, &ws[started]) != 0) {
			fprintf(stderr, "rwload: cannot start worker\n");
			atomic_store(&r.stop, true);
			for (long j = started; j < o.concurrency; j++)
				atomic_store(&r.wtick[j], INT64_MAX);
			break;
		}
	progress_loop(&r, ws, started);
	m.elapsed = now_s() - r.start_wall;
	m.cpu = cpu_self_s();
	m.first_ts = r.start_ms;
	m.last_ts = INT64_MIN;
	for (long i = 0; i < o.concurrency; i++) {
		struct stats *s = &ws[i].st;

		m.st.req_ok += s->req_ok;
		m.st.req_fail += s->req_fail;
		m.st.samples_ok += s->samples_ok;
		m.st.samples_fail += s->samples_fail;
		m.st.st_4xx += s->st_4xx;
		m.st.st_5xx += s->st_5xx;
		m.st.st_transport += s->st_transport;
		m.st.bytes_raw += s->bytes_raw;
		m.st.bytes_wire += s->bytes_wire;
		hist_merge(&m.st.lat, &s->lat);
		m.series_created += ws[i].series_created;
		if (ws[i].last_ts > m.last_ts)
			m.last_ts = ws[i].last_ts;
	}
	if (o.json)
		print_json(&r, &m);
	else
		print_text(&r, &m);
	rc = m.st.samples_fail ? 3 : 0;
fail:
	if (ws)
		for (long i = 0; i < o.concurrency; i++)
			worker_free(&ws[i]);
	free(ws);
	free((void *)r.wtick);
	httpc_free(r.http);
	free(ts.v);
	return rc;
}
