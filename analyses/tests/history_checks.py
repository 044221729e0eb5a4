"""The check every history must pass: seq 1..n, each step legal, the row equal to its last event."""

from analyses.models import Analysis, StatusEvent
from analyses.state_machine import AnalysisState, Change, Stage, Status, apply_change


def change_of(event: StatusEvent) -> Change:
    """The change an event records, as a request would have asked for it."""
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
    """seq 1..n with no gap, each step legal from the one before, and the row equal to the last event."""
    row = Analysis.objects.get(pk=analysis.pk)
    events = list(row.events.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert row.seq == len(events)
    first = events[0]
    assert (first.status, first.previous_status, first.event) == ("pending", None, "status_update")

    state = AnalysisState(status=Status.PENDING, max_retries=row.max_retries)
    for event in events[1:]:
        assert event.previous_status == state.status, event
        after, kind = apply_change(state, change_of(event))  # raises if the step was illegal
        assert (after.status, after.stage, after.progress, after.retry_count, after.error, after.result) == (
            event.status,
            event.stage,
            event.progress,
            event.retry_count,
            event.error,
            event.result,
        ), event
        assert kind == event.event, event
        state = after

    last = events[-1]
    assert (row.status, row.stage, row.progress, row.retry_count, row.error, row.result) == (
        last.status,
        last.stage,
        last.progress,
        last.retry_count,
        last.error,
        last.result,
    )
    assert row.updated_at == last.timestamp
    analysis.refresh_from_db()  # callers go on to read the row's final state
    return events
