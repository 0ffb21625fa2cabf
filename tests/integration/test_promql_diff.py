"""Differential test of our PromQL engine against real Prometheus 2.42 (Debian's).

The same samples (promql_grammar.dataset(): two hours of scrape-like data) are
remote-written to lgtm-metrics and to a Prometheus started with
--web.enable-remote-write-receiver, and read back from both with remote read to
prove they are identical. Then every query the grammar generates (seeded, so the
same ones every run) runs on both as an instant query and as a range query, and
the answers must match: the same result type, labels exactly, the same
timestamps, values within 1e-9 relative (NaN equals NaN), the same error type when
both fail, and for sort()/sort_desc() the same order of values.

The examples of docs/queries.md run here too: on lgtm-metrics they must succeed
with a non-empty result, and on both servers give the same answer.

Debugging: PROMQL_DIFF_QUERIES=N and PROMQL_DIFF_SEED=S change how many queries
and which; every mismatch is printed with both answers.
"""
import json
import math
import os
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

import promproto
import promql_grammar as grammar
from conftest import REPO, Daemon, http, start_prometheus

QUERIES = int(os.environ.get("PROMQL_DIFF_QUERIES", "500"))
SEED = int(os.environ.get("PROMQL_DIFF_SEED", "1"))
# Prometheus steps `[range:]` subqueries by the global evaluation interval and
# lgtm-metrics always by 1m (docs/queries.md): the same here.
CONFIG = "global:\n  evaluation_interval: 1m\n"
DATA = grammar.dataset()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    work = tmp_path_factory.mktemp("promql-diff")
    prom_proc, prom = start_prometheus(work, CONFIG, ["--web.enable-remote-write-receiver"])
    ours = Daemon("metrics", work, config_text=CONFIG)
    try:
        ours.start()
        for batch in grammar.write_batches(DATA):
            for url in (ours.url, prom):
                status, body = promproto.push(url, batch)
                assert status in (200, 204), (url, status, body)
        yield ours.url, prom
    finally:
        prom_proc.kill()
        prom_proc.wait()
        rc = ours.stop() if ours.proc else 0
    assert rc == 0, ours.stderr()


# --- comparing answers ----------------------------------------------------------------------

def query(base, path, params):
    status, _, body = http("POST", base + path, body=urlencode(params).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
    try:
        return json.loads(body)
    except ValueError:
        return {"status": "error", "errorType": "http %d" % status, "error": body[:200].decode()}


def same_value(a, b):
    if a == b:
        return True
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return abs(fa - fb) <= 1e-9 * max(abs(fa), abs(fb))


def series_points(res):
    """{labels json: [[t, v], ...]} of a vector or matrix answer, and the count of
    series (a duplicate label set would be lost in the dict)."""
    out = {}
    for s in res:
        out[json.dumps(s["metric"], sort_keys=True)] = [s["value"]] if "value" in s else s["values"]
    return out, len(res)


def difference(expr, ours, theirs, ordered):
    """None when the answers agree, else what differs."""
    if ours.get("status") != "success" or theirs.get("status") != "success":
        if ours.get("status") == theirs.get("status"):
            return None if ours.get("errorType") == theirs.get("errorType") else "error types differ"
        return "only one failed"
    a, b = ours["data"], theirs["data"]
    if a["resultType"] != b["resultType"]:
        return "result types differ"
    if a["resultType"] in ("scalar", "string"):
        ok = a["result"][0] == b["result"][0] and (
            a["result"][1] == b["result"][1] if a["resultType"] == "string" else
            same_value(a["result"][1], b["result"][1]))
        return None if ok else "values differ"
    sa, na = series_points(a["result"])
    sb, nb = series_points(b["result"])
    if na != nb or set(sa) != set(sb):
        only_a, only_b = sorted(set(sa) - set(sb))[:3], sorted(set(sb) - set(sa))[:3]
        return "series differ (%d vs %d): only ours %s, only theirs %s" % (na, nb, only_a, only_b)
    for k in sa:
        pa, pb = sa[k], sb[k]
        if [p[0] for p in pa] != [p[0] for p in pb]:
            return "timestamps of %s differ" % k
        for p, q in zip(pa, pb):
            if not same_value(p[1], q[1]):
                return "%s at %s: %s vs %s" % (k, p[0], p[1], q[1])
    if ordered:
        va = [s["value"][1] for s in a["result"]]
        vb = [s["value"][1] for s in b["result"]]
        if not all(same_value(x, y) for x, y in zip(va, vb)):
            return "order differs"
    return None


def is_sorted_query(expr):
    return re.match(r"sort(_desc)?\(", expr) is not None


def compare(servers, expr, times):
    """Both kinds of query on both servers: [(kind, difference or None, ours, theirs)]."""
    ours_url, prom = servers
    inst, (start, end, step) = times
    out = []
    for kind, path, params in (("instant", "/api/v1/query", {"query": expr, "time": inst}),
                               ("range", "/api/v1/query_range",
                                {"query": expr, "start": start, "end": end, "step": step})):
        ours, theirs = query(ours_url, path, params), query(prom, path, params)
        ordered = kind == "instant" and is_sorted_query(expr)
        out.append((kind, difference(expr, ours, theirs, ordered), ours, theirs))
    return out


def non_empty(answer):
    return answer.get("status") == "success" and answer["data"]["result"] != []


def brief(answer):
    text = json.dumps(answer)
    return text if len(text) < 600 else text[:600] + "..."


def bits(v):
    return struct.pack("<d", v)


# --- the tests -------------------------------------------------------------------------------

def test_same_data_on_both(servers):
    """What was remote-written reads back identically (stale markers and NaN included)."""
    ours_url, prom = servers
    matchers = [("__name__", "=~", ".+")]
    ours = promproto.read(ours_url, matchers, grammar.T0_MS - 60_000, grammar.END_MS + 60_000)
    theirs = promproto.read(prom, matchers, grammar.T0_MS - 60_000, grammar.END_MS + 60_000)
    sent = {tuple(sorted(labels.items())): samples for labels, samples in DATA}
    assert set(ours) == set(theirs) == set(sent)
    for key, samples in sent.items():
        want = [(t, bits(v)) for t, v in samples]
        assert [(t, bits(v)) for t, v in ours[key]] == want, key
        assert [(t, bits(v)) for t, v in theirs[key]] == want, key


def test_generated_queries_match_prometheus(servers, capsys):
    gen = grammar.Queries(grammar.catalog(DATA), seed=SEED)
    exprs = gen.generate(QUERIES)
    times = [gen.times() for _ in exprs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: compare(servers, exprs[i], times[i]), range(len(exprs))))
    compared = matched = with_data = both_failed = 0
    report = []
    for expr, t, res in zip(exprs, times, results):
        for kind, diff, ours, theirs in res:
            compared += 1
            if diff is None:
                matched += 1
                with_data += non_empty(ours)
                both_failed += ours.get("status") != "success"
            else:
                report.append("%s %s (times %s): %s\n  ours:   %s\n  theirs: %s"
                              % (kind, expr, t, diff, brief(ours), brief(theirs)))
    summary = ("promql differential: %d queries, %d answers compared (instant + range), %d matched "
               "(%d with data, %d failed on both sides)" % (len(exprs), compared, matched, with_data,
                                                            both_failed))
    with capsys.disabled():
        print("\n" + summary)
        for r in report[:40]:
            print(r)
    assert matched == compared, "%s\n%s" % (summary, "\n".join(report[:20]))
    # The grammar must keep producing answers with data, not mostly empty ones.
    assert with_data >= 0.7 * compared, summary


def doc_examples():
    """The PromQL examples of docs/queries.md: every ```promql block of its Examples
    section, one query per block."""
    text = (REPO / "docs" / "queries.md").read_text()
    section = text[text.index("\n## Examples"):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    return [b.strip() for b in re.findall(r"```promql\n(.*?)```", section, re.S)]


@pytest.mark.parametrize("expr", doc_examples())
def test_docs_examples(servers, expr):
    t = "%d.3" % (grammar.T0_MS // 1000 + 90 * 60)
    start, end = "%d.3" % (grammar.T0_MS // 1000), "%d.3" % (grammar.END_MS // 1000)
    for kind, diff, ours, theirs in compare(servers, expr, (t, (start, end, "60"))):
        assert ours["status"] == "success", (kind, ours)
        assert non_empty(ours), (kind, ours)
        assert diff is None, (kind, diff, brief(ours), brief(theirs))
