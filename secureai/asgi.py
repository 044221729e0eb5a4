"""ASGI entry point: HTTP through Django, WebSockets through the realtime app.

Servers load the production settings unless told otherwise; every other way in names its own
(manage.py and scripts/run: local; pytest and the servers the tests start: test; bench/: its own).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secureai.settings.production")
# Django must be set up before anything imports models, so the rest comes after this line.
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from realtime.hub import start_with_server  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402
from secureai.request_threads import ThreadedASGIHandler  # noqa: E402
from secureai.server import access_log_through_logging, on_server_stop  # noqa: E402

django_asgi_app = ThreadedASGIHandler()

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
# Under daphne: the hub runs from the start (stats, Redis), and a stop drains (secureai.server).
start_with_server()
on_server_stop(lambda: django_asgi_app.drain(settings.SERVER_DRAIN_SECONDS))
access_log_through_logging()
