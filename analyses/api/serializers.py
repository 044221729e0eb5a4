"""Input validation and the documented output shapes of the analyses API.

Input serializers check JSON types (``"5"`` is not 5) and refuse unknown fields; the shape of a
change is ``state_machine.check_change``'s, so the API, the admin and the worker share one set
of sentences and bounds. Output serializers only document the shapes ``analyses.payloads``
renders; ``analyses/tests/test_schema.py`` proves the two agree.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analyses.contract import (
    ERROR_CODE_MAX_LENGTH,
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MAX,
    MESSAGE_MAX_LENGTH,
    PROGRESS_MAX,
    TRANSITION_ID_MAX_LENGTH,
)
from analyses.models import Analysis, StatusEvent
from analyses.payloads import analysis_snapshot, event_body
from analyses.state_machine import Change, EventType, Stage, Status, TransitionError, Verdict, check_change

from .fields import JSONObjectField, StrictCharField, StrictChoiceField, StrictIntegerField


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error rather than a silent no-op."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(max_length=ERROR_CODE_MAX_LENGTH)
    detail = serializers.CharField(max_length=MESSAGE_MAX_LENGTH)


class ResultOutput(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=[v.value for v in Verdict])
    confidence = serializers.FloatField(min_value=0, max_value=1)


class AnalysisCreateInput(StrictSerializer):
    filename = StrictCharField(max_length=Analysis._meta.get_field("filename").max_length, trim_whitespace=True)
    media_url = serializers.URLField(
        max_length=Analysis._meta.get_field("media_url").max_length, required=False, allow_blank=True, allow_null=True
    )


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": PROGRESS_MAX})
class ProgressField(StrictIntegerField):
    """A whole number; its range is the state machine's to check (documented here for the schema)."""


@extend_schema_field({"type": "string", "maxLength": MESSAGE_MAX_LENGTH})
class MessageField(StrictCharField):
    """A text; its length is the state machine's to check (documented here for the schema)."""


@extend_schema_field(ErrorOutput)
class ErrorField(JSONObjectField):
    pass


@extend_schema_field(ResultOutput)
class ResultField(JSONObjectField):
    pass


class TransitionInput(StrictSerializer):
    """A requested change: JSON types here, then the change's shape checked by the state machine (400)."""

    status = StrictChoiceField(choices=[s.value for s in Status], required=False)
    stage = StrictChoiceField(choices=[s.value for s in Stage], required=False)
    progress = ProgressField(required=False)
    message = MessageField(required=False, allow_blank=True)
    error = ErrorField(required=False)
    result = ResultField(required=False)
    transition_id = StrictCharField(max_length=TRANSITION_ID_MAX_LENGTH, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        change = Change(
            status=Status(attrs["status"]) if "status" in attrs else None,
            stage=Stage(attrs["stage"]) if "stage" in attrs else None,
            progress=attrs.get("progress"),
            message=attrs.get("message"),
            error=attrs.get("error"),
            result=attrs.get("result"),
        )
        try:
            check_change(change)
        except TransitionError as malformed:
            raise serializers.ValidationError(malformed.detail) from None
        attrs["change"] = change
        return attrs

    def to_change(self) -> Change:
        return self.validated_data["change"]


class HistoryQuery(serializers.Serializer):
    since_seq = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=HISTORY_LIMIT_MAX, default=HISTORY_LIMIT_DEFAULT)


class AnalysisSnapshot(serializers.Serializer):
    """The snapshot of docs/protocol.md §3; rendered by ``analysis_snapshot`` so the API and sockets agree."""

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
    """The event of docs/protocol.md §2; rendered by ``event_body``."""

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
