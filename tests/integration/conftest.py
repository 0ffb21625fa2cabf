"""Fixtures that run the real lgtm-native daemons on free loopback ports.

Each daemon runs from build/bin (or $LGTM_BIN) with a config written into the test's
temporary directory, and is stopped with SIGTERM (then SIGKILL) at the end.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LGTM_BIN", REPO / "build" / "bin"))
DAEMONS = ["metrics", "longterm", "logs", "traces", "collector"]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_TYPE = "text/plain; version=0.0.4"


@contextlib.contextmanager
def scrape_target(body, content_type=TEXT_TYPE):
    """A scrape target on a free loopback port answering every GET with body()
    (bytes; called per scrape) as content_type; yields its host:port."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            data = body()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def wait_for(cond, timeout=5):
    """Poll cond() every 50 ms until it holds (True) or the timeout passes (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def default_config(daemon, extra_port=None):
    """The daemon's shipped default config, adjusted to free ports where it names any."""
    text = (REPO / "daemons" / daemon / f"lgtm-{daemon}.yml").read_text()
    if daemon == "collector" and extra_port:
        text = text.replace("127.0.0.1:13133", f"127.0.0.1:{extra_port}")
    if daemon == "metrics":
        # Without its self-scrape: a scrape (failed or not) writes series at the wall
        # clock, which would race with tests that count series or push older samples.
        # test_shipped_metrics_config_scrapes_itself runs the job as shipped.
        text = text[:text.index("scrape_configs:")]
    return text


class Daemon:
    def __init__(self, name, tmp_path, config_text=None, args=(), env=None):
        self.name = name
        self.port = free_port()
        self.health_port = free_port() if name == "collector" else None
        self.dir = tmp_path / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / f"lgtm-{name}.yml"
        if callable(config_text):  # a template that needs the daemon's own port
            config_text = config_text(self)
        self.config.write_text(config_text if config_text is not None
                               else default_config(name, self.health_port))
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log = self.dir / "stderr.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def cmd(self):
        return [str(BIN / f"lgtm-{self.name}"), f"--config.file={self.config}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.path={self.dir / 'data'}"] + self.args

    def start(self, wait=True):
        self.proc = subprocess.Popen(self.cmd(), stdout=subprocess.PIPE,
                                     stderr=open(self.log, "wb"), env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}: "
                                     f"{self.log.read_text()}")
            try:
                if http("GET", self.url + "/-/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready in {timeout}s: {self.log.read_text()}")

    def get(self, path, **kw):
        return http("GET", self.url + path, **kw)

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    def stderr(self):
        return self.log.read_text()


@pytest.fixture
def start_daemon(tmp_path):
    started = []

    def _start(name, **kw):
        wait = kw.pop("wait", True)
        d = Daemon(name, tmp_path, **kw)
        started.append(d)
        return d.start(wait=wait)

    yield _start
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


def run_bin(name, *args, timeout=10):
    return subprocess.run([str(BIN / f"lgtm-{name}"), *args], capture_output=True, text=True,
                          timeout=timeout)


def url_ready(url):
    """True when url + /-/ready answers 200."""
    try:
        return http("GET", url + "/-/ready", timeout=1)[0] == 200
    except OSError:
        return False


def start_prometheus(workdir, config_text, extra=()):
    """Debian's Prometheus (2.42) on a free loopback port, its config, data and log in
    workdir; returns (process, url) once it is ready. The caller kills it: a peer needs
    no clean shutdown (SIGTERM would wait up to a minute flushing a remote-write queue
    to a receiver the test may already have stopped)."""
    exe = shutil.which("prometheus")
    if not exe:
        pytest.skip("prometheus is not installed (scripts/install-deps installs it)")
    port = free_port()
    cfg = workdir / f"prometheus-{port}.yml"
    log = workdir / f"prom-{port}.log"
    cfg.write_text(config_text)
    proc = subprocess.Popen([exe, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}",
                             f"--storage.tsdb.path={workdir / f'prom-data-{port}'}", *extra],
                            stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    url = f"http://127.0.0.1:{port}"
    if not wait_for(lambda: url_ready(url), timeout=30):
        proc.kill()
        proc.wait()
        raise AssertionError(log.read_text())
    return proc, url
