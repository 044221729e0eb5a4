"""Helpers for realtime tests: commit transitions from async code and read event streams."""

from contextlib import nullcontext

from channels.db import database_sync_to_async
from django.db import transaction

from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status


@database_sync_to_async
def commit(analysis_id, **change) -> int:
    """Commit one transition as a worker would; returns the new seq."""
    return analysis_transition(analysis_id=analysis_id, change=Change(**change), actor="worker-1").analysis.seq


@database_sync_to_async
def commit_steps(analysis_id, count: int, *, at_once: bool = False) -> int:
    """Queue and start an analysis, then commit progress messages until ``count`` changes are made.

    ``at_once`` commits them in one transaction, so their broadcasts leave in one burst.
    """
    with transaction.atomic() if at_once else nullcontext():
        return _steps(analysis_id, count)


def _steps(analysis_id, count: int) -> int:
    seq = 0
    for step in range(count):
        if step == 0:
            change = Change(status=Status.QUEUED)
        elif step == 1:
            change = Change(status=Status.PROCESSING, stage=Stage.UPLOAD_VALIDATION)
        else:
            change = Change(message=f"step {step}")
        seq = analysis_transition(analysis_id=analysis_id, change=change, actor="worker-1").analysis.seq
    return seq


async def collect_events(socket, analysis_id: str, until_seq: int, timeout: float = 10) -> list[dict]:
    """Read the socket until the event ``until_seq`` of ``analysis_id`` arrives; return the events."""
    events = []
    while True:
        message = await socket.receive(timeout)
        if message.get("analysis_id") == analysis_id and "seq" in message and message["type"] != "subscribe_success":
            events.append(message)
            if message["seq"] >= until_seq:
                return events
