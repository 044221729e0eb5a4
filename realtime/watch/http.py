"""The HTTP side of the watch client: tokens and analysis listings, with the standard library only."""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body.get('detail') or body}")
        self.status = status
        self.body = body


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (epoch seconds), read without verifying: only to plan a refresh."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Api:
    """A blocking client of the REST endpoints; the watcher calls it from a thread."""

    base_url: str
    username: str | None = None
    password: str | None = None
    access: str | None = None
    refresh: str | None = None
    timeout: float = 10.0

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, auth: bool = True) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.access:
            headers["Authorization"] = f"Bearer {self.access}"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read() or b"{}")
            except ValueError:
                detail = {}
            raise ApiError(error.code, detail if isinstance(detail, dict) else {}) from None

    @property
    def can_log_in(self) -> bool:
        return bool(self.username and self.password)

    def log_in(self) -> None:
        tokens = self.request("POST", "/api/token/", {"username": self.username, "password": self.password}, False)
        self.access, self.refresh = tokens["access"], tokens["refresh"]

    def renew(self) -> bool:
        """A fresh access token: by the refresh token, else by logging in again; False if neither works."""
        if self.refresh:
            try:
                tokens = self.request("POST", "/api/token/refresh/", {"refresh": self.refresh}, False)
                self.access = tokens["access"]
                self.refresh = tokens.get("refresh", self.refresh)
                return True
            except ApiError:
                self.refresh = None
        if self.can_log_in:
            self.log_in()
            return True
        return False

    def seconds_left(self) -> float | None:
        expiry = token_expiry(self.access or "")
        return None if expiry is None else expiry - time.time()

    def analysis(self, analysis_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/analyses/{urllib.parse.quote(analysis_id)}/")

    def analyses(self) -> list[dict[str, Any]]:
        """Every analysis the user may read, following the pages."""
        found, offset = [], 0
        while True:
            page = self.request("GET", f"/api/analyses/?limit=200&offset={offset}")
            found.extend(page["results"])
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return found
