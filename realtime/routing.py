"""WebSocket routes (docs/protocol.md §3), each with or without the trailing slash, behind origin and auth checks."""

from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import re_path

from .auth import SocketAuthMiddleware
from .consumers import StatusConsumer


class BrowserOriginValidator(OriginValidator):
    """AllowedHostsOriginValidator, except that a handshake without Origin passes.

    The contract checks the Origin "when sent": browsers always send it, so cross-site pages
    are refused, while scripts and apps that send none are let through to authenticate.
    """

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)


def allowed_origin_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


websocket_urlpatterns = [
    re_path(r"^ws/status/?$", StatusConsumer.as_asgi()),
    re_path(r"^ws/status/(?P<analysis_id>[^/]+)/?$", StatusConsumer.as_asgi()),
]

websocket_application = BrowserOriginValidator(
    SocketAuthMiddleware(URLRouter(websocket_urlpatterns)), allowed_origin_hosts()
)
