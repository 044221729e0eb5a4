"""Input validation and the documented output shapes of the analyses API."""

from typing import Any

from rest_framework import serializers

from analyses.models import Analysis, StatusEvent
from analyses.payloads import analysis_snapshot, event_body
from analyses.services import TRANSITION_ID_MAX_LENGTH
from analyses.state_machine import Change, EventType, Stage, Status, Verdict

from .fields import StrictCharField, StrictChoiceField, StrictFloatField, StrictIntegerField

MESSAGE_MAX_LENGTH = 2000
ERROR_CODE_MAX_LENGTH = 64


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error rather than a silent no-op."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorInput(StrictSerializer):
    code = StrictCharField(max_length=ERROR_CODE_MAX_LENGTH)
    detail = StrictCharField(max_length=MESSAGE_MAX_LENGTH)


class ResultInput(StrictSerializer):
    verdict = StrictChoiceField(choices=[v.value for v in Verdict])
    confidence = StrictFloatField(min_value=0, max_value=1)


class AnalysisCreateInput(StrictSerializer):
    filename = StrictCharField(max_length=255, trim_whitespace=True)
    media_url = serializers.URLField(max_length=2000, required=False, allow_blank=True, allow_null=True)


class TransitionInput(StrictSerializer):
    status = StrictChoiceField(choices=[s.value for s in Status], required=False)
    stage = StrictChoiceField(choices=[s.value for s in Stage], required=False)
    progress = StrictIntegerField(min_value=0, max_value=100, required=False)
    message = StrictCharField(max_length=MESSAGE_MAX_LENGTH, required=False, allow_blank=True)
    error = ErrorInput(required=False)
    result = ResultInput(required=False)
    transition_id = StrictCharField(max_length=TRANSITION_ID_MAX_LENGTH, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(name in attrs for name in ("status", "stage", "progress", "message", "error")):
            raise serializers.ValidationError("Give at least one of status, stage, progress, message or error.")
        return attrs

    def to_change(self) -> Change:
        data = self.validated_data
        return Change(
            status=Status(data["status"]) if "status" in data else None,
            stage=Stage(data["stage"]) if "stage" in data else None,
            progress=data.get("progress"),
            message=data.get("message"),
            error=dict(data["error"]) if "error" in data else None,
            result=dict(data["result"]) if "result" in data else None,
        )


class HistoryQuery(serializers.Serializer):
    since_seq = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class ResultOutput(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=[v.value for v in Verdict])
    confidence = serializers.FloatField()


class AnalysisSnapshot(serializers.Serializer):
    """The snapshot of PROTOCOL §3; rendered by ``analysis_snapshot`` so the API and sockets agree."""

    analysis_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[s.value for s in Status])
    stage = serializers.ChoiceField(choices=[s.value for s in Stage], allow_null=True)
    progress = serializers.IntegerField()
    retry_count = serializers.IntegerField()
    max_retries = serializers.IntegerField()
    error = ErrorOutput(allow_null=True)
    result = ResultOutput(allow_null=True)
    seq = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    filename = serializers.CharField()
    media_url = serializers.URLField(allow_null=True)
    owner = serializers.CharField()

    def to_representation(self, instance: Analysis) -> dict[str, Any]:
        return analysis_snapshot(instance)


class EventOutput(serializers.Serializer):
    """The event of PROTOCOL §2; rendered by ``event_body``."""

    analysis_id = serializers.UUIDField()
    seq = serializers.IntegerField()
    event = serializers.ChoiceField(choices=[e.value for e in EventType])
    status = serializers.ChoiceField(choices=[s.value for s in Status])
    previous_status = serializers.ChoiceField(choices=[s.value for s in Status], allow_null=True)
    stage = serializers.ChoiceField(choices=[s.value for s in Stage], allow_null=True)
    progress = serializers.IntegerField()
    retry_count = serializers.IntegerField()
    message = serializers.CharField(allow_blank=True)
    error = ErrorOutput(allow_null=True)
    result = ResultOutput(allow_null=True)
    actor = serializers.CharField()
    timestamp = serializers.DateTimeField()

    def to_representation(self, instance: StatusEvent) -> dict[str, Any]:
        return event_body(instance)


class HistoryOutput(serializers.Serializer):
    analysis_id = serializers.UUIDField()
    events = EventOutput(many=True)
    has_more = serializers.BooleanField()


class BroadcastOutput(serializers.Serializer):
    analysis_id = serializers.UUIDField()
    seq = serializers.IntegerField()
