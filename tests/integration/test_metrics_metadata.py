"""lgtm-metrics' metadata endpoints (GET /api/v1/metadata, /api/v1/targets/metadata)
answered from what its scrape targets say in their TYPE / HELP / UNIT lines: Debian's
prometheus-node-exporter, lgtm-metrics itself, and a small target served from this
test whose help for node_cpu_seconds_total differs; then the same questions asked of
Debian's Prometheus 2.42 scraping the same node_exporter."""
import json
import time
import urllib.parse

import pytest

from conftest import http as http_call
from conftest import scrape_target
from test_metrics_peers import prometheus  # noqa: F401 (fixture)
from test_metrics_scrape import config as scrape_config
from test_metrics_scrape import node_exporter, wait_for  # noqa: F401 (fixture)

OTHER_BODY = b"""# HELP node_cpu_seconds_total Not node_exporter's help.
# TYPE node_cpu_seconds_total gauge
node_cpu_seconds_total 1
# HELP other_only_total Only the other target has it.
# TYPE other_only_total counter
other_only_total 3
"""


@pytest.fixture
def other_target():
    with scrape_target(lambda: OTHER_BODY) as address:
        yield address


def config(node, other):
    """test_metrics_scrape's self + node jobs, and the other target."""
    def render(d):
        return scrape_config([node])(d) + f"""  - job_name: other
    static_configs: [{{targets: ['{other}']}}]
"""
    return render


def api(base, path, **params):
    """(status, parsed body) of GET base+path?params."""
    q = urllib.parse.urlencode(params)
    status, _, body = http_call("GET", f"{base}{path}" + (f"?{q}" if q else ""))
    return status, json.loads(body)


def data(base, path, **params):
    status, doc = api(base, path, **params)
    assert status == 200 and doc["status"] == "success", doc
    return doc["data"]


def exposed_help(url, family):
    """The HELP text a target gives for a family (text format, escapes resolved)."""
    _, _, body = http_call("GET", url)
    prefix = f"# HELP {family} "
    for line in body.decode().splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].replace("\\n", "\n").replace("\\\\", "\\")
    raise AssertionError(f"{family} has no HELP at {url}")


@pytest.fixture
def scraping(start_daemon, node_exporter, other_target):
    d = start_daemon("metrics", config_text=config(node_exporter, other_target))

    def ready():
        got = data(d.url, "/api/v1/metadata", metric="node_cpu_seconds_total")
        return len(got.get("node_cpu_seconds_total", [])) == 2 and \
            data(d.url, "/api/v1/metadata", metric="lgtm_build_info")
    assert wait_for(ready, timeout=15), data(d.url, "/api/v1/metadata")
    return d


def test_metadata(scraping, node_exporter):
    d = scraping
    help_text = exposed_help(f"http://{node_exporter}/metrics", "node_cpu_seconds_total")
    everything = data(d.url, "/api/v1/metadata")
    # node_exporter's counter and the other target's gauge, each once.
    assert sorted(everything["node_cpu_seconds_total"], key=lambda m: m["type"]) == [
        {"type": "counter", "help": help_text, "unit": ""},
        {"type": "gauge", "help": "Not node_exporter's help.", "unit": ""},
    ]
    assert everything["other_only_total"] == [
        {"type": "counter", "help": "Only the other target has it.", "unit": ""}]
    assert everything["node_load1"][0]["type"] == "gauge"
    assert everything["go_gc_duration_seconds"] == [
        {"type": "summary", "help": exposed_help(f"http://{node_exporter}/metrics",
                                                 "go_gc_duration_seconds"), "unit": ""}]
    assert "lgtm_build_info" in everything  # from lgtm-metrics' own /metrics
    # The synthetic series carry no metadata, as upstream.
    assert "up" not in everything and "scrape_duration_seconds" not in everything
    assert len(everything) > 200

    # limit: that many families (the first by name); 0: none; negative: all.
    five = data(d.url, "/api/v1/metadata", limit=5)
    assert sorted(five) == sorted(everything)[:5]
    assert data(d.url, "/api/v1/metadata", limit=0) == {}
    assert len(data(d.url, "/api/v1/metadata", limit=-1)) >= len(everything)
    # limit_per_metric: that many entries per family.
    one = data(d.url, "/api/v1/metadata", limit_per_metric=1)
    assert len(one["node_cpu_seconds_total"]) == 1
    assert all(len(v) == 1 for v in one.values())
    # metric: that family only.
    assert data(d.url, "/api/v1/metadata", metric="node_load1") == {
        "node_load1": [{"type": "gauge", "help": exposed_help(f"http://{node_exporter}/metrics",
                                                              "node_load1"), "unit": ""}]}
    assert data(d.url, "/api/v1/metadata", metric="no_such_metric") == {}
    assert data(d.url, "/api/v1/metadata", metric="node_cpu_seconds_total",
                limit_per_metric=1)["node_cpu_seconds_total"][0]["type"] in ("counter", "gauge")

    for param in ("limit", "limit_per_metric"):
        status, doc = api(d.url, "/api/v1/metadata", **{param: "1.5"})
        assert status == 400
        assert doc == {"status": "error", "errorType": "bad_data",
                       "error": f"{param} must be a number"}
    assert d.stop() == 0


def test_targets_metadata(scraping, node_exporter, other_target):
    d = scraping
    node = data(d.url, "/api/v1/targets/metadata", match_target='{job="node"}')
    assert node and all(i["target"] == {"env": "test", "instance": node_exporter, "job": "node"}
                        for i in node)
    cpu = [i for i in node if i["metric"] == "node_cpu_seconds_total"]
    assert cpu == [{"target": {"env": "test", "instance": node_exporter, "job": "node"},
                    "metric": "node_cpu_seconds_total", "type": "counter",
                    "help": exposed_help(f"http://{node_exporter}/metrics",
                                         "node_cpu_seconds_total"), "unit": ""}]
    # Within a target, families by name.
    names = [i["metric"] for i in node]
    assert names == sorted(names) and len(names) == len(set(names))

    # metric: one item per target that has the family, without a "metric" key.
    both = data(d.url, "/api/v1/targets/metadata", metric="node_cpu_seconds_total")
    assert sorted((i["target"]["job"], i["type"]) for i in both) == [
        ("node", "counter"), ("other", "gauge")]
    assert all("metric" not in i for i in both)
    regex = data(d.url, "/api/v1/targets/metadata", metric="node_cpu_seconds_total",
                 match_target='{job=~"oth.*", instance!=""}')
    assert [i["target"] for i in regex] == [{"instance": other_target, "job": "other"}]
    assert data(d.url, "/api/v1/targets/metadata", metric="node_cpu_seconds_total",
                match_target='{job="self"}') == []
    # A label no target has is "" for the matchers; a metric name matches no target.
    assert len(data(d.url, "/api/v1/targets/metadata", metric="node_cpu_seconds_total",
                    match_target='{nope=""}')) == 2
    assert data(d.url, "/api/v1/targets/metadata", match_target="node_load1") == []
    # limit, checked before each target as upstream does.
    assert len(data(d.url, "/api/v1/targets/metadata", metric="node_cpu_seconds_total",
                    limit=1)) == 1
    assert data(d.url, "/api/v1/targets/metadata", limit=0) == []
    everything = data(d.url, "/api/v1/targets/metadata")
    assert {i["target"]["job"] for i in everything} == {"self", "node", "other"}

    status, doc = api(d.url, "/api/v1/targets/metadata", match_target='{job="node"')
    assert status == 400 and doc["errorType"] == "bad_data"
    assert doc["error"].startswith('invalid parameter "match_target": ')
    status, doc = api(d.url, "/api/v1/targets/metadata", limit="x")
    assert status == 400 and doc["error"] == "limit must be a number"
    assert d.stop() == 0


def test_same_answers_as_prometheus(start_daemon, prometheus, node_exporter):  # noqa: F811
    """Prometheus 2.42 and lgtm-metrics scraping the same node_exporter give the same
    metadata, family for family."""
    scrape = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ['{node_exporter}']}}]
"""
    d = start_daemon("metrics", config_text=scrape)
    prom = prometheus(scrape)
    query = {"match_target": '{job="node"}'}
    def settled(url):
        # A read can land in the middle of a scrape's parse: wait for two equal answers
        # a scrape interval apart.
        def read():
            return sorted(json.dumps(i, sort_keys=True)
                          for i in data(url, "/api/v1/targets/metadata", **query))
        first = read()
        time.sleep(1.5)
        return first and first == read()
    assert wait_for(lambda: settled(prom), timeout=40)
    assert wait_for(lambda: settled(d.url), timeout=20)
    theirs = data(prom, "/api/v1/targets/metadata", **query)
    ours = data(d.url, "/api/v1/targets/metadata", **query)
    assert sorted(json.dumps(i, sort_keys=True) for i in ours) == \
        sorted(json.dumps(i, sort_keys=True) for i in theirs)
    assert data(d.url, "/api/v1/metadata") == data(prom, "/api/v1/metadata")
    for q in ({"metric": "node_cpu_seconds_total"}, {"metric": "nope"}, {"limit": "0"}):
        assert data(d.url, "/api/v1/metadata", **q) == data(prom, "/api/v1/metadata", **q)
    assert data(d.url, "/api/v1/targets/metadata", metric="node_load1") == \
        data(prom, "/api/v1/targets/metadata", metric="node_load1")
    assert d.stop() == 0
