"""lgtm-metrics scraping real targets: itself and Debian's prometheus-node-exporter,
the synthetic series, /api/v1/targets, and staleness when a target goes away."""
import json
import shutil
import signal
import struct
import subprocess
import time

import pytest

import promproto
from conftest import REPO, free_port, http


def wait_for(cond, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return None


@pytest.fixture
def node_exporter():
    exe = shutil.which("prometheus-node-exporter")
    if not exe:
        pytest.skip("prometheus-node-exporter is not installed (scripts/install-deps installs it)")
    port = free_port()
    proc = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: _ok(f"http://127.0.0.1:{port}/metrics"))
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait()


def _ok(url):
    try:
        return http("GET", url, timeout=1)[0] == 200
    except OSError:
        return False


def config(targets_node):
    def render(d):
        return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['127.0.0.1:{d.port}']
  - job_name: node
    static_configs:
      - targets: {json.dumps(targets_node)}
        labels: {{env: test}}
"""
    return render


def latest(d, matchers):
    now = int(time.time() * 1000)
    got = promproto.read(d.url, matchers, now - 600_000, now + 60_000)
    return {dict(k).get("job", "") + "/" + dict(k)["__name__"]: v[-1] for k, v in got.items() if v}


def test_scrapes_self_and_node_exporter(start_daemon, node_exporter):
    d = start_daemon("metrics", config_text=config([node_exporter]))
    ups = wait_for(lambda: (lambda u: u if len(u) == 2 and all(v[1] == 1 for v in u.values()) else None)(
        latest(d, [("__name__", "=", "up")])))
    assert ups, latest(d, [("__name__", "=", "up")])
    # node_exporter's own series arrive with the target's labels.
    got = promproto.read(d.url, [("__name__", "=", "node_cpu_seconds_total")],
                         int(time.time() * 1000) - 60_000, int(time.time() * 1000) + 1000)
    assert got
    for key in got:
        labels = dict(key)
        assert labels["job"] == "node" and labels["env"] == "test"
        assert labels["instance"] == node_exporter
    synthetic = latest(d, [("__name__", "=~", "scrape_.+")])
    for name in ("scrape_duration_seconds", "scrape_samples_scraped",
                 "scrape_samples_post_metric_relabeling", "scrape_series_added"):
        assert f"node/{name}" in synthetic, synthetic.keys()
    assert synthetic["node/scrape_samples_scraped"][1] > 100
    def health():
        status, _, body = d.get("/api/v1/targets")
        doc = json.loads(body)
        assert status == 200 and doc["status"] == "success"
        return {t["labels"]["job"]: t["health"] for t in doc["data"]["activeTargets"]}
    # A target's health is recorded when its scrape report is done, just after the
    # samples are stored.
    assert wait_for(lambda: health() == {"self": "up", "node": "up"}), health()
    assert d.stop() == 0


def test_shipped_config_scrapes_itself(start_daemon):
    """The shipped lgtm-metrics.yml as is, but for the port and a 1 s interval: its
    one job scrapes the daemon's own /metrics."""
    shipped = (REPO / "daemons" / "metrics" / "lgtm-metrics.yml").read_text()
    d = start_daemon("metrics", config_text=lambda d: shipped
                     .replace("127.0.0.1:9090", f"127.0.0.1:{d.port}")
                     .replace("scrape_interval: 15s", "scrape_interval: 1s")
                     .replace("scrape_timeout: 10s", "scrape_timeout: 1s"))
    up = wait_for(lambda: latest(d, [("__name__", "=", "up")]).get("lgtm-metrics/up"))
    assert up and up[1] == 1.0, latest(d, [("__name__", "=", "up")])
    assert "lgtm-metrics/lgtm_build_info" in latest(d, [("__name__", "=", "lgtm_build_info")])
    assert d.stop() == 0


def test_removed_target_gets_stale_marker(start_daemon, node_exporter):
    d = start_daemon("metrics", config_text=config([node_exporter]))
    assert wait_for(lambda: latest(d, [("__name__", "=", "up"), ("job", "=", "node")]))
    d.config.write_text(config([])(d))
    d.signal(signal.SIGHUP)

    def stale():
        last = latest(d, [("__name__", "=", "up"), ("job", "=", "node")]).get("node/up")
        return last and struct.pack("<d", last[1]) == struct.pack("<Q", promproto.STALE_NAN_BITS)
    assert wait_for(stale), latest(d, [("__name__", "=", "up"), ("job", "=", "node")])
    assert d.stop() == 0
