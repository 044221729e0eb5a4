"""Checks shared by the worker tests: who worked on each attempt, and the settings that make them fast."""

from typing import Any

from analyses.models import StatusEvent
from analyses.state_machine import Status

FAST_WORKER_ENV = {
    "WORKER_DEMO_SPEED": "200",
    "WORKER_POLL_INTERVAL": "0.1",
    "WORKER_SWEEP_INTERVAL": "0.2",
    "WORKER_HEARTBEAT_INTERVAL": "0.2",
    "WORKER_RETRY_BACKOFF": "0.1",
    "WORKER_RETRY_BACKOFF_MAX": "0.5",
}


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
