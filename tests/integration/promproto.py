"""Prometheus remote-write / remote-read clients for tests, on Google's protobuf
runtime (python3-protobuf) and python3-snappy: an encoder independent of our C code.

The Python message classes are generated at import time by protoc from our .proto
files into a temporary directory (the field numbers themselves are checked against
real senders' golden payloads in tests/unit/test_proto.c)."""
import atexit
import importlib
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import snappy

REPO = Path(__file__).resolve().parents[2]
PROTO = REPO / "daemons" / "lib" / "proto"

_out = tempfile.mkdtemp(prefix="lgtm-pb2-")
atexit.register(shutil.rmtree, _out, True)
subprocess.run(["protoc", f"-I{PROTO}", f"--python_out={_out}",
                "prometheus/types.proto", "prometheus/remote.proto"], check=True)
sys.path.insert(0, _out)
types_pb2 = importlib.import_module("prometheus.types_pb2")
remote_pb2 = importlib.import_module("prometheus.remote_pb2")

STALE_NAN_BITS = 0x7FF0000000000002


def write_request(series):
    """series: list of (labels dict, [(t_ms, value), ...]) -> snappy body."""
    req = remote_pb2.WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for k in sorted(labels):
            ts.labels.add(name=k, value=labels[k])
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    return snappy.compress(req.SerializeToString())


def push(url, series, timeout=10):
    """POST a remote-write request; returns (status, body text)."""
    req = urllib.request.Request(url + "/api/v1/write", data=write_request(series), method="POST",
                                 headers={"Content-Encoding": "snappy",
                                          "Content-Type": "application/x-protobuf",
                                          "X-Prometheus-Remote-Write-Version": "0.1.0"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


MATCH = {"=": 0, "!=": 1, "=~": 2, "!~": 3}


def read(url, matchers, start_ms, end_ms, timeout=30):
    """Remote read; matchers: [(name, op, value)]. Returns {labels tuple: [(t, v)]}."""
    req = remote_pb2.ReadRequest()
    q = req.queries.add(start_timestamp_ms=start_ms, end_timestamp_ms=end_ms)
    for name, op, value in matchers:
        q.matchers.add(type=MATCH[op], name=name, value=value)
    http_req = urllib.request.Request(url + "/api/v1/read", method="POST",
                                      data=snappy.compress(req.SerializeToString()),
                                      headers={"Content-Encoding": "snappy",
                                               "Content-Type": "application/x-protobuf",
                                               "X-Prometheus-Remote-Read-Version": "0.1.0"})
    with urllib.request.urlopen(http_req, timeout=timeout) as r:
        body = snappy.uncompress(r.read())
    resp = remote_pb2.ReadResponse()
    resp.ParseFromString(body)
    out = {}
    for ts in resp.results[0].timeseries:
        key = tuple((l.name, l.value) for l in ts.labels)
        out[key] = [(s.timestamp, s.value) for s in ts.samples]
    return out
