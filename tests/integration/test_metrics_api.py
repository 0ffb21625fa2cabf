"""lgtm-metrics' Prometheus HTTP API endpoints (status, metadata), envelopes as
Prometheus answers them."""
import json
import signal
import time


def get_json(d, path):
    status, headers, body = d.get(path)
    assert headers.get("Content-Type", "").startswith("application/json"), (path, headers)
    return status, json.loads(body)


def test_status_runtimeinfo_and_config(start_daemon):
    d = start_daemon("metrics")
    status, doc = get_json(d, "/api/v1/status/runtimeinfo")
    assert status == 200 and doc["status"] == "success"
    info = doc["data"]
    assert info["reloadConfigSuccess"] is True
    assert info["startTime"].endswith("Z") and info["GOMAXPROCS"] >= 1
    status, doc = get_json(d, "/api/v1/status/config")
    assert status == 200
    assert "scrape_interval: 15s" in doc["data"]["yaml"]
    # A failed reload shows in runtimeinfo.
    d.config.write_text("global: [broken\n")
    d.signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline:
        if not get_json(d, "/api/v1/status/runtimeinfo")[1]["data"]["reloadConfigSuccess"]:
            break
        time.sleep(0.05)
    assert get_json(d, "/api/v1/status/runtimeinfo")[1]["data"]["reloadConfigSuccess"] is False
    # Grafana's alerting UI takes a 200 on flags for Thanos: it must stay absent.
    assert d.get("/api/v1/status/flags")[0] == 404
    assert d.stop() == 0


def seed(d):
    import promproto
    t = int(time.time() * 1000)
    series = [
        ({"__name__": "up", "job": "node", "instance": "a:9100"}, [(t, 1)]),
        ({"__name__": "up", "job": "node", "instance": "b:9100"}, [(t, 0)]),
        ({"__name__": "up", "job": "api", "instance": "c:80"}, [(t, 1)]),
        ({"__name__": "http_requests_total", "job": "api", "code": "500"}, [(t, 3)]),
    ]
    assert promproto.push(d.url, series)[0] == 204
    return t


def post_form(d, path, pairs):
    from urllib.parse import urlencode
    from conftest import http
    body = urlencode(pairs).encode()
    status, headers, raw = http("POST", d.url + path, body=body,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    return status, json.loads(raw)


def test_series_labels_values(start_daemon):
    d = start_daemon("metrics")
    seed(d)
    status, doc = get_json(d, "/api/v1/series?match[]=up%7Bjob%3D%22node%22%7D")
    assert status == 200
    assert doc["data"] == [
        {"__name__": "up", "instance": "a:9100", "job": "node"},
        {"__name__": "up", "instance": "b:9100", "job": "node"},
    ]
    # Several match[] are a union; POST form works like GET (Grafana's default).
    status, doc = post_form(d, "/api/v1/series", [("match[]", 'up{job="api"}'),
                                                  ("match[]", '{__name__=~"http_.+"}')])
    assert status == 200 and [s["__name__"] for s in doc["data"]] == ["http_requests_total", "up"]
    status, doc = get_json(d, "/api/v1/labels")
    assert doc["data"] == ["__name__", "code", "instance", "job"]
    status, doc = get_json(d, "/api/v1/labels?match[]=up")
    assert doc["data"] == ["__name__", "instance", "job"]
    status, doc = get_json(d, "/api/v1/label/job/values")
    assert doc["data"] == ["api", "node"]
    status, doc = get_json(d, "/api/v1/label/__name__/values?match[]=%7Bjob%3D%22api%22%7D")
    assert doc["data"] == ["http_requests_total", "up"]
    status, doc = get_json(d, "/api/v1/label/instance/values?limit=1")
    assert doc["data"] == ["a:9100"] and doc["warnings"] == ["results truncated due to limit"]
    # Time range outside the data: nothing.
    status, doc = get_json(d, "/api/v1/label/job/values?start=0&end=1")
    assert doc["data"] == []
    assert d.stop() == 0


def test_metadata_errors(start_daemon):
    d = start_daemon("metrics")
    status, doc = get_json(d, "/api/v1/series")
    assert status == 400 and doc == {"status": "error", "errorType": "bad_data",
                                     "error": "no match[] parameter provided"}
    status, doc = get_json(d, "/api/v1/series?match[]=up%7B")
    assert status == 400 and doc["error"].startswith('invalid parameter "match[]": 1:4: parse error')
    status, doc = get_json(d, "/api/v1/series?match[]=%7Bjob%3D%22%22%7D")
    assert status == 400 and doc["error"] == "match[] must contain at least one non-empty matcher"
    status, doc = get_json(d, "/api/v1/labels?start=yesterday")
    assert status == 400 and doc["error"] == \
        'invalid parameter "start": cannot parse "yesterday" to a valid timestamp'
    status, doc = get_json(d, "/api/v1/label/bad-name/values")
    assert status == 400 and doc["error"] == 'invalid label name: "bad-name"'
    assert d.get("/-/ready")[0] == 200
    assert d.stop() == 0


def test_federate(start_daemon):
    import promproto

    def cfg(d):
        return "global:\n  external_labels: {site: lab, job: ignored}\n"
    d = start_daemon("metrics", config_text=cfg)
    t = int(time.time() * 1000)
    assert promproto.push(d.url, [
        ({"__name__": "up", "job": "node", "instance": "a"}, [(t - 2000, 0), (t - 1000, 1)]),
        ({"__name__": "up", "job": "api", "instance": "b"}, [(t - 1000, 1)]),
        ({"__name__": "gone", "job": "api"}, [(t - 2000, 5), (t - 1000, promproto_stale())]),
        ({"__name__": "http_requests_total", "job": "api", "path": 'a"b\\c'}, [(t - 1000, 1e6)]),
    ])[0] == 204
    status, headers, body = d.get("/federate?match[]=%7Bjob%3D~%22.%2B%22%7D&match[]=up")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert text == (
        "# TYPE http_requests_total untyped\n"
        f'http_requests_total{{job="api",path="a\\"b\\\\c",site="lab"}} 1e+06 {t - 1000}\n'
        "# TYPE up untyped\n"
        f'up{{instance="a",job="node",site="lab"}} 1 {t - 1000}\n'
        f'up{{instance="b",job="api",site="lab"}} 1 {t - 1000}\n')
    assert d.get("/federate")[0] == 400
    assert d.get("/federate?match[]=up%7B")[0] == 400
    assert d.stop() == 0


def promproto_stale():
    import struct
    import promproto
    return struct.unpack("<d", struct.pack("<Q", promproto.STALE_NAN_BITS))[0]


def test_subquery_step_follows_evaluation_interval(start_daemon):
    """A `[range:]` subquery steps by global.evaluation_interval, as in Prometheus, and
    a reload that changes it changes the step."""
    import promproto
    from conftest import http
    d = start_daemon("metrics", config_text="global:\n  evaluation_interval: 1m\n",
                     args=["--web.enable-lifecycle"])
    end = (int(time.time()) // 60) * 60 * 1000
    samples = [(t, 1.0) for t in range(end - 900_000, end + 1, 10_000)]
    assert promproto.push(d.url, [({"__name__": "sq_test"}, samples)])[0] == 204

    def count():
        status, doc = get_json(d, f"/api/v1/query?query=count_over_time(sq_test[5m:])&time={end / 1000}")
        assert status == 200, doc
        return doc["data"]["result"][0]["value"][1]
    assert count() == "5"
    d.config.write_text("global:\n  evaluation_interval: 30s\n")
    assert http("POST", d.url + "/-/reload")[0] == 200
    assert count() == "10"
    # An explicit step is the query's own.
    status, doc = get_json(d, f"/api/v1/query?query=count_over_time(sq_test[5m:1m])&time={end / 1000}")
    assert doc["data"]["result"][0]["value"][1] == "5"
    # Without the key, Prometheus' default (1m) again.
    d.config.write_text("global: {}\n")
    assert http("POST", d.url + "/-/reload")[0] == 200
    assert count() == "5"
    assert d.stop() == 0
