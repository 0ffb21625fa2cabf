"""semaphore/bootstrap and semaphore/make-backup against the fake Semaphore.

The fake enforces the API contract (test_fake_semaphore.py proves it rejects what the
contract forbids), so these tests check that the tools follow it: the first run builds
the whole project, a second run writes nothing, a changed definition is applied in
place, failures are clean, and the backup JSON restores.
"""
import json

import pytest

from fake_semaphore import FakeSemaphore
from semaphore_support import (BACKUP_FILE, MAKE_BACKUP, PROJECT_FILE, SSH_KEY, api,
                               bootstrap, clean_env, run_tool)

TEMPLATES = {
    "deploy": "ansible/playbooks/site.yml",
    "upgrade": "ansible/playbooks/upgrade.yml",
    "rollback": "ansible/playbooks/rollback.yml",
    "backup": "ansible/playbooks/backup.yml",
    "health": "ansible/playbooks/health.yml",
}


def definition():
    return json.loads(PROJECT_FILE.read_text())


def write_definition(tmp_path, d, name="project.json"):
    p = tmp_path / name
    p.write_text(json.dumps(d, indent=2))
    return p


def by_name(objects):
    return {o["name"]: o for o in objects}


def snapshot(fake):
    """Every object of project lgtm as {kind: {name: object}}, for before/after checks."""
    p = fake.project_named("lgtm")
    return {kind: by_name(fake.objects(p, kind)) for kind in p.objects}


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def failed(result, code=1):
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return result


# --- first run ----------------------------------------------------------------------

@pytest.mark.parametrize("flavor", ["2.10", "2.16"])
def test_first_run_creates_the_whole_project(flavor, ssh_key):
    with FakeSemaphore(flavor=flavor) as fake:
        r = ok(bootstrap(fake, key=ssh_key))
        assert "done: 10 created, 0 updated, 1 unchanged" in r.stdout
        p = fake.project_named("lgtm")
        assert p.meta["max_parallel_tasks"] == 1
        s = snapshot(fake)

    keys = s["keys"]
    assert set(keys) == {"None", "lgtm-hosts-ssh"}
    ssh = keys["lgtm-hosts-ssh"]
    assert ssh["type"] == "ssh"
    assert ssh["ssh"]["private_key"] == SSH_KEY
    assert ssh["ssh"]["login"] == "root"

    repo = s["repositories"]["lgtm-native"]
    assert repo["git_url"] == "/opt/lgtm-native"
    assert repo["ssh_key_id"] == keys["None"]["id"]

    inv = s["inventory"]["example"]
    assert inv["type"] == "file"
    assert inv["inventory"] == "ansible/inventories/example/hosts.yml"
    assert inv["repository_id"] == repo["id"]
    assert inv["ssh_key_id"] == ssh["id"]

    env = s["environment"]["lgtm"]
    assert isinstance(env["json"], str) and isinstance(env["env"], str)
    assert json.loads(env["json"]) == {"lgtm_tls_mode": "selfsigned"}
    assert json.loads(env["env"])["ANSIBLE_CONFIG"] == "ansible/ansible.cfg"
    assert "Empty" in s["environment"]  # Semaphore's own, left alone

    tpl = s["templates"]
    assert {n: t["playbook"] for n, t in tpl.items()} == TEMPLATES
    for t in tpl.values():
        assert t["app"] == "ansible"
        assert t["arguments"] == "[]"
        assert (t["inventory_id"], t["repository_id"], t["environment_id"]) == \
            (inv["id"], repo["id"], env["id"])
    survey = tpl["upgrade"]["survey_vars"]
    assert [(v["name"], v["type"], v["required"]) for v in survey] == \
        [("lgtm_common_version", "", True)]


def test_dry_run_writes_nothing(fake, ssh_key):
    r = ok(bootstrap(fake, "--dry-run", key=ssh_key))
    assert fake.writes == []
    assert "template upgrade: would be created" in r.stdout
    assert "key None: unchanged (Semaphore adds it to every new project)" in r.stdout
    assert "dry run, nothing changed: 10 to create, 0 to update, 1 unchanged" in r.stdout
    ok(bootstrap(fake, key=ssh_key))
    r = ok(bootstrap(fake, "--dry-run"))
    assert "no changes" in r.stdout


# --- idempotency and updates --------------------------------------------------------

def test_second_run_changes_nothing_and_needs_no_secret(fake, ssh_key):
    ok(bootstrap(fake, key=ssh_key))
    before = snapshot(fake)
    writes = len(fake.writes)
    r = ok(bootstrap(fake))  # no SSH key: nothing needs it
    assert "no changes: project lgtm already matches" in r.stdout
    assert "updated" not in r.stdout and "created" not in r.stdout
    assert len(fake.writes) == writes
    assert snapshot(fake) == before


def test_changed_definition_updates_in_place(fake, ssh_key, tmp_path):
    ok(bootstrap(fake, key=ssh_key))
    before = snapshot(fake)
    d = definition()
    health = next(t for t in d["templates"] if t["name"] == "health")
    health["playbook"] = "ansible/playbooks/health-full.yml"
    health["arguments"] = ["--diff"]
    upgrade = next(t for t in d["templates"] if t["name"] == "upgrade")
    upgrade["survey_vars"][0]["description"] = "changed"
    f = write_definition(tmp_path, d)

    r = ok(bootstrap(fake, "--project-file", f, LGTM_TLS_MODE="letsencrypt"))
    assert "template health: updated (playbook, arguments)" in r.stdout
    assert "template upgrade: updated (survey_vars)" in r.stdout
    assert "environment lgtm: updated (json)" in r.stdout
    assert "done: 0 created, 3 updated, 8 unchanged" in r.stdout

    after = snapshot(fake)
    for kind in before:  # same objects, same ids: updated in place
        assert {n: o["id"] for n, o in after[kind].items()} == \
            {n: o["id"] for n, o in before[kind].items()}
    assert after["templates"]["health"]["arguments"] == '["--diff"]'
    assert json.loads(after["environment"]["lgtm"]["json"])["lgtm_tls_mode"] == "letsencrypt"
    assert after["templates"]["upgrade"]["survey_vars"][0]["description"] == "changed"

    r = ok(bootstrap(fake, "--project-file", f, LGTM_TLS_MODE="letsencrypt"))
    assert "no changes" in r.stdout


def test_update_keeps_fields_it_does_not_manage(fake, ssh_key, tmp_path):
    ok(bootstrap(fake, key=ssh_key))
    p = fake.project_named("lgtm")
    deploy = by_name(fake.objects(p, "templates"))["deploy"]
    deploy["view_id"] = 42  # set in the UI, say
    d = definition()
    d["templates"][0]["description"] = "new words"
    ok(bootstrap(fake, "--project-file", write_definition(tmp_path, d)))
    deploy = by_name(fake.objects(p, "templates"))["deploy"]
    assert deploy["description"] == "new words"
    assert deploy["view_id"] == 42


def test_objects_not_in_the_file_are_left_alone(fake, ssh_key):
    ok(bootstrap(fake, key=ssh_key))
    p = fake.project_named("lgtm")
    s = snapshot(fake)
    status, _ = api(fake, "POST", f"/api/project/{p.pid}/templates", {
        "project_id": p.pid, "name": "custom", "playbook": "x.yml", "app": "ansible",
        "inventory_id": s["inventory"]["example"]["id"],
        "repository_id": s["repositories"]["lgtm-native"]["id"], "arguments": "[]"})
    assert status == 201
    r = ok(bootstrap(fake))
    assert "note: templates not in the project file, left alone: custom" in r.stdout
    assert "custom" in snapshot(fake)["templates"]


def test_update_secrets_rekeys(fake, ssh_key, tmp_path):
    ok(bootstrap(fake, key=ssh_key))
    new_key = tmp_path / "id_new"
    new_key.write_text(SSH_KEY.replace("ZmFr", "bmV3"))
    r = ok(bootstrap(fake, key=new_key))
    assert "no changes" in r.stdout  # secrets are write-only: not compared
    r = ok(bootstrap(fake, "--update-secrets", key=new_key))
    assert "key lgtm-hosts-ssh: updated (secret)" in r.stdout
    key = snapshot(fake)["keys"]["lgtm-hosts-ssh"]
    assert key["ssh"]["private_key"] == new_key.read_text()


def test_key_file_option(fake, ssh_key):
    r = ok(bootstrap(fake, "--key-file", f"lgtm-hosts-ssh={ssh_key}"))
    assert "key lgtm-hosts-ssh: created" in r.stdout
    r = failed(bootstrap(fake, "--key-file", f"nosuchkey={ssh_key}"), 2)
    assert "no key with a secret named 'nosuchkey'" in r.stderr


def test_environment_secrets_are_created_once(fake, ssh_key, tmp_path):
    d = definition()
    d["environments"][0]["secrets"] = [
        {"name": "grafana_admin_password", "type": "var", "secret_env": "LGTM_TEST_PW"}]
    f = write_definition(tmp_path, d)
    ok(bootstrap(fake, "--project-file", f, key=ssh_key, LGTM_TEST_PW="s3cret"))
    env = snapshot(fake)["environment"]["lgtm"]
    assert [(s["name"], s["type"], s["secret"]) for s in env["secrets"]] == \
        [("grafana_admin_password", "var", "s3cret")]
    r = ok(bootstrap(fake, "--project-file", f))  # present: not needed again
    assert "no changes" in r.stdout
    r = ok(bootstrap(fake, "--project-file", f, "--update-secrets", key=ssh_key,
                     LGTM_TEST_PW="rotated"))
    assert "environment lgtm: updated (secrets)" in r.stdout
    env = snapshot(fake)["environment"]["lgtm"]
    assert [s["secret"] for s in env["secrets"]] == ["rotated"]


def test_private_repository_with_a_login_password_key(fake, ssh_key, tmp_path):
    d = definition()
    d["keys"].append({"name": "lgtm-repo", "type": "login_password", "login": "deploy",
                      "secret_env": "LGTM_TEST_REPO_TOKEN"})
    d["repositories"][0].update(ssh_key="lgtm-repo", git_url="https://git.example/lgtm.git")
    f = write_definition(tmp_path, d)
    r = failed(bootstrap(fake, "--project-file", f, key=ssh_key))
    assert "LGTM_TEST_REPO_TOKEN" in r.stderr
    ok(bootstrap(fake, "--project-file", f, key=ssh_key, LGTM_TEST_REPO_TOKEN="tok"))
    s = snapshot(fake)
    key = s["keys"]["lgtm-repo"]
    assert key["login_password"] == {"login": "deploy", "password": "tok"}
    assert s["repositories"]["lgtm-native"]["ssh_key_id"] == key["id"]


# --- failures -----------------------------------------------------------------------

def test_bad_token_fails_cleanly(fake, ssh_key):
    r = failed(bootstrap(fake, key=ssh_key, token="wrong"))
    assert "401" in r.stderr and "API token" in r.stderr
    assert fake.writes == []


def test_unreachable_server_fails_cleanly(ssh_key):
    with FakeSemaphore() as fake:
        pass  # stopped: its port is closed now
    r = failed(bootstrap(fake, key=ssh_key))
    assert "cannot reach" in r.stderr


def test_missing_secret_fails_before_any_write(fake):
    r = failed(bootstrap(fake))
    assert "LGTM_SEMAPHORE_SSH_KEY" in r.stderr and "--key-file" in r.stderr
    assert fake.writes == []


def test_public_key_is_refused(fake, tmp_path):
    pub = tmp_path / "id.pub"
    pub.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA test\n")
    r = failed(bootstrap(fake, key=pub))
    assert "private key" in r.stderr
    assert fake.writes == []


def test_duplicate_names_on_the_server_stop_the_run(fake, ssh_key):
    ok(bootstrap(fake, key=ssh_key))
    p = fake.project_named("lgtm")
    inv = snapshot(fake)["inventory"]["example"]
    body = {k: v for k, v in inv.items() if k != "id"}
    assert api(fake, "POST", f"/api/project/{p.pid}/inventory", body)[0] == 201
    writes = len(fake.writes)
    r = failed(bootstrap(fake))
    assert "2 inventories are named 'example'" in r.stderr
    assert len(fake.writes) == writes


def test_version_pin(fake, ssh_key):
    pinned = definition()["semaphore_version"]
    assert fake.version.startswith(pinned)  # the fake plays the pinned release
    fake.version = "v2.16.14-abcdef"
    r = ok(bootstrap(fake, key=ssh_key))
    assert "note: server version 'v2.16.14-abcdef' is not the pinned" in r.stdout
    r = failed(bootstrap(fake, "--require-version"))
    assert "not the pinned" in r.stderr


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["templates"][0].update(inventory="nope"),
     "templates[0].inventory: no inventory named 'nope'"),
    (lambda d: d["keys"][1].update(private_key="-----BEGIN"),
     "'private_key' is a secret and must not be in the project file"),
    (lambda d: d["templates"][1].update(app="bash"),
     "templates[1].app: only ansible templates are supported"),
    (lambda d: d["templates"][1].update(playbok="x"), "unknown field 'playbok'"),
    (lambda d: d["templates"].append(dict(d["templates"][0])),
     "two entries named 'deploy'"),
    (lambda d: d["environments"][0]["env"].update(N=1),
     "env.N: process environment values must be strings"),
    (lambda d: d["repositories"][0].update(git_url="${LGTM_UNSET_VAR}"),
     "environment variable LGTM_UNSET_VAR is not set"),
    (lambda d: d["keys"][1].pop("secret_env"), "missing field 'secret_env'"),
])
def test_bad_definition_exits_2_before_any_request(fake, tmp_path, mutate, message):
    d = definition()
    mutate(d)
    r = failed(bootstrap(fake, "--project-file", write_definition(tmp_path, d)), 2)
    assert message in r.stderr
    assert fake.requests == []


def test_bad_json_and_usage_exit_2(fake, tmp_path):
    f = tmp_path / "broken.json"
    f.write_text('{"project": ')
    r = failed(bootstrap(fake, "--project-file", f), 2)
    assert "invalid JSON" in r.stderr
    r = failed(run_tool(MAKE_BACKUP.parent / "bootstrap", env=clean_env()), 2)
    assert "--url" in r.stderr


# --- backup JSON --------------------------------------------------------------------

def test_committed_backup_is_current():
    r = ok(run_tool(MAKE_BACKUP))
    assert r.stdout == BACKUP_FILE.read_text(), \
        "semaphore/project-backup.json is stale: run semaphore/make-backup " \
        "-o semaphore/project-backup.json with no LGTM_* variables set"


def walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
            yield f"{path}.{k}", k, v
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")


def test_backup_has_no_ids_and_no_secrets():
    doc = json.loads(BACKUP_FILE.read_text())
    for where, k, v in walk(doc):
        assert k not in ("id", "project_id") and not k.endswith("_id"), where
        assert k not in ("private_key", "secret", "secrets", "ssh", "login_password"), where
    assert doc["keys"] == [{"name": "None", "type": "none"},
                           {"name": "lgtm-hosts-ssh", "type": "ssh"}]
    for t in doc["templates"]:
        assert t["app"] == "ansible"  # semaphore#2227
        assert isinstance(t["arguments"], str)
    for e in doc["environments"]:
        assert isinstance(e["json"], str) and isinstance(e["env"], str)


def test_backup_restores_and_bootstrap_completes_it(fake, ssh_key):
    doc = json.loads(BACKUP_FILE.read_text())
    status, project = api(fake, "POST", "/api/projects/restore", doc)
    assert status == 200, project
    assert project["name"] == "lgtm"
    s = snapshot(fake)
    assert {n: t["playbook"] for n, t in s["templates"].items()} == TEMPLATES
    assert all(t["app"] == "ansible" for t in s["templates"].values())
    assert "ssh" not in s["keys"]["lgtm-hosts-ssh"]  # a restore carries no secrets

    r = ok(bootstrap(fake, "--update-secrets", key=ssh_key))
    assert "done: 0 created, 2 updated, 9 unchanged" in r.stdout
    assert "key lgtm-hosts-ssh: updated (secret)" in r.stdout
    assert "inventory example: updated (repository_id)" in r.stdout
    s = snapshot(fake)
    assert s["keys"]["lgtm-hosts-ssh"]["ssh"]["private_key"] == SSH_KEY
    assert s["inventory"]["example"]["repository_id"] == s["repositories"]["lgtm-native"]["id"]
    r = ok(bootstrap(fake))
    assert "no changes" in r.stdout


def test_restore_always_adds_a_project_and_bootstrap_refuses_to_guess(fake, ssh_key):
    ok(bootstrap(fake, key=ssh_key))
    doc = json.loads(BACKUP_FILE.read_text())
    assert api(fake, "POST", "/api/projects/restore", doc)[0] == 200
    assert [p.meta["name"] for p in fake.projects.values()] == ["lgtm", "lgtm"]
    writes = len(fake.writes)
    r = failed(bootstrap(fake))
    assert "2 projects are named 'lgtm'" in r.stderr
    assert len(fake.writes) == writes


def test_make_backup_follows_the_environment(tmp_path):
    out = tmp_path / "b.json"
    ok(run_tool(MAKE_BACKUP, "-o", out,
                env=clean_env(LGTM_INVENTORY="prod", LGTM_REPO_URL="https://git.example/x")))
    doc = json.loads(out.read_text())
    assert doc["inventories"][0]["name"] == "prod"
    assert doc["inventories"][0]["inventory"] == "ansible/inventories/prod/hosts.yml"
    assert {t["inventory"] for t in doc["templates"]} == {"prod"}
    assert doc["repositories"][0]["git_url"] == "https://git.example/x"
