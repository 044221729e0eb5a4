"""The worker loop: housekeeping, claim, run the pipeline, report the outcome; until told to stop.

Stopping (SIGINT/SIGTERM, or ``stop`` set by whoever embeds the loop) is prompt: the running step
is interrupted at its next checkpoint. The rules give a processing analysis no way back to the
queue except through ``failed``, so the analysis the worker holds is failed with the error code
``worker_stopped`` (saying which worker and stage) and, while it has retries left, requeued at
once by the same worker, without the usual backoff: the failure was not the analysis's. This
uses up one retry, since every failed -> queued counts. An analysis on its last retry stays
failed, visibly and for good, rather than the worker bending the rules. Were the worker to die
between the two changes, the retry sweep of any other worker requeues it.
"""

import logging
import threading
import time

from django.db import DatabaseError, close_old_connections

from analyses.metrics import WORKER_JOBS, JobOutcome
from analyses.state_machine import Change, Status, TransitionError
from secureai.logs import log_ids

from .claiming import Claim, claim_next
from .config import WorkerConfig
from .heartbeat import Heartbeat, fail_stalled
from .pipeline import ClaimLost, JobContext, StepFailed, WorkerStopping, load_pipeline, run_pipeline
from .retries import requeue, requeue_due

logger = logging.getLogger(__name__)

WORKER_STOPPED = "worker_stopped"
INTERNAL_ERROR = "internal_error"


class Worker:
    def __init__(self, config: WorkerConfig, *, stop: threading.Event | None = None, demo: bool = False) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.demo = demo
        self.steps = load_pipeline(config.pipeline)
        self._last_sweep = float("-inf")
        self._idle_since = time.monotonic()

    def run(self) -> None:
        logger.info("Worker %s started", self.config.name)
        try:
            while not self.stop.is_set():
                close_old_connections()
                try:
                    self.run_once()
                except DatabaseError:
                    # A held analysis stays processing; its heartbeat stops, so the stall check frees it.
                    logger.exception("Database error; the worker carries on after a pause")
                    self.stop.wait(max(self.config.poll_interval, 1.0))
        finally:
            close_old_connections()
            logger.info("Worker %s stopped", self.config.name)

    def run_once(self) -> None:
        """One turn of the loop: housekeeping, then one analysis, or a pause if there is none."""
        self.housekeeping()
        claim = claim_next(worker=self.config.name)
        if claim is None:
            self.idle()
            return
        with log_ids(analysis_id=claim.analysis_id):
            self.process(claim)
        self._idle_since = time.monotonic()

    def housekeeping(self) -> None:
        """Fail silent workers' analyses and requeue due retries, at most once a sweep interval."""
        if time.monotonic() - self._last_sweep < self.config.sweep_interval:
            return
        self._last_sweep = time.monotonic()
        try:
            fail_stalled(stall_timeout=self.config.stall_timeout)
            requeue_due(base=self.config.retry_backoff, maximum=self.config.retry_backoff_max)
        except Exception:
            logger.exception("Worker housekeeping failed; trying again next sweep")

    def idle(self) -> None:
        if self.demo and time.monotonic() - self._idle_since >= self.config.demo_interval:
            from analyses.demo_data import demo_queue_one  # only the demo needs the demo accounts

            demo_queue_one()
            self._idle_since = time.monotonic()
        self.stop.wait(self.config.poll_interval)

    def process(self, claim: Claim) -> None:
        """Run one claimed attempt to its end: completed, failed, or let go."""
        logger.info("%s took %s (attempt %d)", claim.worker, claim.analysis_id, claim.attempt + 1)
        with Heartbeat(
            analysis_id=claim.analysis_id, worker=claim.worker, interval=self.config.heartbeat_interval
        ) as beat:
            context = JobContext(claim=claim, stop=self.stop, lost=beat.lost)
            try:
                result = run_pipeline(self.steps, context)
                claim.report(Change(status=Status.COMPLETED, result=result, message="Analysis complete"))
                WORKER_JOBS.labels(outcome=JobOutcome.COMPLETED).inc()
            except StepFailed as failure:
                WORKER_JOBS.labels(outcome=JobOutcome.FAILED).inc()
                self.fail(claim, failure.code, failure.detail)
            except WorkerStopping:
                WORKER_JOBS.labels(outcome=JobOutcome.STOPPED).inc()
                self.let_go(claim, context)
            except ClaimLost as lost:
                WORKER_JOBS.labels(outcome=JobOutcome.LOST).inc()
                logger.warning("%s lost %s: %s", claim.worker, claim.analysis_id, lost)
            except Exception as error:
                WORKER_JOBS.labels(outcome=JobOutcome.CRASHED).inc()
                logger.exception("Step crashed on %s", claim.analysis_id)
                self.fail(claim, INTERNAL_ERROR, f"{type(error).__name__}: {error}"[:500])

    def fail(self, claim: Claim, code: str, detail: str) -> bool:
        try:
            claim.report(Change(status=Status.FAILED, error={"code": code, "detail": detail}))
        except TransitionError as error:
            logger.warning("Could not fail %s: %s", claim.analysis_id, error.detail)
            return False
        logger.info("%s failed: %s", claim.analysis_id, code)
        return True

    def let_go(self, claim: Claim, context: JobContext) -> None:
        """Fail with worker_stopped and requeue at once (see the module docstring)."""
        detail = f"Worker {claim.worker} was stopped during {context.stage}; the analysis goes back to the queue."
        if not self.fail(claim, WORKER_STOPPED, detail) or claim.attempt >= claim.max_retries:
            return
        try:
            requeue(
                analysis_id=claim.analysis_id,
                retry_count=claim.attempt,
                actor=claim.worker,
                message=f"Requeued after {claim.worker} stopped",
            )
        except TransitionError as error:
            logger.warning("Could not requeue %s: %s", claim.analysis_id, error.detail)
