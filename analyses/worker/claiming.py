"""Taking a queued analysis, and reporting on the one a worker holds.

Every change goes through ``analysis_transition``; this module only adds what a worker needs
around it: a claim that two workers can never both win, and reports that are safe to resend.
"""

import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction

from analyses.models import Analysis
from analyses.services import TransitionOutcome, analysis_transition
from analyses.state_machine import Change, Stage, Status

logger = logging.getLogger(__name__)

SEND_ATTEMPTS = 5


def send_transition(**kwargs: Any) -> TransitionOutcome:
    """``analysis_transition``, resent when the database connection fails.

    Resending is safe only with a ``transition_id``: if the first try did commit, the repeat
    returns its answer instead of applying the change twice.
    """
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return analysis_transition(**kwargs)
        except (OperationalError, InterfaceError):
            resendable = kwargs.get("transition_id") is not None and not connection.in_atomic_block
            if attempt == SEND_ATTEMPTS or not resendable:
                raise
            logger.warning("Database error on a transition; retrying (%d/%d)", attempt, SEND_ATTEMPTS, exc_info=True)
            close_old_connections()
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


@dataclass
class Claim:
    """One attempt at an analysis, held by one worker."""

    analysis_id: uuid.UUID
    worker: str
    token: str
    attempt: int
    max_retries: int
    filename: str
    media_url: str
    reports: int = field(default=0)

    def report(self, change: Change) -> TransitionOutcome:
        """Apply ``change`` while this worker still holds the analysis; TransitionError otherwise."""
        self.reports += 1
        return send_transition(
            analysis_id=self.analysis_id,
            change=change,
            actor=self.worker,
            transition_id=f"{self.token}:{self.reports}",
            held_by=self.worker,
        )


def claim_next(*, worker: str) -> Claim | None:
    """Move the oldest queued analysis to processing for ``worker``; None when the queue is empty.

    ``skip_locked`` lets concurrent workers pass over a row another one is claiming instead of
    waiting for it; the row stays locked until the claim commits, so it is claimed once.
    (SQLite has no row locks: its transactions take the write lock when they begin.)
    """
    token = secrets.token_hex(6)
    with transaction.atomic():
        analysis = (
            Analysis.objects.select_for_update(skip_locked=True)
            .filter(status=Status.QUEUED)
            .order_by("created_at", "id")
            .first()
        )
        if analysis is None:
            return None
        analysis_transition(
            analysis_id=analysis.pk,
            change=Change(
                status=Status.PROCESSING, stage=Stage.UPLOAD_VALIDATION, progress=0, message=f"Picked up by {worker}"
            ),
            actor=worker,
            worker=worker,
            transition_id=f"{token}:claim",
        )
    return Claim(
        analysis_id=analysis.pk,
        worker=worker,
        token=token,
        attempt=analysis.retry_count,
        max_retries=analysis.max_retries,
        filename=analysis.filename,
        media_url=analysis.media_url,
    )
