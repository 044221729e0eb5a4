"""ASGI entry point: HTTP through Django, WebSockets through the realtime app."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secureai.settings.local")
# Django must be set up before anything imports models, so routing comes after this line.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from realtime.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})

from django.conf import settings  # noqa: E402

if settings.WORKER["EMBEDDED"]:
    # The single-process demo (scripts/run without Redis): the worker must share this process's
    # in-memory channel layer to reach the sockets.
    from analyses.worker.embedded import start_embedded_worker

    start_embedded_worker(demo=True)
