"""lgtm-metrics keeps exemplars: scraped from an OpenMetrics target (a python
http.server in the test), received by remote-write, answered by
/api/v1/query_exemplars in Prometheus' JSON, and kept across a restart (WAL replay)."""
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
import snappy

import promproto
from conftest import OPENMETRICS_TYPE, scrape_target

OPENMETRICS = (
    "# TYPE foo counter\n"
    "# HELP foo A counter with an exemplar.\n"
    'foo_total 1 # {trace_id="abc"} 1 1700000000.000\n'
    "# TYPE baz counter\n"
    'baz_total 3 # {span_id="s1"} 0.5\n'
    "# EOF\n"
).encode()


@pytest.fixture
def om_target():
    with scrape_target(lambda: OPENMETRICS, OPENMETRICS_TYPE) as address:
        yield address


def wait_value(fn, timeout):
    """fn()'s first truthy value within the timeout, else the last one."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.1)


def config(target):
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: om
    static_configs:
      - targets: ['{target}']
"""


def exemplars(d, query, start, end):
    status, _, body = d.get("/api/v1/query_exemplars?" +
                            urlencode({"query": query, "start": start, "end": end}))
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "success", (status, doc)
    return doc["data"]


def push(url, series):
    """series: [(labels, [(t, v)], [(exemplar labels, t, v)])] -> status."""
    req = promproto.remote_pb2.WriteRequest()
    for labels, samples, exs in series:
        ts = req.timeseries.add()
        for k in sorted(labels):
            ts.labels.add(name=k, value=labels[k])
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
        for el, t, v in exs:
            e = ts.exemplars.add(timestamp=t, value=v)
            for k in sorted(el):
                e.labels.add(name=k, value=el[k])
    r = urllib.request.Request(url + "/api/v1/write", data=snappy.compress(req.SerializeToString()),
                               method="POST", headers={"Content-Encoding": "snappy",
                                                       "Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_scraped_and_remote_written_exemplars_survive_restart(start_daemon, om_target):
    d = start_daemon("metrics", config_text=config(om_target))
    series = {"__name__": "foo_total", "instance": om_target, "job": "om"}

    # Scraped: the exemplar's own timestamp, in Prometheus' JSON.
    got = wait_value(lambda: exemplars(d, "foo_total", 1699999990, 1700000010), timeout=15)
    assert got == [{"seriesLabels": series,
                    "exemplars": [{"labels": {"trace_id": "abc"}, "value": "1",
                                   "timestamp": 1700000000}]}], got
    # One without a timestamp takes the scrape's.
    now = time.time()
    baz = wait_value(lambda: exemplars(d, "baz_total", now - 60, now + 60), timeout=15)
    assert baz and baz[0]["exemplars"][0]["labels"] == {"span_id": "s1"}
    assert baz[0]["exemplars"][0]["value"] == "0.5"
    assert abs(baz[0]["exemplars"][0]["timestamp"] - now) < 30

    # Remote-written: stored with the samples; an out-of-order one does not fail it.
    t = int(now * 1000)
    assert push(d.url, [({"__name__": "rw_total", "job": "rw"}, [(t, 5)],
                         [({"trace_id": "rw1"}, t, 0.75)])]) == 204
    assert push(d.url, [({"__name__": "rw_total", "job": "rw"}, [(t + 1000, 6)],
                         [({"trace_id": "old"}, t - 5000, 1)])]) == 204
    rw = exemplars(d, "rw_total", now - 60, now + 60)
    assert rw == [{"seriesLabels": {"__name__": "rw_total", "job": "rw"},
                   "exemplars": [{"labels": {"trace_id": "rw1"}, "value": "0.75",
                                  "timestamp": t / 1000}]}], rw
    # Every selector of the query counts; series come sorted by labels.
    both = exemplars(d, 'sum(rate(foo_total[5m])) + on() group(rw_total{job="rw"})',
                     1699999990, now + 60)
    assert [s["seriesLabels"]["__name__"] for s in both] == ["foo_total", "rw_total"]
    # Bad input gets Prometheus' errors.
    status, _, body = d.get("/api/v1/query_exemplars?query=foo_total{&start=1&end=2")
    assert status == 400 and json.loads(body)["errorType"] == "bad_data"
    status, _, body = d.get("/api/v1/query_exemplars?query=foo_total&start=2&end=1")
    assert status == 400
    metrics = d.get("/metrics")[2].decode()
    assert "prometheus_tsdb_exemplar_max_exemplars 100000" in metrics
    assert "prometheus_tsdb_exemplar_out_of_order_exemplars_total 1" in metrics

    # A restart replays them from the WAL.
    before = exemplars(d, "{__name__=~\"foo_total|rw_total\"}", 1699999990, now + 60)
    assert d.stop() == 0
    d.args = ["--storage.exemplars.exemplars-limit=1000"]
    d.config.write_text("global: {scrape_interval: 1s}\n")  # no more scraping
    d.start()
    after = exemplars(d, "{__name__=~\"foo_total|rw_total\"}", 1699999990, now + 60)
    assert after == before and len(after) == 2, (before, after)
    assert "prometheus_tsdb_exemplar_max_exemplars 1000" in d.get("/metrics")[2].decode()
    assert d.stop() == 0

    # With the store off, the endpoint answers an empty list.
    d.args = ["--storage.exemplars.exemplars-limit=0"]
    d.start()
    assert exemplars(d, "foo_total", 1699999990, 1700000010) == []
    assert d.stop() == 0
