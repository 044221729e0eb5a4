"""``GET /metrics``: this server process's Prometheus metrics, for staff or the metrics token.

Each scrape runs the readiness checks first, so ``secureai_ready`` is never older than the scrape.
The body is Prometheus's text format (or OpenMetrics when the scraper asks for it); refusals are
the API's JSON errors. Workers serve the same registry from ``secureai.worker_exporter``.
"""

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from .health import check_readiness
from .metrics_access import CanReadMetrics, MetricsTokenAuthentication


class ErrorsAsJson(BaseContentNegotiation):
    """Refusals are JSON whatever the scraper accepts, instead of a 406 before the access check."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MetricsApi(APIView):
    authentication_classes = [MetricsTokenAuthentication, JWTAuthentication, SessionAuthentication]
    permission_classes = [CanReadMetrics]
    content_negotiation_class = ErrorsAsJson

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        async_to_sync(check_readiness)()
        encode, content_type = choose_encoder(request.headers.get("Accept"))
        return HttpResponse(encode(REGISTRY), content_type=content_type)
