"""What the e2e test needs besides the VM: release tarballs, an Ansible inventory for
the VM, ansible-playbook runs with their PLAY RECAP, and an HTTPS client that reaches
nginx in the VM through the forwarded ports with the CA the playbooks generated.

Release builds: `make dist` with VERSION overridden, into a build directory of its own
(build/e2e/build) so the developer's build/ is untouched; only version.o is rebuilt
between two versions. The deliberately broken build is a real build of a third version
whose lgtm-metrics is replaced by a wrapper that passes --check-config and --version to
the real binary but exits 1 when started as a service: it gets past the upgrade's
config check and fails only when the new release is started, which is the case the
automatic switch-back exists for.
"""
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
# LGTM_E2E_ANSIBLE points at another ansible/ tree (for work on the harness itself).
ANSIBLE_DIR = Path(os.environ.get("LGTM_E2E_ANSIBLE", REPO / "ansible"))
PLAYBOOKS = ANSIBLE_DIR / "playbooks"
ANSIBLE_CFG = ANSIBLE_DIR / "ansible.cfg"

SERVER_NAME = "lgtm-e2e.test"
DIST_NAME = "lgtm-native-{version}-linux-amd64"

BROKEN_WRAPPER = """#!/bin/sh
# Deliberately broken build for the e2e test: valid for --check-config and --version,
# fails whenever it is started as the service.
for a in "$@"; do
  case "$a" in
    --check-config|-check-config|--version|-version|--help|-help)
      exec "$0.real" "$@" ;;
  esac
done
echo "lgtm-e2e: deliberately broken build" >&2
exit 1
"""


# --- releases ------------------------------------------------------------------------

def base_version():
    return (REPO / "VERSION").read_text().strip()


DAEMONS = ("metrics", "longterm", "logs", "traces", "collector")


def build_release(version, release_dir, build_dir):
    """`make dist` for `version`; copies the tarball into release_dir."""
    # The Makefile's dist rule prefixes BUILD with the repository path: relative only.
    build = os.path.relpath(build_dir, REPO)
    # -W: version.o is rebuilt with this VERSION for sure; the version stamp's FORCE
    # rule is not run while `.SECONDARY:` lists every target.
    subprocess.run(["make", "--no-print-directory", "-j2", f"BUILD={build}",
                    f"VERSION={version}", "-W", "daemons/lib/version/version.c", "dist"],
                   cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    top = DIST_NAME.format(version=version)
    tarball = Path(release_dir) / (top + ".tar.gz")
    shutil.copy2(REPO / build / "dist" / tarball.name, tarball)
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    missing = [d for d in DAEMONS if f"{top}/bin/lgtm-{d}" not in names]
    if missing:
        raise RuntimeError(f"{tarball.name} lacks bin/lgtm-{missing[0]} (make dist)")
    out = subprocess.run([str(REPO / build / "bin" / "lgtm-metrics"), "--version"],
                         capture_output=True, text=True, check=False).stdout
    if f"version {version} " not in out:
        raise RuntimeError(f"make dist VERSION={version} built: {out.strip()}")
    return tarball


def break_release(tarball, daemon="metrics"):
    """Replaces bin/lgtm-<daemon> in the tarball by BROKEN_WRAPPER (in place)."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp)
        (top,) = Path(tmp).iterdir()
        binary = top / "bin" / f"lgtm-{daemon}"
        binary.rename(binary.with_name(binary.name + ".real"))
        binary.write_text(BROKEN_WRAPPER)
        binary.chmod(0o755)
        subprocess.run(["tar", "-C", tmp, "--owner=0", "--group=0", "--sort=name",
                        "-czf", str(tarball), top.name], check=True)


def write_sha256sums(release_dir):
    """SHA256SUMS for every tarball in release_dir, in sha256sum's format."""
    lines = []
    for t in sorted(Path(release_dir).glob("*.tar.gz")):
        lines.append(f"{hashlib.sha256(t.read_bytes()).hexdigest()}  {t.name}\n")
    (Path(release_dir) / "SHA256SUMS").write_text("".join(lines))


def build_releases(release_dir, build_dir):
    """Three releases in one directory: good, newer, and newest-but-broken.
    Returns {"old": v1, "new": v2, "broken": v3}."""
    release_dir = Path(release_dir)
    if release_dir.exists():
        shutil.rmtree(release_dir)
    release_dir.mkdir(parents=True)
    base = base_version()
    versions = {"old": f"{base}-e2e.1", "new": f"{base}-e2e.2",
                "broken": f"{base}-e2e.3"}
    for v in versions.values():
        build_release(v, release_dir, build_dir)
    break_release(release_dir / (DIST_NAME.format(version=versions["broken"]) + ".tar.gz"))
    write_sha256sums(release_dir)
    return versions


# --- inventory -------------------------------------------------------------------------

def inventory_yaml(vm, dist_dir, users):
    """The inventory for one VM, with the variables of ansible/inventories/example. The
    host is named after the server name, so lgtm_nginx_server_name and lgtm_tls_domains
    keep their defaults (inventory_hostname), as on a real host named by its FQDN; the
    selfsigned CA lands in .lgtm-ca/ beside this file (lgtm_tls_selfsigned_ca_dir's
    default). Values are JSON-quoted, which YAML reads as strings."""
    q = lambda s: '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
    user_lines = "".join(f"        - name: {q(u['name'])}\n"
                         f"          password: {q(u['password'])}\n"
                         f"          tenant: {q(u['tenant'])}\n" for u in users)
    return (
        "# Written by tests/e2e for one VM boot; see tests/e2e/README.md.\n"
        "all:\n"
        "  children:\n"
        "    lgtm:\n"
        "      hosts:\n"
        f"        {SERVER_NAME}:\n"
        "          ansible_host: 127.0.0.1\n"
        f"          ansible_port: {vm.ports[22]}\n"
        f"          ansible_user: {q(vm.user)}\n"
        f"          ansible_ssh_private_key_file: {q(vm.key)}\n"
        "          ansible_ssh_common_args: \"-o StrictHostKeyChecking=no"
        " -o UserKnownHostsFile=/dev/null\"\n"
        "          ansible_python_interpreter: /usr/bin/python3\n"
        "      vars:\n"
        "        lgtm_tls_mode: selfsigned\n"
        f"        lgtm_common_dist_dir: {q(dist_dir)}\n"
        "        lgtm_grafana_enabled: false\n"
        "        lgtm_nginx_users:\n" + user_lines
    )


# --- ansible-playbook ------------------------------------------------------------------

RECAP_LINE = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$")


def parse_recap(output):
    """{host: {"ok": n, "changed": n, "failed": n, ...}} from the PLAY RECAP section;
    empty when the output has none (the play never ran)."""
    recap, seen = {}, False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            seen, recap = True, {}
            continue
        if not seen:
            continue
        m = RECAP_LINE.match(line.strip())
        if m:
            recap[m.group(1)] = {k: int(v) for k, v in
                                 (kv.split("=") for kv in m.group(2).split())}
    return recap


class PlaybookRun:
    def __init__(self, argv, returncode, output, log):
        self.argv, self.returncode, self.output, self.log = argv, returncode, output, log
        self.recap = parse_recap(output)

    def summary(self):
        return (f"{' '.join(self.argv)}\nexit {self.returncode}, recap {self.recap}, "
                f"log {self.log}\n--- last lines:\n"
                + "\n".join(self.output.splitlines()[-40:]))


def run_playbook(name, inventory, logdir, extra_vars=None, timeout=3600):
    """Runs ansible/playbooks/<name> against the inventory. Returns a PlaybookRun, or
    None when the playbook does not exist (the caller fails the test with that)."""
    playbook = PLAYBOOKS / name
    if not playbook.exists():
        return None
    argv = ["ansible-playbook", "-i", str(inventory), str(playbook)]
    for k, v in (extra_vars or {}).items():
        argv += ["-e", f"{k}={v}"]
    # Pipelining saves a file transfer and two round trips per task, which under TCG
    # is seconds each.
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_PIPELINING="True",
               PYTHONUNBUFFERED="1")
    if ANSIBLE_CFG.exists():
        env["ANSIBLE_CONFIG"] = str(ANSIBLE_CFG)
    logdir = Path(logdir)
    n = len(list(logdir.glob("ansible-*.log"))) + 1
    log = logdir / f"ansible-{n:02d}-{Path(name).stem}.log"
    with open(log, "w") as f:
        f.write(" ".join(argv) + "\n")
        f.flush()
        try:
            r = subprocess.run(argv, cwd=ANSIBLE_DIR, env=env, stdout=f,
                               stderr=subprocess.STDOUT, timeout=timeout, check=False)
            rc = r.returncode
        except subprocess.TimeoutExpired:
            rc = -1
    return PlaybookRun(argv, rc, log.read_text(errors="replace"), log)


# --- HTTPS through the forwarded ports ---------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower(), "")

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class Client:
    """curl against nginx in the VM as https://lgtm-e2e.test:<forwarded port>/, with
    --resolve so name, SNI and certificate check are those of a real client."""

    def __init__(self, ports, ca_file, workdir, user=None, password=None):
        self.ports, self.ca_file = ports, ca_file
        self.workdir = Path(workdir)
        self.auth = (user, password)

    def request(self, path, auth=True, headers=None, method="GET", data=None,
                scheme="https", extra=()):
        guest = 443 if scheme == "https" else 80
        port = self.ports[guest]
        hdr_file = self.workdir / "curl-headers"
        body_file = self.workdir / "curl-body"
        argv = ["curl", "-sS", "--max-time", "30", "--resolve",
                f"{SERVER_NAME}:{port}:127.0.0.1", "--cacert", str(self.ca_file),
                "-X", method, "-D", str(hdr_file), "-o", str(body_file),
                "-w", "%{http_code}", *extra]
        if auth and self.auth[0]:
            argv += ["-u", f"{self.auth[0]}:{self.auth[1]}"]
        for k, v in (headers or {}).items():
            argv += ["-H", f"{k}: {v}"]
        if data is not None:
            argv += ["--data-binary", "@-"]
        argv.append(f"{scheme}://{SERVER_NAME}:{port}{path}")
        r = subprocess.run(argv, input=data, capture_output=True, timeout=60, check=False)
        if r.returncode != 0:
            raise AssertionError(f"curl {path}: exit {r.returncode}: "
                                 f"{r.stderr.decode(errors='replace').strip()}")
        headers_out = {}
        for line in hdr_file.read_text(errors="replace").splitlines()[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers_out[k.strip().lower()] = v.strip()
        return Response(int(r.stdout), headers_out, body_file.read_bytes())


# --- remote_write without a snappy module --------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num, wire, payload):
    if wire == 2:
        return _varint(num << 3 | 2) + _varint(len(payload)) + payload
    return _varint(num << 3 | wire) + payload


def write_request(labels, value, timestamp_ms):
    """A Prometheus remote-write WriteRequest with one series and one sample
    (WriteRequest.timeseries=1; TimeSeries.labels=1, samples=2; Label name=1,
    value=2; Sample value=1 double, timestamp=2 int64)."""
    import struct
    series = b"".join(_field(1, 2, _field(1, 2, k.encode()) + _field(2, 2, v.encode()))
                      for k, v in sorted(labels.items()))
    sample = _field(1, 1, struct.pack("<d", value)) + _field(2, 0, _varint(timestamp_ms))
    series += _field(2, 2, sample)
    return _field(1, 2, series)


def snappy_literal(data):
    """Snappy block format holding `data` as literals only: valid for every decoder,
    no compression needed (the test must not depend on a snappy module)."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + n.to_bytes(2, "little")
        out += chunk
    return bytes(out)
