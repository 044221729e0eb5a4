"""Signs of life: a held analysis's heartbeat, and the check that fails analyses whose worker went silent.

The heartbeat is a bare ``QuerySet.update`` of ``heartbeat_at``: it is not a change of the
analysis, so it writes no event and sends no signal. The stall check does change the analysis,
through the transition service like every other writer.
"""

import logging
import threading
from datetime import datetime, timedelta
from types import TracebackType

from django.db import connection, transaction
from django.utils import timezone

from analyses.metrics import STALLED_JOBS
from analyses.models import Analysis
from analyses.services import SYSTEM_ACTOR, analysis_transition
from analyses.state_machine import Change, Status, TransitionError

logger = logging.getLogger(__name__)

WORKER_LOST = "worker_lost"


def heartbeat(*, analysis_id: object, worker: str) -> bool:
    """Record that ``worker`` is alive; False when it no longer holds the analysis."""
    held = Analysis.objects.filter(pk=analysis_id, status=Status.PROCESSING, worker=worker)
    return held.update(heartbeat_at=timezone.now()) == 1


class Heartbeat:
    """A thread that beats for one held analysis, so a long step does not look like a dead worker.

    When a beat finds the analysis no longer held, it sets ``lost`` and stops.
    """

    def __init__(self, *, analysis_id: object, worker: str, interval: float) -> None:
        self.analysis_id, self.worker, self.interval = analysis_id, worker, interval
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{analysis_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._done.wait(self.interval):
                try:
                    if not heartbeat(analysis_id=self.analysis_id, worker=self.worker):
                        self.lost.set()
                        return
                except Exception:
                    # A missed beat is survivable: the stall timeout is several intervals long.
                    logger.warning("Heartbeat of %s failed", self.analysis_id, exc_info=True)
        finally:
            connection.close()


def fail_stalled(*, stall_timeout: float, now: datetime | None = None) -> list[object]:
    """Fail (``worker_lost``) every processing analysis whose holder is silent for ``stall_timeout`` s.

    Each one is re-checked under its row lock, so a heartbeat or report that lands first wins
    and the analysis is left alone. Terminal analyses are never candidates. Returns the ids failed.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=stall_timeout)
    candidates = list(
        Analysis.objects.filter(status=Status.PROCESSING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    )
    failed = []
    for analysis_id in candidates:
        with transaction.atomic():
            analysis = (
                Analysis.objects.select_for_update(skip_locked=True)
                .filter(pk=analysis_id, status=Status.PROCESSING, heartbeat_at__lt=cutoff)
                .first()
            )
            if analysis is None:
                continue
            silent = (timezone.now() - analysis.heartbeat_at).total_seconds()
            detail = f"Worker {analysis.worker or 'unknown'} stopped sending heartbeats {silent:.0f} s ago."
            try:
                analysis_transition(
                    analysis_id=analysis_id,
                    change=Change(status=Status.FAILED, error={"code": WORKER_LOST, "detail": detail}),
                    actor=SYSTEM_ACTOR,
                    held_by=analysis.worker,
                )
            except TransitionError:
                logger.exception("Could not fail the stalled analysis %s", analysis_id)
                continue
        logger.warning("Analysis %s: %s", analysis_id, detail)
        STALLED_JOBS.inc()
        failed.append(analysis_id)
    return failed
