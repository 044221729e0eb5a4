"""HTTP as browsers and apps send it (a JSON body or a form, a JWT, cookies); any status is an answer."""

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_call(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: dict | None = None,
    form: dict | None = None,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """One request; an error status is an answer like any other, not an exception."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    elif form is not None:
        request.data = urllib.parse.urlencode(form).encode()
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookies:
        request.add_header("Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items()))
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return HttpAnswer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, dict(error.headers), error.read())


def csrf_pair() -> tuple[dict[str, str], dict[str, str]]:
    """A CSRF cookie and the matching form field, as a sign-in page would have handed them out."""
    secret = secrets.token_hex(16)
    return {"csrftoken": secret}, {"csrfmiddlewaretoken": secret}
