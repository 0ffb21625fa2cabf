"""Loads and checks semaphore/project.json, the lgtm project written as names, never ids.

Design: the file mirrors Semaphore's objects (keys, repositories, inventories,
environments, templates) but refers to other objects by name, like Semaphore's own
backup format, so the same file drives both the REST bootstrap and the backup JSON.
Fields that Semaphore wants as JSON-in-a-string (environment json/env, template
arguments) are real JSON values here so the file reads and diffs like a config; the
writers encode them. String values may use ${VAR} or ${VAR:-default}, expanded from
the process environment, so one file serves every site. Secrets never live in the
file: an entry names the environment variable that holds its secret (secret_env).

Everything is checked up front with messages that name the file and the field, so a
typo fails before any request is sent.
"""
import json
import re

KEY_TYPES = ("none", "ssh", "login_password")
INVENTORY_TYPES = ("static", "static-yaml", "file")
SURVEY_TYPES = ("", "int", "enum", "secret", "text")
SECRET_TYPES = ("env", "var")
SINGULAR = {"keys": "key", "repositories": "repository", "inventories": "inventory",
            "environments": "environment"}
# Field names that would carry a secret into the repository.
SECRET_FIELDS = ("private_key", "password", "passphrase", "secret")

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DefinitionError(Exception):
    """The project file cannot be used; the message names file and field."""


def load(path, environ):
    """Returns the checked definition from `path`, with ${VAR} expanded from `environ`."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        raise DefinitionError(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise DefinitionError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    return check(expand(raw, environ, path), path)


def expand(value, environ, where):
    """Expands ${VAR} and ${VAR:-default} in every string value (not in keys)."""
    if isinstance(value, dict):
        return {k: expand(v, environ, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def one(m):
        name, default = m.group(1), m.group(2)
        got = environ.get(name, "")
        if got:
            return got
        if default is not None:
            return default
        raise DefinitionError(f"{where}: environment variable {name} is not set")

    return _VAR.sub(one, value)


def check(d, path):
    """Checks shape, references and duplicates; fills defaults. Returns `d`."""
    c = _Checker(path)
    c.fields(d, "", required={"semaphore_version": str, "project": dict},
             optional={"keys": list, "repositories": list, "inventories": list,
                       "environments": list, "templates": list})
    for section in ("keys", "repositories", "inventories", "environments", "templates"):
        d.setdefault(section, [])
    c.project(d["project"])
    for i, k in enumerate(d["keys"]):
        c.key(k, f"keys[{i}]")
    for i, r in enumerate(d["repositories"]):
        c.repository(r, f"repositories[{i}]", d)
    for i, inv in enumerate(d["inventories"]):
        c.inventory(inv, f"inventories[{i}]", d)
    for i, e in enumerate(d["environments"]):
        c.environment(e, f"environments[{i}]")
    for i, t in enumerate(d["templates"]):
        c.template(t, f"templates[{i}]", d)
    for section in ("keys", "repositories", "inventories", "environments", "templates"):
        c.unique(d[section], section)
    return d


def names(d, section):
    return [o["name"] for o in d[section]]


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, where, msg):
        raise DefinitionError(f"{self.path}: {where}: {msg}" if where else f"{self.path}: {msg}")

    def fields(self, obj, where, required, optional=None):
        """Each required field present with its type, optional ones typed, nothing else."""
        optional = optional or {}
        if not isinstance(obj, dict):
            self.fail(where, "must be an object")
        for k in obj:
            if k in SECRET_FIELDS:
                self.fail(where, f"'{k}' is a secret and must not be in the project file; "
                                 "name an environment variable in secret_env instead")
            if k not in required and k not in optional:
                self.fail(where, f"unknown field '{k}'")
        for k, t in required.items():
            if k not in obj:
                self.fail(where, f"missing field '{k}'")
        for k, t in list(required.items()) + list(optional.items()):
            if k in obj and not _is(obj[k], t):
                self.fail(_join(where, k), f"must be {_type_name(t)}")

    def nonempty(self, obj, field, where):
        if not obj.get(field):
            self.fail(_join(where, field), "must not be empty")

    def ref(self, obj, field, d, section, where, required=True):
        v = obj.get(field)
        if v is None and not required:
            return
        if v not in names(d, section):
            self.fail(_join(where, field), f"no {SINGULAR[section]} named {v!r} in {section}")

    def env_name(self, obj, field, where):
        if not _ENV_NAME.match(obj.get(field) or ""):
            self.fail(_join(where, field), "must be an environment variable name")

    def unique(self, items, section):
        seen = set()
        for o in items:
            if o["name"] in seen:
                self.fail(section, f"two entries named {o['name']!r}; Semaphore matches by name")
            seen.add(o["name"])

    def project(self, p):
        self.fields(p, "project", required={"name": str},
                    optional={"alert": bool, "alert_chat": (str, None),
                              "max_parallel_tasks": int})
        self.nonempty(p, "name", "project")
        p.setdefault("alert", False)
        p.setdefault("alert_chat", None)
        p.setdefault("max_parallel_tasks", 0)
        if p["max_parallel_tasks"] < 0:
            self.fail("project.max_parallel_tasks", "must not be negative")

    def key(self, k, where):
        self.fields(k, where, required={"name": str, "type": str},
                    optional={"login": str, "secret_env": str, "passphrase_env": str})
        self.nonempty(k, "name", where)
        if k["type"] not in KEY_TYPES:
            self.fail(_join(where, "type"), f"must be one of {', '.join(KEY_TYPES)}")
        if k["type"] == "none":
            for f in ("login", "secret_env", "passphrase_env"):
                if f in k:
                    self.fail(_join(where, f), "a key of type none has no secret")
            return
        if "secret_env" not in k:
            self.fail(where, f"missing field 'secret_env' (the environment variable that "
                             f"holds the {k['type']} secret)")
        self.env_name(k, "secret_env", where)
        if "passphrase_env" in k:
            if k["type"] != "ssh":
                self.fail(_join(where, "passphrase_env"), "only ssh keys have a passphrase")
            self.env_name(k, "passphrase_env", where)
        k.setdefault("login", "")

    def repository(self, r, where, d):
        self.fields(r, where, required={"name": str, "git_url": str, "ssh_key": str},
                    optional={"git_branch": str})
        self.nonempty(r, "name", where)
        self.nonempty(r, "git_url", where)
        r.setdefault("git_branch", "main")
        self.ref(r, "ssh_key", d, "keys", where)

    def inventory(self, inv, where, d):
        self.fields(inv, where, required={"name": str, "type": str, "inventory": str},
                    optional={"repository": (str, None), "ssh_key": (str, None),
                              "become_key": (str, None)})
        self.nonempty(inv, "name", where)
        self.nonempty(inv, "inventory", where)
        if inv["type"] not in INVENTORY_TYPES:
            self.fail(_join(where, "type"), f"must be one of {', '.join(INVENTORY_TYPES)}")
        for f in ("repository", "ssh_key", "become_key"):
            inv.setdefault(f, None)
        self.ref(inv, "repository", d, "repositories", where,
                 required=inv["type"] == "file")
        self.ref(inv, "ssh_key", d, "keys", where, required=False)
        self.ref(inv, "become_key", d, "keys", where, required=False)

    def environment(self, e, where):
        self.fields(e, where, required={"name": str},
                    optional={"json": dict, "env": dict, "secrets": list})
        self.nonempty(e, "name", where)
        e.setdefault("json", {})
        e.setdefault("env", {})
        e.setdefault("secrets", [])
        for k, v in e["env"].items():
            if not isinstance(v, str):
                self.fail(_join(where, f"env.{k}"), "process environment values must be strings")
        for i, s in enumerate(e["secrets"]):
            sw = f"{where}.secrets[{i}]"
            self.fields(s, sw, required={"name": str, "type": str, "secret_env": str})
            self.nonempty(s, "name", sw)
            if s["type"] not in SECRET_TYPES:
                self.fail(_join(sw, "type"), "must be env or var")
            self.env_name(s, "secret_env", sw)
        self.unique(e["secrets"], f"{where}.secrets")

    def template(self, t, where, d):
        self.fields(t, where,
                    required={"name": str, "playbook": str, "inventory": str,
                              "repository": str, "environment": str},
                    optional={"description": str, "arguments": list,
                              "allow_override_args_in_task": bool,
                              "survey_vars": list, "app": str})
        self.nonempty(t, "name", where)
        self.nonempty(t, "playbook", where)
        # Semaphore answers an empty or unknown app with 400 "Invalid app id", and old
        # restores dropped it (semaphore#2227): always state it.
        t.setdefault("app", "ansible")
        if t["app"] != "ansible":
            self.fail(_join(where, "app"), "only ansible templates are supported")
        t.setdefault("description", "")
        t.setdefault("arguments", [])
        t.setdefault("allow_override_args_in_task", False)
        t.setdefault("survey_vars", [])
        if not all(isinstance(a, str) for a in t["arguments"]):
            self.fail(_join(where, "arguments"), "must be a list of strings")
        self.ref(t, "inventory", d, "inventories", where)
        self.ref(t, "repository", d, "repositories", where)
        self.ref(t, "environment", d, "environments", where)
        for i, v in enumerate(t["survey_vars"]):
            self.survey_var(v, f"{where}.survey_vars[{i}]")
        self.unique(t["survey_vars"], f"{where}.survey_vars")

    def survey_var(self, v, where):
        self.fields(v, where, required={"name": str, "title": str},
                    optional={"description": str, "type": str, "required": bool,
                              "values": list})
        self.nonempty(v, "name", where)
        v.setdefault("description", "")
        v.setdefault("type", "")
        v.setdefault("required", False)
        if v["type"] not in SURVEY_TYPES:
            self.fail(_join(where, "type"), "must be one of '', int, enum, secret, text")
        if v["type"] == "enum":
            if not v.get("values"):
                self.fail(_join(where, "values"), "an enum needs values")
            for i, x in enumerate(v["values"]):
                self.fields(x, f"{where}.values[{i}]", required={"name": str, "value": str})
        elif "values" in v:
            self.fail(_join(where, "values"), "only enum variables have values")


def _is(v, t):
    if isinstance(t, tuple):
        return any(_is(v, x) for x in t)
    if t is None:
        return v is None
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, t)


def _type_name(t):
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {str: "a string", int: "an integer", bool: "true or false", dict: "an object",
            list: "a list", None: "null"}[t]


def _join(where, field):
    return f"{where}.{field}" if where else field
