"""Writes: the one place that creates an analysis or changes its status.

Each change locks the analysis row, asks the state machine, then writes the analysis and its
history event in one transaction. What happens next is not this module's business: saving the
``StatusEvent`` sends Django's ``post_save`` signal, and its one receiver,
``realtime.broadcasting.on_event_saved``, schedules the push with ``transaction.on_commit`` (so
a rolled-back change pushes nothing). ``analyses`` never imports ``realtime``.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .metrics import TRANSITIONS, TransitionResult
from .models import Analysis, StatusEvent
from .payloads import analysis_snapshot, snapshot_at_event
from .signals import snapshot_broadcast_requested
from .state_machine import DEFAULT_MAX_RETRIES, Change, EventType, Status, TransitionError, apply_change

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class TransitionOutcome:
    """What a transition did: the event it wrote (or had written) and the answer to give."""

    analysis: Analysis
    event: StatusEvent
    snapshot: dict[str, Any]
    repeated: bool


@transaction.atomic
def analysis_create(
    *, owner: AbstractBaseUser, filename: str, media_url: str = "", max_retries: int = DEFAULT_MAX_RETRIES
) -> Analysis:
    """Create a pending analysis and its first event (seq 1, actor the creator)."""
    now = timezone.now()
    analysis = Analysis.objects.create(
        owner=owner,
        filename=filename,
        media_url=media_url,
        max_retries=max_retries,
        status=Status.PENDING,
        seq=1,
        created_at=now,
        updated_at=now,
    )
    StatusEvent.objects.create(
        analysis=analysis,
        seq=1,
        event=EventType.STATUS_UPDATE,
        status=Status.PENDING,
        previous_status=None,
        stage=None,
        progress=0,
        retry_count=0,
        actor=owner.get_username(),
        timestamp=now,
    )
    return analysis


def _fingerprint(change: Change) -> str:
    canonical = json.dumps(asdict(change), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _counted(transition: Callable[..., TransitionOutcome]) -> Callable[..., TransitionOutcome]:
    """Count every call by its outcome (secureai_transitions_total), once its transaction is over."""

    @functools.wraps(transition)
    def counted(**kwargs: Any) -> TransitionOutcome:
        try:
            outcome = transition(**kwargs)
        except TransitionError as refusal:
            TRANSITIONS.labels(outcome=refusal.code).inc()
            raise
        except Analysis.DoesNotExist:
            TRANSITIONS.labels(outcome=TransitionResult.NOT_FOUND).inc()
            raise
        TRANSITIONS.labels(outcome=TransitionResult.REPEATED if outcome.repeated else TransitionResult.APPLIED).inc()
        return outcome

    return counted


@_counted
@transaction.atomic
def analysis_transition(
    *,
    analysis_id: Any,
    change: Change,
    actor: str,
    transition_id: str | None = None,
    worker: str | None = None,
    held_by: str | None = None,
) -> TransitionOutcome:
    """Apply ``change`` to an analysis or raise TransitionError; Analysis.DoesNotExist if there is none.

    A ``transition_id`` already used on this analysis returns the first answer again without
    writing anything, so a worker may resend after a timeout.

    ``worker`` names the holder recorded when the change enters processing (default: the actor).
    ``held_by`` applies the change only while that worker still holds the analysis (``conflict``
    otherwise), so a worker that was presumed lost cannot overwrite the attempt that replaced it.
    Every accepted change that leaves the analysis processing counts as the holder's heartbeat.
    """
    analysis = Analysis.objects.select_for_update(of=("self",)).select_related("owner").get(pk=analysis_id)
    fingerprint = _fingerprint(change)

    if transition_id is not None:
        earlier = analysis.events.filter(transition_id=transition_id).first()
        if earlier is not None:
            if earlier.request_fingerprint != fingerprint:
                raise TransitionError(
                    "conflict", f"transition_id {transition_id!r} was already used for a different change."
                )
            return TransitionOutcome(analysis, earlier, snapshot_at_event(analysis, earlier), repeated=True)
    if held_by is not None and (analysis.status != Status.PROCESSING or analysis.worker != held_by):
        holder = analysis.worker or "no worker"
        raise TransitionError("conflict", f"The analysis is held by {holder}, not by {held_by}.")

    before = analysis.state
    after, kind = apply_change(before, change)
    now = timezone.now()
    analysis.status = after.status.value
    analysis.stage = after.stage.value if after.stage else None
    analysis.progress = after.progress
    analysis.retry_count = after.retry_count
    analysis.message = after.message
    analysis.error = after.error
    analysis.result = after.result
    analysis.seq += 1
    analysis.updated_at = now
    if after.status != Status.PROCESSING:
        analysis.worker, analysis.heartbeat_at = "", None
    else:
        if before.status != Status.PROCESSING:
            analysis.worker = worker or actor
        analysis.heartbeat_at = now
    analysis.save()
    event = StatusEvent.objects.create(
        analysis=analysis,
        seq=analysis.seq,
        event=kind,
        status=after.status,
        previous_status=before.status,
        stage=analysis.stage,
        progress=after.progress,
        retry_count=after.retry_count,
        message=change.message or "",
        error=after.error,
        result=after.result,
        actor=actor,
        timestamp=now,
        transition_id=transition_id,
        request_fingerprint=fingerprint,
    )
    return TransitionOutcome(analysis, event, analysis_snapshot(analysis), repeated=False)


def analysis_request_broadcast(*, analysis: Analysis) -> dict[str, Any]:
    """Ask for the current snapshot to be pushed to subscribers; writes no event."""
    snapshot = analysis_snapshot(analysis)
    snapshot_broadcast_requested.send(sender=Analysis, snapshot=snapshot)
    return snapshot
