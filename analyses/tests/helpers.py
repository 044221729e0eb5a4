"""Helpers for the analyses tests: drive an analysis to a status, listen to its group, take counts."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer

from analyses.models import Analysis, StatusEvent
from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status
from realtime.groups import analysis_group_name

SETUP_ACTOR = "setup"

# A channels_redis layer pointed at a port nobody listens on: every send fails at once.
RESULT = {"verdict": "manipulated", "confidence": 0.93}
ERROR = {"code": "decoder_crash", "detail": "ffmpeg exited with status 1"}

# The changes that take a new analysis (pending) to each status, applied in order.
PATH_TO: dict[Status, list[Change]] = {
    Status.PENDING: [],
    Status.QUEUED: [Change(status=Status.QUEUED)],
    Status.PROCESSING: [
        Change(status=Status.QUEUED),
        Change(status=Status.PROCESSING, stage=Stage.FACE_DETECTION, progress=40),
    ],
    Status.COMPLETED: [
        Change(status=Status.QUEUED),
        Change(status=Status.PROCESSING),
        Change(status=Status.COMPLETED, result=RESULT),
    ],
    Status.FAILED: [Change(status=Status.QUEUED), Change(status=Status.FAILED, error=ERROR)],
    Status.CANCELLED: [Change(status=Status.CANCELLED)],
}


def drive_to(analysis: Analysis, status: Status | str) -> Analysis:
    """Apply the changes that bring a pending analysis to ``status``; return it fresh from the database."""
    for change in PATH_TO[Status(status)]:
        analysis_transition(analysis_id=analysis.pk, change=change, actor=SETUP_ACTOR)
    return Analysis.objects.get(pk=analysis.pk)


@dataclass(frozen=True)
class Counts:
    """What "nothing changed" compares: the analysis row's fields and the history size."""

    analyses: int
    events: int
    row: tuple | None

    @classmethod
    def take(cls, analysis: Analysis | None = None) -> Counts:
        row = None
        if analysis is not None:
            row = tuple(
                Analysis.objects.filter(pk=analysis.pk).values_list(
                    "status", "stage", "progress", "retry_count", "message", "error", "result", "seq", "updated_at"
                )[0]
            )
        return cls(Analysis.objects.count(), StatusEvent.objects.count(), row)


def api_paths(analysis_id: uuid.UUID | str) -> dict[str, str]:
    return {
        "retrieve": f"/api/analyses/{analysis_id}/",
        "transition": f"/api/analyses/{analysis_id}/transition/",
        "history": f"/api/analyses/{analysis_id}/history/",
        "broadcast": f"/api/analyses/{analysis_id}/broadcast/",
        "ws_broadcast": f"/ws/broadcast/{analysis_id}",
    }


def assert_error_body(response, status_code: int, code: str | None = None) -> dict[str, Any]:
    """The response is JSON ``{"code", "detail"}`` with ``status_code`` (and ``code`` when given)."""
    assert response.status_code == status_code, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert {"code", "detail"} <= set(body), body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


def is_plain_json(value: Any) -> bool:
    """str, int, float, bool, None, and lists and str-keyed dicts of those, as the layer must carry."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(is_plain_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain_json(item) for key, item in value.items())
    return False


def wait_for_broadcasts(timeout: float = 5.0) -> None:
    """Wait until every push the app has queued so far has left for the channel layer.

    Pushes leave after commit from a background sender (realtime.publisher), so a test that
    subscribes after its set-up, or asserts that nothing was pushed, first lets the queue drain.
    """
    try:
        from realtime import publisher
    except ImportError:  # pushes are sent synchronously at commit: nothing to wait for
        return
    publisher.flush(timeout)


class GroupListener:
    """A fresh channel in an analysis's group on the real channel layer, read from its own event loop.

    The layer's receive state is bound to one event loop, so every call on the channel runs on
    a private loop in a background thread; the app's sends use the same layer from its own loops.
    Pushes queued before the listener exists are let out first, so it hears only later ones.
    """

    def __init__(self, group: str) -> None:
        wait_for_broadcasts()
        self.group = group
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"listener {group}", daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add(group, self.channel))

    @classmethod
    def for_analysis(cls, analysis_id: uuid.UUID | str) -> GroupListener:
        return cls(analysis_group_name(analysis_id))

    def _run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def receive(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """The next message on the channel, or None if none arrives within ``timeout`` seconds."""
        try:
            return self._run(asyncio.wait_for(self.layer.receive(self.channel), timeout), timeout + 5)
        except TimeoutError:
            return None

    def assert_silent(self, timeout: float = 0.1) -> None:
        """Nothing arrives within ``timeout``; then a sentinel sent now is the very next message.

        The sentinel proves the channel was listening all along, so silence means nothing was sent.
        """
        wait_for_broadcasts()
        message = self.receive(timeout)
        assert message is None, f"unexpected broadcast: {message}"
        sentinel = {"type": "test.sentinel", "token": uuid.uuid4().hex}
        self._run(self.layer.group_send(self.group, sentinel))
        assert self.receive(5.0) == sentinel

    def close(self) -> None:
        try:
            self._run(self.layer.group_discard(self.group, self.channel))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()
