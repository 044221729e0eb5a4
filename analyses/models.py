"""The analysis of one video and its append-only status history."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .contract import PROGRESS_MAX, TRANSITION_ID_MAX_LENGTH
from .state_machine import DEFAULT_MAX_RETRIES, AnalysisState, EventType, Stage, Status

StatusChoices = models.TextChoices("StatusChoices", [(s.name, s.value) for s in Status])
StageChoices = models.TextChoices("StageChoices", [(s.name, s.value) for s in Stage])
EventTypeChoices = models.TextChoices("EventTypeChoices", [(e.name, e.value) for e in EventType])
STATUS_VALUES = [s.value for s in Status]
STAGE_VALUES = [s.value for s in Stage]
EVENT_VALUES = [e.value for e in EventType]


class Analysis(models.Model):
    """A deepfake-detection job; ``seq`` is the number of its latest history event."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="analyses")
    filename = models.CharField(max_length=255)
    media_url = models.URLField(max_length=2000, blank=True, default="")
    status = models.CharField(max_length=16, choices=StatusChoices, default=Status.PENDING.value)
    stage = models.CharField(max_length=32, choices=StageChoices, null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(PROGRESS_MAX)])
    retry_count = models.PositiveSmallIntegerField(default=0)
    max_retries = models.PositiveSmallIntegerField(default=DEFAULT_MAX_RETRIES)
    message = models.TextField(blank=True, default="")
    error = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    worker = models.CharField(max_length=150, blank=True, default="", help_text="The worker holding the job.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="The holding worker's last sign of life.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "analyses"
        permissions = [
            ("view_all_analyses", "Can view every user's analyses"),
            ("change_analysis_status", "Can change the status of any analysis"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=STATUS_VALUES), name="analysis_status_valid"),
            models.CheckConstraint(
                condition=Q(stage__isnull=True) | Q(stage__in=STAGE_VALUES), name="analysis_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=Status.PROCESSING.value, stage__isnull=False)
                | (~Q(status=Status.PROCESSING.value) & Q(stage__isnull=True)),
                name="analysis_stage_only_while_processing",
            ),
            models.CheckConstraint(condition=Q(progress__lte=PROGRESS_MAX), name="analysis_progress_0_100"),
            models.CheckConstraint(
                condition=Q(retry_count__lte=models.F("max_retries")), name="analysis_retries_within_limit"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="analysis_owner_created"),
            models.Index(fields=["status", "-created_at"], name="analysis_status_created"),
            models.Index(fields=["-created_at"], name="analysis_created"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def state(self) -> AnalysisState:
        return AnalysisState(
            status=Status(self.status),
            stage=Stage(self.stage) if self.stage else None,
            progress=self.progress,
            retry_count=self.retry_count,
            max_retries=self.max_retries,
            message=self.message,
            error=self.error,
            result=self.result,
        )


class StatusEvent(models.Model):
    """One accepted change, numbered ``seq`` 1, 2, 3... per analysis; never edited or deleted."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    event = models.CharField(max_length=32, choices=EventTypeChoices)
    status = models.CharField(max_length=16, choices=StatusChoices)
    previous_status = models.CharField(max_length=16, choices=StatusChoices, null=True, blank=True)
    stage = models.CharField(max_length=32, choices=StageChoices, null=True, blank=True)
    progress = models.PositiveSmallIntegerField()
    retry_count = models.PositiveSmallIntegerField()
    message = models.TextField(blank=True, default="")
    error = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    actor = models.CharField(max_length=150)
    timestamp = models.DateTimeField(default=timezone.now)
    transition_id = models.CharField(max_length=TRANSITION_ID_MAX_LENGTH, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["analysis", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["analysis", "seq"], name="event_unique_seq"),
            models.UniqueConstraint(
                fields=["analysis", "transition_id"],
                condition=Q(transition_id__isnull=False),
                name="event_unique_transition_id",
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="event_seq_positive"),
            models.CheckConstraint(condition=Q(progress__lte=PROGRESS_MAX), name="event_progress_0_100"),
            models.CheckConstraint(condition=Q(status__in=STATUS_VALUES), name="event_status_valid"),
            models.CheckConstraint(condition=Q(event__in=EVENT_VALUES), name="event_type_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event} {self.status}"
