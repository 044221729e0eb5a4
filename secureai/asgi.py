"""ASGI entry point: HTTP through Django, WebSockets through the realtime app."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secureai.settings.local")
# Django must be set up before anything imports models, so the rest comes after this line.
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter  # noqa: E402

from realtime.routing import websocket_application  # noqa: E402
from secureai.request_threads import ThreadedASGIHandler  # noqa: E402

django_asgi_app = ThreadedASGIHandler()

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
