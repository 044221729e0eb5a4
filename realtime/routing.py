"""WebSocket routes (docs/protocol.md §3), each with or without the trailing slash, behind the origin
check (``realtime.origins``) and the authentication of the socket (``realtime.auth``)."""

from channels.routing import URLRouter
from django.urls import re_path

from .auth import SocketAuthMiddleware
from .consumers import StatusConsumer
from .origins import OriginCheck

websocket_urlpatterns = [
    re_path(r"^ws/status/?$", StatusConsumer.as_asgi()),
    re_path(r"^ws/status/(?P<analysis_id>[^/]+)/?$", StatusConsumer.as_asgi()),
]

websocket_application = OriginCheck(SocketAuthMiddleware(URLRouter(websocket_urlpatterns)))
