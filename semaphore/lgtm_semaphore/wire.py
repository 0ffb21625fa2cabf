"""The fields of each object as Semaphore stores them, shared by the API and the backup.

The REST bodies and the backup document use the same column names and differ only in
how they point at other objects (ids in the API, names in the backup), so the plain
fields are rendered here once and each writer adds its own references. This is also
the one place that knows which fields are JSON-in-a-string (contract section 2.1).
"""
import json

# Fields that Semaphore keeps as text holding JSON; an object or array is rejected.
JSON_TEXT_FIELDS = ("json", "env", "arguments")


def json_text(value):
    """The string form Semaphore wants for a JSON-in-a-string field (stable order)."""
    return json.dumps(value, sort_keys=True)


def project(p):
    return {"name": p["name"], "alert": p["alert"], "alert_chat": p["alert_chat"],
            "max_parallel_tasks": p["max_parallel_tasks"]}


def key(k):
    return {"name": k["name"], "type": k["type"]}


def repository(r):
    return {"name": r["name"], "git_url": r["git_url"], "git_branch": r["git_branch"]}


def inventory(inv):
    return {"name": inv["name"], "type": inv["type"], "inventory": inv["inventory"]}


def environment(e):
    return {"name": e["name"], "json": json_text(e["json"]), "env": json_text(e["env"]),
            "password": None}


def template(t):
    return {
        "name": t["name"],
        "description": t["description"],
        "playbook": t["playbook"],
        "app": t["app"],
        "type": "",
        "arguments": json_text(t["arguments"]),
        "allow_override_args_in_task": t["allow_override_args_in_task"],
        "survey_vars": [survey_var(v) for v in t["survey_vars"]],
    }


def survey_var(v):
    out = {"name": v["name"], "title": v["title"], "description": v["description"],
           "type": v["type"], "required": v["required"]}
    if v["type"] == "enum":
        out["values"] = [{"name": x["name"], "value": x["value"]} for x in v["values"]]
    return out
