"""Makes a Semaphore server hold the project described by the definition.

Semaphore does not enforce unique names, so idempotency is ours (contract 2.4): every
object is found by name, created when absent, updated with PUT only when a field we
manage differs, and otherwise left alone. Objects we do not manage are reported, never
deleted. Two objects with the name we manage is an error, never a guess.

Quirks honoured (contract section 2): JSON-in-a-string fields are sent as strings and
compared after parsing; project_id goes in every body and id in every PUT; a create
may answer 201 with the object or 204 with nothing, so the new id is always looked up
by name afterwards; template details (survey_vars) are read from GET /templates/{id}
because some list endpoints omit them.

Updates send the server's copy with our fields laid over it, like Semaphore's own UI,
so fields we do not manage (a view, vaults) survive. Secrets are write-only on the
server, so a key is re-keyed only when its type changes or --update-secrets asks.
"""
import json

from . import secret_source, wire


class ReconcileError(Exception):
    """The server's state does not allow a safe change (ambiguous names, odd answers)."""


# section in the definition -> (API collection, label in messages)
KINDS = {
    "keys": ("keys", "key"),
    "repositories": ("repositories", "repository"),
    "inventories": ("inventory", "inventory"),
    "environments": ("environment", "environment"),
    "templates": ("templates", "template"),
}
ORDER = ("keys", "repositories", "inventories", "environments", "templates")

# What POST /projects adds by itself (contract 3.1), as (name, type).
AUTO_CREATED = {"keys": ("None", "none")}

# Server fields never echoed back in an update: write-only or derived.
_DROP_ON_UPDATE = {"secrets", "last_task", "tasks"}


class Report:
    def __init__(self, out, dry_run):
        self.out = out
        self.dry_run = dry_run
        self.counts = {"created": 0, "updated": 0, "unchanged": 0}

    def line(self, what, outcome, detail=""):
        self.counts[outcome] += 1
        shown = outcome
        if self.dry_run and outcome != "unchanged":
            shown = "would be " + outcome
        self.out(f"{what}: {shown}" + (f" ({detail})" if detail else ""))

    def note(self, msg):
        self.out("note: " + msg)

    @property
    def changed(self):
        return self.counts["created"] + self.counts["updated"]


class Reconciler:
    def __init__(self, client, definition, environ, out=print, dry_run=False,
                 update_secrets=False, require_version=False):
        self.client = client
        self.d = definition
        self.environ = environ
        self.dry_run = dry_run
        self.update_secrets = update_secrets
        self.require_version = require_version
        self.report = Report(out, dry_run)
        self.pid = None
        self.ids = {section: {} for section in ORDER}

    def run(self):
        self.check_version()
        self.project()
        for section in ORDER:
            self.section(section)
        return self.report

    # --- server and project ---------------------------------------------------------

    def check_version(self):
        info = self.client.get("/info")
        version = str((info or {}).get("version", "")) if isinstance(info, dict) else ""
        pinned = self.d["semaphore_version"]
        self.report.out(f"semaphore {version or '(unknown version)'} at {self.client.base}")
        if not version.lstrip("v").startswith(pinned):
            msg = (f"server version {version!r} is not the pinned {pinned}; the API contract "
                   f"was checked against {pinned} (docs/semaphore.md)")
            if self.require_version:
                raise ReconcileError(msg)
            self.report.note(msg)

    def project(self):
        want = wire.project(self.d["project"])
        name = want["name"]
        found = self.find(self.list("/projects"), name, "project")
        what = f"project {name}"
        if found is None:
            if self.dry_run:
                self.report.line(what, "created")
                return
            self.client.post("/projects", want)
            self.pid = self.resolve("/projects", name, "project")["id"]
            self.report.line(what, "created", f"id {self.pid}")
            return
        self.pid = found["id"]
        diff = differences(want, found)
        if not diff:
            self.report.line(what, "unchanged", f"id {self.pid}")
            return
        if not self.dry_run:
            self.client.put(f"/project/{self.pid}/", merged(found, want, self.pid, None))
        self.report.line(what, "updated", ", ".join(diff))

    # --- one collection -------------------------------------------------------------

    def section(self, section):
        collection, label = KINDS[section]
        path = None if self.pid is None else f"/project/{self.pid}/{collection}"
        existing = [] if path is None else self.list(path)
        for entry in self.d[section]:
            name = entry["name"]
            found = self.find(existing, name, label)
            if found is None:
                self.create(section, entry, path)
            else:
                self.ids[section][name] = found["id"]
                current = self.client.get(f"{path}/{found['id']}")
                if not isinstance(current, dict):
                    raise ReconcileError(f"GET {path}/{found['id']}: expected an object")
                self.update(section, entry, path, current)
        managed = {e["name"] for e in self.d[section]}
        # "Empty" is the environment Semaphore adds to every new project.
        if section == "environments":
            managed.add("Empty")
        extra = sorted({str(o.get("name")) for o in existing} - managed)
        if extra:
            self.report.note(f"{section} not in the project file, left alone: "
                             + ", ".join(extra))

    def create(self, section, entry, path):
        label = KINDS[section][1]
        what = f"{label} {entry['name']}"
        if self.pid is None and AUTO_CREATED.get(section) == (entry["name"], entry.get("type")):
            self.ids[section][entry["name"]] = f"<new {label} {entry['name']}>"
            self.report.line(what, "unchanged", "Semaphore adds it to every new project")
            return
        body = self.body(section, entry, None)
        if self.dry_run:
            self.ids[section][entry["name"]] = f"<new {label} {entry['name']}>"
            self.report.line(what, "created")
            return
        self.client.post(path, body)
        obj = self.resolve(path, entry["name"], label)
        self.ids[section][entry["name"]] = obj["id"]
        self.report.line(what, "created", f"id {obj['id']}")

    def update(self, section, entry, path, current):
        label = KINDS[section][1]
        oid = current["id"]
        what = f"{label} {entry['name']}"
        if section == "keys":
            body, diff = self.key_update(entry, current)
        else:
            want = self.body(section, entry, current)
            diff = differences(want, current)
            if section == "environments" and want.get("secrets"):
                diff.append("secrets")
            body = merged(current, want, oid, self.pid) if diff else None
        if not diff:
            self.report.line(what, "unchanged")
            return
        if not self.dry_run:
            self.client.put(f"{path}/{oid}", body)
        self.report.line(what, "updated", ", ".join(diff))

    # --- bodies -------------------------------------------------------------------

    def body(self, section, entry, current):
        """The create/update body of one definition entry, references as ids."""
        ids = self.ids
        if section == "keys":
            b = wire.key(entry)
            b.update(self.key_secret(entry))
        elif section == "repositories":
            b = wire.repository(entry)
            b["ssh_key_id"] = ids["keys"][entry["ssh_key"]]
        elif section == "inventories":
            b = wire.inventory(entry)
            b["ssh_key_id"] = _ref(ids["keys"], entry["ssh_key"])
            b["become_key_id"] = _ref(ids["keys"], entry["become_key"])
            b["repository_id"] = _ref(ids["repositories"], entry["repository"])
        elif section == "environments":
            b = wire.environment(entry)
            ops = self.env_secret_ops(entry, current)
            if ops or current is None:
                b["secrets"] = ops
        else:
            b = wire.template(entry)
            b["inventory_id"] = ids["inventories"][entry["inventory"]]
            b["repository_id"] = ids["repositories"][entry["repository"]]
            b["environment_id"] = ids["environments"][entry["environment"]]
        b["project_id"] = self.pid
        return b

    def key_update(self, entry, current):
        """Keys: only the type is visible; the secret is re-sent when asked to."""
        diff = []
        if current.get("type") != entry["type"]:
            diff.append("type")
        elif self.update_secrets and entry["type"] != "none":
            diff.append("secret")
        if not diff:
            return None, diff
        body = self.body("keys", entry, current)
        body["id"] = current["id"]
        body["override_secret"] = True
        return body, diff

    def key_secret(self, k):
        var = k.get("secret_env")
        what = f"key {k['name']}"
        hint = f"or pass --key-file {k['name']}=PATH"
        if k["type"] == "ssh":
            return {"ssh": {
                "login": k["login"],
                "passphrase": secret_source.optional(k.get("passphrase_env"), self.environ),
                "private_key": secret_source.ssh_private_key(var, self.environ, what, hint),
            }}
        if k["type"] == "login_password":
            return {"login_password": {
                "login": k["login"],
                "password": secret_source.read(var, self.environ, what, hint),
            }}
        return {}

    def env_secret_ops(self, e, current):
        """Secret operations: create the missing ones, update all on --update-secrets."""
        have = {s.get("name"): s for s in ((current or {}).get("secrets") or [])}
        ops = []
        for s in e["secrets"]:
            h = have.get(s["name"])
            if h is not None and h.get("type") == s["type"] and not self.update_secrets:
                continue
            what = f"environment {e['name']} secret {s['name']}"
            op = {"name": s["name"], "type": s["type"],
                  "secret": secret_source.read(s["secret_env"], self.environ, what),
                  "operation": "create" if h is None else "update"}
            if h is not None:
                op["id"] = h.get("id")
            ops.append(op)
        return ops

    # --- lookups ------------------------------------------------------------------

    def list(self, path):
        got = self.client.get(path)
        if got is None:
            return []
        if not isinstance(got, list):
            raise ReconcileError(f"GET /api{path}: expected a list, got {type(got).__name__}")
        return got

    def find(self, objects, name, label):
        hits = [o for o in objects if isinstance(o, dict) and o.get("name") == name]
        if len(hits) > 1:
            ids = ", ".join(str(o.get("id")) for o in hits)
            raise ReconcileError(f"{len(hits)} {plural(label)} are named {name!r} (ids {ids}); "
                                 "Semaphore matches by name, so remove or rename all but "
                                 "one in the UI and run again")
        return hits[0] if hits else None

    def resolve(self, path, name, label):
        """After a create: the new object's id, by name (create answers differ)."""
        found = self.find(self.list(path), name, label)
        if found is None or "id" not in found:
            raise ReconcileError(f"created {label} {name!r} but GET /api{path} does not "
                                 "list it")
        return found


def plural(label):
    return label[:-1] + "ies" if label.endswith("y") else label + "s"


def _ref(ids, name):
    return None if name is None else ids[name]


def merged(current, want, oid, pid):
    body = {k: v for k, v in current.items() if k not in _DROP_ON_UPDATE}
    body.update(want)
    body["id"] = oid
    if pid is not None:
        body["project_id"] = pid
    return body


def differences(want, have):
    """Names of the fields in `want` whose value on the server differs."""
    out = []
    for field, value in want.items():
        if field in ("secrets", "project_id"):
            continue
        if field in wire.JSON_TEXT_FIELDS:
            same = _json_text_equal(value, have.get(field))
        else:
            same = _covers(value, have.get(field))
        if not same:
            out.append(field)
    return out


def _json_text_equal(want, have):
    """JSON-in-a-string fields belong wholly to us: equal after parsing, nothing extra."""
    try:
        w = json.loads(want) if want else None
        h = json.loads(have) if isinstance(have, str) and have.strip() else have
    except ValueError:
        return False
    return (_blank(w) and _blank(h)) or w == h


def _covers(want, have):
    """`have` matches `want` on every field `want` sets; empty values are all alike.

    Servers add fields over versions (survey vars gained default_value in 2.16) and
    answer null or "" for an unset string, so only what we send is compared.
    """
    if _blank(want) and _blank(have):
        return True
    if isinstance(want, dict) and isinstance(have, dict):
        return all(_covers(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list) and isinstance(have, list):
        return len(want) == len(have) and all(_covers(w, h) for w, h in zip(want, have))
    return want == have


def _blank(v):
    return v is None or v is False or v == "" or v == [] or v == {}
