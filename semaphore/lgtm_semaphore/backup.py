"""Renders the definition as a Semaphore project backup (contract section 4).

POST /api/projects/restore turns this document into a new project. The format refers
to objects by name, has no ids, and carries no secrets: keys are only name and type,
environments lose their secrets. The restore cannot express an inventory's repository
either. So a restore is followed by `bootstrap --update-secrets`, which finds the
restored objects by name, sets the secrets and fills in what the backup cannot hold.
Every template states app "ansible": restores that dropped it are semaphore#2227.
"""
from . import wire


def render(d):
    """The backup document (a dict) for definition `d`."""
    meta = wire.project(d["project"])
    meta["type"] = ""
    return {
        "meta": meta,
        "keys": [wire.key(k) for k in d["keys"]],
        "repositories": [_repository(r) for r in d["repositories"]],
        "inventories": [_inventory(i) for i in d["inventories"]],
        "environments": [wire.environment(e) for e in d["environments"]],
        "templates": [_template(t) for t in d["templates"]],
        "views": [],
        "schedules": [],
        "integrations": [],
        "integration_aliases": [],
    }


def _repository(r):
    out = wire.repository(r)
    out["ssh_key"] = r["ssh_key"]
    return out


def _inventory(inv):
    out = wire.inventory(inv)
    out["ssh_key"] = inv["ssh_key"]
    out["become_key"] = inv["become_key"]
    return out


def _template(t):
    out = wire.template(t)
    out.update({
        "inventory": t["inventory"],
        "repository": t["repository"],
        "environment": t["environment"],
        "build_template": None,
        "view": None,
        "vaults": [],
        "start_version": None,
        "autorun": False,
        "suppress_success_alerts": False,
    })
    return out
