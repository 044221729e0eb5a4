"""Thin API views: parse, call a selector or service, render."""

import uuid

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyses.contract import NOT_FOUND
from analyses.models import Analysis
from analyses.payloads import analysis_snapshot, event_body
from analyses.selectors import analysis_get_readable, analysis_list, can_change_status, event_history
from analyses.services import analysis_create, analysis_request_broadcast, analysis_transition
from analyses.state_machine import Status
from secureai.schema import error_responses

from .serializers import (
    AnalysisCreateInput,
    AnalysisSnapshot,
    BroadcastOutput,
    HistoryOutput,
    HistoryQuery,
    TransitionInput,
)
from .throttles import AnalysisCreateThrottle


def readable_analysis_or_404(request: Request, analysis_id: str) -> Analysis:
    """The analysis, or the same 404 whether it is missing or someone else's."""
    analysis = analysis_get_readable(user=request.user, analysis_id=analysis_id)
    if analysis is None:
        raise NotFound(NOT_FOUND)
    return analysis


class AnalysisFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[(s.value, s.value) for s in Status])

    class Meta:
        model = Analysis
        fields = ["status"]


@extend_schema_view(get=extend_schema(responses={200: AnalysisSnapshot, **error_responses(400)}))
class AnalysisListCreateApi(generics.ListAPIView):
    """List the analyses you may read, newest first; or create one."""

    serializer_class = AnalysisSnapshot
    filterset_class = AnalysisFilter
    throttle_classes = [AnalysisCreateThrottle]

    def get_queryset(self):
        return analysis_list(user=self.request.user)

    @extend_schema(request=AnalysisCreateInput, responses={201: AnalysisSnapshot, **error_responses(400)})
    def post(self, request: Request) -> Response:
        data = AnalysisCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        analysis = analysis_create(
            owner=request.user,
            filename=data.validated_data["filename"],
            media_url=data.validated_data.get("media_url") or "",
        )
        return Response(analysis_snapshot(analysis), status=status.HTTP_201_CREATED)


class AnalysisDetailApi(APIView):
    @extend_schema(responses={200: AnalysisSnapshot, **error_responses(404)})
    def get(self, request: Request, analysis_id: str) -> Response:
        return Response(analysis_snapshot(readable_analysis_or_404(request, analysis_id)))


class AnalysisTransitionApi(APIView):
    """Change the status; staff and holders of ``analyses.change_analysis_status`` only."""

    @extend_schema(request=TransitionInput, responses={200: AnalysisSnapshot, **error_responses(400, 403, 404, 409)})
    def post(self, request: Request, analysis_id: str) -> Response:
        if not can_change_status(request.user):
            readable_analysis_or_404(request, analysis_id)
            raise PermissionDenied("You may read this analysis but not change its status.")
        # Whoever may change statuses may read every analysis: locking the row is the only read.
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = analysis_transition(
                analysis_id=uuid.UUID(analysis_id),
                change=data.to_change(),
                actor=request.user.get_username(),
                transition_id=data.validated_data.get("transition_id"),
            )
        except (ValueError, Analysis.DoesNotExist):
            raise NotFound(NOT_FOUND) from None
        return Response(outcome.snapshot)


class AnalysisHistoryApi(APIView):
    @extend_schema(parameters=[HistoryQuery], responses={200: HistoryOutput, **error_responses(400, 404)})
    def get(self, request: Request, analysis_id: str) -> Response:
        analysis = readable_analysis_or_404(request, analysis_id)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        events, has_more = event_history(analysis_id=analysis.pk, **query.validated_data)
        return Response(
            {"analysis_id": str(analysis.pk), "events": [event_body(e) for e in events], "has_more": has_more}
        )


class AnalysisBroadcastApi(APIView):
    """Push the current snapshot to subscribers as ``status_snapshot``; staff only, writes no event."""

    @extend_schema(request=None, responses={202: BroadcastOutput, **error_responses(403, 404)})
    def post(self, request: Request, analysis_id: str) -> Response:
        analysis = readable_analysis_or_404(request, analysis_id)
        if not request.user.is_staff:
            raise PermissionDenied("Only staff may trigger a broadcast.")
        snapshot = analysis_request_broadcast(analysis=analysis)
        return Response(
            {"analysis_id": snapshot["analysis_id"], "seq": snapshot["seq"]}, status=status.HTTP_202_ACCEPTED
        )
