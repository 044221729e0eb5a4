"""Checks shared by the worker tests: a history replays legally, and who worked on each attempt."""

from typing import Any

from analyses.models import Analysis, StatusEvent
from analyses.state_machine import AnalysisState, Change, Stage, Status, apply_change

FAST_WORKER_ENV = {
    "WORKER_DEMO_SPEED": "200",
    "WORKER_POLL_INTERVAL": "0.1",
    "WORKER_SWEEP_INTERVAL": "0.2",
    "WORKER_HEARTBEAT_INTERVAL": "0.2",
    "WORKER_RETRY_BACKOFF": "0.1",
    "WORKER_RETRY_BACKOFF_MAX": "0.5",
}


def change_of(event: StatusEvent) -> Change:
    """The change that an event records, as a writer would have asked for it."""
    status = Status(event.status)
    return Change(
        status=status,
        stage=Stage(event.stage) if status == Status.PROCESSING else None,
        progress=event.progress if status == Status.PROCESSING else None,
        message=event.message or None,
        error=event.error if status == Status.FAILED else None,
        result=event.result if status == Status.COMPLETED else None,
    )


def assert_history_legal(analysis: Analysis) -> list[StatusEvent]:
    """Seq 1..n without gaps, and every consecutive pair is a change the state machine accepts."""
    events = list(StatusEvent.objects.filter(analysis=analysis).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert events[0].status == Status.PENDING and events[0].previous_status is None
    state = AnalysisState(status=Status.PENDING, max_retries=analysis.max_retries)
    for event in events[1:]:
        assert event.previous_status == state.status, event
        state, kind = apply_change(state, change_of(event))
        observed = (event.status, event.stage, event.progress, event.retry_count, event.event)
        assert (state.status, state.stage, state.progress, state.retry_count, kind) == observed, event
    analysis.refresh_from_db()
    assert analysis.seq == len(events) and analysis.status == state.status
    return events


def attempts(events: list[StatusEvent]) -> list[list[StatusEvent]]:
    """The events of each processing attempt: from entering processing to leaving it."""
    runs: list[list[StatusEvent]] = []
    for event in events:
        if event.status == Status.PROCESSING and event.previous_status != Status.PROCESSING:
            runs.append([])
        if runs and (event.status == Status.PROCESSING or event.previous_status == Status.PROCESSING):
            runs[-1].append(event)
    return runs


def worker_actors(events: list[StatusEvent]) -> list[set[str]]:
    """For each attempt, the actors of its processing events: one worker each."""
    return [{event.actor for event in run if event.status == Status.PROCESSING} for run in attempts(events)]


def error_codes(events: list[StatusEvent]) -> list[Any]:
    return [event.error["code"] for event in events if event.status == Status.FAILED]
