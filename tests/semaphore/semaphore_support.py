"""Helpers for the Semaphore tests: paths, and running the tools and the fake's API.

The tools run as subprocesses with a scrubbed environment, so a developer's own
LGTM_* variables cannot change what a test sees.
"""
import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BOOTSTRAP = REPO / "semaphore" / "bootstrap"
MAKE_BACKUP = REPO / "semaphore" / "make-backup"
PROJECT_FILE = REPO / "semaphore" / "project.json"
BACKUP_FILE = REPO / "semaphore" / "project-backup.json"

SSH_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
           "ZmFrZSBrZXkgZm9yIHRlc3RzIG9ubHk=\n"
           "-----END OPENSSH PRIVATE KEY-----\n")


def clean_env(**extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_tool(tool, *args, env=None):
    return subprocess.run([str(tool), *map(str, args)], env=env or clean_env(),
                          capture_output=True, text=True, timeout=30)


def bootstrap(fake, *args, key=None, token=None, **env):
    """Runs semaphore/bootstrap against `fake`; `key` is the SSH key file, if any."""
    e = clean_env(LGTM_SEMAPHORE_URL=fake.url,
                  LGTM_SEMAPHORE_TOKEN=fake.token if token is None else token, **env)
    if key is not None:
        e["LGTM_SEMAPHORE_SSH_KEY_FILE"] = str(key)
    return run_tool(BOOTSTRAP, *args, env=e)


def api(fake, method, path, body=None, token=None, auth=None):
    """One request to the fake; returns (status, decoded body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(fake.url + path, data=data, method=method)
    if auth is None:
        auth = "Bearer " + (fake.token if token is None else token)
    if auth:
        req.add_header("Authorization", auth)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    if not raw:
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()
