"""The Prometheus metrics of the write path and the worker: transitions, jobs, stalls.

Counted where the thing happens: every transition in ``services.analysis_transition`` (whatever
wrote it: the API, the admin, a worker), job outcomes in the worker loop, stalls in the stall
check. Labels take only the outcomes listed here; every labelled series is exported from the
start, at 0. docs/monitoring.md lists the metrics and what each means.
"""

from enum import StrEnum

from prometheus_client import Counter


class TransitionResult(StrEnum):
    """The ``outcome`` of a transition; the refusals are the codes of ``TransitionError``."""

    APPLIED = "applied"
    REPEATED = "repeated"  # a transition_id already applied: answered again, nothing written
    INVALID = "invalid"
    INVALID_TRANSITION = "invalid_transition"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"


class JobOutcome(StrEnum):
    """How a worker's attempt at an analysis ended."""

    COMPLETED = "completed"
    FAILED = "failed"  # a step reported a failure (StepFailed)
    STOPPED = "stopped"  # the worker was told to stop and let the analysis go
    LOST = "lost"  # the analysis was taken from the worker (cancelled, or presumed lost)
    CRASHED = "crashed"  # an unexpected exception: failed as internal_error


TRANSITIONS = Counter(
    "secureai_transitions_total", "Status changes asked of the transition service, by outcome.", ["outcome"]
)
WORKER_JOBS = Counter("secureai_worker_jobs_total", "Attempts this worker finished, by outcome.", ["outcome"])
STALLED_JOBS = Counter(
    "secureai_stalled_jobs_total", "Processing analyses this process failed as worker_lost (a silent worker)."
)


def _export_every_series() -> None:
    for result in TransitionResult:
        TRANSITIONS.labels(outcome=result)
    for outcome in JobOutcome:
        WORKER_JOBS.labels(outcome=outcome)


_export_every_series()
