"""WebSocket routes (PROTOCOL §3), each with or without the trailing slash."""

from channels.routing import URLRouter

websocket_urlpatterns: list = []
websocket_application = URLRouter(websocket_urlpatterns)
