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
