"""Which pages may open a socket (docs/protocol.md §5 "Origins"): compared by scheme, host and port.

Browsers send ``Origin`` with every WebSocket handshake, so a page of another site is refused
(403 at the handshake) unless its origin is listed in ``WS_ALLOWED_ORIGINS``. A handshake from
the service's own pages names the request's own origin: its scheme and the ``Host`` it was sent
to, port included, which must also be one of ``ALLOWED_HOSTS`` (as Django requires of every
request, against DNS rebinding). A handshake without ``Origin`` is no browser's and passes: it
still has to authenticate.
"""

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, with the scheme's default port filled in; None if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname.lower(), port


def own_origin(scope: dict[str, Any]) -> tuple[str, str, int] | None:
    """The origin of the request itself: its scheme and its Host header, if that host is allowed."""
    host = _header(scope, b"host")
    if host is None:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return normalized_origin(f"{scheme}://{host}")


def origin_allowed(origin: str, scope: dict[str, Any]) -> bool:
    wanted = normalized_origin(origin)
    if wanted is None:
        return False
    listed = {normalized_origin(item) for item in settings.REALTIME["ALLOWED_ORIGINS"]}
    return wanted in listed or wanted == own_origin(scope)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == name:
            return value.decode("latin-1")
    return None


class OriginCheck:
    """ASGI middleware in front of the socket routes: a foreign ``Origin`` gets 403 at the handshake."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if origin is None or origin_allowed(origin, scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
