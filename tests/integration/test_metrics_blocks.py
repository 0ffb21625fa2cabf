"""lgtm-metrics persistent blocks through the daemon: blocks cut in the background
(1-minute blocks here), data read back across blocks and head before and after a
restart and after kill -9, promtool reading the data directory, the snapshot admin
endpoint and /api/v1/status/tsdb."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import http, wait_for
import promproto

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
BLOCK_FLAGS = ["--storage.tsdb.min-block-duration=1m"]


def blocks(d):
    data = d.dir / "data"
    return sorted(p.name for p in data.iterdir() if ULID.match(p.name)) if data.exists() else []


def ten_minutes(n_series=20):
    """Samples every 5 s over the last ten minutes, in time order per series."""
    t0 = (int(time.time() * 1000) // 1000) * 1000 - 600_000
    return t0, [({"__name__": "blocky", "s": str(s)},
                 [(t0 + k * 5000, float(s * 1000 + k)) for k in range(120)])
                for s in range(n_series)]


def push_in_time_order(d, series):
    """One request per timestamp: with 1-minute blocks the head takes samples only
    30 s behind its newest one, so series cannot be sent one after another."""
    steps = len(series[0][1])
    for k in range(steps):
        status, text = promproto.push(d.url, [(labels, [samples[k]]) for labels, samples in series])
        assert status == 204, text


def read_all(d, t0):
    got = promproto.read(d.url, [("__name__", "=", "blocky")], t0 - 1, t0 + 700_000)
    return {dict(k)["s"]: v for k, v in got.items()}


def expected(series):
    return {labels["s"]: samples for labels, samples in series}


def ten_minutes_later(series, t0, n):
    """n more samples per series after the first ten minutes, value 1."""
    return [({"__name__": "blocky", "s": s["s"]},
             [(t0 + 600_000 + k * 5000, 1.0) for k in range(n)]) for s, _ in series]


def more_then_restart(d, series, t0, n):
    """n more samples per series, a clean restart, and everything read back."""
    later = ten_minutes_later(series, t0, n)
    push_in_time_order(d, later)
    assert d.stop() == 0
    d.start()
    assert read_all(d, t0) == expected_with(series, later)
    assert d.stop() == 0


def expected_with(series, later):
    want = expected(series)
    for labels, samples in later:
        want[labels["s"]] = want[labels["s"]] + samples
    return want


def test_blocks_cut_in_background_and_survive_restart(start_daemon):
    d = start_daemon("metrics", args=BLOCK_FLAGS)
    t0, series = ten_minutes()
    push_in_time_order(d, series)
    # The append woke the maintenance thread: the head spans 10 min > 1.5 x 1 min.
    assert wait_for(lambda: len(blocks(d)) >= 3, 15), d.stderr()
    assert wait_for(lambda: "Wrote block from the head" in d.stderr())
    assert read_all(d, t0) == expected(series)
    metrics = d.get("/metrics")[2].decode()
    assert re.search(r"^prometheus_tsdb_blocks_loaded [1-9]", metrics, re.M), metrics
    assert d.stop() == 0
    d.start()
    assert read_all(d, t0) == expected(series)
    assert "Loading blocks" in d.stderr()
    # kill -9 after more writes: acknowledged samples survive in blocks + WAL.
    later = ten_minutes_later(series, t0, 6)
    push_in_time_order(d, later)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.start()
    assert read_all(d, t0) == expected_with(series, later)
    assert d.stop() == 0


@pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK), reason="promtool (prometheus package) not installed")
def test_promtool_reads_the_data_directory(start_daemon):
    d = start_daemon("metrics", args=BLOCK_FLAGS)
    t0, series = ten_minutes(5)
    push_in_time_order(d, series)
    assert wait_for(lambda: len(blocks(d)) >= 3, 15), d.stderr()
    assert d.stop() == 0
    out = subprocess.run([PROMTOOL, "tsdb", "list", str(d.dir / "data")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    for b in blocks(d):
        assert b in out.stdout
    b = blocks(d)[0]
    out = subprocess.run([PROMTOOL, "tsdb", "analyze", str(d.dir / "data"), b],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Series: 5" in out.stdout


@pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK), reason="promtool (prometheus package) not installed")
def test_promtool_dumps_the_compressed_wal(start_daemon):
    """The default WAL compression (snappy) is Prometheus' own: promtool 2.42 replays
    our WAL when it dumps the data directory; zstd records replay after a switch."""
    d = start_daemon("metrics")
    t0, series = ten_minutes(3)
    push_in_time_order(d, series)
    assert d.stop() == 0
    seg = (d.dir / "data" / "wal" / "00000000").read_bytes()
    assert seg[0] & 0x08, "first WAL record is not snappy-compressed"
    out = subprocess.run([PROMTOOL, "tsdb", "dump", str(d.dir / "data")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count('{__name__="blocky"') == 3 * 120, out.stdout[-2000:]
    assert f'{{__name__="blocky", s="2"}} 2119 {t0 + 119 * 5000}' in out.stdout
    d.args = ["--storage.tsdb.wal-compression-type=zstd"]
    d.start()
    more_then_restart(d, series, t0, 3)


def test_snapshot_needs_admin_api(start_daemon):
    d = start_daemon("metrics", args=BLOCK_FLAGS)
    status, _, body = http("POST", d.url + "/api/v1/admin/tsdb/snapshot")
    assert status == 500
    assert json.loads(body) == {"status": "error", "errorType": "unavailable",
                                "error": "admin APIs disabled"}
    assert d.stop() == 0


def test_snapshot(start_daemon):
    d = start_daemon("metrics", args=BLOCK_FLAGS + ["--web.enable-admin-api"])
    t0, series = ten_minutes(3)
    push_in_time_order(d, series)
    assert wait_for(lambda: len(blocks(d)) >= 3, 15), d.stderr()
    status, _, body = http("POST", d.url + "/api/v1/admin/tsdb/snapshot")
    assert status == 200, body
    doc = json.loads(body)
    assert doc["status"] == "success"
    name = doc["data"]["name"]
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{16}$", name)
    snap = d.dir / "data" / "snapshots" / name
    snap_blocks = sorted(p.name for p in snap.iterdir())
    on_disk = set(blocks(d))
    # Every block at snapshot time (compaction may run after) plus one with the head.
    assert len(snap_blocks) >= 2
    assert any(b not in on_disk for b in snap_blocks) or len(snap_blocks) > len(on_disk)
    status, _, body = http("PUT", d.url + "/api/v1/admin/tsdb/snapshot?skip_head=true")
    assert status == 200, body
    status, _, body = http("POST", d.url + "/api/v1/admin/tsdb/snapshot?skip_head=maybe")
    assert status == 400 and json.loads(body)["errorType"] == "bad_data"
    assert d.stop() == 0


def test_status_tsdb(start_daemon):
    d = start_daemon("metrics")
    now = int(time.time() * 1000)
    series = [({"__name__": "req_total", "code": str(c), "job": "api"}, [(now, 1.0)]) for c in range(12)]
    series.append(({"__name__": "up", "job": "node"}, [(now - 1000, 1.0)]))
    assert promproto.push(d.url, series)[0] == 204
    status, headers, body = d.get("/api/v1/status/tsdb")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["status"] == "success"
    data = doc["data"]
    assert data["headStats"]["numSeries"] == 13
    assert data["headStats"]["chunkCount"] == 13
    assert data["headStats"]["minTime"] == now - 1000
    assert data["headStats"]["maxTime"] == now
    assert data["headStats"]["numLabelPairs"] == 2 + 12 + 2
    assert data["seriesCountByMetricName"] == [{"name": "req_total", "value": 12},
                                               {"name": "up", "value": 1}]
    assert data["labelValueCountByLabelName"][0] == {"name": "code", "value": 12}
    assert len(data["seriesCountByLabelValuePair"]) == 10
    # Ties are ordered by name.
    assert data["seriesCountByLabelValuePair"][:2] == [{"name": "__name__=req_total", "value": 12},
                                                       {"name": "job=api", "value": 12}]
    assert [e["name"] for e in data["memoryInBytesByLabelName"]][:1] == ["__name__"]
    status, _, body = d.get("/api/v1/status/tsdb?limit=0")
    assert status == 400
    assert d.stop() == 0


DENSE_FLAGS = ["--storage.tsdb.block-encoding=dense", "--storage.tsdb.wal-encoding=dense",
               "--storage.tsdb.wal-compression-type=zstd"]


def test_dense_formats_survive_kill_and_switch_back(start_daemon):
    """lgtm's own chunk and WAL sample layouts: acknowledged samples survive kill -9, and
    switching back to Prometheus' formats replays the columnar WAL records and reads the
    dense blocks (rewritten in the background) before and after more writes."""
    d = start_daemon("metrics", args=BLOCK_FLAGS + DENSE_FLAGS)
    t0, series = ten_minutes(10)
    push_in_time_order(d, series)
    assert wait_for(lambda: len(blocks(d)) >= 3, 15), d.stderr()
    assert read_all(d, t0) == expected(series)
    d.kill9()
    d.start()
    assert read_all(d, t0) == expected(series)
    d.args = BLOCK_FLAGS
    assert d.stop() == 0
    d.start()
    assert read_all(d, t0) == expected(series)
    more_then_restart(d, series, t0, 4)
