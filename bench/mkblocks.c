/*
 * mkblocks: writes a deterministic query-benchmark dataset directly as TSDB blocks
 * (Prometheus' on-disk format, through our block writer), so that lgtm-metrics and
 * Prometheus can open the very same bytes without a day of ingestion.
 *
 * Dataset. Three families of scrape targets, at one sample per step (15 s):
 *   - node_exporter hosts (job="node"): CPU seconds per cpu and mode, memory,
 *     network and disk counters, file systems, load, node_uname_info, up;
 *   - HTTP services (job=<service>): http_requests_total by handler, method and
 *     code, and the classic histogram http_request_duration_seconds (le buckets,
 *     _sum, _count) with a lognormal latency that drifts over the day;
 *   - Kubernetes pods on those hosts: cAdvisor container CPU and memory (kubelet
 *     targets) and kube-state-metrics' kube_pod_info and resource requests.
 * At --scale=1 that is 105,600 series. Counters start at a per-series value (no
 * resets), gauges walk or follow a daily wave, with a per-tick hash of the series
 * (or of the histogram, so that all buckets of one histogram see the same requests
 * and stay cumulative) as the only randomness: the output depends only on the
 * options, not on the order of generation.
 *
 * Timestamps. Every series of a target shares its scrape times: the step grid plus
 * a per-target offset and a small per-scrape jitter, always with a millisecond part
 * between 417 and 982. A query evaluated at whole seconds plus 250 ms therefore
 * never has a sample on the edge of a range, a lookback window or a subquery step,
 * where Prometheus 2.x (closed ranges) and 3.x (left-open) would differ.
 *
 * Blocks. The span is cut at multiples of --block-range (18 h by default, aligned to
 * the epoch as Prometheus aligns its compaction windows), so every block lies alone
 * in its aligned window at each compaction level and neither server's planner finds
 * anything to compact. Chunks hold 120 samples, as Prometheus' compactor writes them.
 *
 * This is a benchmark tool, not library code: it exits on errors. It prints one JSON
 * object describing the dataset on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "arena/arena.h"
#include "config/config.h"
#include "labels/labels.h"
#include "tsdb/block.h"

#define MAX_LABELS 9
#define DAY_MS 86400000.0
#define TWO_H_MS (2 * 3600 * 1000LL)

/* ---- options ----------------------------------------------------------------------- */

struct opts {
	const char *out;
	double scale;
	int64_t span_ms, step_ms, end_ms, block_ms;
	uint64_t seed;
	bool quiet;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mkblocks: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkblocks --out=DIR [options]\n"
		"  --out=DIR           parent directory of the blocks (must exist)\n"
		"  --scale=F           multiplies hosts, service instances and pods [1]\n"
		"                      (1: 105,600 series)\n"
		"  --span=D            time covered, ending at --end [26h]\n"
		"  --step=D            interval between a series' samples [15s]\n"
		"  --end=MS            end of the data, unix ms, a multiple of 2h\n"
		"                      [now rounded down to 2h]\n"
		"  --block-range=D     blocks are cut at multiples of this [18h]\n"
		"  --seed=N            [1]\n"
		"  --quiet             no progress on stderr\n");
}

static int64_t dur_opt(const char *name, const char *v)
{
	int64_t ms;

	if (cfg_parse_duration(v, &ms) < 0 || ms <= 0)
		die("--%s: invalid duration '%s'", name, v);
	return ms;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_OUT = 1, O_SCALE, O_SPAN, O_STEP, O_END, O_BLOCK, O_SEED, O_QUIET, O_HELP };
	static const struct option lo[] = {
		{ "out", 1, 0, O_OUT }, { "scale", 1, 0, O_SCALE }, { "span", 1, 0, O_SPAN },
		{ "step", 1, 0, O_STEP }, { "end", 1, 0, O_END }, { "block-range", 1, 0, O_BLOCK },
		{ "seed", 1, 0, O_SEED }, { "quiet", 0, 0, O_QUIET }, { "help", 0, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	int c;
	char *end;

	*o = (struct opts){ .scale = 1, .span_ms = 26 * 3600 * 1000LL, .step_ms = 15000,
			    .block_ms = 18 * 3600 * 1000LL, .seed = 1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_OUT: o->out = optarg; break;
		case O_SCALE:
			o->scale = strtod(optarg, &end);
			if (*end || !(o->scale > 0) || o->scale > 100)
				die("--scale: invalid value '%s'", optarg);
			break;
		case O_SPAN: o->span_ms = dur_opt("span", optarg); break;
		case O_STEP: o->step_ms = dur_opt("step", optarg); break;
		case O_END:
			errno = 0;
			o->end_ms = strtoll(optarg, &end, 10);
			if (errno || *end || o->end_ms <= 0 || o->end_ms % TWO_H_MS)
				die("--end: want unix milliseconds, a multiple of 2h");
			break;
		case O_BLOCK: o->block_ms = dur_opt("block-range", optarg); break;
		case O_SEED: o->seed = strtoull(optarg, NULL, 10); break;
		case O_QUIET: o->quiet = true; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || !o->out) {
		usage(stderr);
		exit(2);
	}
	if (o->step_ms < 2000 || o->step_ms % 1000 || TWO_H_MS % o->step_ms ||
	    o->span_ms % TWO_H_MS || o->block_ms % TWO_H_MS)
		die("--step must be whole seconds dividing 2h; --span and --block-range multiples of 2h");
	if (!o->end_ms)
		o->end_ms = (int64_t)time(NULL) * 1000 / TWO_H_MS * TWO_H_MS;
}

/* ---- series specifications --------------------------------------------------------- */

enum model {
	M_CONST,   /* a */
	M_COUNTER, /* starts near a, grows by about b per second (daily wave), rounded */
	M_WALK,    /* starts at a, moves up to b per step within [lo, hi], in quanta of q */
	M_WAVE,    /* a plus a daily wave of amplitude b plus noise, rounded */
	M_BUCKET,  /* requests of histogram `hist` at or below `le` */
	M_HCOUNT,  /* requests of histogram `hist` */
	M_HSUM,    /* seconds spent by them */
};

struct spec {
	struct labels ls;
	struct label lbuf[MAX_LABELS];
	enum model model;
	int8_t dec;        /* decimals kept; -1: full precision */
	uint32_t target;   /* shares scrape times */
	uint32_t hist;
	uint64_t id;       /* hash seed of the series' own randomness */
	double a, b, lo, hi, q, le, phase;
	double v;          /* the value of the last sample generated */
};

/* One histogram (one route of one service instance) and its request mix. */
struct hist {
	double rate;   /* requests per second, before the daily wave */
	double median; /* seconds */
	double phase;
};

struct gen {
	const struct opts *o;
	struct arena *a;
	struct spec *s;
	size_t n, cap;
	struct hist *h;
	size_t nh, caph;
	uint32_t ntargets;
	uint64_t seed;
};

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t in[3] = { a, b, c };

	return XXH3_64bits(in, sizeof(in));
}

/* Uniform in [0, 1) from a hash. */
static double unit(uint64_t h)
{
	return (double)(h >> 11) * 0x1.0p-53;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 1024;

	if (need <= *cap)
		return p;
	while (c < need)
		c *= 2;
	p = realloc(p, c * size);
	if (!p)
		die("out of memory");
	*cap = c;
	return p;
}

static char *str(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *str(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = arena_vsprintf(g->a, fmt, ap);
	va_end(ap);
	if (!s)
		die("out of memory");
	return s;
}

/* A new series of `target`: metric name, then nl (name, value) pairs. The strings
 * must outlive the generator (literals or str()). */
static struct spec *add(struct gen *g, enum model m, uint32_t target, const char *name,
			int nl, ...)
{
	struct spec *s;
	va_list ap;

	if (nl + 1 > MAX_LABELS)
		die("too many labels for %s", name);
	g->s = grow(g->s, &g->cap, g->n + 1, sizeof(*g->s));
	s = &g->s[g->n];
	memset(s, 0, sizeof(*s));
	s->model = m;
	s->target = target;
	s->dec = -1;
	s->id = hash3(g->seed, g->n, 0x5e71e5);
	s->lbuf[0] = (struct label){ LABELS_METRIC_NAME, name };
	va_start(ap, nl);
	for (int i = 1; i <= nl; i++) {
		s->lbuf[i].name = va_arg(ap, const char *);
		s->lbuf[i].value = va_arg(ap, const char *);
	}
	va_end(ap);
	s->ls.n = (size_t)nl + 1;
	g->n++;
	return s;
}

static struct spec *counter(struct spec *s, double start, double per_s, int dec)
{
	s->a = start;
	s->b = per_s;
	s->dec = (int8_t)dec;
	s->phase = unit(s->id);
	return s;
}

static struct spec *walk(struct spec *s, double start, double step, double lo, double hi,
			 double q)
{
	s->a = start;
	s->b = step;
	s->lo = lo;
	s->hi = hi;
	s->q = q;
	return s;
}

static struct spec *wave(struct spec *s, double mean, double amp, int dec)
{
	s->a = mean;
	s->b = amp;
	s->dec = (int8_t)dec;
	s->phase = unit(s->id);
	return s;
}

static struct spec *constant(struct spec *s, double v)
{
	s->a = v;
	return s;
}

/* ---- the families -------------------------------------------------------------------- */

static const char *const cpu_modes[] = { "idle", "iowait", "irq", "nice", "softirq",
					  "steal", "system", "user" };
static const double cpu_share[] = { 0.72, 0.02, 0.002, 0.003, 0.008, 0.005, 0.07, 0.17 };

static void node_cpu(struct gen *g, uint32_t t, const char *job, const char *inst)
{
	for (int c = 0; c < 8; c++) {
		const char *cpu = str(g, "%d", c);

		for (int m = 0; m < 8; m++)
			counter(add(g, M_COUNTER, t, "node_cpu_seconds_total", 4, "job", job,
				    "instance", inst, "cpu", cpu, "mode", cpu_modes[m]),
				3e5 * cpu_share[m], cpu_share[m], 2);
	}
}

static void node_memory(struct gen *g, uint32_t t, const char *job, const char *inst,
			double total)
{
#define NODE_LABELS 2, "job", job, "instance", inst
	constant(add(g, M_CONST, t, "node_memory_MemTotal_bytes", NODE_LABELS), total);
	walk(add(g, M_WALK, t, "node_memory_MemAvailable_bytes", NODE_LABELS), total * 0.5,
	     total * 0.002, total * 0.05, total * 0.95, 4096);
	walk(add(g, M_WALK, t, "node_memory_MemFree_bytes", NODE_LABELS), total * 0.2,
	     total * 0.002, total * 0.01, total * 0.6, 4096);
	walk(add(g, M_WALK, t, "node_memory_Cached_bytes", NODE_LABELS), total * 0.3,
	     total * 0.001, total * 0.05, total * 0.6, 4096);
	walk(add(g, M_WALK, t, "node_memory_Buffers_bytes", NODE_LABELS), total * 0.02,
	     total * 0.0002, 0, total * 0.1, 4096);
	wave(add(g, M_WAVE, t, "node_load1", NODE_LABELS), 2.0, 1.2, 2);
	wave(add(g, M_WAVE, t, "node_load5", NODE_LABELS), 2.0, 1.0, 2);
	wave(add(g, M_WAVE, t, "node_load15", NODE_LABELS), 2.0, 0.8, 2);
	constant(add(g, M_CONST, t, "up", NODE_LABELS), 1);
#undef NODE_LABELS
}

static void node_net_disk(struct gen *g, uint32_t t, const char *job, const char *inst,
			  double busy)
{
	static const char *const devs[] = { "docker0", "eth0", "eth1", "lo" };
	static const double bps[] = { 2e3, 4e5, 3e4, 1e4 };
	static const char *const disks[] = { "vda", "vdb" };

	for (int d = 0; d < 4; d++) {
		const char *dv = devs[d];
		double r = bps[d] * busy;

		counter(add(g, M_COUNTER, t, "node_network_receive_bytes_total", 3, "job", job,
			    "instance", inst, "device", dv), r * 1e5, r, 0);
		counter(add(g, M_COUNTER, t, "node_network_transmit_bytes_total", 3, "job", job,
			    "instance", inst, "device", dv), r * 5e4, r * 0.6, 0);
		counter(add(g, M_COUNTER, t, "node_network_receive_packets_total", 3, "job", job,
			    "instance", inst, "device", dv), r * 1e2, r / 900, 0);
		counter(add(g, M_COUNTER, t, "node_network_transmit_packets_total", 3, "job", job,
			    "instance", inst, "device", dv), r * 60, r / 1100, 0);
	}
	for (int d = 0; d < 2; d++) {
		counter(add(g, M_COUNTER, t, "node_disk_read_bytes_total", 3, "job", job,
			    "instance", inst, "device", disks[d]), 1e10, 4e4 * busy, 0);
		counter(add(g, M_COUNTER, t, "node_disk_written_bytes_total", 3, "job", job,
			    "instance", inst, "device", disks[d]), 3e10, 2e5 * busy, 0);
		counter(add(g, M_COUNTER, t, "node_disk_io_time_seconds_total", 3, "job", job,
			    "instance", inst, "device", disks[d]), 2e4, 0.05 * busy, 3);
	}
}

static void node_fs(struct gen *g, uint32_t t, const char *job, const char *inst, double size)
{
	static const char *const fs[][3] = {
		{ "/dev/vda1", "ext4", "/" },         { "/dev/vda15", "vfat", "/boot/efi" },
		{ "/dev/vdb1", "xfs", "/var/lib" },   { "tmpfs", "tmpfs", "/run" },
		{ "tmpfs", "tmpfs", "/dev/shm" },
	};

	for (int i = 0; i < 5; i++) {
		double sz = i == 1 ? 5.3e8 : i >= 3 ? size / 50 : size;

		sz = floor(sz / 4096) * 4096;
#define FS_LABELS 5, "job", job, "instance", inst, "device", fs[i][0], "fstype", fs[i][1], \
		  "mountpoint", fs[i][2]
		constant(add(g, M_CONST, t, "node_filesystem_size_bytes", FS_LABELS), sz);
		walk(add(g, M_WALK, t, "node_filesystem_avail_bytes", FS_LABELS), sz * 0.6,
		     sz * 1e-4, sz * 0.05, sz * 0.98, 4096);
#undef FS_LABELS
	}
}

static void nodes(struct gen *g, int hosts)
{
	for (int h = 0; h < hosts; h++) {
		uint32_t t = g->ntargets++;
		uint64_t r = hash3(g->seed, h, 0x40de);
		const char *inst = str(g, "host-%03d:9100", h);
		double mem = (double)(8LL << (r % 4)) * 1073741824.0;

		node_cpu(g, t, "node", inst);
		node_memory(g, t, "node", inst, mem);
		node_net_disk(g, t, "node", inst, 0.3 + 1.7 * unit(r >> 3));
		node_fs(g, t, "node", inst, (double)(50LL << ((r >> 7) % 4)) * 1e9);
		add(g, M_CONST, t, "node_uname_info", 8, "job", "node", "instance", inst,
		    "nodename", str(g, "host-%03d", h), "domainname", "(none)",
		    "machine", "x86_64", "release", (r >> 9) % 3 ? "6.1.0-18-amd64" : "6.1.0-21-amd64",
		    "sysname", "Linux", "version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1")->a = 1;
	}
}

static const char *const services[] = {
	"api-gateway", "auth", "billing", "cart", "catalog", "checkout", "email",
	"frontend", "inventory", "notification", "orders", "payment", "pricing", "profile",
	"recommendation", "reviews", "search", "shipping", "tax", "users",
};
static const char *const routes[] = { "/", "/api/v1/items", "/api/v1/items/:id",
				      "/api/v1/orders", "/api/v1/orders/:id", "/api/v1/search",
				      "/api/v1/users/:id", "/healthz", "/login", "/metrics" };
static const char *const les[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
				    "0.5", "1", "2.5", "5", "10", "+Inf" };
static const char *const codes[] = { "200", "404", "500", "503" };
static const double code_share[] = { 0.95, 0.03, 0.015, 0.005 };

static void route(struct gen *g, uint32_t t, const char *job, const char *inst, int r)
{
	uint64_t x = hash3(g->seed, g->nh, 0x7007e);
	const char *method = r == 3 || r == 8 ? "POST" : "GET";
	uint32_t hi = (uint32_t)g->nh;
	struct hist *h;

	g->h = grow(g->h, &g->caph, g->nh + 1, sizeof(*g->h));
	h = &g->h[g->nh++];
	h->rate = r == 7 || r == 9 ? 0.1 : 0.5 + 40 * unit(x) * unit(x >> 5);
	h->median = 0.01 + 0.3 * unit(x >> 11) * unit(x >> 17);
	h->phase = unit(x >> 23);
#define ROUTE_LABELS "job", job, "instance", inst, "handler", routes[r], "method", method
	for (int c = 0; c < 4; c++)
		counter(add(g, M_COUNTER, t, "http_requests_total", 5, ROUTE_LABELS,
			    "code", codes[c]), 1e5 * h->rate * code_share[c],
			h->rate * code_share[c], 0);
	for (int b = 0; b < 12; b++) {
		struct spec *s = add(g, M_BUCKET, t, "http_request_duration_seconds_bucket", 5,
				     ROUTE_LABELS, "le", les[b]);

		s->hist = hi;
		s->le = strtod(les[b], NULL);
	}
	add(g, M_HCOUNT, t, "http_request_duration_seconds_count", 4, ROUTE_LABELS)->hist = hi;
	add(g, M_HSUM, t, "http_request_duration_seconds_sum", 4, ROUTE_LABELS)->hist = hi;
#undef ROUTE_LABELS
}

static void http_services(struct gen *g, int instances)
{
	for (int s = 0; s < 20; s++)
		for (int i = 0; i < instances; i++) {
			uint32_t t = g->ntargets++;
			const char *inst = str(g, "10.1.%d.%d:8080", s, i + 10);

			for (int r = 0; r < 10; r++)
				route(g, t, services[s], inst, r);
			constant(add(g, M_CONST, t, "up", 2, "job", services[s], "instance", inst), 1);
		}
}

static const char *const namespaces[] = { "default", "ingress", "monitoring", "payments",
					   "platform", "search", "shop", "staging", "users",
					   "batch" };

/* <replica set>-<5 characters>, unique per p: p times an odd constant is a
 * bijection modulo 2^25, written in 5 base-32 digits. */
static const char *pod_name(struct gen *g, const char *rs, int p)
{
	static const char digits[] = "bcdfghjklmnpqrstvwxz2456789abcde";
	uint32_t x = ((uint32_t)p * 2654435761u) & 0x1ffffff;
	char sfx[6];

	for (int i = 0; i < 5; i++)
		sfx[i] = digits[(x >> (5 * i)) & 31];
	sfx[5] = '\0';
	return str(g, "%s-%s", rs, sfx);
}

static void pod(struct gen *g, uint32_t ksm, uint32_t kubelet0, int hosts, int p)
{
	uint64_t x = hash3(g->seed, p, 0x90d);
	const char *ns = namespaces[p % 10];
	const char *deploy = str(g, "%s-app-%d", ns, (p / 10) % 12);
	const char *rs = str(g, "%s-%08" PRIx32, deploy, (uint32_t)hash3(g->seed, (p / 10) % 12, p % 10));
	const char *name = pod_name(g, rs, p);
	int host = (int)((x >> 20) % (uint64_t)hosts);
	const char *node = str(g, "host-%03d", host);
	const char *kinst = str(g, "host-%03d:10250", host);
	uint32_t kt = kubelet0 + (uint32_t)host;
	const char *containers[] = { str(g, "app-%d", (p / 10) % 12), "sidecar" };

	add(g, M_CONST, ksm, "kube_pod_info", 8, "job", "kube-state-metrics",
	    "instance", "10.0.0.5:8080", "namespace", ns, "pod", name, "node", node,
	    "pod_ip", str(g, "10.244.%d.%d", p / 250, p % 250 + 2),
	    "created_by_kind", "ReplicaSet", "created_by_name", rs)->a = 1;
	for (int c = 0; c < 2; c++) {
		double cpu = c ? 0.02 : 0.05 + 0.8 * unit(x >> (30 + c));
		double mem = c ? 6e7 : 1e8 + 1.5e9 * unit(x >> (40 + c));

		counter(add(g, M_COUNTER, kt, "container_cpu_usage_seconds_total", 5,
			    "job", "kubelet", "instance", kinst, "namespace", ns, "pod", name,
			    "container", containers[c]), 1e4 * cpu, cpu, -1);
		walk(add(g, M_WALK, kt, "container_memory_working_set_bytes", 5,
			 "job", "kubelet", "instance", kinst, "namespace", ns, "pod", name,
			 "container", containers[c]), mem, mem * 0.003, mem * 0.5, mem * 1.5, 4096);
		constant(add(g, M_CONST, ksm, "kube_pod_container_resource_requests", 8,
			     "job", "kube-state-metrics", "instance", "10.0.0.5:8080",
			     "namespace", ns, "pod", name, "container", containers[c],
			     "node", node, "resource", "cpu", "unit", "core"),
			 c ? 0.05 : 0.25);
		constant(add(g, M_CONST, ksm, "kube_pod_container_resource_requests", 8,
			     "job", "kube-state-metrics", "instance", "10.0.0.5:8080",
			     "namespace", ns, "pod", name, "container", containers[c],
			     "node", node, "resource", "memory", "unit", "byte"),
			 c ? 67108864 : 536870912);
	}
}

static void kubernetes(struct gen *g, int hosts, int pods)
{
	uint32_t ksm = g->ntargets++;
	uint32_t kubelet0 = g->ntargets;

	g->ntargets += (uint32_t)hosts;
	for (int p = 0; p < pods; p++)
		pod(g, ksm, kubelet0, hosts, p);
}

/* qsort moves specs, so compare the arrays where they are now. */
static int spec_cmp(const void *a, const void *b)
{
	const struct spec *x = a, *y = b;
	struct labels lx = { (struct label *)x->lbuf, x->ls.n };
	struct labels ly = { (struct label *)y->lbuf, y->ls.n };

	return labels_compare(&lx, &ly);
}

static void build(struct gen *g)
{
	double sc = g->o->scale;
	int hosts = (int)lround(400 * sc), inst = (int)lround(10 * sc), pods = (int)lround(3000 * sc);

	if (hosts < 1)
		hosts = 1;
	if (inst < 1)
		inst = 1;
	if (pods < 1)
		pods = 1;
	nodes(g, hosts);
	http_services(g, inst);
	kubernetes(g, hosts, pods);
	for (size_t i = 0; i < g->n; i++) {
		g->s[i].ls.v = g->s[i].lbuf;
		labels_sort(&g->s[i].ls);
	}
	qsort(g->s, g->n, sizeof(*g->s), spec_cmp);
	for (size_t i = 0; i < g->n; i++) {
		struct spec *s = &g->s[i];

		s->ls.v = s->lbuf; /* the array moved with its spec */
		if (i && labels_compare(&g->s[i - 1].ls, &s->ls) >= 0)
			die("duplicate series");
	}
}

/* ---- values -------------------------------------------------------------------------- */

static double diurnal(double phase, int64_t t)
{
	return 1.0 + 0.35 * sin(2 * M_PI * ((double)t / DAY_MS + phase));
}

static double keep(double v, int dec)
{
	double m;

	if (dec < 0)
		return v;
	m = pow(10, dec);
	return round(v * m) / m;
}

/* Requests of histogram h during scrape interval j (stochastic rounding). */
static double hist_requests(const struct gen *g, uint32_t h, uint64_t j, int64_t t)
{
	const struct hist *hh = &g->h[h];
	uint64_t x = hash3(g->seed, h, j);
	double n = hh->rate * (double)g->o->step_ms / 1000.0 * diurnal(hh->phase, t) *
		   (0.5 + unit(x));

	return floor(n + unit(x >> 7));
}

static double hist_median(const struct gen *g, uint32_t h, int64_t t)
{
	const struct hist *hh = &g->h[h];

	return hh->median * (1.0 + 0.3 * sin(2 * M_PI * ((double)t / (DAY_MS / 3) + hh->phase)));
}

/* Share of requests at or below le: a lognormal with sigma 0.7. */
static double lognorm_cdf(double le, double median)
{
	if (isinf(le))
		return 1.0;
	return 0.5 * erfc(-(log(le) - log(median)) / (0.7 * M_SQRT2));
}

static double wave_value(const struct spec *s, double u, int64_t t)
{
	return keep(s->a + s->b * sin(2 * M_PI * ((double)t / DAY_MS + s->phase)) +
		    0.2 * s->b * (u - 0.5), s->dec);
}

/* The first sample sets the state; histograms start empty (a process start). */
static double first_value(struct spec *s, int64_t t)
{
	switch (s->model) {
	case M_COUNTER:
		s->v = keep(s->a * (0.5 + unit(s->id >> 3)), s->dec);
		break;
	case M_WALK:
		s->v = s->q > 0 ? floor(s->a / s->q) * s->q : s->a;
		break;
	case M_WAVE:
		return wave_value(s, unit(s->id >> 9), t);
	case M_BUCKET:
	case M_HCOUNT:
	case M_HSUM:
		s->v = 0;
		break;
	case M_CONST:
		s->v = s->a;
		break;
	}
	return s->v;
}

/* Counter increments keep the counter's resolution: integer counters grow by whole
 * units, rounded stochastically so that slow counters still move. */
static double increment(const struct spec *s, double inc, double u)
{
	double m;

	if (s->dec < 0)
		return inc;
	m = pow(10, s->dec);
	return floor(inc * m + u) / m;
}

static double next_value(const struct gen *g, struct spec *s, uint64_t j, int64_t t)
{
	double step_s = (double)g->o->step_ms / 1000.0;
	uint64_t x = hash3(s->id, j, 0);
	double u = unit(x), n;

	switch (s->model) {
	case M_CONST:
		return s->a;
	case M_COUNTER:
		n = s->b * step_s * diurnal(s->phase, t) * (0.2 + 1.6 * u);
		s->v = keep(s->v + increment(s, n, unit(x >> 5)), s->dec);
		return s->v;
	case M_WALK:
		n = s->v + (2 * u - 1) * s->b;
		if (s->q > 0)
			n = round(n / s->q) * s->q;
		s->v = n < s->lo ? s->lo : n > s->hi ? s->hi : n;
		return s->v;
	case M_WAVE:
		return wave_value(s, u, t);
	case M_BUCKET:
		n = hist_requests(g, s->hist, j, t);
		s->v += round(n * lognorm_cdf(s->le, hist_median(g, s->hist, t)));
		return s->v;
	case M_HCOUNT:
		s->v += hist_requests(g, s->hist, j, t);
		return s->v;
	case M_HSUM:
		n = hist_requests(g, s->hist, j, t);
		s->v += n * hist_median(g, s->hist, t) * 1.28 * (0.9 + 0.2 * u);
		return s->v;
	}
	return 0;
}

/* Scrape time of tick j for a target: the grid, a per-target offset and, in one
 * scrape of four, a jitter of up to +-3 ms (a scrape loop's ticker on a quiet host);
 * the millisecond part is always in [417, 982]. */
static int64_t sample_time(const struct gen *g, int64_t start, uint32_t target, uint64_t j)
{
	uint64_t x = hash3(g->seed, target, 0x0ff5e7), y = hash3(g->seed, target, j);
	int64_t off = 1000 * (int64_t)(x % ((uint64_t)g->o->step_ms / 1000 - 1)) + 420 +
		      (int64_t)((x >> 20) % 560);
	int64_t jit = y % 4 ? 0 : (int64_t)((y >> 8) % 7) - 3;

	return start + (int64_t)j * g->o->step_ms + off + jit;
}

/* ---- writing --------------------------------------------------------------------------- */

struct arr_iter {
	struct tsdb_iterator it;
	const struct tsdb_sample *s;
	size_t n, i;
};

static bool ai_next(struct tsdb_iterator *it)
{
	struct arr_iter *a = (struct arr_iter *)it;

	if (a->i >= a->n)
		return false;
	a->i++;
	return true;
}

static bool ai_seek(struct tsdb_iterator *it, int64_t t)
{
	struct arr_iter *a = (struct arr_iter *)it;

	if (a->i == 0)
		a->i = 1;
	while (a->i <= a->n && a->s[a->i - 1].t < t)
		a->i++;
	return a->i <= a->n;
}

static void ai_at(const struct tsdb_iterator *it, int64_t *t, double *v)
{
	const struct arr_iter *a = (const struct arr_iter *)it;

	*t = a->s[a->i - 1].t;
	*v = a->s[a->i - 1].v;
}

static int ai_err(const struct tsdb_iterator *it, char *err, size_t errlen)
{
	return 0;
}

static const struct tsdb_iterator_ops ai_ops = {
	.next = ai_next,
	.seek = ai_seek,
	.at = ai_at,
	.err = ai_err,
};

struct totals {
	uint64_t samples, series, chunks, bytes;
	size_t blocks;
};

static void write_block(struct gen *g, int64_t start, int64_t bmint, int64_t bmaxt,
			struct tsdb_sample *buf, struct totals *tot, FILE *json)
{
	const struct opts *o = g->o;
	uint64_t j0 = (uint64_t)((bmint - start) / o->step_ms);
	uint64_t j1 = (uint64_t)((bmaxt - start) / o->step_ms);
	struct tsdb_block_writer *w;
	struct tsdb_block_meta meta = { .level = 1 };
	struct tsdb_block *b;
	char err[512];

	if (tsdb_block_writer_new(o->out, bmint, bmaxt, TSDB_BLOCK_PROMETHEUS, &w, err,
				  sizeof(err)) < 0)
		die("%s", err);
	for (size_t i = 0; i < g->n; i++) {
		struct spec *s = &g->s[i];
		struct arr_iter it = { { &ai_ops }, buf, 0, 0 };

		for (uint64_t j = j0; j < j1; j++) {
			int64_t ts = sample_time(g, start, s->target, j);

			buf[it.n].t = ts;
			buf[it.n++].v = j == 0 ? first_value(s, ts) : next_value(g, s, j, ts);
		}
		if (tsdb_block_writer_add_samples(w, &s->ls, &it.it, err, sizeof(err)) < 0)
			die("%s", err);
	}
	if (tsdb_block_writer_commit(w, &meta, err, sizeof(err)) < 0)
		die("%s", err);
	tsdb_block_writer_free(w);
	{
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/%s", o->out, meta.ulid);
		if (tsdb_block_open(dir, &b, err, sizeof(err)) < 0)
			die("the block just written does not open: %s", err);
		tot->bytes += tsdb_block_size(b);
		tsdb_block_unref(b);
	}
	fprintf(json, "%s{\"ulid\":\"%s\",\"min_time\":%" PRId64 ",\"max_time\":%" PRId64
		",\"series\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"chunks\":%" PRIu64 "}",
		tot->blocks ? "," : "", meta.ulid, meta.mint, meta.maxt, meta.num_series,
		meta.num_samples, meta.num_chunks);
	tot->blocks++;
	tot->samples += meta.num_samples;
	tot->chunks += meta.num_chunks;
	if (meta.num_series > tot->series)
		tot->series = meta.num_series;
	if (!o->quiet)
		fprintf(stderr, "mkblocks: block %s [%" PRId64 ", %" PRId64 "): %" PRIu64
			" series, %" PRIu64 " samples\n", meta.ulid, meta.mint, meta.maxt,
			meta.num_series, meta.num_samples);
	tsdb_block_meta_free(&meta);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct gen g = { .o = &o };
	struct totals tot = { 0 };
	struct tsdb_sample *buf;
	char *blocks_json = NULL;
	size_t blocks_len = 0;
	FILE *bj;
	int64_t start, t;
	double t0 = now_s();

	parse_args(argc, argv, &o);
	g.seed = o.seed;
	g.a = arena_new(1 << 20);
	if (!g.a)
		die("out of memory");
	build(&g);
	buf = malloc((size_t)(o.block_ms / o.step_ms) * sizeof(*buf));
	bj = open_memstream(&blocks_json, &blocks_len);
	if (!buf || !bj)
		die("out of memory");
	start = o.end_ms - o.span_ms;
	for (t = start; t < o.end_ms;) {
		int64_t next = (t / o.block_ms + 1) * o.block_ms;

		if (next > o.end_ms)
			next = o.end_ms;
		write_block(&g, start, t, next, buf, &tot, bj);
		t = next;
	}
	fclose(bj);
	printf("{\"series\":%zu,\"samples\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64 ",\"step_ms\":%" PRId64
	       ",\"scale\":%g,\"seed\":%" PRIu64 ",\"histograms\":%zu,\"targets\":%" PRIu32
	       ",\"elapsed_s\":%.1f,\"blocks\":[%s]}\n",
	       g.n, tot.samples, tot.chunks, tot.bytes, start, o.end_ms, o.step_ms, o.scale,
	       o.seed, g.nh, g.ntargets, now_s() - t0, blocks_json ? blocks_json : "");
	free(blocks_json);
	free(buf);
	free(g.s);
	free(g.h);
	arena_free(g.a);
	return 0;
}
