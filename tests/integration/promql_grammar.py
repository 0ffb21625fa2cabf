"""Data and queries for the PromQL differential test (test_promql_diff.py).

dataset() builds two hours of samples as a scrape would have produced them:
targets of three jobs (an HTTP service with request counters and a classic
histogram, node_exporter-like hosts, an info metric) with scrape jitter, failed
scrapes (gaps, up=0), a restart (counter resets), a target that appears late, one
that goes away (Prometheus' stale markers), and a few series of awkward values
(NaN, +-Inf, negatives, long gaps). The same list is remote-written to both
servers.

Queries() generates PromQL from a grammar over the catalog of metric and label
names that dataset() returned, with a seeded RNG (the same queries every run).
It cycles through families of constructs so each is covered, and nests them up to
a small depth. What it deliberately never produces, and why, is the table "What
the generator leaves out" in docs/conformance.md; a comment marks each rule here.
The one that shapes all times: every sample has a millisecond part in [400, 999],
every evaluation time of an instant or range query one of 300, and every duration
(range, offset, subquery step) is whole seconds, so no sample ever sits on the edge
of a range, a lookback window or a subquery range (2.x closed, 3.x left-open).
Nothing newer than 2.42 is generated, and no label value holds a newline (3.x's
regex `.` matches it).

Run it directly to print the queries: python3 tests/integration/promql_grammar.py
"""
import math
import random
import re
import struct

T0_MS = 1_700_000_000_000
INTERVAL_MS = 15_000
POINTS = 480                    # 2h of scrapes
END_MS = T0_MS + POINTS * INTERVAL_MS
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
LES = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


class Target:
    """One scrape target: its scrape times (None = failed scrape) and its series."""

    def __init__(self, rng, job, instance, first=0, last=POINTS, restart=None):
        self.labels = {"job": job, "instance": instance}
        self.first, self.last, self.restart = first, last, restart
        base = rng.randint(400, 900)
        self.times = []
        for i in range(POINTS):
            t = T0_MS + i * INTERVAL_MS + base + rng.randint(0, 99) + rng.choice([0, 0, 0, -1000, 1000])
            # No failed scrape right after a start or restart: see _http_target.
            settled = i >= first + 4 and (restart is None or not restart <= i < restart + 4)
            ok = first <= i < last and (rng.random() > 0.02 or not settled)
            self.times.append(t if ok else None)
        self.series = {}   # labels tuple -> [(t, v)]

    def add(self, name, extra, i, v):
        key = tuple(sorted(dict(self.labels, __name__=name, **extra).items()))
        self.series.setdefault(key, []).append((self.times[i], v))

    def scrapes(self):
        return [i for i in range(self.first, self.last) if self.times[i] is not None]

    def finish(self):
        """up for every scrape (failed ones: 0), stale markers after the last one."""
        up = []
        for i in range(self.first, self.last):
            t = self.times[i] if self.times[i] is not None else T0_MS + i * INTERVAL_MS + 500
            up.append((t, 1.0 if self.times[i] is not None else 0.0))
        self.series[tuple(sorted(dict(self.labels, __name__="up").items()))] = up
        if self.last < POINTS:
            t_stale = T0_MS + self.last * INTERVAL_MS + 500
            for samples in self.series.values():
                samples.append((t_stale, STALE_NAN))


def _http_target(rng, job, instance, methods, codes, **kw):
    """Counters start at 0 (at the target's first scrape and at its restart), as a
    fresh process's do. A counter that starts higher inside a rate() range is
    extrapolated differently by 2.42 and 3.x (docs/conformance.md)."""
    tg = Target(rng, job, instance, **kw)
    counters = {(m, c): 0.0 for m in methods for c in codes}
    rates = {(m, c): rng.uniform(1, 20) * (0.05 if c != "200" else 1) for m, c in counters}
    cum, hsum, hcount = [0] * len(LES), 0.0, 0
    for i in tg.scrapes():
        fresh = i == tg.first or i == tg.restart
        if fresh:
            counters = {k: 0.0 for k in counters}
            cum, hsum, hcount = [0] * len(LES), 0.0, 0
        for (m, c), r in rates.items():
            if not fresh:
                counters[(m, c)] += max(0, round(rng.gauss(r * 15, r), 0))
            tg.add("http_requests_total", {"method": m, "code": c}, i, counters[(m, c)])
        for _ in range(0 if fresh else rng.randint(5, 40)):
            x = rng.expovariate(8)
            hsum += x
            hcount += 1
            for j, le in enumerate(LES):
                if le == "+Inf" or x <= float(le):
                    cum[j] += 1
        for j, le in enumerate(LES):
            tg.add("http_request_duration_seconds_bucket", {"le": le}, i, float(cum[j]))
        tg.add("http_request_duration_seconds_sum", {}, i, round(hsum, 6))
        tg.add("http_request_duration_seconds_count", {}, i, float(hcount))
    tg.finish()
    return tg


def _node_target(rng, instance, nodename):
    tg = Target(rng, "node", instance)
    cpu = {(c, m): rng.uniform(1e4, 1e5) for c in ("0", "1") for m in ("idle", "user", "system", "iowait")}
    share = {"idle": 0.7, "user": 0.2, "system": 0.08, "iowait": 0.02}
    total = 8 * 2 ** 30
    avail = total * 0.6
    for i in tg.scrapes():
        for (c, m) in cpu:
            cpu[(c, m)] += round(15 * share[m] * rng.uniform(0.5, 1.5), 4)
            tg.add("node_cpu_seconds_total", {"cpu": c, "mode": m}, i, cpu[(c, m)])
        avail = min(total, max(total * 0.05, avail + rng.gauss(0, total * 0.01)))
        tg.add("node_memory_MemTotal_bytes", {}, i, float(total))
        tg.add("node_memory_MemAvailable_bytes", {}, i, float(int(avail)))
        tg.add("node_load1", {}, i, round(abs(1 + math.sin(i / 25) + rng.gauss(0, 0.2)), 2))
        tg.add("node_uname_info", {"nodename": nodename, "release": "6.1.0-18-amd64"}, i, 1.0)
    tg.finish()
    return tg


def _edge_series():
    """Awkward values on a fixed grid (no target, no up)."""
    def t(i):
        return T0_MS + i * INTERVAL_MS + 700
    kinds = {
        "nan": lambda i: float("nan") if i % 7 == 0 else i * 0.5,
        "inf": lambda i: float("inf") if i % 11 == 0 else (float("-inf") if i % 13 == 0 else -i * 0.25),
        "neg": lambda i: -(i % 13) - 0.5,
        "sparse": lambda i: float(i) if i % 40 < 3 else None,
        "big": lambda i: 1e15 + i * 1024.0,
    }
    out = []
    for kind, f in kinds.items():
        samples = [(t(i), f(i)) for i in range(POINTS) if f(i) is not None]
        out.append(({"__name__": "edge", "job": "edge", "kind": kind}, samples))
    return out


def dataset(seed=42):
    """[(labels dict, [(t_ms, value)])], time-ordered per series."""
    rng = random.Random(seed)
    targets = [
        _http_target(rng, "api", "a:80", ["GET", "POST"], ["200", "500"]),
        _http_target(rng, "api", "b:80", ["GET", "POST"], ["200", "500"], restart=200),
        _http_target(rng, "api", "c:80", ["GET", "POST"], ["200", "500"], first=160),
        _http_target(rng, "web", "a:8080", ["GET"], ["200", "404", "500"]),
        _http_target(rng, "web", "b:8080", ["GET"], ["200", "404", "500"], last=380),
        _node_target(rng, "n1:9100", "host-1"),
        _node_target(rng, "n2:9100", "host-2"),
    ]
    out = []
    for tg in targets:
        out += [(dict(k), v) for k, v in tg.series.items()]
    return out + _edge_series()


def catalog(data):
    """metric name -> {label name: sorted values} of the loaded series."""
    cat = {}
    for labels, _ in data:
        m = cat.setdefault(labels["__name__"], {})
        for k, v in labels.items():
            if k != "__name__":
                m.setdefault(k, set()).add(v)
    return {n: {k: sorted(v) for k, v in ls.items()} for n, ls in cat.items()}


def write_batches(data, slice_ms=10 * 60 * 1000):
    """The data cut into time slices, oldest first, so that a receiver's head never
    sees a sample older than the ones it already holds for a series (Prometheus 2.42
    has no out-of-order window)."""
    t = min(s[0][0] for _, s in data if s)
    last = max(s[-1][0] for _, s in data if s)
    while t <= last:
        batch = [(labels, [s for s in samples if t <= s[0] < t + slice_ms]) for labels, samples in data]
        batch = [b for b in batch if b[1]]
        if batch:
            yield batch
        t += slice_ms


# --- the grammar --------------------------------------------------------------------------

COUNTERS = ["http_requests_total", "node_cpu_seconds_total", "http_request_duration_seconds_sum",
            "http_request_duration_seconds_count"]
GAUGES = ["node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_load1", "up", "edge"]
TAME_GAUGES = GAUGES[:-1]
BUCKETS = "http_request_duration_seconds_bucket"
WINDOWS = ["30s", "1m", "90s", "2m", "3m", "5m", "7m", "10m", "15m", "30m", "1h", "1m30s"]
OFFSETS = ["30s", "1m", "5m", "10m", "1h", "-1m", "-5m", "2m30s"]
SUB_RANGES = ["5m", "10m", "15m", "30m", "20m", "1h"]
SUB_STEPS = ["", "15s", "30s", "1m", "45s", "2m", "13s", "5m"]
ARITH = ["+", "-", "*", "/", "%", "^", "atan2"]
COMPARE = ["==", "!=", ">", "<", ">=", "<="]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]
MATH_FNS = ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "deg", "rad",
            "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh", "asinh"]
TRIG = {"sin", "cos", "tan", "atan", "sinh", "cosh", "tanh", "asinh"}
DATE_FNS = ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute",
            "month", "year"]
OVER_TIME = ["avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
             "last_over_time", "stddev_over_time", "stdvar_over_time", "present_over_time"]
# Functions and aggregations that add values up: 3.x compensates the sum (Kahan) and
# 2.42 does not, so where values of both signs cancel to nearly zero the results
# differ far beyond 1e-9 relative. Their arguments never mix signs.
SUMMING = {"sum", "avg", "stddev", "stdvar", "sum_over_time", "avg_over_time",
           "stddev_over_time", "stdvar_over_time"}
# Functions of the differences between a series' values: over a subquery of computed
# values that barely change they magnify a last-bit difference just the same.
DIFFERENCING = {"deriv", "delta", "idelta", "irate", "changes", "resets"}


class V:
    """A generated instant-vector expression: its text, the label names its series may
    carry, and whether its values may mix signs (see SUMMING)."""

    def __init__(self, text, labels, signed=False):
        self.text, self.labels, self.signed = text, set(labels), signed


class S:
    """A generated scalar expression."""

    def __init__(self, text, signed=False):
        self.text, self.signed = text, signed


def at_time(rng):
    """An `@` time: 300 ms past a whole second, inside the data or just around it."""
    return "%d.3" % (T0_MS // 1000 + rng.randint(10 * 60, 2 * 3600 + 10 * 60))


def arith_signed(op, a, b):
    """Whether a op b may mix signs (a filter keeps a's values, bool gives 0 and 1)."""
    if op in COMPARE:
        return a.signed
    if op.endswith(" bool"):
        return False
    return op == "-" or a.signed or b.signed


class Queries:
    def __init__(self, cat, seed=1, max_depth=3):
        self.cat, self.rng, self.max_depth = cat, random.Random(seed), max_depth
        self.time_rng = random.Random(seed + 1000)
        self.families = [
            self.selector_q, self.counter_fn, self.gauge_fn, self.over_time, self.aggregate,
            self.topk_like, self.scalar_arith, self.vector_match, self.group_match, self.set_op,
            self.subquery, self.histogram, self.label_fn, self.math_fn, self.misc_fn,
            self.nested, self.scalar_q, self.count_values,
        ]

    # --- helpers

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def labels_of(self, metric):
        return set(self.cat[metric])

    def paren(self, text):
        """text, in parentheses unless it is a bare metric name or one function call."""
        m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text)
        if m and m.end() == len(text):
            return text
        if m and text[m.end():m.end() + 1] == "(" and _closing(text, m.end()) == len(text) - 1:
            return text
        return "(%s)" % text

    def grouping(self, labels, allow_empty=True):
        pool = sorted(labels)
        k = self.rng.randint(0 if allow_empty else 1, min(3, len(pool))) if pool else 0
        return self.rng.sample(pool, k)

    def matcher(self, metric):
        rng, labels = self.rng, self.cat[metric]
        name = self.pick(sorted(labels))
        values = labels[name]
        op = self.pick(["=", "=", "!=", "=~", "!~"])
        if op in ("=", "!="):
            value = self.pick(values) if self.chance(0.9) else "nope"
        else:
            v = self.pick(values)
            value = self.pick([
                "|".join(_re_quote(x) for x in rng.sample(values, min(len(values), 2))),
                _re_quote(v[:1]) + ".*",
                ".*" + _re_quote(v[-1:]),
                ".+",
                "(?:%s)" % _re_quote(v),
                _re_quote(v[:1]) + "." * (len(v) - 1),
                "",
            ])
        return '%s%s"%s"' % (name, op, value)

    def modifiers(self, at=True):
        out = ""
        if self.chance(0.12):
            out += " offset " + self.pick(OFFSETS)
        if at and self.chance(0.08):
            out += " @ " + self.pick(["start()", "end()", at_time(self.rng)])
        return out

    def selector(self, metric=None, modifiers=True):
        metric = metric or self.pick(sorted(self.cat))
        ms = [self.matcher(metric) for _ in range(self.rng.choice([0, 0, 1, 1, 2]))]
        if self.chance(0.08):
            text = '{__name__="%s"%s}' % (metric, "".join("," + m for m in ms))
        else:
            text = metric + ("{%s}" % ",".join(ms) if ms or self.chance(0.1) else "")
            if text.endswith("{}"):
                text = metric
        if modifiers:
            text += self.modifiers()
        return V(text, self.labels_of(metric))

    def matrix(self, metrics, windows=WINDOWS, at=True):
        metric = self.pick(metrics)
        sel = self.selector(metric, modifiers=False)
        return V("%s[%s]%s" % (sel.text, self.pick(windows), self.modifiers(at)), sel.labels)

    def call(self, fn, v, signed=None, extra=""):
        return V("%s(%s%s)" % (fn, v.text, extra), v.labels, v.signed if signed is None else signed)

    def vector(self, depth, want=None):
        """A random instant vector; with want, one for which want(v) holds."""
        for _ in range(6):
            if depth >= self.max_depth:
                v = self.pick([self.selector, lambda: self.counter_fn(depth)])()
            else:
                v = self.pick([self.selector_q, self.counter_fn, self.counter_fn, self.gauge_fn,
                               self.over_time, self.aggregate, self.aggregate, self.topk_like,
                               self.scalar_arith, self.vector_match, self.set_op, self.math_fn,
                               self.label_fn, self.histogram])(depth + 1)
            if want is None or want(v):
                return v
        return self.counter_fn(depth)

    def literal(self):
        lit = self.pick(["0", "1", "2", "0.5", "10", "100", "1e3", "-1", "0.25", "3",
                         "1024", "0x10", "1e-3", "Inf", "NaN", "-Inf", "60", "86400"])
        return S(lit, signed=lit.startswith("-"))

    def scalar(self, depth=0):
        r = self.rng.random()
        if r < 0.55:
            return self.literal()
        if r < 0.7 and depth < self.max_depth:
            v = self.vector(depth + 1)
            return S("scalar(%s)" % v.text, v.signed)
        if r < 0.8:
            return S(self.pick(["time()", "pi()"]))
        a, b = self.scalar(depth + 1), self.scalar(depth + 1)
        op = self.pick(["+", "-", "*", "/", "^"])
        return S("(%s %s %s)" % (a.text, op, b.text), arith_signed(op, a, b))

    # --- families: each returns one instant vector (V)

    def selector_q(self, depth=0):
        if self.chance(0.1):
            pat = self.pick(['http_.*', 'node_.*_bytes', '.*_total', 'up|edge', 'node_(load1|uname_info)'])
            names = [m for m in self.cat if re.fullmatch(pat, m)]
            labels = set().union(*(self.labels_of(m) for m in names))
            extra = ',' + self.matcher("http_requests_total") if self.chance(0.3) else ''
            return V('{__name__=~"%s"%s}%s' % (pat, extra, self.modifiers()), labels)
        return self.selector()

    def counter_fn(self, depth=0):
        fn = self.pick(["rate", "rate", "increase", "irate", "resets", "rate", "increase"])
        return self.call(fn, self.matrix(COUNTERS + [BUCKETS]))

    def gauge_fn(self, depth=0):
        fn = self.pick(["delta", "idelta", "deriv", "changes", "predict_linear"])
        # 2.42 answers predict_linear(v[r] @ t, ...) in a range query at the first
        # step only (fixed upstream since; at_modifier.test has the case). Its linear
        # regression turns a window holding +-Inf into NaN where 3.x's compensated
        # sums stay infinite: no edge series for deriv and predict_linear.
        metrics = TAME_GAUGES if fn in ("deriv", "predict_linear") else GAUGES
        m = self.matrix(metrics, at=fn != "predict_linear")
        if fn == "predict_linear":
            return self.call(fn, m, signed=True, extra=", " + self.pick(["60", "3600", "-600", "0", "86400"]))
        return self.call(fn, m, signed=fn != "changes")

    def over_time(self, depth=0):
        m = self.matrix(GAUGES + COUNTERS)
        r = self.rng.random()
        if r < 0.12:
            phi = self.pick(["0", "0.5", "0.9", "0.99", "1"])
            return V("quantile_over_time(%s, %s)" % (phi, m.text), m.labels)
        if r < 0.2:
            return V("absent_over_time(%s)" % m.text, set())
        return self.call(self.pick(OVER_TIME), m)

    def plain(self, depth):
        """Stored values or rates of them (no NaN, no +-Inf, no computation that could
        differ in the last bit), for the functions that amplify such differences:
        stddev and stdvar of nearly equal values (3.x compensates the mean, 2.42 does
        not), trigonometric functions of large arguments (Go's math library and C's
        libm round differently there), rounding (ceil, floor, round), %, and the
        DIFFERENCING functions over subqueries.
        stddev/stdvar of a group holding one NaN or +-Inf is NaN in 3.x and 0 in
        2.42, which this avoids too."""
        return self.pick([
            lambda: self.selector(self.pick(COUNTERS + TAME_GAUGES)),
            lambda: self.counter_fn(depth),
            lambda: self.call(self.pick(["min_over_time", "max_over_time", "last_over_time"]),
                              self.matrix(TAME_GAUGES))])()

    def agg_arg(self, op, depth):
        """The argument of aggregation op: summing ones get a vector whose values do not
        mix signs (see SUMMING), stddev and stdvar a plain() one."""
        if op in ("stddev", "stdvar"):
            return self.plain(depth)
        if op in SUMMING:
            return self.vector(depth, want=lambda v: not v.signed)
        return self.vector(depth)

    def aggregate(self, depth=0):
        op = self.pick(AGGS)
        inner = self.agg_arg(op, depth)
        g = self.grouping(inner.labels)
        signed = inner.signed if op in ("sum", "avg", "min", "max") else False
        if not g and self.chance(0.5):
            return V("%s(%s)" % (op, inner.text), set(), signed)
        mode = self.pick(["by", "by", "without"])
        out = set(g) if mode == "by" else inner.labels - set(g)
        if self.chance(0.3):
            return V("%s(%s) %s (%s)" % (op, inner.text, mode, ", ".join(g)), out, signed)
        return V("%s %s (%s) (%s)" % (op, mode, ", ".join(g), inner.text), out, signed)

    def continuous(self, depth):
        """A vector whose series practically never tie: topk/bottomk break ties by the
        order of the input series, and a range query's order is Go map order upstream."""
        w = self.pick(["5m", "7m", "10m", "15m", "30m", "1h"])
        m = self.pick(["node_cpu_seconds_total", "http_request_duration_seconds_sum",
                       "node_memory_MemAvailable_bytes"])
        sel = self.selector(m, modifiers=False)
        signed = False
        if m == "node_memory_MemAvailable_bytes":
            text = self.pick([sel.text, "avg_over_time(%s[%s])" % (sel.text, w),
                              "deriv(%s[%s])" % (sel.text, w)])
            signed = text.startswith("deriv")
        else:
            text = "%s(%s[%s])" % (self.pick(["rate", "increase"]), sel.text, w)
        if self.chance(0.3):
            g = self.grouping(sel.labels, allow_empty=False)
            return V("sum by (%s) (%s)" % (", ".join(g), text), g, signed)
        return V(text, sel.labels, signed)

    def topk_like(self, depth=0):
        op = self.pick(["topk", "bottomk", "quantile", "topk", "bottomk"])
        inner = self.vector(depth) if op == "quantile" else self.continuous(depth)
        param = self.pick(["1", "2", "3", "5"]) if op != "quantile" else \
            self.pick(["0", "0.1", "0.5", "0.9", "0.99", "1", "1.5", "-0.5"])
        g = self.grouping(inner.labels)
        out = inner.labels if op != "quantile" else set(g)
        if g and self.chance(0.7):
            return V("%s by (%s) (%s, %s)" % (op, ", ".join(g), param, inner.text), out, inner.signed)
        return V("%s(%s, %s)" % (op, param, inner.text), out if op != "quantile" else set(),
                 inner.signed)

    def count_values(self, depth=0):
        inner = self.pick(["up", "floor(rate(http_requests_total[5m]))", "round(node_load1)",
                           "ceil(edge)", "changes(up[30m])", "resets(http_requests_total[1h])",
                           'http_request_duration_seconds_bucket{le="+Inf"} > 0 * 0'])
        g = self.grouping({"job", "instance"})
        by = " by (%s)" % ", ".join(g) if g else ""
        label = self.pick(["value", "v", "job"])
        return V('count_values%s("%s", %s)' % (by, label, inner), set(g) | {label})

    def scalar_arith(self, depth=0):
        if self.chance(0.5):
            op = self.pick(COMPARE) + (" bool" if self.chance(0.4) else "")
        else:
            op = self.pick(ARITH)
        # atan2 keeps __name__ in 2.42 (dropped since mid-2023): a vector without one.
        # x % y turns a last-bit difference of a computed x or y (compensated sums in
        # 3.x) into one of x/y units in the last place: only stored values and literals.
        if op == "%":
            v, s = self.plain(depth), self.literal()
        else:
            v = self.vector(depth) if op != "atan2" else self.counter_fn(depth)
            s = self.scalar(depth)
        signed = arith_signed(op, v, s)
        if self.chance(0.5):
            return V("%s %s %s" % (self.paren(v.text), op, s.text), v.labels, signed)
        return V("%s %s %s" % (s.text, op, self.paren(v.text)), v.labels, signed)

    def vector_match(self, depth=0):
        """One-to-one matching: the same metric filtered two ways, or two aggregations
        (no %, see scalar_arith)."""
        op = self.pick([o for o in ARITH if o != "%"] + COMPARE + ["/", "/", "-"])
        if op in COMPARE and self.chance(0.5):
            op += " bool"
        if self.chance(0.5):
            metric = self.pick(["http_requests_total", "node_cpu_seconds_total"])
            lbl = self.pick(["code", "method"] if metric == "http_requests_total" else ["mode", "cpu"])
            vals = self.rng.sample(self.cat[metric][lbl], 2)
            w = self.pick(WINDOWS)
            fn = self.pick(["rate", "increase", "irate"])
            lhs = V('%s(%s{%s="%s"}[%s])' % (fn, metric, lbl, vals[0], w), ())
            # Now and then != on the right: several series per match group, an error.
            neg = "!" if self.chance(0.3) else ""
            rhs = V('%s(%s{%s%s="%s"}[%s])' % (fn, metric, lbl, neg, vals[1], w), ())
            signed = arith_signed(op, lhs, rhs)
            if self.chance(0.5):
                return V("%s %s ignoring (%s) %s" % (lhs.text, op, lbl, rhs.text),
                         self.labels_of(metric) - {lbl}, signed)
            keep = sorted(self.labels_of(metric) - {lbl})
            return V("%s %s on (%s) %s" % (lhs.text, op, ", ".join(keep), rhs.text), keep, signed)
        agg1, agg2 = self.pick(AGGS), self.pick(AGGS)
        a, b = self.agg_arg(agg1, depth), self.agg_arg(agg2, depth)
        g = ", ".join(self.grouping(a.labels & b.labels))
        match = self.pick(["", "on (%s) " % g, "ignoring () "])
        return V("%s by (%s) (%s) %s %s%s by (%s) (%s)" % (agg1, g, a.text, op, match, agg2, g, b.text),
                 [x.strip() for x in g.split(",") if x.strip()], arith_signed(op, a, b))

    def group_match(self, depth=0):
        """Many-to-one and one-to-many, with and without extra labels copied over."""
        r = self.rng.random()
        op = self.pick(["*", "/", "+", "-", "> bool", "==", "<"])
        one = V("x", ())
        if r < 0.35:
            many = self.pick([lambda: self.counter_fn(depth), lambda: self.selector("node_cpu_seconds_total"),
                              lambda: self.selector("http_requests_total")])()
            g = ", ".join(sorted(many.labels & {"job", "instance"}) or ["job"])
            rhs = "%s by (%s) (%s)" % (self.pick(AGGS), g, self.pick(["up", "node_load1",
                                                                      "rate(http_requests_total[5m])"]))
            return V("%s %s on (%s) group_left %s" % (self.paren(many.text), op, g, rhs), many.labels,
                     arith_signed(op, many, one))
        if r < 0.7:
            many = self.pick([
                lambda: V("rate(node_cpu_seconds_total[%s])" % self.pick(WINDOWS),
                          self.labels_of("node_cpu_seconds_total")),
                lambda: V("node_memory_MemAvailable_bytes", self.labels_of("node_memory_MemAvailable_bytes")),
                lambda: V("node_load1", self.labels_of("node_load1"))])()
            extra = self.pick(["nodename", "nodename, release", ""])
            on = self.pick(["on (instance)", "on (job, instance)", "ignoring"])
            if on == "ignoring":
                on = "ignoring (%s)" % ", ".join(sorted(self.labels_of("node_uname_info") ^ many.labels))
            out = many.labels | set(x.strip() for x in extra.split(",") if x.strip())
            signed = arith_signed(op, many, one)
            if self.chance(0.5):
                return V("%s %s %s group_left (%s) node_uname_info" % (many.text, op, on, extra), out,
                         signed)
            return V("node_uname_info %s %s group_right (%s) %s" % (op, on, extra, many.text), out,
                     signed)
        lhs = "sum by (job) (%s)" % self.counter_fn(depth).text
        rhs = self.pick([lambda: self.selector("up"), lambda: self.counter_fn(depth)])()
        # `group_right (` would start a label list: the empty one comes first.
        return V("%s %s on (job) group_right () %s" % (lhs, op, self.paren(rhs.text)), rhs.labels,
                 arith_signed(op, rhs, one))

    def set_op(self, depth=0):
        a, b = self.vector(depth), self.vector(depth)
        op = self.pick(["and", "or", "unless"])
        match = ""
        if self.chance(0.5):
            g = self.grouping(a.labels & b.labels)
            match = "%s (%s) " % (self.pick(["on", "ignoring"]), ", ".join(g))
        if op == "or":
            return V("%s or %s%s" % (self.paren(a.text), match, self.paren(b.text)), a.labels | b.labels,
                     a.signed or b.signed)
        return V("%s %s %s%s" % (self.paren(a.text), op, match, self.paren(b.text)), a.labels,
                 a.signed)

    def subquery(self, depth=0):
        # Not rate/increase: a subquery's series start inside the range with a value
        # that 2.42 and 3.x extrapolate towards zero differently.
        fn = self.pick(OVER_TIME + ["deriv", "delta", "changes", "resets", "idelta", "irate",
                                    "max_over_time", "avg_over_time"])
        gens = [lambda: self.counter_fn(depth), lambda: self.aggregate(depth),
                lambda: self.gauge_fn(depth), lambda: self.selector(), lambda: self.scalar_arith(depth)]
        if fn in ("stddev_over_time", "stdvar_over_time") or fn in DIFFERENCING:
            inner = self.plain(depth)
        else:
            for _ in range(6):
                inner = self.pick(gens)()
                if fn not in SUMMING or not inner.signed:
                    break
            else:
                inner = self.counter_fn(depth)
        sub = "%s[%s:%s]%s" % (self.paren(inner.text), self.pick(SUB_RANGES), self.pick(SUB_STEPS),
                               self.modifiers())
        signed = fn in ("deriv", "delta", "idelta") or (inner.signed and fn not in ("changes", "resets",
                                                                                   "count_over_time",
                                                                                   "present_over_time"))
        return V("%s(%s)" % (fn, sub), inner.labels, signed)

    def histogram(self, depth=0):
        phi = self.pick(["0.5", "0.9", "0.95", "0.99", "0", "1", "0.999", "1.5", "-1", "0.25"])
        sel = self.selector(BUCKETS, modifiers=False).text
        r = self.rng.random()
        if r < 0.15:
            return V("histogram_quantile(%s, %s)" % (phi, sel), {"job", "instance"})
        inner = "%s(%s[%s])" % (self.pick(["rate", "increase", "irate"]), sel, self.pick(WINDOWS))
        if r < 0.3:
            return V("histogram_quantile(%s, %s)" % (phi, inner), {"job", "instance"})
        g = ["le"] + self.grouping({"job", "instance"})
        self.rng.shuffle(g)
        out = set(g) - {"le"}
        if self.chance(0.3):
            return V("histogram_quantile(%s, sum(%s) by (%s))" % (phi, inner, ", ".join(g)), out)
        return V("histogram_quantile(%s, sum by (%s) (%s))" % (phi, ", ".join(g), inner), out)

    def label_fn(self, depth=0):
        v = self.vector(depth)
        if not v.labels:
            v = self.selector()
        src = self.pick(sorted(v.labels) + ["missing"])
        if self.chance(0.6):
            dst = self.pick(["dst", "job", src, "host", "__name__"] if src != "missing" else ["dst"])
            repl = self.pick(["$1", "${1}-x", "static", "$2", "", "$1$1"])
            regex = self.pick(["(.*)", "(.+):.*", "([a-z]+)", "(.)(.*)", "", "a.*", "(.*)0"])
            return V('label_replace(%s, "%s", "%s", "%s", "%s")' % (v.text, dst, repl, src, regex),
                     v.labels | {dst}, v.signed)
        srcs = self.rng.sample(sorted(v.labels), min(len(v.labels), self.rng.randint(0, 3)))
        dst = self.pick(["dst", "job", "id"])
        args = "".join(', "%s"' % s for s in srcs)
        return V('label_join(%s, "%s", "%s"%s)' % (v.text, dst, self.pick(["-", ",", "", "::"]), args),
                 v.labels | {dst}, v.signed)

    def math_fn(self, depth=0):
        r = self.rng.random()
        if r < 0.5:
            fn = self.pick(MATH_FNS)
            v = self.plain(depth) if fn in TRIG or fn in ("ceil", "floor") else self.vector(depth)
            if fn in ("abs", "sqrt", "exp", "cosh"):
                return self.call(fn, v, signed=False)
            if fn in ("ln", "log2", "log10", "sgn", "sin", "cos", "tan", "atan", "sinh", "tanh", "asinh"):
                return self.call(fn, v, signed=True)
            return self.call(fn, v)
        if r < 0.65:
            # Rounding flips on a last-bit difference of a computed value (2.42's avg is
            # an incremental mean, 3.x's a compensated sum / count): stored values only.
            to = self.pick(["", ", 0.1", ", 10", ", 0.3", ", 1000"])
            return self.call("round", self.plain(depth), extra=to)
        v = self.vector(depth)
        if r < 0.8:
            lo, hi = sorted([self.pick(["0", "1", "10", "100", "-5", "1e6"]) for _ in range(2)], key=float)
            return self.call("clamp", v, signed=v.signed or float(lo) < 0, extra=", %s, %s" % (lo, hi))
        s = self.scalar(depth)
        return self.call(self.pick(["clamp_min", "clamp_max"]), v, signed=v.signed or s.signed,
                         extra=", " + s.text)

    def misc_fn(self, depth=0):
        r = self.rng.random()
        if r < 0.2:
            return self.call("timestamp", self.vector(depth), signed=False)
        if r < 0.4:
            v = self.selector()
            return V("%s(timestamp(%s))" % (self.pick(DATE_FNS), v.text), v.labels)
        if r < 0.5:
            return V("%s()" % self.pick(DATE_FNS), ())
        if r < 0.65:
            return V("absent(%s)" % self.selector(modifiers=False).text, ())
        if r < 0.75:
            s = self.scalar(depth)
            return V("vector(%s)" % s.text, (), s.signed)
        if r < 0.9:
            return self.call(self.pick(["sort", "sort_desc"]), self.vector(depth))
        v = self.vector(depth)
        return V("-%s" % self.paren(v.text), v.labels, True)

    def nested(self, depth=0):
        """Dashboard shapes: ratios of sums of rates, rates of sums over subqueries."""
        g = self.grouping({"job", "instance"})
        by = "by (%s) " % ", ".join(g) if g else ""
        w = self.pick(WINDOWS)
        return V(self.pick([
            'sum %s(rate(http_requests_total{code=~"5.."}[%s])) / sum %s(rate(http_requests_total[%s]))'
            % (by, w, by, w),
            "1 - avg %s(rate(node_cpu_seconds_total{mode=\"idle\"}[%s]))" % (by, w),
            "sum %s(rate(http_request_duration_seconds_sum[%s])) / "
            "sum %s(rate(http_request_duration_seconds_count[%s]))" % (by, w, by, w),
            "(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / "
            "node_memory_MemTotal_bytes * 100",
            "max_over_time(sum %s(rate(http_requests_total[%s]))[30m:1m])" % (by, w),
            "avg_over_time(rate(node_cpu_seconds_total{mode!=\"idle\"}[%s])[10m:])" % w,
            "sum %s(increase(http_requests_total[%s])) > 100" % (by, w),
            "count %s(up == 0) or count %s(up) * 0" % (by, by),
        ]), g, True)

    def scalar_q(self, depth=0):
        return V(self.scalar(depth).text, ())

    # --- driving

    def query(self, i):
        return self.families[i % len(self.families)](0).text

    def generate(self, n):
        seen, out = set(), []
        i = 0
        while len(out) < n:
            q = self.query(i)
            i += 1
            if q not in seen:
                seen.add(q)
                out.append(q)
        return out

    def times(self):
        """Evaluation times for one query: (instant time, (start, end, step)), all in
        seconds with a millisecond part of 300."""
        rng, t0 = self.time_rng, T0_MS // 1000
        inst = "%d.3" % (t0 + rng.randint(15 * 60, 2 * 3600 + 8 * 60))
        start = t0 + rng.randint(0, 3600)
        step = rng.choice([15, 30, 60, 60, 97, 300])
        end = start + rng.randint(20 * 60, 90 * 60)
        return inst, ("%d.3" % start, "%d.3" % end, str(step))


def _re_quote(s):
    """A literal in an RE2 regex, written inside a PromQL double-quoted string."""
    return "".join("\\\\" + c if c in r".+*?()|[]{}^$\\" else c for c in s)


def _closing(text, i):
    """Index of the parenthesis closing the one at text[i] (strings skipped)."""
    depth, quote, j = 0, None, i
    while j < len(text):
        c = text[j]
        if quote:
            if c == "\\":
                j += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


if __name__ == "__main__":
    import sys
    qs = Queries(catalog(dataset()))
    for q in qs.generate(int(sys.argv[1]) if len(sys.argv) > 1 else 500):
        print(q)
