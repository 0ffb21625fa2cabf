"""The fake Semaphore enforces each rule of the API contract.

Every rule is tested in pairs: a valid request is accepted (so the fixture is sound)
and the same request with one rule broken is refused with the contract's status. If
the fake stopped enforcing a rule, test_bootstrap.py could pass against a client that
breaks it; these tests make that visible.
"""
import copy

import pytest

from fake_semaphore import FakeSemaphore
from semaphore_support import SSH_KEY, api


@pytest.fixture
def project(fake):
    """A project with one of everything, as {kind: id} plus 'pid'."""
    status, p = api(fake, "POST", "/api/projects", {"name": "t", "alert": False})
    assert status == 201
    pid = p["id"]
    ids = {"pid": pid}
    status, keys = api(fake, "GET", f"/api/project/{pid}/keys")
    ids["none_key"] = keys[0]["id"]
    for kind, body in (("keys", valid("keys", pid, ids)),
                       ("repositories", None), ("inventory", None),
                       ("environment", None)):
        body = body or valid(kind, pid, ids)
        status, _ = api(fake, "POST", f"/api/project/{pid}/{kind}", body)
        assert status in (201, 204), (kind, status)
        _, listed = api(fake, "GET", f"/api/project/{pid}/{kind}")
        ids[kind] = next(o["id"] for o in listed if o["name"] == body["name"])
    return ids


def valid(kind, pid, ids):
    """A create body that follows every rule for `kind`."""
    bodies = {
        "keys": {"name": "k", "type": "ssh", "project_id": pid,
                 "ssh": {"login": "root", "passphrase": "", "private_key": SSH_KEY}},
        "repositories": {"name": "r", "project_id": pid, "git_url": "/srv/repo",
                         "git_branch": "main", "ssh_key_id": ids.get("none_key")},
        "inventory": {"name": "i", "project_id": pid, "type": "file",
                      "inventory": "hosts.yml", "ssh_key_id": ids.get("keys"),
                      "become_key_id": None, "repository_id": ids.get("repositories")},
        "environment": {"name": "e", "project_id": pid, "json": '{"a": "b"}',
                        "env": '{"X": "1"}', "password": None},
        "templates": {"name": "t", "project_id": pid, "playbook": "site.yml",
                      "app": "ansible", "arguments": "[]", "type": "",
                      "inventory_id": ids.get("inventory"),
                      "repository_id": ids.get("repositories"),
                      "environment_id": ids.get("environment"),
                      "survey_vars": [{"name": "v", "title": "V", "type": "",
                                       "required": True}]},
    }
    return copy.deepcopy(bodies[kind])


def drop(field):
    return lambda b: b.pop(field)


def setf(field, value):
    return lambda b: b.__setitem__(field, value)


BROKEN = [
    # (kind, how to break a valid body, status, error text)
    ("keys", setf("project_id", 999), 400, "Project ID in body and URL must be the same"),
    ("keys", drop("project_id"), 400, "Project ID in body and URL must be the same"),
    ("keys", lambda b: b["ssh"].pop("private_key"), 400, "requires private_key"),
    ("keys", setf("type", "login_password"), 400, "requires password"),
    ("keys", setf("type", "pgp"), 400, "invalid key type"),
    ("keys", setf("name", ""), 400, "name required"),
    ("repositories", drop("ssh_key_id"), 400, "ssh_key_id required"),
    ("repositories", setf("ssh_key_id", 999), 400, "does not exist"),
    ("repositories", setf("ssh_key_id", "1"), 400, "cannot unmarshal string"),
    ("repositories", drop("git_url"), 400, "git_url required"),
    ("inventory", drop("repository_id"), 400, "repository_id required"),
    ("inventory", setf("type", "ini"), 400, "invalid inventory type"),
    ("inventory", setf("inventory", ""), 400, "inventory required"),
    ("environment", setf("json", {"a": "b"}), 400, "cannot unmarshal object"),
    ("environment", setf("env", {"X": "1"}), 400, "cannot unmarshal object"),
    ("environment", setf("json", "[1]"), 400, "JSON object"),
    ("environment", setf("json", "{oops"), 400, "valid JSON"),
    ("environment", drop("json"), 400, "json required"),
    ("environment", setf("secrets", [{"name": "s", "type": "file",
                                      "operation": "create"}]), 400, "env or var"),
    ("templates", drop("app"), 400, "Invalid app id"),
    ("templates", setf("app", ""), 400, "Invalid app id"),
    ("templates", setf("app", "ansible-playbook"), 400, "Invalid app id"),
    ("templates", setf("arguments", ["--diff"]), 400, "cannot unmarshal array"),
    ("templates", setf("arguments", "--diff"), 400, "valid JSON"),
    ("templates", setf("arguments", '{"a": 1}'), 400, "JSON array"),
    ("templates", drop("inventory_id"), 400, "inventory_id required"),
    ("templates", setf("repository_id", 999), 400, "does not exist"),
    ("templates", setf("environment_id", 999), 400, "does not exist"),
    ("templates", drop("playbook"), 400, "playbook required"),
    ("templates", setf("survey_vars", [{"name": "v", "type": "list"}]), 400,
     "survey variable type"),
    ("templates", setf("survey_vars", [{"name": "v", "type": "enum"}]), 400,
     "requires values"),
    ("templates", setf("allow_override_args_in_task", "yes"), 400, "cannot unmarshal"),
]


@pytest.mark.parametrize("kind,breaker,status,text", BROKEN,
                         ids=[f"{b[0]}-{b[3]}" for b in BROKEN])
def test_create_rule(fake, project, kind, breaker, status, text):
    pid = project["pid"]
    good = valid(kind, pid, project)
    good["name"] = "fresh"
    got, body = api(fake, "POST", f"/api/project/{pid}/{kind}", good)
    assert got in (201, 204), body
    bad = valid(kind, pid, project)
    breaker(bad)
    got, body = api(fake, "POST", f"/api/project/{pid}/{kind}", bad)
    assert got == status, body
    assert text in body["error"]


@pytest.mark.parametrize("kind", ["keys", "repositories", "inventory", "environment"])
def test_update_rules(fake, project, kind):
    pid, oid = project["pid"], project[kind]
    path = f"/api/project/{pid}/{kind}/{oid}"
    body = valid(kind, pid, project)
    body.update(id=oid, name="renamed", override_secret=True)
    assert api(fake, "PUT", path, body)[0] == 204
    assert api(fake, "PUT", path, dict(body, id=oid + 1))[1]["error"] == \
        "Object ID in body and URL must be the same"
    assert api(fake, "PUT", path, dict(body, project_id=pid + 1))[1]["error"] == \
        "Project ID in body and URL must be the same"
    assert api(fake, "PUT", path, dict(body, id=None))[0] == 400


def test_auth_header(fake, project):
    assert api(fake, "GET", "/api/ping", auth="") == (200, "pong")
    assert api(fake, "GET", "/api/projects", auth="")[0] == 401
    assert api(fake, "GET", "/api/projects", token="wrong")[0] == 401
    assert api(fake, "GET", "/api/projects", auth="Token " + fake.token)[0] == 401
    assert api(fake, "GET", "/api/projects", auth=fake.token)[0] == 401
    assert api(fake, "GET", "/api/projects", auth="BEARER " + fake.token)[0] == 200
    assert api(fake, "POST", "/api/projects", {"name": "x"}, token="wrong")[0] == 401
    assert [p.meta["name"] for p in fake.projects.values()] == ["t"]


def test_info_reports_the_pinned_version(fake):
    status, info = api(fake, "GET", "/api/info")
    assert status == 200 and info["version"].startswith("2.10.35")


def test_new_project_gets_none_key_and_empty_environment(fake, project):
    pid = project["pid"]
    keys = api(fake, "GET", f"/api/project/{pid}/keys")[1]
    envs = api(fake, "GET", f"/api/project/{pid}/environment")[1]
    assert ("None", "none") in [(k["name"], k["type"]) for k in keys]
    assert "Empty" in [e["name"] for e in envs]
    assert api(fake, "POST", "/api/projects", {"alert": False})[0] == 400


def test_secrets_are_write_only(fake, project):
    pid = project["pid"]
    for k in api(fake, "GET", f"/api/project/{pid}/keys")[1]:
        assert set(k) == {"id", "name", "type", "project_id"}
    one = api(fake, "GET", f"/api/project/{pid}/keys/{project['keys']}")[1]
    assert "ssh" not in one


def test_key_put_without_override_changes_only_the_name(fake, project):
    pid, kid = project["pid"], project["keys"]
    body = {"id": kid, "project_id": pid, "name": "renamed", "type": "none"}
    assert api(fake, "PUT", f"/api/project/{pid}/keys/{kid}", body)[0] == 204
    key = fake.projects[pid].objects["keys"][kid]
    assert (key["name"], key["type"]) == ("renamed", "ssh")
    assert key["ssh"]["private_key"] == SSH_KEY


@pytest.mark.parametrize("flavor,created", [("2.10", 204), ("2.16", 201)])
def test_create_answers_by_flavor(flavor, created):
    with FakeSemaphore(flavor=flavor) as fake:
        _, p = api(fake, "POST", "/api/projects", {"name": "t"})
        pid = p["id"]
        status, body = api(fake, "POST", f"/api/project/{pid}/environment",
                           valid("environment", pid, {}))
        assert status == created
        assert (body is None) == (created == 204)
        status, body = api(fake, "POST", f"/api/project/{pid}/keys",
                           {"name": "n", "type": "none", "project_id": pid})
        assert status == created


def test_template_list_omits_survey_vars(fake, project):
    pid = project["pid"]
    status, t = api(fake, "POST", f"/api/project/{pid}/templates",
                    valid("templates", pid, project))
    assert status == 201
    listed = api(fake, "GET", f"/api/project/{pid}/templates")[1]
    assert "survey_vars" not in listed[0]
    one = api(fake, "GET", f"/api/project/{pid}/templates/{t['id']}")[1]
    assert one["survey_vars"][0]["name"] == "v"


# --- restore ------------------------------------------------------------------------

def backup():
    return {
        "meta": {"name": "r", "alert": False, "alert_chat": None, "max_parallel_tasks": 0},
        "keys": [{"name": "None", "type": "none"}, {"name": "ssh", "type": "ssh"}],
        "repositories": [{"name": "repo", "git_url": "/srv", "git_branch": "main",
                          "ssh_key": "None"}],
        "inventories": [{"name": "inv", "type": "file", "inventory": "hosts.yml",
                         "ssh_key": "ssh", "become_key": None}],
        "environments": [{"name": "env", "json": "{}", "env": "{}", "password": None}],
        "templates": [{"name": "t", "playbook": "site.yml", "app": "ansible",
                       "arguments": "[]", "type": "", "survey_vars": [],
                       "inventory": "inv", "repository": "repo", "environment": "env",
                       "view": None, "build_template": None}],
        "views": [], "integrations": [], "integration_aliases": [], "schedules": [],
    }


def broken_backup(section, index, field, value):
    def f(doc):
        if field is None:
            doc[section].append(copy.deepcopy(doc[section][index]))
        elif value is KeyError:
            doc[section][index].pop(field)
        else:
            doc[section][index][field] = value
    return f


RESTORE_BROKEN = [
    ("missing app", broken_backup("templates", 0, "app", KeyError), "Invalid app id"),
    ("empty app", broken_backup("templates", 0, "app", ""), "Invalid app id"),
    ("arguments array", broken_backup("templates", 0, "arguments", []), "cannot unmarshal"),
    ("json object", broken_backup("environments", 0, "json", {}), "cannot unmarshal"),
    ("dangling repository", broken_backup("templates", 0, "repository", "x"),
     "does not exist in repositories"),
    ("dangling inventory", broken_backup("templates", 0, "inventory", "x"),
     "does not exist in inventories"),
    ("dangling key", broken_backup("inventories", 0, "ssh_key", "x"),
     "does not exist in keys"),
    ("repository without key", broken_backup("repositories", 0, "ssh_key", KeyError),
     "does not exist in keys"),
    ("view", broken_backup("templates", 0, "view", "Deploy"), "does not exist in views"),
    ("duplicate key", broken_backup("keys", 1, None, None), "is duplicate"),
    ("duplicate template", broken_backup("templates", 0, None, None), "is duplicate"),
    ("no meta name", lambda doc: doc["meta"].pop("name"), "meta.name required"),
]


@pytest.mark.parametrize("breaker,text", [(b, t) for _, b, t in RESTORE_BROKEN],
                         ids=[n for n, _, _ in RESTORE_BROKEN])
def test_restore_rule(fake, breaker, text):
    doc = backup()
    breaker(doc)
    status, body = api(fake, "POST", "/api/projects/restore", doc)
    assert status == 400, body
    assert text in body["error"]
    assert fake.projects == {}


def test_restore_always_creates_a_new_project(fake):
    for _ in range(2):
        status, p = api(fake, "POST", "/api/projects/restore", backup())
        assert status == 200 and p["name"] == "r"
    assert len(fake.projects) == 2
    p = next(iter(fake.projects.values()))
    # Only what the backup holds: no automatic None key or Empty environment.
    assert [k["name"] for k in fake.objects(p, "keys")] == ["None", "ssh"]
    assert [e["name"] for e in fake.objects(p, "environment")] == ["env"]
    t = fake.objects(p, "templates")[0]
    inv = fake.objects(p, "inventory")[0]
    assert t["inventory_id"] == inv["id"] and t["app"] == "ansible"
