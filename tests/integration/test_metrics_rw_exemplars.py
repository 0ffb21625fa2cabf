"""Exemplars through remote_write, against Prometheus 2.42 (Debian) in both
directions: lgtm-metrics scrapes an OpenMetrics target and forwards its exemplars
(`send_exemplars: true`) to a Prometheus started with the remote-write receiver and
exemplar storage; Prometheus scrapes the same kind of target and forwards to
lgtm-metrics. /api/v1/query_exemplars on both sides must agree."""
import json
import threading
import time
from urllib.parse import urlencode

import pytest

from conftest import OPENMETRICS_TYPE, scrape_target
from conftest import http as http_req
from test_metrics_peers import forwarding_config, prometheus  # noqa: F401 (fixture)
from test_metrics_scrape import wait_for


@pytest.fixture
def counter_target():
    """A counter whose every scrape carries a new exemplar (trace id = scrape number);
    without a timestamp, the exemplar takes the scrape's."""
    hits = 0
    lock = threading.Lock()

    def body():
        nonlocal hits
        with lock:
            hits += 1
            n = hits
        return ("# TYPE req counter\n"
                "# HELP req Requests.\n"
                f'req_total{{path="/a"}} {n} # {{trace_id="t{n}"}} {n / 10}\n'
                f'req_total{{path="/b"}} {2 * n}\n'
                "# EOF\n").encode()

    with scrape_target(body, OPENMETRICS_TYPE) as address:
        yield address


def query_exemplars(url, query, start, end):
    status, _, body = http_req("GET", url + "/api/v1/query_exemplars?" +
                               urlencode({"query": query, "start": start, "end": end}))
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "success", (status, doc)
    return doc["data"]


def by_series(data, drop=()):
    """{sorted series labels (minus `drop`): [(trace labels, value, timestamp)]}."""
    out = {}
    for s in data:
        key = tuple(sorted((k, v) for k, v in s["seriesLabels"].items() if k not in drop))
        out[key] = [(tuple(sorted(e["labels"].items())), e["value"], e["timestamp"])
                    for e in s["exemplars"]]
    return out


def until(data, cutoff_s):
    return {k: [e for e in v if e[2] <= cutoff_s] for k, v in data.items()}


PROM_RECEIVER = ["--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"]


def test_we_forward_exemplars_to_prometheus(start_daemon, prometheus, counter_target):  # noqa: F811
    prom = prometheus("global: {scrape_interval: 1h}\n", extra=PROM_RECEIVER)

    d = start_daemon("metrics", config_text=forwarding_config(
        "om", counter_target, prom, "    send_exemplars: true\n"))
    start = time.time() - 60
    assert wait_for(lambda: sum(len(v) for v in by_series(
        query_exemplars(d.url, "req_total", start, time.time() + 60)).values()) >= 6, timeout=30)
    cutoff = time.time() - 2
    ours = until(by_series(query_exemplars(d.url, "req_total", start, time.time() + 60)), cutoff)
    assert list(ours) == [(("__name__", "req_total"), ("instance", counter_target), ("job", "om"),
                           ("path", "/a"))], ours
    assert len(next(iter(ours.values()))) >= 3

    # Prometheus holds the same exemplars, on the series with our external label.
    def caught_up():
        theirs = until(by_series(query_exemplars(prom, "req_total", start, time.time() + 60),
                                 drop=("site",)), cutoff)
        return theirs if theirs == ours else None
    theirs = wait_for(caught_up, timeout=20)
    got = query_exemplars(prom, "req_total", start, time.time() + 60)
    assert theirs, (ours, got)
    assert all(s["seriesLabels"].get("site") == "lab" for s in got)
    metrics = d.get("/metrics")[2].decode()
    assert 'prometheus_remote_storage_exemplars_total{remote_name="to-prometheus"' in metrics
    assert d.stop() == 0


def test_prometheus_forwards_exemplars_to_us(start_daemon, prometheus, counter_target):  # noqa: F811
    d = start_daemon("metrics")
    prom = prometheus(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: om
    static_configs: [{{targets: ['{counter_target}']}}]
remote_write:
  - url: {d.url}/api/v1/write
    send_exemplars: true
    queue_config: {{batch_send_deadline: 1s}}
""", extra=["--enable-feature=exemplar-storage"])
    start = time.time() - 60
    assert wait_for(lambda: sum(len(v) for v in by_series(
        query_exemplars(prom, "req_total", start, time.time() + 60)).values()) >= 7, timeout=30)
    cutoff = time.time() - 3
    theirs = until(by_series(query_exemplars(prom, "req_total", start, time.time() + 60)), cutoff)
    assert theirs and len(next(iter(theirs.values()))) >= 3, theirs

    def caught_up():
        ours = until(by_series(query_exemplars(d.url, "req_total", start, time.time() + 60)), cutoff)
        return ours if ours == theirs else None
    ours = wait_for(caught_up, timeout=20)
    assert ours, (theirs, query_exemplars(d.url, "req_total", start, time.time() + 60))
    assert d.stop() == 0
