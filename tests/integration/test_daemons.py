"""The behaviour every daemon shares (DESIGN.md section 4), checked on the real binaries."""
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest

from conftest import DAEMONS, http, run_bin, wait_for

BUILDINFO = {
    "metrics": ("/api/v1/status/buildinfo", True),
    "longterm": ("/prometheus/api/v1/status/buildinfo", True),
    "logs": ("/loki/api/v1/status/buildinfo", False),
    "traces": ("/api/status/buildinfo", False),
    "collector": ("/api/v1/status/buildinfo", True),
}


@pytest.mark.parametrize("name", DAEMONS)
def test_version_and_help(name):
    r = run_bin(name, "--version")
    assert r.returncode == 0
    assert re.match(rf"lgtm-{name}, version \S+ \(branch: \S+, revision: \S+\)", r.stdout)
    r = run_bin(name, "--help")
    assert r.returncode == 0
    assert "--config.file" in r.stdout and "--web.listen-address" in r.stdout


@pytest.mark.parametrize("name", DAEMONS)
def test_bad_flags_exit_2(name):
    r = run_bin(name, "--no-such-flag")
    assert r.returncode == 2
    assert "unknown flag --no-such-flag" in r.stderr and "usage:" in r.stderr
    r = run_bin(name, "--log.level=loud")
    assert r.returncode == 2
    assert "--log.level" in r.stderr


@pytest.mark.parametrize("name", DAEMONS)
def test_check_config_default(name, tmp_path):
    from conftest import REPO
    r = run_bin(name, "--check-config", f"--config.file={REPO}/daemons/{name}/lgtm-{name}.yml")
    assert r.returncode == 0, r.stderr
    assert "SUCCESS" in r.stdout


@pytest.mark.parametrize("name", DAEMONS)
def test_check_config_unknown_key(name, tmp_path):
    from conftest import default_config
    text = default_config(name).rstrip("\n") + "\nno_such_key: 1\n"
    line = text.count("\n")  # the key is on the last line
    cfg = tmp_path / "bad.yml"
    cfg.write_text(text)
    r = run_bin(name, "--check-config", f"--config.file={cfg}")
    assert r.returncode == 1
    assert f"{cfg}:{line}:" in r.stderr, r.stderr
    assert "no_such_key" in r.stderr


@pytest.mark.parametrize("name", DAEMONS)
def test_missing_config_file_fails_start(name, tmp_path):
    r = run_bin(name, f"--config.file={tmp_path}/absent.yml", f"--storage.path={tmp_path}/d",
                "--web.listen-address=127.0.0.1:0")
    assert r.returncode == 1
    assert "absent.yml" in r.stderr


@pytest.mark.parametrize("name", DAEMONS)
def test_health_metrics_buildinfo(name, start_daemon):
    d = start_daemon(name)
    for path in ("/-/healthy", "/-/ready", "/ready"):
        assert d.get(path)[0] == 200, path
    status, headers, body = d.get("/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert re.search(rf'^lgtm_build_info\{{.*daemon="lgtm-{name}".*\}} 1$', text, re.M)
    for m in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
              "process_start_time_seconds"):
        assert re.search(rf"^{m} ", text, re.M), m
    promtool = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr

    path, envelope = BUILDINFO[name]
    status, _, body = d.get(path)
    assert status == 200
    info = json.loads(body)
    if envelope:
        assert info["status"] == "success"
        info = info["data"]
    assert info["version"] and info["revision"]

    status, _, body = d.get("/no/such/path")
    assert status == 404 and body == b"404 page not found\n"
    assert d.stop() == 0


def test_collector_health_check_extension(start_daemon):
    d = start_daemon("collector")
    status, _, body = http("GET", f"http://127.0.0.1:{d.health_port}/")
    assert status == 200
    doc = json.loads(body)
    assert doc["status"] == "Server available" and doc["upSince"] and doc["uptime"].endswith("s")
    assert d.stop() == 0


def reload_metric(d, prefix):
    text = d.get("/metrics")[2].decode()
    m = re.search(rf"^{prefix}_config_last_reload_successful (\S+)$", text, re.M)
    return m and float(m.group(1))


PREFIX = {"metrics": "prometheus", "longterm": "cortex", "logs": "loki", "traces": "tempo",
          "collector": "otelcol"}


@pytest.mark.parametrize("name", DAEMONS)
def test_sighup_with_broken_config_keeps_old(name, start_daemon):
    d = start_daemon(name)
    good = d.config.read_text()
    d.config.write_text(good + "\nthis is: [not valid yaml\n")
    d.signal(signal.SIGHUP)
    assert wait_for(lambda: reload_metric(d, PREFIX[name]) == 0.0), d.stderr()
    assert "keeping the old one" in d.stderr()
    assert d.get("/-/ready")[0] == 200
    d.config.write_text(good)
    d.signal(signal.SIGHUP)
    assert wait_for(lambda: reload_metric(d, PREFIX[name]) == 1.0)
    assert d.stop() == 0


@pytest.mark.parametrize("name", DAEMONS)
def test_sigterm_exits_zero(name, start_daemon):
    d = start_daemon(name)
    t0 = time.time()
    assert d.stop(timeout=10) == 0
    assert time.time() - t0 < 10
    assert "See you next time" in d.stderr()


def test_second_instance_on_same_data_dir_fails(start_daemon, tmp_path):
    a = start_daemon("logs")
    r = run_bin("logs", f"--config.file={a.config}", f"--storage.path={a.dir / 'data'}",
                "--web.listen-address=127.0.0.1:0")
    assert r.returncode == 1
    assert "lock data directory" in r.stderr


def test_systemd_notify_protocol(start_daemon, tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    d = start_daemon("traces", env={"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "200000"},
                     wait=False)

    def until(prefix):
        seen = []
        while True:
            msg = sock.recv(4096).decode()
            seen.append(msg)
            if msg.startswith(prefix):
                return seen

    seen = until("READY=1")
    assert any(m.startswith("STATUS=") for m in seen)
    assert d.get("/-/ready")[0] == 200  # READY=1 came after the listener was bound
    assert "WATCHDOG=1" in until("WATCHDOG=1")[-1]
    d.signal(signal.SIGHUP)
    until("RELOADING=1")
    until("READY=1")
    d.signal(signal.SIGTERM)
    until("STOPPING=1")
    assert d.proc.wait(timeout=10) == 0
    sock.close()


def raw_request(port, head, body=b"", read=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head + body)
    data = b""
    if read:
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    s.close()
    return data


def snappy_bomb(declared):
    """A snappy block whose header declares `declared` bytes: 1 literal, then copies."""
    out = bytearray()
    v = declared
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    out += b"\x00a" + b"\xfe\x01\x00" * 4096
    return bytes(out)


def test_body_limits(start_daemon):
    d = start_daemon("metrics", args=["--web.enable-lifecycle"])
    # 100 MB announced: refused from the header, before the body is read.
    resp = raw_request(d.port, b"POST /-/reload HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 104857600\r\n\r\n", b"x" * 65536)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert d.get("/-/ready")[0] == 200
    # The same through a chunked body that grows past the limit.
    status, _, _ = http("POST", d.url + "/-/reload", body=iter([b"y" * (1 << 20)] * 100),
                        headers={"Transfer-Encoding": "chunked"})
    assert status == 413
    # A snappy body that would expand past the decoded limit.
    status, _, body = http("POST", d.url + "/-/reload", body=snappy_bomb(1 << 30),
                           headers={"Content-Encoding": "snappy"})
    assert status == 400, body
    # A gzip bomb: 300 MB of zeros in about 300 KB.
    bomb = gzip.compress(b"\0" * (300 << 20), compresslevel=1)
    status, _, _ = http("POST", d.url + "/-/reload", body=bomb,
                        headers={"Content-Encoding": "gzip"})
    assert status == 400
    # None of that disturbed the next request.
    assert http("POST", d.url + "/-/reload", body=b"")[0] == 200
    assert d.get("/-/ready")[0] == 200
    assert d.stop() == 0


def mapped_libraries(pid):
    """The file names of the shared objects mapped into a process."""
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1].rsplit("/", 1)[-1] for line in f if ".so" in line}


def test_libcurl_and_libcrypto_load_on_first_use(start_daemon, tmp_path):
    """docs/dependencies.md, "How the daemons link": a server that only receives maps
    neither libcurl's tree nor libcrypto, nor libsystemd or the C++ runtime; the first
    remote_write entry loads libcurl, and scraping and sending (with a basic-auth header,
    base64 from libcrypto's table) work through the tables."""
    from conftest import Daemon, default_config, free_port

    idle = start_daemon("metrics")
    libs = mapped_libraries(idle.proc.pid)
    # (GnuTLS stays: libmicrohttpd needs it. A sanitizer runtime brings the C++ one.)
    absent = ["libcurl", "libcrypto", "libssl", "libsystemd", "libgssapi", "libldap"]
    if not any(lib.startswith("libasan") for lib in libs):
        absent += ["libstdc++", "libgcc_s"]
    for name in absent:
        assert not [lib for lib in libs if lib.startswith(name)], (name, sorted(libs))
    receiver = idle
    config = (default_config("metrics") +
              "remote_write:\n"
              f"  - url: {receiver.url}/api/v1/write\n"
              "    basic_auth: {username: u, password: p}\n"
              "    queue_config: {batch_send_deadline: 100ms}\n"
              "scrape_configs:\n"
              "  - job_name: self\n"
              "    scrape_interval: 1s\n"
              f"    static_configs: [{{targets: ['127.0.0.1:{free_port()}']}}]\n")
    sender = Daemon("metrics", tmp_path / "sender", config_text=config)
    try:
        sender.start()
        libs = mapped_libraries(sender.proc.pid)
        assert any(lib.startswith("libcurl.so.4") for lib in libs), sorted(libs)

        def arrived():
            query = urllib.parse.quote('up{job="self"}')
            status, _, body = receiver.get(f"/api/v1/query?query={query}")
            return status == 200 and b'"result":[{' in body
        assert wait_for(arrived, timeout=20), sender.stderr()
        assert any(lib.startswith("libcrypto.so.3") for lib in mapped_libraries(sender.proc.pid))
    finally:
        sender.stop()


def test_unloadable_libcurl_is_a_clear_error(tmp_path):
    """A remote_write entry needs libcurl; when the loader cannot load it the config
    is refused with the soname and the loader's reason, not a crash."""
    from conftest import BIN, default_config
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (libdir / "libcurl.so.4").write_bytes(b"not an ELF file")
    cfg = tmp_path / "m.yml"
    cfg.write_text(default_config("metrics") + "remote_write:\n  - url: http://127.0.0.1:1/w\n")
    r = subprocess.run([str(BIN / "lgtm-metrics"), "--check-config", f"--config.file={cfg}"],
                       capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "libcurl.so.4 not loadable: " in r.stderr, r.stderr
