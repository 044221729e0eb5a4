"""Who may read a process's metrics: staff, or whoever presents the ``METRICS_TOKEN`` bearer token.

Shared by the servers' ``/metrics`` view and the workers' exporter. The token check reads no
database, so Prometheus can still scrape a process whose database is down and see it say so.
"""

import hmac

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

BEARER = "Bearer "


def metrics_token_matches(authorization: str | None) -> bool:
    """True when an ``Authorization`` header carries the configured METRICS_TOKEN (constant time)."""
    token = settings.METRICS_TOKEN
    if not token or not authorization or not authorization.startswith(BEARER):
        return False
    return hmac.compare_digest(authorization[len(BEARER) :].strip().encode(), token.encode())


class MetricsTokenAuthentication(BaseAuthentication):
    """Accepts the metrics token; any other bearer token is left to the JWT authentication after it."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, None] | None:
        if metrics_token_matches(request.headers.get("Authorization")):
            return AnonymousUser(), None
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="metrics"'


class CanReadMetrics(BasePermission):
    message = "Only staff or the metrics token may read the metrics."

    def has_permission(self, request: Request, view: APIView) -> bool:
        scraper = isinstance(request.successful_authenticator, MetricsTokenAuthentication)
        return scraper or bool(request.user and request.user.is_staff)
