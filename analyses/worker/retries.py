"""Retries: a failed analysis goes back to the queue after a backoff, while it has retries left.

The rules (failed -> queued, counting retry_count up to max_retries) are the state machine's;
this module only decides *when*. The sweep runs in every worker loop and keeps no state of its
own: the backoff is computed from the analysis's retry_count and the time it failed, so any
worker may requeue any failure, and a worker that dies during a backoff loses nothing.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analyses.models import Analysis
from analyses.services import SYSTEM_ACTOR, TransitionOutcome
from analyses.state_machine import Change, Status, TransitionError

from .claiming import send_transition

logger = logging.getLogger(__name__)


def backoff_seconds(retry_count: int, *, base: float, maximum: float) -> float:
    """Exponential: base, 2*base, 4*base... capped at ``maximum``."""
    return min(maximum, base * 2**retry_count)


def requeue(*, analysis_id: object, retry_count: int, actor: str, message: str) -> TransitionOutcome:
    """Retry once: failed -> queued. The transition_id is per retry, so two requeuers apply it once."""
    return send_transition(
        analysis_id=analysis_id,
        change=Change(status=Status.QUEUED, message=message),
        actor=actor,
        transition_id=f"retry-{retry_count + 1}",
    )


def requeue_due(*, base: float, maximum: float, now: datetime | None = None) -> list[object]:
    """Requeue every failed analysis with retries left whose backoff has passed; returns their ids."""
    now = now or timezone.now()
    candidates = Analysis.objects.filter(status=Status.FAILED, retry_count__lt=F("max_retries"))
    requeued = []
    for analysis_id, retry_count, failed_at in candidates.values_list("pk", "retry_count", "updated_at"):
        if failed_at > now - timedelta(seconds=backoff_seconds(retry_count, base=base, maximum=maximum)):
            continue
        with transaction.atomic():
            analysis = (
                Analysis.objects.select_for_update(skip_locked=True)
                .filter(pk=analysis_id, status=Status.FAILED, retry_count=retry_count)
                .first()
            )
            if analysis is None:
                continue
            try:
                requeue(
                    analysis_id=analysis_id,
                    retry_count=retry_count,
                    actor=SYSTEM_ACTOR,
                    message=f"Retry {retry_count + 1} of {analysis.max_retries}",
                )
            except TransitionError:
                logger.exception("Could not requeue the failed analysis %s", analysis_id)
                continue
        requeued.append(analysis_id)
    return requeued
