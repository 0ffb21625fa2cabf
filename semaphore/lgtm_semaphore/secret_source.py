"""Reads secrets named by the project file from the process environment.

A secret named VAR comes from the variable VAR itself, or from the file whose path is
in VAR_FILE (better for multi-line SSH keys and keeps the value out of `ps`). Secrets
are read only when a request needs them: a run that creates or re-keys nothing works
without them, which is what makes a second run possible from any workstation.
"""


class SecretError(Exception):
    """A secret that a request needs is not available; the message says how to set it."""


def read(var, environ, what, hint=""):
    """Returns the secret VAR (or the contents of the file named by VAR_FILE)."""
    value = environ.get(var, "")
    if value:
        return value
    path = environ.get(var + "_FILE", "")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                value = f.read()
        except OSError as e:
            raise SecretError(f"{what}: cannot read {var}_FILE={path}: {e.strerror}") from None
        if not value.strip():
            raise SecretError(f"{what}: {var}_FILE={path} is empty")
        return value
    extra = f" ({hint})" if hint else ""
    raise SecretError(f"{what}: the secret is needed but neither {var} nor {var}_FILE "
                      f"is set{extra}")


def ssh_private_key(var, environ, what, hint=""):
    """Like read(), and refuses what is plainly not a private key (a .pub file, say)."""
    key = read(var, environ, what, hint)
    if "PRIVATE KEY-----" not in key:
        raise SecretError(f"{what}: {var} does not hold a PEM/OpenSSH private key "
                          "(expected a '-----BEGIN ... PRIVATE KEY-----' block)")
    if not key.endswith("\n"):
        # ssh refuses a key file without its final newline.
        key += "\n"
    return key


def optional(var, environ):
    """A secret that may be absent (an SSH key passphrase): '' when unset."""
    if not var or not (environ.get(var) or environ.get(var + "_FILE")):
        return ""
    return read(var, environ, var)
