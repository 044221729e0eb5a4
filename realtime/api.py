"""The realtime API: stats of the sockets, summed over every server process (docs/protocol.md §4)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .hub import current_hub
from .stats import process_reports, summarize


def _local_reports() -> list[dict]:
    hub = current_hub()
    return [hub.report()] if hub is not None else []


class RealtimeStatsApi(APIView):
    """Connections, subscriptions, messages and errors of every server process; staff only."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        responses=inline_serializer(
            "RealtimeStats",
            {
                "connections": serializers.DictField(child=serializers.IntegerField()),
                "subscriptions": serializers.DictField(child=serializers.IntegerField()),
                "messages": serializers.DictField(child=serializers.IntegerField()),
                "errors": serializers.IntegerField(),
                "processes": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request: Request) -> Response:
        # The in-memory layer serves one process only, so its own counters are the whole story.
        reports = process_reports() if settings.CHANNEL_LAYER_BACKEND == "redis" else _local_reports()
        return Response(summarize(reports))
