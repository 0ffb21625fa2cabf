"""Checks of the deployment toolkit (issue 4) that need no target host.

Lint (yamllint, ansible-lint, shellcheck), `ansible-playbook --syntax-check` of every
playbook, every template rendered with Ansible's own engine from the example inventory
(tests/deploy/render.yml), `nginx -t` of the rendered site and a short run of it against
an echo upstream (auth, tenant header, redirect, TLS, rate limit), `systemd-analyze
verify` and `security` of every unit, the daemon configs checked by the daemons
themselves, and the PCRE2 JIT measurement behind MemoryDenyWriteExecute=.

    /usr/bin/python3 -m pytest -q tests/deploy

Tools come from scripts/install-deps; a missing one fails the test that needs it (it is
never skipped). The daemon config checks run the binaries in $LGTM_BIN or build/bin
(`make` builds them).
"""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
ROLES = ANSIBLE / "roles"
SYSTEMD = REPO / "systemd"
BIN = Path(os.environ.get("LGTM_BIN", REPO / "build" / "bin"))
DAEMONS = ["metrics", "longterm", "logs", "traces", "collector"]
UNITS = sorted(p.name for p in SYSTEMD.iterdir() if p.suffix in (".service", ".timer"))
SERVICES = [u for u in UNITS if u.endswith(".service")]
PLAYBOOKS = sorted(p.name for p in (ANSIBLE / "playbooks").glob("*.yml"))
EXAMPLE_VARS = yaml.safe_load((ANSIBLE / "inventories/example/group_vars/all.yml").read_text())
# Ansible runs its modules with this interpreter (the pyenv shim on PATH is slow to start).
PY = "/usr/bin/python3"


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is not installed: run scripts/install-deps")
    return path


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("cwd", REPO)
    return subprocess.run(argv, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit_entries(path):
    """[(section, key, value)] of a unit file, keeping repeated keys."""
    section, out = None, []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def unit_values(path, key):
    return [v for _, k, v in unit_entries(path) if k == key]


# --- lint and syntax -------------------------------------------------------------------

def test_yamllint():
    r = run([need("yamllint"), "--strict", "ansible", "tests/deploy"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_ansible_lint_production_profile():
    r = run([need("ansible-lint"), "--offline", "ansible"])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


def test_every_playbook_passes_syntax_check():
    assert PLAYBOOKS == ["backup.yml", "health.yml", "rollback.yml", "site.yml", "upgrade.yml"]
    r = run([need("ansible-playbook"), "--syntax-check", "-i", "inventories/example/hosts.yml",
             *[f"playbooks/{p}" for p in PLAYBOOKS]], cwd=ANSIBLE)
    assert r.returncode == 0, r.stdout + r.stderr


def shell_scripts():
    found = []
    for d in ("scripts", "certbot", "nginx"):
        for p in sorted((REPO / d).iterdir()):
            if p.is_file() and p.read_text(errors="replace").startswith("#!") and "sh" in p.read_text().splitlines()[0]:
                found.append(str(p.relative_to(REPO)))
    return found


def test_shellcheck_scripts():
    scripts = shell_scripts()
    for want in ("scripts/health-check", "scripts/backup", "scripts/deploy", "scripts/cert-expiry",
                 "certbot/lgtm-reload-nginx", "nginx/validate-site"):
        assert want in scripts
    r = run([need("shellcheck"), "-x", *scripts])
    assert r.returncode == 0, r.stdout + r.stderr


# --- role conventions ------------------------------------------------------------------

def role_dirs():
    return sorted(p for p in ROLES.iterdir() if p.is_dir())


@pytest.mark.parametrize("role", [p.name for p in role_dirs()])
def test_role_variables_follow_the_conventions(role):
    d = ROLES / role
    spec = yaml.safe_load((d / "meta/argument_specs.yml").read_text())["argument_specs"]
    options = spec["main"].get("options", {})
    defaults = yaml.safe_load((d / "defaults/main.yml").read_text()) if (d / "defaults/main.yml").exists() else {}
    internal = yaml.safe_load((d / "vars/main.yml").read_text()) if (d / "vars/main.yml").exists() else {}
    for name in defaults or {}:
        assert name.startswith(role + "_"), f"{role}: public variable {name} lacks the role prefix"
        assert name in options, f"{role}: {name} is not documented in meta/argument_specs.yml"
    for name in internal or {}:
        assert name.startswith("_" + role + "_"), f"{role}: internal variable {name} lacks _{role}_"
    if role != "lgtm_daemon":  # its options are parameters the daemon roles pass
        for name in defaults or {}:
            assert name in EXAMPLE_VARS, f"{name} is missing from the example group_vars/all.yml"


def test_example_inventory_sets_only_known_variables():
    known = set()
    for d in role_dirs():
        known |= set(yaml.safe_load((d / "meta/argument_specs.yml").read_text())
                     ["argument_specs"]["main"].get("options", {}))
    assert set(EXAMPLE_VARS) - known == set()


# --- runtime libraries -----------------------------------------------------------------

RUNTIME_PACKAGES = yaml.safe_load((ROLES / "lgtm_common/vars/main.yml").read_text())["_lgtm_common_runtime_packages"]


def needed_libraries(binary):
    """{soname: path} of the libraries a binary names itself (ELF NEEDED), resolved by
    the loader of this machine (ldd); path is None when it finds none."""
    r = run([need("readelf"), "-d", str(binary)])
    assert r.returncode == 0, r.stderr
    names = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)
    out = run([need("ldd"), str(binary)]).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", out, re.M))
    # The dynamic loader itself (named since the static unwinder calls its
    # _dl_find_object) is listed by its path alone.
    paths.update({os.path.basename(p): p for p in re.findall(r"^\s*(/\S+) \(0x", out, re.M)})
    return {n: paths.get(n) for n in names}


# Libraries the daemons bind on first use (daemons/lib/dynload: dlopen by soname) rather
# than through NEEDED; hosts need their packages all the same. The sonames are read from
# dynload.h, and a binary counts as using one when the soname is in its text.
DLOPEN_SONAMES = re.findall(r'#define DYNLOAD_\w+_SONAME "([^"]+)"',
                            (REPO / "daemons/lib/dynload/dynload.h").read_text())


def dlopened_libraries(binary):
    """{soname: path} of the DLOPEN_SONAMES a binary names, resolved through the loader
    cache (ldconfig -p) as dlopen resolves them; path is None when it finds none."""
    data = binary.read_bytes()
    r = run([need("ldconfig"), "-p"])
    assert r.returncode == 0, r.stderr
    cache = dict(re.findall(r"^\s*(\S+) \(libc6,x86-64[^)]*\) => (/\S+)", r.stdout, re.M))
    return {n: cache.get(n) for n in DLOPEN_SONAMES if b"\0" + n.encode() + b"\0" in data}


def owning_package(path):
    """The Debian package that ships a library file. With merged /usr, dpkg knows a file
    only under the directory its package put it in (/lib or /usr/lib), so both are tried."""
    real = os.path.realpath(path)
    for candidate in dict.fromkeys([path, real, real.removeprefix("/usr"), "/usr" + path]):
        r = run([need("dpkg-query"), "-S", candidate])
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0]
    return None


def test_runtime_packages_are_exactly_the_libraries_the_daemons_link():
    """lgtm_common installs _lgtm_common_runtime_packages on every host; a daemon that
    starts to link a new library must add its package there, or hosts fail to start it."""
    needed = {}
    for daemon in DAEMONS:
        binary = BIN / f"lgtm-{daemon}"
        if not binary.exists():
            pytest.fail(f"{binary} is missing: run make (or set LGTM_BIN)")
        linked = needed_libraries(binary) | dlopened_libraries(binary)
        for soname, path in linked.items():
            assert path, f"lgtm-{daemon} needs {soname}, which this machine lacks"
            package = owning_package(path)
            assert package, f"no Debian package ships {path} (lgtm-{daemon} needs {soname})"
            needed.setdefault(package, []).append(f"lgtm-{daemon}: {soname}")
    assert "libmicrohttpd12" in needed  # the lookup works at all
    assert "libcurl4" in needed, DLOPEN_SONAMES  # so does the dlopen one
    missing = {p: users for p, users in needed.items() if p not in RUNTIME_PACKAGES}
    assert not missing, f"_lgtm_common_runtime_packages (roles/lgtm_common/vars/main.yml) lacks {missing}"
    unused = set(RUNTIME_PACKAGES) - set(needed)
    assert not unused, f"_lgtm_common_runtime_packages lists packages no daemon links: {sorted(unused)}"


# --- rendering -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for lgtm.test, a client certificate (CN=team-cert) and
    one from a foreign CA, all throwaway."""
    d = tmp_path_factory.mktemp("pki")
    d.chmod(0o755)  # nginx workers (nobody) read the htpasswd file from here

    def sh(*argv):
        r = run([need("openssl"), *argv], cwd=d)
        assert r.returncode == 0, r.stderr

    for ca in ("ca", "other-ca"):
        sh("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-days", "2", "-subj", f"/CN={ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt")
    for name, ca, cn, ext in (("server", "ca", "lgtm.test", "subjectAltName=DNS:lgtm.test"),
                              ("client", "ca", "team-cert", "extendedKeyUsage=clientAuth"),
                              ("stranger", "other-ca", "team-evil", "extendedKeyUsage=clientAuth")):
        sh("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.csr")
        (d / f"{name}.ext").write_text(ext + "\n")
        sh("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
           "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return d


@pytest.fixture(scope="module")
def rendered(pki, tmp_path_factory):
    """Every template rendered by tests/deploy/render.yml, host paths and ports moved into
    the test's directory; returns (dict name -> text, directory, ports)."""
    out = tmp_path_factory.mktemp("rendered")
    out.chmod(0o755)
    ports = {k: free_port() for k in ("http", "https", "grpc", "metrics", "echo")}
    echo = f"127.0.0.1:{ports['echo']}"
    overrides = {
        "_lgtm_nginx_cert": str(pki / "server.crt"),
        "_lgtm_nginx_key": str(pki / "server.key"),
        "_lgtm_nginx_client_ca": str(pki / "ca.crt"),
        "_lgtm_nginx_htpasswd": str(out / "htpasswd"),
        "_lgtm_nginx_tls_metrics_file": str(out / "tls.prom"),
        "lgtm_nginx_acme_webroot": str(out / "acme"),
        "lgtm_nginx_server_name": "lgtm.test",
        "lgtm_nginx_client_cert_auth": True,
        "lgtm_nginx_http_port": ports["http"],
        "lgtm_nginx_https_port": ports["https"],
        "lgtm_nginx_otlp_grpc_port": ports["grpc"],
        "lgtm_nginx_metrics_listen": f"127.0.0.1:{ports['metrics']}",
        "lgtm_nginx_ipv6": False,
        # Low enough for test_push_floods_get_429 to reach within a few hundred requests.
        "lgtm_nginx_push_rate": PUSH_RATE,
        "lgtm_nginx_push_burst": PUSH_BURST,
        "lgtm_nginx_upstreams": {k: echo for k in EXAMPLE_VARS["lgtm_nginx_upstreams"]},
        # Drop-ins with every setting away from its default.
        "dropin_service": {"log_level": "debug", "log_format": "json", "extra_flags": ["--web.enable-lifecycle"],
                           "ip_address_allow": ["192.0.2.0/24"], "limit_nofile": 4096,
                           "memory_deny_write_execute": True, "override": "[Unit]\nDescription=overridden"},
    }
    (out / "overrides.json").write_text(json.dumps(overrides))
    r = run([need("ansible-playbook"), "tests/deploy/render.yml", "-e", f"out={out / 'rendered.json'}",
             "-e", f"@{out / 'overrides.json'}", "-e", f"ansible_python_interpreter={PY}"],
            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
                     ANSIBLE_INVENTORY_UNPARSED_WARNING="false"))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    texts = json.loads((out / "rendered.json").read_text())
    for name, text in texts.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
        (out / name).chmod(0o644)
    (out / "acme/.well-known/acme-challenge").mkdir(parents=True)
    (out / "acme/.well-known/acme-challenge/token").write_text("challenge-answer")
    for p in (out / "acme").rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (out / "acme").chmod(0o755)
    return texts, out, ports


@pytest.mark.parametrize("daemon", DAEMONS)
def test_default_config_templates_mirror_the_shipped_defaults(rendered, daemon):
    texts, _, _ = rendered
    shipped = yaml.safe_load((REPO / f"daemons/{daemon}/lgtm-{daemon}.yml").read_text())
    assert yaml.safe_load(texts[f"defaults/lgtm-{daemon}.yml"]) == shipped


@pytest.mark.parametrize("variant", ["defaults", "example"])
@pytest.mark.parametrize("daemon", DAEMONS)
def test_rendered_configs_pass_the_daemons_check_config(rendered, daemon, variant):
    _, out, _ = rendered
    binary = BIN / f"lgtm-{daemon}"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run make (or set LGTM_BIN)")
    r = run([str(binary), "--check-config", f"--config.file={out / variant / f'lgtm-{daemon}.yml'}"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("SUCCESS")


def test_a_bad_config_fails_the_validate_command(tmp_path):
    binary = BIN / "lgtm-logs"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run make (or set LGTM_BIN)")
    bad = tmp_path / "bad.yml"
    bad.write_text("server:\n  http_listen_porr: 3100\n")
    r = run([str(binary), "--check-config", f"--config.file={bad}"])
    assert r.returncode == 1 and f"{bad}:2:" in r.stdout + r.stderr


def test_htpasswd_holds_sha512_crypt_of_the_example_passwords(rendered):
    texts, _, _ = rendered
    lines = [l for l in texts["htpasswd"].splitlines() if l and not l.startswith("#")]
    users = {u["name"]: u["password"] for u in EXAMPLE_VARS["lgtm_nginx_users"]}
    assert [l.split(":", 1)[0] for l in lines] == list(users)
    for line in lines:
        name, hashed = line.split(":", 1)
        salt = hashed.split("$")[2]
        r = run([need("openssl"), "passwd", "-6", "-salt", salt, users[name]])
        assert r.stdout.strip() == hashed


def test_grafana_data_sources_carry_the_correlations(rendered):
    texts, _, _ = rendered
    doc = yaml.safe_load(texts["datasources.yaml"])
    ds = {d["uid"]: d for d in doc["datasources"]}
    assert sorted(ds) == ["lgtm-logs", "lgtm-longterm", "lgtm-metrics", "lgtm-traces"]
    assert {d["type"] for d in ds.values()} == {"prometheus", "loki", "tempo"}
    assert ds["lgtm-longterm"]["url"].endswith("/prometheus")
    assert ds["lgtm-longterm"]["jsonData"]["prometheusType"] == "Mimir"
    for uid in ("lgtm-metrics", "lgtm-longterm"):
        assert ds[uid]["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"] == "lgtm-traces"
    assert {f["datasourceUid"] for f in ds["lgtm-logs"]["jsonData"]["derivedFields"]} == {"lgtm-traces"}
    tempo = ds["lgtm-traces"]["jsonData"]
    assert tempo["streamingEnabled"] == {"search": False, "metrics": False}
    assert tempo["serviceMap"]["datasourceUid"] == "lgtm-metrics"
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "lgtm-logs"
    assert tempo["tracesToMetrics"]["datasourceUid"] == "lgtm-metrics"
    for uid in ("lgtm-longterm", "lgtm-logs", "lgtm-traces"):
        assert ds[uid]["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
        assert ds[uid]["secureJsonData"]["httpHeaderValue1"] == EXAMPLE_VARS["lgtm_grafana_tenant"]
    # Provisioning expands $VAR, so the link template must arrive as ${__value.raw}.
    assert "$${__value.raw}" in texts["datasources.yaml"]


# --- nginx -----------------------------------------------------------------------------

def test_nginx_accepts_the_rendered_site(rendered):
    need("nginx")
    _, out, _ = rendered
    r = run([str(REPO / "nginx/validate-site"), str(out / "lgtm.conf")])
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr


def test_nginx_validate_site_rejects_a_broken_site(tmp_path):
    need("nginx")
    bad = tmp_path / "bad.conf"
    bad.write_text("server { listen 127.0.0.1:1; location / { proxy_pass; } }\n")
    assert run([str(REPO / "nginx/validate-site"), str(bad)]).returncode != 0


ECHO = r"""
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = json.dumps({"path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = handle_one
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def site(rendered, tmp_path_factory):
    """nginx running the rendered site in the foreground, every upstream an echo server
    that answers with the path and headers it received."""
    need("nginx")
    _, out, ports = rendered
    run_dir = tmp_path_factory.mktemp("nginx")
    run_dir.chmod(0o755)
    conf = run_dir / "nginx.conf"
    temps = " ".join(f"{k}_temp_path {run_dir / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Workers run as root here: pytest keeps its temp dirs private (0700), so nobody
    # could not read the htpasswd and webroot below them.
    conf.write_text(f"user root;\npid {run_dir}/nginx.pid;\nerror_log stderr;\ndaemon off;\nevents {{}}\n"
                    f"http {{\n include /etc/nginx/mime.types;\n access_log off;\n {temps}\n"
                    f" include {out / 'lgtm.conf'};\n}}\n")
    procs = [subprocess.Popen([sys.executable, "-c", ECHO, str(ports["echo"])]),
             subprocess.Popen(["nginx", "-p", str(run_dir), "-e", "stderr", "-c", str(conf)],
                              stderr=subprocess.PIPE, text=True)]
    deadline = time.time() + 10
    for port in (ports["echo"], ports["https"], ports["http"]):
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or any(p.poll() is not None for p in procs):
                    for p in procs:
                        p.kill()
                    pytest.fail("nginx or the echo upstream did not start: " +
                                (procs[1].stderr.read() if procs[1].poll() is not None else ""))
                time.sleep(0.05)
    yield ports
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()


def https(ports, path, pki=None, auth=None, headers=None, cert=None, method="GET", max_tls=None):
    """(status, lower-cased response headers, body) of one request to the rendered site,
    sent to loopback with SNI and certificate checks for lgtm.test."""
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if max_tls:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_tls
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    if cert:
        ctx.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    h = dict(headers or {})
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn = http.client.HTTPSConnection("lgtm.test", ports["https"], context=ctx, timeout=10)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", ports["https"]), timeout=10),
                                server_hostname="lgtm.test")
    try:
        conn.request(method, path, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


AGENT = ("agent", "change-me-agent")
PUSH_RATE, PUSH_BURST = 20, 40


def test_data_paths_need_credentials(site, pki):
    assert https(site, "/prometheus/api/v1/query", pki)[0] == 401
    assert https(site, "/prometheus/api/v1/query", pki, auth=("agent", "wrong"))[0] == 401
    assert https(site, "/loki/api/v1/push", pki, method="POST")[0] == 401
    assert https(site, "/v1/traces", pki, method="POST")[0] == 401


@pytest.mark.parametrize("path,upstream_path", [
    ("/prometheus/api/v1/query", "/api/v1/query"),
    ("/prometheus/api/v1/write", "/api/v1/write"),
    ("/longterm/api/v1/push", "/api/v1/push"),
    ("/longterm/prometheus/api/v1/query", "/prometheus/api/v1/query"),
    ("/loki/api/v1/push", "/loki/api/v1/push"),
    ("/loki/api/v1/query_range", "/loki/api/v1/query_range"),
    ("/loki/ready", "/ready"),
    ("/tempo/api/search", "/api/search"),
    ("/tempo/v1/traces", "/v1/traces"),
    ("/collector/-/ready", "/-/ready"),
    ("/v1/metrics", "/v1/metrics"),
])
def test_authenticated_requests_reach_the_daemon_with_the_users_tenant(site, pki, path, upstream_path):
    status, _, body = https(site, path, pki, auth=AGENT, method="POST",
                            headers={"X-Scope-OrgID": "someone-else"})
    assert status == 200
    seen = json.loads(body)
    assert seen["path"] == upstream_path
    assert seen["headers"]["x-scope-orgid"] == "default"  # the example maps agent -> default
    assert "authorization" not in seen["headers"]


def test_a_client_certificate_replaces_the_password_and_names_the_tenant(site, pki):
    status, _, body = https(site, "/prometheus/api/v1/query", pki, cert="client",
                            headers={"X-Scope-OrgID": "someone-else"})
    assert status == 200
    assert json.loads(body)["headers"]["x-scope-orgid"] == "team-cert"
    # A certificate from another CA is refused outright.
    assert https(site, "/prometheus/api/v1/query", pki, cert="stranger")[0] == 400


def test_grafana_gets_no_tenant_header_but_keeps_its_authorization(site, pki):
    status, _, body = https(site, "/api/health", pki, auth=("admin", "x"), headers={"X-Scope-OrgID": "evil"})
    seen = json.loads(body)
    assert status == 200 and "x-scope-orgid" not in seen["headers"]
    assert seen["headers"]["authorization"].startswith("Basic ")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_https_sends_hsts_and_refuses_old_tls(site, pki):
    _, headers, _ = https(site, "/prometheus/-/ready", pki, auth=AGENT)
    assert headers["strict-transport-security"] == f"max-age={EXAMPLE_VARS['lgtm_nginx_hsts_max_age']}"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https(site, "/", pki, max_tls=ssl.TLSVersion.TLSv1_1)


def test_tls12_offers_only_ecdhe_aead_ciphers(site, pki):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", site["https"])), server_hostname="lgtm.test") as s:
        name, version, _ = s.cipher()
    assert version == "TLSv1.2" and name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)
    weak = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        weak.wrap_socket(socket.create_connection(("127.0.0.1", site["https"])), server_hostname="lgtm.test")


def plain(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": "lgtm.test"})
    r = conn.getresponse()
    return r.status, r.getheader("Location"), r.read()


def test_http_redirects_to_https_except_the_acme_webroot(site):
    status, location, _ = plain(site["http"], "/loki/api/v1/push?x=1")
    assert status == 301 and location == f"https://lgtm.test:{site['https']}/loki/api/v1/push?x=1"
    assert plain(site["http"], "/.well-known/acme-challenge/token")[::2] == (200, b"challenge-answer")
    assert plain(site["http"], "/.well-known/acme-challenge/missing")[0] == 404


def test_push_floods_get_429(site, pki):
    # Unauthenticated: limiting runs before auth, and this key (address, no user) is
    # not the one the other tests push with.
    codes = set()
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", site["https"])), server_hostname="lgtm.test") as s:
        conn = http.client.HTTPSConnection("lgtm.test", site["https"], context=ctx)
        conn.sock = s
        for _ in range(PUSH_BURST + 200):
            conn.request("POST", "/loki/api/v1/push", body=b"x")
            r = conn.getresponse()
            r.read()
            codes.add(r.status)
            if r.status == 429:
                break
    assert 429 in codes


def test_cert_expiry_metric_is_served_on_loopback(site, rendered, pki):
    _, out, _ = rendered
    r = run([str(REPO / "scripts/cert-expiry"), "--connect", f"127.0.0.1:{site['https']}",
             "--servername", "lgtm.test", "--warn-days", "1", "--textfile", str(out / "tls.prom")])
    assert r.returncode == 0, r.stdout + r.stderr
    conn = http.client.HTTPConnection("127.0.0.1", site["metrics"], timeout=10)
    conn.request("GET", "/metrics/tls")
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/plain")
    m = re.search(r"^probe_ssl_earliest_cert_expiry\{[^}]*\} (\d+)$", text, re.M)
    end = run(["openssl", "x509", "-noout", "-enddate", "-in", str(pki / "server.crt")]).stdout
    assert m and abs(int(m.group(1)) - int(run(["date", "-d", end.split("=", 1)[1].strip(), "+%s"]).stdout)) == 0


def test_health_check_script_passes_and_fails(site, pki):
    argv = [str(REPO / "scripts/health-check"), "--url", f"https://lgtm.test:{site['https']}",
            "--connect-to", f"lgtm.test:{site['https']}:127.0.0.1:{site['https']}",
            "--connect-to", f"lgtm.test:{site['http']}:127.0.0.1:{site['http']}",
            "--http-url", f"http://lgtm.test:{site['http']}", "--cacert", str(pki / "ca.crt"), "--user", "agent"]
    ok = run(argv, env=dict(os.environ, LGTM_HEALTH_PASSWORD="change-me-agent"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all 10 checks passed" in ok.stdout
    bad = run(argv, env=dict(os.environ, LGTM_HEALTH_PASSWORD="wrong"))
    assert bad.returncode == 1 and "FAIL" in bad.stdout


def test_cert_expiry_script_warns_before_the_end(pki, tmp_path):
    script = str(REPO / "scripts/cert-expiry")
    cert = str(pki / "server.crt")  # valid for 2 days
    assert run([script, "--file", cert, "--warn-days", "1"]).returncode == 0
    warn = run([script, "--file", cert, "--warn-days", "21", "--textfile", str(tmp_path / "m.prom")])
    assert warn.returncode == 1 and warn.stdout.startswith("WARNING")
    assert "probe_success{" in (tmp_path / "m.prom").read_text()
    missing = run([script, "--file", str(tmp_path / "nope.pem"), "--textfile", str(tmp_path / "m.prom")])
    assert missing.returncode == 2
    assert re.search(r"^probe_success\{.*\} 0$", (tmp_path / "m.prom").read_text(), re.M)


# --- systemd ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def verify_root(tmp_path_factory):
    """A file-system root for `systemd-analyze verify --root`: the system's unit
    directory, /bin/kill, and executables where our units expect binaries."""
    root = tmp_path_factory.mktemp("root")
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    shutil.copy2("/usr/bin/kill", root / "usr/bin/kill")
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        for exe in unit_values(SYSTEMD / unit, "ExecStart"):
            path = root / exe.split()[0].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\n")
            path.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify(unit, verify_root, rendered):
    _, out, _ = rendered
    etc = verify_root / "etc/systemd/system"
    shutil.copy2(SYSTEMD / unit, etc / unit)
    daemon = re.fullmatch(r"lgtm-(\w+)\.service", unit)
    if daemon and daemon.group(1) in DAEMONS:
        # With the drop-in the role renders (every setting changed), as on a host.
        (etc / f"{unit}.d").mkdir(exist_ok=True)
        shutil.copy2(out / f"dropins/lgtm-{daemon.group(1)}.conf", etc / f"{unit}.d/10-ansible.conf")
    if unit.endswith(".timer"):
        shutil.copy2(SYSTEMD / unit.replace(".timer", ".service"), etc)
    r = run([need("systemd-analyze"), "verify", f"--root={verify_root}", unit])
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr


def exposure(unit):
    r = run([need("systemd-analyze"), "security", "--offline=true", "--threshold=20", str(SYSTEMD / unit)])
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
    return r.returncode, float(m.group(1)) if m else None, r.stdout


@pytest.mark.parametrize("unit", SERVICES)
def test_systemd_analyze_security_at_most_2(unit):
    rc, score, text = exposure(unit)
    assert rc == 0 and score is not None and score <= 2.0, text[-3000:]


def test_security_scores_in_the_docs_match(tmp_path):
    """docs/security.md quotes the measured scores; keep them honest."""
    doc = (REPO / "docs/security.md").read_text()
    for unit in SERVICES:
        _, score, _ = exposure(unit)
        assert re.search(rf"`{re.escape(unit)}`\s*\|\s*{score}\b", doc), f"{unit} {score} not in docs/security.md"


@pytest.mark.parametrize("daemon", DAEMONS)
def test_daemon_units_follow_the_contract(daemon):
    path = SYSTEMD / f"lgtm-{daemon}.service"
    values = {k: v for _, k, v in unit_entries(path)}
    assert values["Type"] == "notify" and values["NotifyAccess"] == "main"
    assert values["ExecStart"] == (f"/opt/lgtm/current/bin/lgtm-{daemon} --config.file=/etc/lgtm/lgtm-{daemon}.yml "
                                   f"--storage.path=/opt/lgtm/data/{daemon}")
    assert values["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert values["Restart"] == "on-failure" and "StartLimitBurst" in values and "WatchdogSec" in values
    assert values["User"] == values["Group"] == f"lgtm-{daemon}"
    assert values["ReadWritePaths"] == f"/opt/lgtm/data/{daemon}"
    assert values["ProtectSystem"] == "strict" and values["CapabilityBoundingSet"] == ""
    assert values["IPAddressDeny"] == "any" and values["IPAddressAllow"] == "localhost"
    assert unit_values(path, "SystemCallFilter")[0] == "@system-service"
    assert values["MemoryDenyWriteExecute"] == "no"  # see the PCRE2 test below


def test_pcre2_jit_needs_writable_executable_memory(tmp_path):
    """Why the units say MemoryDenyWriteExecute=no: under systemd's filter PCRE2 cannot
    JIT-compile (PCRE2_ERROR_NOMEMORY, -48) and matches with its interpreter. If this
    starts to JIT, set MemoryDenyWriteExecute=yes in systemd/lgtm-*.service."""
    exe = tmp_path / "pcre2_jit_mdwe"
    r = run([need("cc"), "-std=gnu17", "-O2", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Werror",
             str(REPO / "tests/deploy/pcre2_jit_mdwe.c"), "-o", str(exe), "-lpcre2-8", "-lseccomp"])
    assert r.returncode == 0, r.stderr
    control = run([str(exe), "--no-filter"])
    assert control.returncode == 0 and control.stdout.split() == ["jit_available=1", "jit_compile=0", "match=1"]
    filtered = run([str(exe)])
    assert filtered.returncode == 0, filtered.stderr
    assert filtered.stdout.split() == ["jit_available=1", "jit_compile=-48", "match=1"]
