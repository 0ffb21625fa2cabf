"""Real peers from Debian: Prometheus 2.42 scrapes node_exporter and remote-writes to
lgtm-metrics; the samples read back from both (remote read on each side) are identical."""
import time

import pytest

import promproto
from conftest import start_prometheus
from test_metrics_scrape import node_exporter, wait_for  # noqa: F401 (fixture)


@pytest.fixture
def prometheus(tmp_path):
    procs = []

    def start(config_text, extra=()):
        proc, url = start_prometheus(tmp_path, config_text, extra)
        procs.append(proc)
        return url

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_prometheus_remote_writes_to_us(start_daemon, prometheus, node_exporter):
    d = start_daemon("metrics")
    prom = prometheus(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  external_labels: {{replica: a}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ['{node_exporter}']}}]
remote_write:
  - url: {d.url}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, max_shards: 2}}
""")
    matchers = [("job", "=", "node"), ("__name__", "=~", "up|node_load1|node_cpu_seconds_total|scrape_.+")]
    # Let Prometheus scrape a few times, then compare everything up to a cutoff that
    # its remote-write queue has had time to send.
    assert wait_for(lambda: max([len(v) for v in promproto.read(
        prom, [("__name__", "=", "up")], 0, int(time.time() * 1000)).values()] or [0]) >= 5,
        timeout=30)
    cutoff = int(time.time() * 1000) - 2000
    theirs = promproto.read(prom, matchers, 0, cutoff)
    assert theirs and sum(len(v) for v in theirs.values()) > 20, theirs
    # Prometheus' remote read adds its external labels, as its remote write does.
    assert all(("replica", "a") in k for k in theirs)
    expected = theirs

    def caught_up():
        ours = promproto.read(d.url, matchers, 0, cutoff)
        return ours if ours == expected else None
    ours = wait_for(caught_up, timeout=20)
    if ours is None:
        ours = promproto.read(d.url, matchers, 0, cutoff)
        missing = set(expected) - set(ours)
        diff = [k for k in expected if k in ours and ours[k] != expected[k]]
        pytest.fail(f"{len(missing)} series missing, {len(diff)} series differ, of {len(expected)}")
    assert d.stop() == 0


def forwarding_config(job, target, prom, entry_extra=""):
    """lgtm-metrics scraping `target` every second as `job`, with the external label
    site=lab, and remote-writing to the Prometheus at `prom` ("to-prometheus");
    entry_extra: more keys of that remote_write entry."""
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  external_labels: {{site: lab}}
scrape_configs:
  - job_name: {job}
    static_configs: [{{targets: ['{target}']}}]
remote_write:
  - url: {prom}/api/v1/write
    name: to-prometheus
    queue_config: {{batch_send_deadline: 1s}}
{entry_extra}"""


def test_we_remote_write_to_prometheus(start_daemon, prometheus, node_exporter):
    prom = prometheus("global: {scrape_interval: 1h}\n", extra=["--web.enable-remote-write-receiver"])

    d = start_daemon("metrics", config_text=forwarding_config("node", node_exporter, prom))
    matchers = [("job", "=", "node"), ("__name__", "=~", "up|node_load1|node_cpu_seconds_total|scrape_.+")]
    assert wait_for(lambda: max([len(v) for v in promproto.read(
        d.url, [("__name__", "=", "up")], 0, int(time.time() * 1000)).values()] or [0]) >= 5,
        timeout=30)
    cutoff = int(time.time() * 1000) - 2000
    ours = promproto.read(d.url, matchers, 0, cutoff)
    assert ours and sum(len(v) for v in ours.values()) > 20
    # Prometheus stores what we sent, with our external label added by the sender.
    expected = {tuple(sorted(k + (("site", "lab"),))): v for k, v in ours.items()}

    def caught_up():
        theirs = promproto.read(prom, matchers, 0, cutoff)
        return theirs if theirs == expected else None
    if wait_for(caught_up, timeout=20) is None:
        theirs = promproto.read(prom, matchers, 0, cutoff)
        pytest.fail(f"{len(set(expected) - set(theirs))} series missing, "
                    f"{sum(1 for k in expected if k in theirs and theirs[k] != expected[k])} differ, "
                    f"of {len(expected)}")
    metrics = d.get("/metrics")[2].decode()
    assert 'prometheus_remote_storage_samples_total{remote_name="to-prometheus"' in metrics
    assert d.stop() == 0
