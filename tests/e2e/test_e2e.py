"""End to end: the real playbooks deploy to a fresh Debian 12 VM, then the stack is
checked from the host through nginx over HTTPS (see tests/e2e/README.md).

The tests run in file order and share one VM: each deploy step records that it passed,
and a later check that needs it is skipped, naming the step, when it did not. A missing
playbook fails its step ("ansible/playbooks/site.yml missing"), so the run as a whole
fails until the playbooks exist: nothing here passes by default.
"""
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import time
import urllib.parse

import pytest

import deploy
from deploy import SERVER_NAME
from vm import VM, build_image

# Where the selfsigned TLS mode leaves its CA on the control machine: .lgtm-ca/ beside
# the inventory (lgtm_tls_selfsigned_ca_dir's default), as an operator finds it.
CA_DIR = ".lgtm-ca"
RELEASES_LINK = "/opt/lgtm/current"
DIST_DIR = deploy.REPO / "build/e2e/releases"

# daemon: (loopback port of its /metrics with lgtm_build_info, its ready path via nginx)
DAEMONS = {
    "metrics": (9090, "/prometheus/-/ready"),
    "longterm": (9009, "/longterm/ready"),
    "logs": (3100, "/loki/ready"),
    "traces": (3200, "/tempo/ready"),
    "collector": (8888, None),
}
COLLECTOR_HEALTH = "http://127.0.0.1:13133/"
# nginx's loopback listener with what lgtm-cert-expiry wrote (lgtm_nginx_metrics_listen).
CERT_EXPIRY_METRICS = "http://127.0.0.1:9180/metrics/tls"
# Paths that carry data: every one of them must refuse anonymous clients.
DATA_PATHS = [
    ("GET", "/prometheus/api/v1/query?query=up"),
    ("GET", "/prometheus/-/ready"),
    ("POST", "/prometheus/api/v1/write"),
    ("GET", "/longterm/prometheus/api/v1/query?query=up"),
    ("POST", "/longterm/api/v1/push"),
    ("GET", "/loki/api/v1/labels"),
    ("POST", "/loki/api/v1/push"),
    ("GET", "/tempo/api/search"),
    ("POST", "/v1/traces"),
    ("POST", "/v1/metrics"),
    ("POST", "/v1/logs"),
]

passed_steps = set()


def step_passed(name):
    passed_steps.add(name)


def needs(*steps):
    for s in steps:
        if s not in passed_steps:
            pytest.skip(f"needs step '{s}', which did not pass")


# --- fixtures ------------------------------------------------------------------------

def keep_vm(machine, workdir):
    """With LGTM_E2E_KEEP_VM=1 the VM outlives the tests until pytest gets SIGINT or
    SIGTERM, so a failed step can be rerun by hand against the same host
    (build/e2e/last-run/keep-vm.txt says how). A debugging aid: a run that keeps its VM
    still ran every test on a fresh one."""
    if os.environ.get("LGTM_E2E_KEEP_VM") != "1":
        return
    note = workdir / "keep-vm.txt"
    note.write_text(
        f"pytest pid {os.getpid()} keeps the VM; end it with kill -INT {os.getpid()}\n"
        f"{machine.ssh_command_line()}\n"
        f"cd {deploy.ANSIBLE_DIR} && ANSIBLE_CONFIG={deploy.ANSIBLE_CFG}"
        f" ansible-playbook -i {workdir / 'inventory.yml'} playbooks/<name>.yml\n")
    print(f"\nLGTM_E2E_KEEP_VM: VM kept, see {note}", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass


@pytest.fixture(scope="module")
def workdir():
    """build/e2e/last-run: console log, inventory, one log per ansible-playbook run."""
    path = deploy.REPO / "build/e2e/last-run"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="module")
def vm(workdir):
    machine = VM(build_image(), workdir / "vm")
    try:
        machine.start()
        print(f"\nVM up ({machine.accel_used}, {machine.timings['boot_to_ssh']:.0f} s to"
              f" SSH), ports {machine.ports}, console {machine.console_log}")
        yield machine
        keep_vm(machine, workdir)
    finally:
        machine.stop()
        machine.overlay.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def credentials():
    return {"name": "e2e", "password": secrets.token_urlsafe(18), "tenant": "e2e-tenant"}


@pytest.fixture(scope="module")
def releases():
    """{"old", "new", "broken"} -> version, built into DIST_DIR. Requested only once
    site.yml exists (see test_site_playbook_deploys and `versions`)."""
    return deploy.build_releases(DIST_DIR, deploy.REPO / "build/e2e/build")


@pytest.fixture
def versions(request):
    needs("site")
    return request.getfixturevalue("releases")


@pytest.fixture(scope="module")
def inventory(vm, workdir, credentials):
    path = workdir / "inventory.yml"
    path.write_text(deploy.inventory_yaml(vm, DIST_DIR, [credentials]))
    return path


@pytest.fixture(scope="module")
def playbook(inventory, workdir):
    def run(name, **extra_vars):
        r = deploy.run_playbook(name, inventory, workdir, extra_vars)
        if r is None:
            pytest.fail(f"ansible/playbooks/{name} missing")
        return r
    return run


@pytest.fixture(scope="module")
def client(vm, workdir, credentials):
    needs("site")
    ca = workdir / CA_DIR / "ca.crt"
    assert ca.is_file(), f"site.yml left no CA certificate at {ca}"
    return deploy.Client(vm.ports, ca, workdir, credentials["name"],
                         credentials["password"])


# --- checks shared by several steps ------------------------------------------------------

def guest_get(vm, url):
    """(status, body) of an HTTP GET made inside the VM (python3 is there; curl may not be)."""
    code = ("import sys,urllib.request as u,urllib.error as e\n"
            "try:\n r=u.urlopen(sys.argv[1],timeout=10);print(r.status);"
            "print(r.read().decode(errors='replace'))\n"
            "except e.HTTPError as x:\n print(x.code)\n"
            "except Exception as x:\n print(0);print(x)\n")
    out = vm.ssh(f"python3 -c {shlex.quote(code)} {shlex.quote(url)}").stdout
    status, _, body = out.partition("\n")
    return int(status), body


def running_versions(vm):
    """{daemon: version} from each running daemon's lgtm_build_info."""
    versions = {}
    for name, (port, _) in DAEMONS.items():
        status, body = guest_get(vm, f"http://127.0.0.1:{port}/metrics")
        assert status == 200, f"lgtm-{name} /metrics: {status} {body[:200]}"
        for line in body.splitlines():
            if line.startswith("lgtm_build_info{"):
                labels = dict(kv.split("=", 1) for kv in
                              line[line.index("{") + 1:line.index("}")].split(","))
                versions[name] = labels["version"].strip('"')
    return versions


def current_release(vm):
    return vm.ssh(f"readlink -f {RELEASES_LINK}").stdout.strip().rsplit("/", 1)[-1]


def assert_units_active(vm):
    """The daemons, nginx and the expiry timer active, and no unit of the host failed
    (the VM started with none: a failed unit is the deployment's)."""
    units = [f"lgtm-{d}" for d in DAEMONS] + ["nginx", "lgtm-cert-expiry.timer"]
    r = vm.ssh("systemctl is-active " + " ".join(units), check=False)
    states = dict(zip(units, r.stdout.split()))
    bad = {u: s for u, s in states.items() if s != "active"}
    assert not bad and len(states) == len(units), f"units not active: {bad or r.stdout}"
    failed = vm.ssh("systemctl --failed --no-legend --plain", check=False).stdout.strip()
    assert not failed, f"failed units:\n{failed}"


def assert_ready_through_nginx(client, vm):
    for name, (_, path) in DAEMONS.items():
        if path:
            r = client.request(path)
            assert r.status == 200, f"lgtm-{name} {path} through nginx: {r}"
    status, body = guest_get(vm, COLLECTOR_HEALTH)
    assert status == 200, f"lgtm-collector health_check: {status} {body[:200]}"


def assert_serving(vm, client, version):
    assert current_release(vm) == version
    assert_units_active(vm)
    assert running_versions(vm) == {d: version for d in DAEMONS}
    assert_ready_through_nginx(client, vm)


def assert_recap_clean(run, changed=None):
    assert run.returncode == 0, run.summary()
    assert run.recap, "no PLAY RECAP in the output\n" + run.summary()
    for host, counts in run.recap.items():
        assert counts.get("failed", 0) == 0 and counts.get("unreachable", 0) == 0, \
            f"{host}: {counts}\n" + run.summary()
        if changed is not None:
            assert counts.get("changed", 0) == changed, \
                f"{host}: changed={counts.get('changed')} (want {changed})\n" + run.summary()


# --- the VM itself ----------------------------------------------------------------------

def test_vm_is_a_clean_debian_host_with_its_mirror(vm):
    state = vm.ssh("systemctl is-system-running --wait", check=False).stdout.strip()
    failed = vm.ssh("systemctl --failed --no-legend", check=False).stdout
    assert state == "running", f"system state {state}; failed units:\n{failed}"
    assert vm.ssh("hostname").stdout.strip() == "lgtm-e2e"
    assert "VERSION_ID=\"12\"" in vm.ssh("cat /etc/os-release").stdout
    assert vm.ssh("dpkg-query -W nginx", check=False).returncode != 0, \
        "nginx is preinstalled: the playbooks must install it"
    # Like a fresh cloud image: no package lists yet (lgtm_common fetches them), but
    # the mirror of the guest's sources answers.
    lists = vm.ssh("ls /var/lib/apt/lists", check=False).stdout.split()
    assert not [f for f in lists if "_Packages" in f], f"package lists present: {lists}"
    sources = vm.ssh("cat /etc/apt/sources.list.d/debian.sources").stdout
    uri = next(ln.split()[1] for ln in sources.splitlines() if ln.startswith("URIs:"))
    status, body = guest_get(vm, uri.rstrip("/") + "/dists/bookworm/InRelease")
    assert status == 200 and "Codename: bookworm" in body, f"{uri}: {status} {body[:200]}"


# --- deploy ---------------------------------------------------------------------------

def test_site_playbook_deploys(request, playbook):
    if not (deploy.PLAYBOOKS / "site.yml").exists():
        pytest.fail("ansible/playbooks/site.yml missing")
    releases = request.getfixturevalue("releases")
    r = playbook("site.yml", lgtm_common_version=releases["old"])
    assert_recap_clean(r)
    step_passed("site")


def test_every_unit_is_active(vm):
    """Also: no unit failed on the way, even for a while (a fresh host's deployment has
    no reason to fail one; the VM's journal starts at its boot)."""
    needs("site")
    assert_units_active(vm)
    journal = vm.ssh("sudo journalctl -b --no-pager -o short-precise", check=False).stdout
    failures = [ln for ln in journal.splitlines() if "Failed with result" in ln]
    assert not failures, "units failed during site.yml:\n" + "\n".join(failures)


def test_running_release_is_the_deployed_one(vm, versions):
    assert current_release(vm) == versions["old"]
    assert running_versions(vm) == {d: versions["old"] for d in DAEMONS}


def test_every_daemon_is_ready_through_nginx(client, vm):
    assert_ready_through_nginx(client, vm)


def test_unauthenticated_requests_get_401(client):
    wrong = deploy.Client(client.ports, client.ca_file, client.workdir, "e2e", "wrong")
    for method, path in DATA_PATHS:
        r = client.request(path, auth=False, method=method,
                           data=b"" if method == "POST" else None)
        assert r.status == 401, f"{method} {path} without credentials: {r}"
        r = wrong.request(path, method=method, data=b"" if method == "POST" else None)
        assert r.status == 401, f"{method} {path} with a wrong password: {r}"


def test_http_redirects_to_https_except_acme(client):
    r = client.request("/prometheus/-/ready", auth=False, scheme="http")
    assert r.status in (301, 308), r
    assert r.header("location").startswith(f"https://{SERVER_NAME}"), r.headers
    r = client.request("/.well-known/acme-challenge/e2e-probe", auth=False, scheme="http")
    assert r.status not in (301, 302, 307, 308), f"ACME path redirected: {r.headers}"


def tls_handshake(client, version):
    """True when nginx completes a handshake at exactly this protocol version. SECLEVEL=0
    lets our OpenSSL offer TLS 1.0/1.1, so a refusal is the server's."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{client.ports[443]}",
                        "-servername", SERVER_NAME, f"-{version}",
                        "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", str(client.ca_file)],
                       input=b"", capture_output=True, timeout=30, check=False)
    return r.returncode == 0


def test_tls_versions_and_hsts(client):
    for flags in (["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]):
        r = client.request("/prometheus/-/ready", extra=flags)
        assert r.status == 200, f"{flags}: {r}"
        assert "max-age=" in r.header("strict-transport-security"), r.headers
    assert tls_handshake(client, "tls1_2"), "the handshake probe itself does not work"
    for old in ("tls1", "tls1_1"):
        assert not tls_handshake(client, old), f"nginx accepts {old}"


def test_certificate_expiry_metric_is_served(vm):
    """lgtm-cert-expiry checked the served certificate (selfsigned: lgtm_tls_selfsigned_days
    ahead) and nginx serves the result on its loopback metrics listener."""
    needs("site")
    status, body = guest_get(vm, CERT_EXPIRY_METRICS)
    assert status == 200, f"{CERT_EXPIRY_METRICS}: {status} {body[:200]}"
    values = [float(ln.rsplit(None, 1)[1]) for ln in body.splitlines()
              if ln.startswith("probe_ssl_earliest_cert_expiry")]
    assert len(values) == 1, body
    days = (values[0] - time.time()) / 86400
    assert 30 < days <= 826, f"certificate expires in {days:.0f} days:\n{body}"


def test_client_tenant_header_is_replaced_by_nginx(vm, client):
    r = client.request("/prometheus/-/ready", headers={"X-Scope-OrgID": "intruder"})
    assert r.status == 200, r
    conf = vm.ssh("sudo nginx -T 2>/dev/null").stdout
    assert "$http_x_scope_orgid" not in conf.lower(), "nginx forwards the client's tenant"
    lines = [ln.strip() for ln in conf.splitlines() if "x-scope-orgid" in ln.lower()]
    assert any(ln.startswith(("proxy_set_header", "grpc_set_header")) for ln in lines), \
        "nginx never sets X-Scope-OrgID:\n" + "\n".join(lines)


# daemon: (remote_write push path, PromQL query prefix), through nginx.
REMOTE_WRITE = {
    "metrics": ("/prometheus/api/v1/write", "/prometheus"),
    "longterm": ("/longterm/api/v1/push", "/longterm/prometheus"),
}


@pytest.mark.parametrize("daemon", REMOTE_WRITE)
def test_remote_write_is_read_back_with_promql(client, daemon):
    """Pushes one sample with a forged tenant header and reads it back with PromQL
    through nginx, forging another tenant: both reach the daemon as the user's tenant,
    so a tenant-aware daemon fails this when nginx passes the client's header on.
    Skipped (not passed) while the daemon answers its own 404 for the push path, i.e.
    its push API does not exist yet; an nginx 404 fails."""
    push, prefix = REMOTE_WRITE[daemon]
    value, now_ms = 42.0 + secrets.randbelow(1000), int(time.time() * 1000)
    run_id = secrets.token_hex(4)
    body = deploy.snappy_literal(deploy.write_request(
        {"__name__": "lgtm_e2e_probe", "run": run_id}, value, now_ms))
    push_headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                    "X-Scope-OrgID": "intruder-push"}
    r = client.request(push, method="POST", data=body, headers=push_headers)
    if r.status == 404 and r.body.strip() == b"404 page not found":
        pytest.skip(f"lgtm-{daemon} has no remote_write receiver yet ({push}: its own 404)")
    assert r.status in (200, 204), f"POST {push}: {r}"
    read = prefix + "/api/v1/query?" + urllib.parse.urlencode(
        {"query": f'lgtm_e2e_probe{{run="{run_id}"}}'})
    got = None
    for _ in range(20):
        got = json.loads(client.request(read, headers={"X-Scope-OrgID": "intruder-query"}).body)
        if got.get("data", {}).get("result"):
            break
        time.sleep(1)
    result = got["data"]["result"]
    assert len(result) == 1 and float(result[0]["value"][1]) == value, got
    assert result[0]["metric"] == {"__name__": "lgtm_e2e_probe", "run": run_id}, got


def test_second_site_run_changes_nothing(playbook, versions):
    assert_recap_clean(playbook("site.yml", lgtm_common_version=versions["old"]), changed=0)


# --- upgrade and rollback -------------------------------------------------------------------

def test_upgrade_to_newer_build(playbook, versions, vm, client):
    assert_recap_clean(playbook("upgrade.yml", lgtm_common_version=versions["new"]))
    assert_serving(vm, client, versions["new"])
    step_passed("upgrade")


def test_broken_build_is_rolled_back_automatically(playbook, versions, vm, client):
    needs("upgrade")
    r = playbook("upgrade.yml", lgtm_common_version=versions["broken"])
    assert r.returncode != 0, "upgrade to a broken build reported success\n" + r.summary()
    assert_serving(vm, client, versions["new"])


def test_rollback_playbook_returns_to_previous_release(playbook, versions, vm, client):
    needs("upgrade")
    assert_recap_clean(playbook("rollback.yml"))
    assert_serving(vm, client, versions["old"])
