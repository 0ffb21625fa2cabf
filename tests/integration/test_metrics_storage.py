"""lgtm-metrics storage through its remote-write and remote-read APIs: round trips,
bad input, restarts, and kill -9 while a client writes (nothing acknowledged is lost)."""
import math
import random
import signal
import struct
import threading
import time

import snappy

from conftest import http
import promproto


def now_ms():
    return int(time.time() * 1000)


def stale_nan():
    return struct.unpack("<d", struct.pack("<Q", promproto.STALE_NAN_BITS))[0]


def test_write_then_read_exact(start_daemon):
    d = start_daemon("metrics")
    t0 = now_ms() - 60_000
    series = [
        ({"__name__": "http_requests_total", "job": "api", "code": "200"},
         [(t0 + i * 15_000, 1000.5 + i) for i in range(4)]),
        ({"__name__": "temperature", "room": "k\u00fcche"},
         [(t0, -3.25), (t0 + 1, math.inf), (t0 + 2, stale_nan())]),
    ]
    assert promproto.push(d.url, series) == (204, "")
    got = promproto.read(d.url, [("__name__", "=~", ".+")], t0 - 1, t0 + 100_000)
    assert len(got) == 2
    api = got[(("__name__", "http_requests_total"), ("code", "200"), ("job", "api"))]
    assert api == series[0][1]
    temp = got[(("__name__", "temperature"), ("room", "k\u00fcche"))]
    assert temp[:2] == [(t0, -3.25), (t0 + 1, math.inf)]
    assert struct.pack("<d", temp[2][1]) == struct.pack("<Q", promproto.STALE_NAN_BITS)
    # Matchers narrow the selection.
    assert list(promproto.read(d.url, [("job", "=", "api")], t0 - 1, t0 + 100_000)) == [
        (("__name__", "http_requests_total"), ("code", "200"), ("job", "api"))]
    assert d.stop() == 0


def post_write(d, body, encoding="snappy"):
    headers = {"Content-Type": "application/x-protobuf"}
    if encoding:
        headers["Content-Encoding"] = encoding
    return http("POST", d.url + "/api/v1/write", body=body, headers=headers)


def test_bad_input_gets_400_and_keeps_serving(start_daemon):
    d = start_daemon("metrics")
    t = now_ms()
    good = promproto.write_request([({"__name__": "ok"}, [(t, 1)])])
    cases = {
        "truncated snappy": good[:-3],
        "garbage protobuf": snappy.compress(b"\xff\xff\xff\xff\x0fgarbage"),
        "empty body": b"",
        "invalid label name": promproto.write_request([({"__name__": "x", "bad-name": "v"}, [(t, 1)])]),
        "10000 labels": promproto.write_request(
            [({"__name__": "wide", **{f"l{i}": "v" for i in range(10000)}}, [(t, 1)])]),
    }
    for what, body in cases.items():
        status, _, text = post_write(d, body)
        assert status == 400, (what, status, text)
        assert d.get("/-/ready")[0] == 200, what
    # Duplicate label names cannot be expressed with a dict: build that one by hand.
    req = promproto.remote_pb2.WriteRequest()
    ts = req.timeseries.add()
    for name, value in (("__name__", "dup"), ("job", "a"), ("job", "b")):
        ts.labels.add(name=name, value=value)
    ts.samples.add(timestamp=t, value=1)
    status, _, text = post_write(d, snappy.compress(req.SerializeToString()))
    assert status == 400 and b"duplicate label name: job" in text
    # A partially bad request stores its good series and names the bad one.
    status, _, text = post_write(d, promproto.write_request([
        ({"__name__": "kept_series"}, [(t, 7)]),
        ({"__name__": "9bad"}, [(t, 1)]),
    ]))
    assert status == 400 and b"invalid metric name: 9bad" in text
    got = promproto.read(d.url, [("__name__", "=", "kept_series")], t - 1, t + 1)
    assert list(got.values()) == [[(t, 7.0)]]
    # Out of order: the second write goes back in time.
    assert promproto.push(d.url, [({"__name__": "ooo"}, [(t, 1)])])[0] == 204
    status, text = promproto.push(d.url, [({"__name__": "ooo"}, [(t - 1000, 1)])])
    assert status == 400 and "out of order sample" in text
    metrics = d.get("/metrics")[2].decode()
    assert "prometheus_api_remote_write_invalid_labels_samples_total " in metrics
    assert d.stop() == 0


def test_restart_replays_wal(start_daemon):
    d = start_daemon("metrics")
    t0 = now_ms()
    series = [({"__name__": "replayed", "i": str(i)}, [(t0 + k, float(i * 10 + k)) for k in range(5)])
              for i in range(50)]
    assert promproto.push(d.url, series)[0] == 204
    before = promproto.read(d.url, [("__name__", "=", "replayed")], t0 - 1, t0 + 10)
    assert d.stop() == 0
    d.start()
    after = promproto.read(d.url, [("__name__", "=", "replayed")], t0 - 1, t0 + 10)
    assert after == before and len(after) == 50
    assert "WAL replay completed" in d.stderr()
    assert d.stop() == 0


class Writer(threading.Thread):
    """Writes batches with increasing timestamps until stopped; remembers which
    batches were acknowledged with 204."""

    def __init__(self, url, t0, first_batch):
        super().__init__(daemon=True)
        self.url, self.t0, self.batch = url, t0, first_batch
        self.acked = []
        self.stop_flag = threading.Event()

    def series(self, b):
        t = self.t0 + b * 10
        return [({"__name__": "crash_test", "s": str(s)}, [(t + k, float(b * 1000 + s * 10 + k))
                                                          for k in range(5)])
                for s in range(20)]

    def run(self):
        while not self.stop_flag.is_set():
            try:
                status, _ = promproto.push(self.url, self.series(self.batch), timeout=5)
            except OSError:
                status = None
            if status == 204:
                self.acked.append(self.batch)
            self.batch += 1
            if status is None:
                time.sleep(0.01)


def test_kill9_loses_nothing_acknowledged(start_daemon):
    d = start_daemon("metrics")
    t0 = now_ms()
    rng = random.Random(42)
    acked = []
    batch = 0
    for _ in range(5):
        w = Writer(d.url, t0, batch)
        w.start()
        time.sleep(rng.uniform(0.3, 1.0))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        w.stop_flag.set()
        w.join()
        acked += w.acked
        batch = w.batch + 1
        d.start()
    assert len(acked) > 20
    got = promproto.read(d.url, [("__name__", "=", "crash_test")], t0 - 1, t0 + batch * 10 + 10)
    have = {}
    for key, samples in got.items():
        have[dict(key)["s"]] = dict(samples)
    missing = 0
    for b in acked:
        for labels, samples in w.series(b):
            for t, v in samples:
                if have.get(labels["s"], {}).get(t) != v:
                    missing += 1
    print(f"kill -9 x5: {len(acked)} batches ({len(acked) * 100} samples) acknowledged, {missing} lost")
    assert missing == 0, f"{missing} acknowledged samples lost out of {len(acked) * 100}"
    assert d.stop() == 0


def test_out_of_order_window(start_daemon):
    d = start_daemon("metrics", config_text="storage:\n  tsdb:\n    out_of_order_time_window: 30m\n")
    t = now_ms()
    assert promproto.push(d.url, [({"__name__": "late"}, [(t, 2)])])[0] == 204
    # Ten minutes late: inside the window, accepted and merged in time order.
    assert promproto.push(d.url, [({"__name__": "late"}, [(t - 600_000, 1)])]) == (204, "")
    # An hour late: outside it.
    status, text = promproto.push(d.url, [({"__name__": "late"}, [(t - 3_600_000, 0)])])
    assert status == 400 and "too old sample" in text
    got = promproto.read(d.url, [("__name__", "=", "late")], t - 7_200_000, t + 1)
    assert list(got.values()) == [[(t - 600_000, 1.0), (t, 2.0)]]
    d.stop()
    d.start()
    got = promproto.read(d.url, [("__name__", "=", "late")], t - 7_200_000, t + 1)
    assert list(got.values()) == [[(t - 600_000, 1.0), (t, 2.0)]]
    assert d.stop() == 0
