"""A small client for Semaphore's REST API (../shared/contracts/semaphore-api.md).

It owns transport only: the base path /api, the bearer token, JSON bodies, and turning
every failure into one ApiError whose message says what was asked, what came back and,
for the common cases (bad token, missing role, unreachable server), what to do. It
does not retry: the bootstrap is re-runnable, so a clean stop beats a half-guessed
recovery.
"""
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

HINTS = {
    401: "the server rejected the API token; create one with POST /api/user/tokens "
         "(docs/semaphore.md) and pass it with --token-file or LGTM_SEMAPHORE_TOKEN",
    403: "the token's user lacks the role for this call (creating a project needs an "
         "admin; editing one needs its owner or manager)",
}


class ApiError(Exception):
    """A request failed; `status` is the HTTP status, or None if there was no answer."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, url, token, cafile=None, timeout=30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiError(f"--url {url!r}: expected http(s)://host[:port][/path]")
        base = url.rstrip("/")
        # Accept both the UI address and the API root.
        self.base = base if base.endswith("/api") else base + "/api"
        self.token = token
        self.timeout = timeout
        self.context = None
        if parts.scheme == "https":
            try:
                self.context = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as e:
                raise ApiError(f"--cacert {cafile}: {e}") from None

    def get(self, path):
        return self.request("GET", path)[1]

    def post(self, path, body):
        return self.request("POST", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def request(self, method, path, body=None):
        """Returns (status, decoded JSON or None for an empty body)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout,
                                        context=self.context) as r:
                return r.status, _decode(r.read(), method, path)
        except urllib.error.HTTPError as e:
            raise ApiError(_http_message(method, path, e), e.code) from None
        except urllib.error.URLError as e:
            raise ApiError(f"cannot reach {self.base}: {e.reason}") from None
        except (OSError, ValueError) as e:
            raise ApiError(f"{method} {path}: {e}") from None


def _decode(raw, method, path):
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(f"{method} {path}: the answer is not JSON: {raw[:200]!r}") from None


def _http_message(method, path, e):
    try:
        raw = e.read()
    except OSError:
        raw = b""
    detail = raw.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(detail)
        if isinstance(parsed, dict) and parsed.get("error"):
            detail = str(parsed["error"])
    except ValueError:
        pass
    msg = f"{method} /api{path}: {e.code} {e.reason}"
    if detail:
        msg += f": {detail[:300]}"
    if e.code in HINTS:
        msg += f" ({HINTS[e.code]})"
    return msg
