"""A fake Semaphore UI REST API that enforces ../shared/contracts/semaphore-api.md.

Semaphore cannot be installed on the build hosts, so semaphore/bootstrap is tested
against this stand-in. It is deliberately strict: every rule of the contract that a
client can break is a 4xx here, so a client that passes against the fake follows the
contract. State lives in memory; the server listens on 127.0.0.1 on a port the OS
picks (port 0).

Rules enforced (contract section in brackets):
  * Authorization: Bearer <token> on everything but /api/ping; else 401 [1]
  * environment json/env and template arguments are strings holding JSON; an object
    or array in their place is a 400, like Go's binding into a string field [2.1]
  * project_id in every create/update body equals the path; PUT id equals the path [2.2]
  * required fields and references: a repository's ssh_key_id, an ansible template's
    inventory_id, keys' secrets by type, a file inventory's repository_id [3.2-3.6]
  * a template's app must be a known app; empty or missing is 400 Invalid app id [3.6]
  * restore: names unique per kind, references by name resolve, every template has
    its app; a restore always creates a new project [4]
Quirks reproduced so the client must cope with them:
  * flavor "2.10": creating keys, repositories and environments answers 204 with no
    body; flavor "2.16" answers 201 with the object for everything [2.3]
  * GET .../templates (the list) omits survey_vars, as 2.12 did (semaphore#2737) [3.6]
  * key secrets and environment secrets are write-only; PUT on a key changes only its
    name unless override_secret is true [3.2, 3.5]
  * creating a project adds a key "None" and an environment "Empty" [3.1]

Run it by hand: python3 tests/semaphore/fake_semaphore.py --token TOKEN
"""
import argparse
import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APPS = ("ansible", "terraform", "tofu", "bash", "powershell", "python", "pulumi")
KEY_TYPES = ("none", "ssh", "login_password", "string")
INVENTORY_TYPES = ("static", "static-yaml", "file", "terraform-workspace", "tofu-workspace")
TEMPLATE_TYPES = ("", "build", "deploy")
SURVEY_TYPES = ("", "int", "enum", "secret", "text")

OPT_INT = (int, type(None))
OPT_STR = (str, type(None))
OPT_LIST = (list, type(None))
BASE = {"id": OPT_INT, "name": OPT_STR, "project_id": OPT_INT}
# What each body may carry and with which JSON type (Go binds null to the zero value).
FIELDS = {
    "project": {"id": OPT_INT, "name": OPT_STR, "alert": bool, "alert_chat": OPT_STR,
                "max_parallel_tasks": OPT_INT, "type": OPT_STR, "demo": bool},
    "keys": dict(BASE, type=OPT_STR, override_secret=bool, ssh=(dict, type(None)),
                 login_password=(dict, type(None))),
    "repositories": dict(BASE, git_url=OPT_STR, git_branch=OPT_STR, ssh_key_id=OPT_INT),
    "inventory": dict(BASE, inventory=OPT_STR, type=OPT_STR, ssh_key_id=OPT_INT,
                      become_key_id=OPT_INT, repository_id=OPT_INT),
    "environment": dict(BASE, json=OPT_STR, env=OPT_STR, password=OPT_STR,
                        secrets=OPT_LIST),
    "templates": dict(BASE, playbook=OPT_STR, inventory_id=OPT_INT, repository_id=OPT_INT,
                      environment_id=OPT_INT, app=OPT_STR, arguments=OPT_STR,
                      allow_override_args_in_task=bool, description=OPT_STR,
                      type=OPT_STR, start_version=OPT_STR, build_template_id=OPT_INT,
                      autorun=bool, view_id=OPT_INT, suppress_success_alerts=bool,
                      git_branch=OPT_STR, survey_vars=OPT_LIST, vaults=OPT_LIST),
}
KINDS = ("keys", "repositories", "inventory", "environment", "templates")
# 2.10 answers these creates with 204 and no body.
NO_BODY_CREATES = ("keys", "repositories", "environment")


class Rejected(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message):
    return Rejected(400, message)


def _jtype(v):
    return {dict: "object", list: "array", str: "string", bool: "bool"}.get(type(v), "number")


def _type_ok(v, types):
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(v, bool):  # a bool is an int to Python, not to Go
        return bool in types
    return isinstance(v, types)


def bind(body, kind):
    """Go-style binding: unknown fields ignored, a wrong JSON type is a 400."""
    if not isinstance(body, dict):
        raise bad("request body must be a JSON object")
    out = {}
    for field, types in FIELDS[kind].items():
        if field not in body:
            continue
        v = body[field]
        if not _type_ok(v, types):
            raise bad(f"json: cannot unmarshal {_jtype(v)} into Go struct field "
                      f"{kind}.{field}")
        out[field] = v
    return out


def json_text(value, want, field):
    """A JSON-in-a-string field: '' or null means unset, else it must parse to `want`."""
    if value in (None, ""):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise bad(f"{field} must hold valid JSON") from None
    if not isinstance(parsed, want):
        raise bad(f"{field} must hold a JSON {'object' if want is dict else 'array'}")
    return parsed


class Project:
    def __init__(self, pid, meta):
        self.meta = meta
        self.objects = {k: {} for k in KINDS}
        self.pid = pid

    def named(self, kind, name):
        return [o for o in self.objects[kind].values() if o["name"] == name]


class FakeSemaphore:
    def __init__(self, token="lgtmfaketoken0123456789abcdef", version="2.10.35-fake",
                 flavor="2.10"):
        if flavor not in ("2.10", "2.16"):
            raise ValueError("flavor must be 2.10 or 2.16")
        self.token = token
        self.version = version
        self.flavor = flavor
        self.projects = {}
        self.writes = []     # (method, path) of every successful write
        self.requests = []   # (method, path, status) of every request
        self._next = 1
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.url = None

    # --- lifecycle ----------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                status, payload = fake.handle(self.command, self.path,
                                              self.headers.get("Authorization"), raw)
                data = b""
                if payload is not None:
                    data = (payload if isinstance(payload, bytes)
                            else json.dumps(payload).encode())
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- inspection for tests -----------------------------------------------------

    def project_named(self, name):
        hits = [p for p in self.projects.values() if p.meta["name"] == name]
        assert len(hits) <= 1, f"{len(hits)} projects named {name}"
        return hits[0] if hits else None

    def objects(self, project, kind):
        return sorted(project.objects[kind].values(), key=lambda o: o["id"])

    # --- request handling ---------------------------------------------------------

    def handle(self, method, target, auth, raw):
        path = target.split("?", 1)[0]
        with self._lock:
            try:
                status, payload = self._route(method, path, auth, raw)
            except Rejected as e:
                status, payload = e.status, {"error": e.message}
            self.requests.append((method, path, status))
            if method != "GET" and status < 300:
                self.writes.append((method, path))
            return status, payload

    def _route(self, method, path, auth, raw):
        if path == "/api/ping" and method == "GET":
            return 200, b"pong"
        self._authenticate(auth)
        body = None
        if method in ("POST", "PUT"):
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise bad("request body is not valid JSON") from None
        if path == "/api/info" and method == "GET":
            return 200, {"version": self.version, "ansible": "ansible [core 2.14.3]",
                         "web_host": ""}
        if path == "/api/projects":
            if method == "GET":
                return 200, [copy.deepcopy(p.meta) for p in self.projects.values()]
            if method == "POST":
                return 201, self._create_project(body)
        if path == "/api/projects/restore" and method == "POST":
            return 200, self._restore(body)
        m = re.fullmatch(r"/api/project/(\d+)/?", path)
        if m:
            return self._project_call(method, self._project(m.group(1)), body)
        m = re.fullmatch(r"/api/project/(\d+)/([a-z_]+)(?:/(\d+))?", path)
        if m and m.group(2) in KINDS:
            project = self._project(m.group(1))
            kind, oid = m.group(2), m.group(3)
            if oid is None:
                return self._collection_call(method, project, kind, body)
            return self._object_call(method, project, kind, int(oid), body)
        raise Rejected(404, f"no route {method} {path}")

    def _authenticate(self, auth):
        # Semaphore lower-cases the header and strips "bearer ".
        value = (auth or "").lower()
        if not value.startswith("bearer ") or value[len("bearer "):].strip() != self.token:
            raise Rejected(401, "unauthorized")

    def _id(self):
        self._next += 1
        return self._next

    def _project(self, pid):
        p = self.projects.get(int(pid))
        if p is None:
            raise Rejected(404, "project not found")
        return p

    # --- projects -----------------------------------------------------------------

    def _project_meta(self, pid, b):
        if not b.get("name"):
            raise bad("project name required")
        return {"id": pid, "name": b["name"], "created": "2024-10-25T00:00:00Z",
                "alert": b.get("alert") or False, "alert_chat": b.get("alert_chat"),
                "max_parallel_tasks": b.get("max_parallel_tasks") or 0,
                "type": b.get("type") or ""}

    def _create_project(self, body):
        b = bind(body, "project")
        pid = self._id()
        project = Project(pid, self._project_meta(pid, b))
        self.projects[pid] = project
        self._store(project, "keys", {"name": "None", "type": "none"})
        self._store(project, "environment", {"name": "Empty", "json": "{}", "env": None,
                                             "password": None, "secrets": []})
        return copy.deepcopy(project.meta)

    def _project_call(self, method, project, body):
        if method == "GET":
            return 200, copy.deepcopy(project.meta)
        if method == "PUT":
            b = bind(body, "project")
            if b.get("id") != project.pid:
                raise bad("Project ID in body and URL must be the same")
            meta = self._project_meta(project.pid, b)
            meta["created"] = project.meta["created"]
            project.meta = meta
            return 204, None
        if method == "DELETE":
            del self.projects[project.pid]
            return 204, None
        raise Rejected(405, "method not allowed")

    # --- project objects ----------------------------------------------------------

    def _collection_call(self, method, project, kind, body):
        if method == "GET":
            return 200, [self._view(kind, o, listing=True)
                         for o in self.objects(project, kind)]
        if method != "POST":
            raise Rejected(405, "method not allowed")
        b = bind(body, kind)
        self._same_project(project, b)
        obj = self._validate(project, kind, b, None)
        self._store(project, kind, obj)
        if self.flavor == "2.10" and kind in NO_BODY_CREATES:
            return 204, None
        return 201, self._view(kind, obj)

    def _object_call(self, method, project, kind, oid, body):
        current = project.objects[kind].get(oid)
        if current is None:
            raise Rejected(404, f"{kind} {oid} not found")
        if method == "GET":
            return 200, self._view(kind, current)
        if method == "DELETE":
            del project.objects[kind][oid]
            return 204, None
        if method != "PUT":
            raise Rejected(405, "method not allowed")
        b = bind(body, kind)
        self._same_project(project, b)
        if b.get("id") != oid:
            raise bad("Object ID in body and URL must be the same")
        if kind == "keys" and not b.get("override_secret"):
            # Without override_secret only the name changes (contract 3.2).
            if not b.get("name"):
                raise bad("key name required")
            current["name"] = b["name"]
            return 204, None
        obj = self._validate(project, kind, b, current)
        obj["id"] = oid
        obj["project_id"] = project.pid
        project.objects[kind][oid] = obj
        return 204, None

    def _same_project(self, project, b):
        if b.get("project_id") != project.pid:
            raise bad("Project ID in body and URL must be the same")

    def _store(self, project, kind, obj):
        obj["id"] = self._id()
        obj["project_id"] = project.pid
        project.objects[kind][obj["id"]] = obj

    def _view(self, kind, obj, listing=False):
        v = copy.deepcopy(obj)
        if kind == "keys":
            return {k: v.get(k) for k in ("id", "name", "type", "project_id")}
        if kind == "environment":
            v["secrets"] = [{"id": s["id"], "name": s["name"], "type": s["type"]}
                            for s in v.get("secrets") or []]
        if kind == "templates" and listing:
            v.pop("survey_vars", None)
        return v

    def _ref(self, project, kind, oid, field, required):
        if oid in (None, 0):
            if required:
                raise bad(f"{field} required")
            return
        if oid not in project.objects[kind]:
            raise bad(f"{field} {oid} does not exist in this project")

    def _validate(self, project, kind, b, current):
        if not b.get("name"):
            raise bad(f"{kind} name required")
        return getattr(self, "_check_" + kind)(project, b, current)

    def _check_keys(self, project, b, current):
        t = b.get("type")
        if t not in KEY_TYPES:
            raise bad(f"invalid key type {t!r}")
        obj = {"name": b["name"], "type": t}
        if t == "ssh":
            ssh = b.get("ssh") or {}
            if not ssh.get("private_key"):
                raise bad("ssh key requires private_key")
            obj["ssh"] = dict(ssh)
        elif t == "login_password":
            lp = b.get("login_password") or {}
            if not lp.get("password"):
                raise bad("login_password key requires password")
            obj["login_password"] = dict(lp)
        return obj

    def _check_repositories(self, project, b, current):
        if not b.get("git_url"):
            raise bad("git_url required")
        self._ref(project, "keys", b.get("ssh_key_id"), "ssh_key_id", True)
        return b

    def _check_inventory(self, project, b, current):
        t = b.get("type")
        if t not in INVENTORY_TYPES:
            raise bad(f"invalid inventory type {t!r}")
        if t in ("static", "static-yaml", "file") and not b.get("inventory"):
            raise bad("inventory required")
        self._ref(project, "keys", b.get("ssh_key_id"), "ssh_key_id", False)
        self._ref(project, "keys", b.get("become_key_id"), "become_key_id", False)
        self._ref(project, "repositories", b.get("repository_id"), "repository_id",
                  t == "file")
        return b

    def _check_environment(self, project, b, current):
        if json_text(b.get("json"), dict, "json") is None:
            raise bad("json required: a JSON object encoded as a string")
        json_text(b.get("env"), dict, "env")
        secrets = copy.deepcopy((current or {}).get("secrets") or [])
        for op in b.get("secrets") or []:
            secrets = self._secret_op(secrets, op)
        obj = dict(b)
        obj["secrets"] = secrets
        return obj

    def _secret_op(self, secrets, op):
        if not isinstance(op, dict) or not op.get("name"):
            raise bad("secret name required")
        if op.get("type") not in ("env", "var"):
            raise bad("secret type must be env or var")
        kind = op.get("operation")
        if kind == "create":
            return secrets + [{"id": self._id(), "name": op["name"], "type": op["type"],
                               "secret": op.get("secret") or ""}]
        if kind in ("update", "delete"):
            if op.get("id") not in [s["id"] for s in secrets]:
                raise bad(f"secret id {op.get('id')} does not exist")
            rest = [s for s in secrets if s["id"] != op["id"]]
            if kind == "delete":
                return rest
            return rest + [{"id": op["id"], "name": op["name"], "type": op["type"],
                            "secret": op.get("secret") or ""}]
        raise bad("secret operation must be create, update or delete")

    def _check_templates(self, project, b, current):
        check_template_fields(b)
        self._ref(project, "repositories", b.get("repository_id"), "repository_id", True)
        if b["app"] == "ansible":
            self._ref(project, "inventory", b.get("inventory_id"), "inventory_id", True)
            if not b.get("playbook"):
                raise bad("playbook required")
        self._ref(project, "environment", b.get("environment_id"), "environment_id", False)
        return b

    # --- restore ------------------------------------------------------------------

    def _restore(self, body):
        doc = verify_backup(body)
        pid = self._id()
        project = Project(pid, self._project_meta(pid, doc["meta"]))
        ids = {}
        for kind, section in (("keys", "keys"), ("repositories", "repositories"),
                              ("inventory", "inventories"), ("environment", "environments"),
                              ("templates", "templates")):
            ids[section] = {}
            for entry in doc[section]:
                obj = self._restored(entry, section, ids)
                self._store(project, kind, obj)
                ids[section][entry["name"]] = obj["id"]
        self.projects[pid] = project
        return copy.deepcopy(project.meta)

    def _restored(self, entry, section, ids):
        """A backup entry as a stored object: names become ids, secrets are empty."""
        def ref(section_, name):
            return None if name is None else ids[section_][name]
        names = {"repositories": ("ssh_key",), "inventories": ("ssh_key", "become_key"),
                 "templates": ("inventory", "repository", "environment", "build_template",
                               "view", "vaults")}.get(section, ())
        obj = {k: copy.deepcopy(v) for k, v in entry.items() if k not in names}
        if section == "repositories":
            obj["ssh_key_id"] = ref("keys", entry["ssh_key"])
        elif section == "inventories":
            obj["ssh_key_id"] = ref("keys", entry.get("ssh_key"))
            obj["become_key_id"] = ref("keys", entry.get("become_key"))
            obj["repository_id"] = None  # the backup format cannot carry it
        elif section == "environments":
            obj["secrets"] = []
        elif section == "templates":
            obj["inventory_id"] = ref("inventories", entry.get("inventory"))
            obj["repository_id"] = ref("repositories", entry["repository"])
            obj["environment_id"] = ref("environments", entry.get("environment"))
        return obj


def check_template_fields(b):
    """Template rules shared by the API and the restore."""
    if b.get("app") not in APPS:
        raise bad(f"Invalid app id: {b.get('app')!r}")
    json_text(b.get("arguments"), list, "arguments")
    if (b.get("type") or "") not in TEMPLATE_TYPES:
        raise bad(f"invalid template type {b.get('type')!r}")
    for v in b.get("survey_vars") or []:
        if not isinstance(v, dict) or not v.get("name"):
            raise bad("survey variable name required")
        if (v.get("type") or "") not in SURVEY_TYPES:
            raise bad(f"invalid survey variable type {v.get('type')!r}")
        if v.get("type") == "enum" and not v.get("values"):
            raise bad("enum survey variable requires values")


def verify_backup(doc):
    """The restore's verification: shape, unique names, references by name, app."""
    if not isinstance(doc, dict):
        raise bad("backup must be a JSON object")
    meta = doc.get("meta")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) \
            or not meta["name"]:
        raise bad("meta.name required")
    bind(meta, "project")
    out = {"meta": meta}
    for section in ("keys", "repositories", "inventories", "environments", "templates",
                    "views", "schedules", "integrations", "integration_aliases"):
        items = doc.get(section)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise bad(f"{section} must be an array")
        out[section] = items
    names = {}
    for section in ("keys", "repositories", "inventories", "environments", "templates"):
        names[section] = set()
        for i, e in enumerate(out[section]):
            where = f"{section}[{i}]"
            if not isinstance(e, dict) or not isinstance(e.get("name"), str) \
                    or not e["name"]:
                raise bad(f"error at {where}: name required")
            if e["name"] in names[section]:
                raise bad(f"error at {where}: {e['name']} is duplicate")
            names[section].add(e["name"])
    view_titles = {v.get("title") for v in out["views"] if isinstance(v, dict)}

    def must(where, value, section, required=False):
        if value is None and not required:
            return
        pool = view_titles if section == "views" else names[section]
        if value not in pool:
            raise bad(f"error at {where}: {value!r} does not exist in {section}[].name")

    kinds = {"keys": "keys", "repositories": "repositories", "inventories": "inventory",
             "environments": "environment", "templates": "templates"}
    for section, kind in kinds.items():
        for i, e in enumerate(out[section]):
            where = f"{section}[{i}]"
            try:
                bind({k: v for k, v in e.items() if k in FIELDS[kind]}, kind)
            except Rejected as r:
                raise bad(f"error at {where}: {r.message}") from None
            if section == "keys" and e.get("type") not in KEY_TYPES:
                raise bad(f"error at {where}: invalid key type {e.get('type')!r}")
            if section == "repositories":
                must(where + ".ssh_key", e.get("ssh_key"), "keys", required=True)
            if section == "inventories":
                must(where + ".ssh_key", e.get("ssh_key"), "keys")
                must(where + ".become_key", e.get("become_key"), "keys")
            if section == "environments":
                try:
                    json_text(e.get("json"), dict, "json")
                    json_text(e.get("env"), dict, "env")
                except Rejected as r:
                    raise bad(f"error at {where}: {r.message}") from None
            if section == "templates":
                try:
                    check_template_fields(e)
                except Rejected as r:
                    raise bad(f"error at {where}: {r.message}") from None
                must(where + ".repository", e.get("repository"), "repositories", True)
                must(where + ".inventory", e.get("inventory"), "inventories")
                must(where + ".environment", e.get("environment"), "environments")
                must(where + ".view", e.get("view"), "views")
                if e.get("type") == "deploy":
                    must(where + ".build_template", e.get("build_template"), "templates",
                         True)
    return out


def main():
    p = argparse.ArgumentParser(description="Run the fake Semaphore API on 127.0.0.1.")
    p.add_argument("--token", default="lgtmfaketoken0123456789abcdef")
    p.add_argument("--flavor", default="2.10", choices=("2.10", "2.16"))
    args = p.parse_args()
    fake = FakeSemaphore(token=args.token, flavor=args.flavor)
    print(fake.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
