"""The relay's ASGI application: one WebSocket route and one HTTP publish route, nothing else."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.relay.settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.urls import re_path  # noqa: E402

from .consumers import RelayConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ASGIHandler(),
        "websocket": URLRouter([re_path(r"^ws/status/(?P<analysis_id>[^/]+)/?$", RelayConsumer.as_asgi())]),
    }
)
