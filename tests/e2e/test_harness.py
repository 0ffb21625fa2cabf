"""Offline, fast tests of the e2e harness's own parts (no VM, no network): the mirror
parser, the PLAY RECAP parser, the inventory, the remote-write encoder and the broken
release. Run alone with: python3 -m pytest -q tests/e2e/test_harness.py
"""
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import deploy

APT_SOURCES = Path(__file__).resolve().parent / "vm" / "apt-sources"

SOURCES = """\
Types: deb
# a comment inside the stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm

Types: deb
URIs: http://mirror.example/debian-security
Suites:
 bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm

Types: deb
URIs: https://thirdparty.example/apt
Suites: nodistro
"""


def apt_sources(tmp_path, mode, text=SOURCES):
    (tmp_path / "debian.sources").write_text(text)
    (tmp_path / "other.sources.disabled").write_text(
        "Types: deb\nURIs: http://x.example/\nSuites: bookworm\n")
    env = dict(os.environ, LGTM_E2E_APT_SOURCES_DIR=str(tmp_path))
    return subprocess.run([str(APT_SOURCES), mode], env=env, capture_output=True,
                          text=True, check=False)


def test_apt_sources_gives_debootstrap_the_release_stanza(tmp_path):
    r = apt_sources(tmp_path, "--debootstrap")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "bookworm http://mirror.example/debian\n"


def test_apt_sources_gives_the_guest_every_debian_stanza_of_the_release(tmp_path):
    r = apt_sources(tmp_path, "--guest")
    assert r.returncode == 0, r.stderr
    stanzas = r.stdout.strip().split("\n\n")
    assert len(stanzas) == 2
    assert "URIs: http://mirror.example/debian\n" in stanzas[0]
    assert "Suites: bookworm bookworm-updates\n" in stanzas[0]
    assert "Components: main contrib\n" in stanzas[0]
    assert "Suites: bookworm-security\n" in stanzas[1]
    assert "disabled" not in r.stdout and "thirdparty" not in r.stdout


def test_apt_sources_fails_without_a_release_stanza(tmp_path):
    r = apt_sources(tmp_path, "--debootstrap",
                    "Types: deb\nURIs: http://m.example/debian\nSuites: trixie\n")
    assert r.returncode == 1 and "no enabled deb stanza" in r.stderr
    assert apt_sources(tmp_path, "--bogus").returncode == 2


RECAP = """\
PLAY [first] *****
TASK [x] *****
ok: [lgtm-e2e]

PLAY RECAP *********************************************************************
lgtm-e2e                   : ok=42   changed=3    unreachable=0    failed=0    skipped=7    rescued=0    ignored=1
other                      : ok=1    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0

"""


def test_parse_recap_reads_every_host():
    recap = deploy.parse_recap("noise\n" + RECAP)
    assert recap["lgtm-e2e"] == {"ok": 42, "changed": 3, "unreachable": 0, "failed": 0,
                                 "skipped": 7, "rescued": 0, "ignored": 1}
    assert recap["other"]["unreachable"] == 1


def test_parse_recap_is_empty_when_no_play_ran():
    assert deploy.parse_recap("ERROR! the playbook could not be found\n") == {}


def test_inventory_is_read_by_ansible_as_written(tmp_path):
    if not shutil.which("ansible-inventory"):
        pytest.skip("ansible not installed (tests/e2e/install-deps)")
    vm = SimpleNamespace(ports={22: 40022}, user="deploy", key=Path("/k/id_ed25519"))
    users = [{"name": "e2e", "password": 'p"a:ss\\w', "tenant": "t-1"}]
    inv = tmp_path / "inventory.yml"
    inv.write_text(deploy.inventory_yaml(vm, Path("/rel dir"), users))
    r = subprocess.run(["ansible-inventory", "-i", str(inv), "--list"],
                       capture_output=True, text=True, check=True)
    data = json.loads(r.stdout)
    assert data["lgtm"]["hosts"] == [deploy.SERVER_NAME]
    host = data["_meta"]["hostvars"][deploy.SERVER_NAME]
    assert host["ansible_port"] == 40022 and host["ansible_host"] == "127.0.0.1"
    assert host["ansible_ssh_private_key_file"] == "/k/id_ed25519"
    assert host["lgtm_common_dist_dir"] == "/rel dir"
    assert host["lgtm_nginx_users"] == users
    assert host["lgtm_grafana_enabled"] is False
    assert host["lgtm_tls_mode"] == "selfsigned"


def test_inventory_sets_only_variables_the_roles_know(tmp_path):
    """The inventory's lgtm_* names are options of some role's meta/argument_specs.yml,
    so a renamed role variable cannot silently fall back to its default here."""
    import yaml
    known = set()
    for spec in (deploy.REPO / "ansible/roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            known |= set(entry.get("options", {}))
    vm = SimpleNamespace(ports={22: 1}, user="u", key=Path("/k"))
    inv = yaml.safe_load(deploy.inventory_yaml(vm, Path("/d"), [
        {"name": "n", "password": "p", "tenant": "t"}]))
    group = inv["all"]["children"]["lgtm"]
    used = set(group["vars"]) | set(group["hosts"][deploy.SERVER_NAME])
    assert {v for v in used if v.startswith("lgtm_")} - known == set()


def snappy_decode(data):
    """Reference decoder for the literal-only subset (the format's tag 00 elements)."""
    n, shift, i = 0, 0, 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        assert tag & 3 == 0, "not a literal"
        length = tag >> 2
        if length >= 60:
            extra = length - 59
            length = int.from_bytes(data[i:i + extra], "little")
            i += extra
        out += data[i:i + length + 1]
        i += length + 1
    assert len(out) == n
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, 59, 60, 61, 255, 256, 257, 65536, 65537, 200000])
def test_snappy_literal_round_trips(size):
    data = bytes((i * 7) & 0xFF for i in range(size))
    assert snappy_decode(deploy.snappy_literal(data)) == data


def test_write_request_matches_the_remote_write_field_numbers():
    if not shutil.which("protoc"):
        pytest.skip("protoc not installed (scripts/install-deps)")
    msg = deploy.write_request({"__name__": "m", "job": "j"}, 1.5, 1700000000000)
    r = subprocess.run(["protoc", "--decode_raw"], input=msg, capture_output=True,
                       check=True)
    text = r.stdout.decode()
    # timeseries(1) { labels(1) {name(1) value(2)} ... samples(2) {value(1) ts(2)} }
    assert text.count('1 {\n    1: "') == 2
    assert '1: "__name__"' in text and '2: "m"' in text and '2: "j"' in text
    assert "1: 0x3ff8000000000000" in text and "2: 1700000000000" in text


def test_broken_release_passes_config_checks_and_fails_as_a_service(tmp_path):
    top = tmp_path / "lgtm-native-1.0.0-linux-amd64"
    (top / "bin").mkdir(parents=True)
    real = top / "bin" / "lgtm-metrics"
    real.write_text("#!/bin/sh\necho real \"$@\"\n")
    real.chmod(0o755)
    tarball = tmp_path / "r.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    deploy.break_release(tarball)
    out = tmp_path / "out"
    with tarfile.open(tarball) as tar:
        tar.extractall(out)
        assert all(m.uid == 0 and m.gid == 0 for m in tar.getmembers())
    wrapper = out / top.name / "bin" / "lgtm-metrics"
    r = subprocess.run([str(wrapper), "--check-config", "--config.file=x"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0 and r.stdout == "real --check-config --config.file=x\n"
    r = subprocess.run([str(wrapper), "--config.file=x"], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 1 and "deliberately broken" in r.stderr
