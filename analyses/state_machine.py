"""The rules of an analysis's status: which changes are well formed, which are legal, and what each does.

Pure functions over plain values, no I/O: the services apply what this module decides, and
every writer (API, admin, worker) goes through them, so a rule lives here and nowhere else.
Two checks, in this order (docs/protocol.md §1, "malformed wins over forbidden"):

- ``check_change``: the shape of a change, whatever the analysis's state (``invalid``, answered 400);
- ``apply_change``: the rules, given the current state (``invalid_transition``, answered 409).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .contract import ERROR_CODE_MAX_LENGTH, MESSAGE_MAX_LENGTH, PROGRESS_MAX


class Status(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    UPLOAD_VALIDATION = "upload_validation"
    FRAME_EXTRACTION = "frame_extraction"
    FACE_DETECTION = "face_detection"
    DEEPFAKE_INFERENCE = "deepfake_inference"
    RESULT_AGGREGATION = "result_aggregation"
    REPORT_GENERATION = "report_generation"


class EventType(StrEnum):
    STATUS_UPDATE = "status_update"
    STAGE_TRANSITION = "stage_transition"
    PROGRESS_UPDATE = "progress_update"
    ERROR_UPDATE = "error_update"
    COMPLETION_UPDATE = "completion_update"


class Verdict(StrEnum):
    AUTHENTIC = "authentic"
    MANIPULATED = "manipulated"
    INCONCLUSIVE = "inconclusive"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)
TERMINAL: frozenset[Status] = frozenset({Status.COMPLETED, Status.CANCELLED})
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.QUEUED, Status.CANCELLED}),
    Status.QUEUED: frozenset({Status.PROCESSING, Status.FAILED, Status.CANCELLED}),
    Status.PROCESSING: frozenset({Status.PROCESSING, Status.COMPLETED, Status.FAILED, Status.CANCELLED}),
    Status.FAILED: frozenset({Status.QUEUED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}
DEFAULT_MAX_RETRIES = 3


class TransitionError(Exception):
    """A refused change: ``code`` for programs, ``detail`` for people.

    ``invalid`` is a malformed change (answered 400); ``invalid_transition`` and ``conflict``
    are well-formed changes the rules forbid (answered 409).
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _invalid(detail: str) -> TransitionError:
    return TransitionError("invalid", detail)


def _forbidden(detail: str) -> TransitionError:
    return TransitionError("invalid_transition", detail)


@dataclass(frozen=True)
class AnalysisState:
    """The fields of an analysis that the rules read and write."""

    status: Status
    stage: Stage | None = None
    progress: int = 0
    retry_count: int = 0
    max_retries: int = DEFAULT_MAX_RETRIES
    message: str = ""
    error: dict[str, str] | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Change:
    """A requested change; ``None`` means "not given"."""

    status: Status | None = None
    stage: Stage | None = None
    progress: int | None = None
    message: str | None = None
    error: dict[str, str] | None = None
    result: dict[str, Any] | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in (self.status, self.stage, self.progress, self.message, self.error))


def _stage_index(stage: Stage) -> int:
    return STAGE_ORDER.index(stage)


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any, max_length: int) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= max_length


def check_change(change: Change) -> None:
    """Refuse what no state could accept: a malformed request, not a broken rule (``invalid``)."""
    if change.is_empty():
        raise _invalid("Give at least one of status, stage, progress, message or error.")
    if change.progress is not None and not (_is_whole_number(change.progress) and 0 <= change.progress <= PROGRESS_MAX):
        raise _invalid(f"progress must be a whole number from 0 to {PROGRESS_MAX}.")
    if change.message is not None and not (
        isinstance(change.message, str) and len(change.message) <= MESSAGE_MAX_LENGTH
    ):
        raise _invalid(f"message must be a text of at most {MESSAGE_MAX_LENGTH} characters.")
    error = change.error
    if error is not None and not (
        isinstance(error, dict)
        and set(error) == {"code", "detail"}
        and _is_text(error["code"], ERROR_CODE_MAX_LENGTH)
        and _is_text(error["detail"], MESSAGE_MAX_LENGTH)
    ):
        raise _invalid(
            f'error must be {{"code": "...", "detail": "..."}}: non-empty texts of at most {ERROR_CODE_MAX_LENGTH} '
            f"and {MESSAGE_MAX_LENGTH} characters."
        )
    result = change.result
    if result is not None and not (
        isinstance(result, dict)
        and set(result) == {"verdict", "confidence"}
        and isinstance(result["verdict"], str)
        and result["verdict"] in set(Verdict)
        and isinstance(result["confidence"], int | float)
        and not isinstance(result["confidence"], bool)
        and 0 <= result["confidence"] <= 1
    ):
        verdicts = " | ".join(f'"{verdict}"' for verdict in Verdict)
        raise _invalid(f'result must be {{"verdict": {verdicts}, "confidence": a number from 0 to 1}}.')
    if change.status == Status.COMPLETED and result is None:
        raise _invalid("Entering completed requires a result.")
    if change.status == Status.FAILED and error is None:
        raise _invalid("Entering failed requires an error.")


def apply_change(state: AnalysisState, change: Change) -> tuple[AnalysisState, EventType]:
    """Return the state after ``change`` and the kind of event it makes, or raise TransitionError.

    The shape is checked first, so a change that is both malformed and forbidden is malformed.
    """
    check_change(change)
    current = Status(state.status)
    target = Status(change.status) if change.status is not None else current

    if current in TERMINAL:
        raise _forbidden(f"The analysis is {current}, a final state: it cannot change any more.")
    if target not in ALLOWED[current]:
        raise _forbidden(f"{current} -> {target} is not an allowed transition.")
    if change.result is not None and target != Status.COMPLETED:
        raise _forbidden("A result is accepted only when entering completed.")
    if change.error is not None and target != Status.FAILED:
        raise _forbidden("An error is accepted only when entering failed.")
    if change.stage is not None and target != Status.PROCESSING:
        raise _forbidden(f"A stage is set only while processing, not when the status becomes {target}.")
    # Entering completed sets progress to the maximum, so a change that says so is no contradiction.
    progress_allowed = target == Status.PROCESSING or (target == Status.COMPLETED and change.progress == PROGRESS_MAX)
    if change.progress is not None and not progress_allowed:
        raise _forbidden(
            f"Progress is reported only while processing (or as {PROGRESS_MAX} when completing), "
            f"not {change.progress} when the status becomes {target}."
        )

    message = change.message if change.message is not None else state.message
    if target == Status.PROCESSING:
        new = _processing_state(state, change, message)
    elif target == Status.QUEUED and current == Status.FAILED:
        if state.retry_count >= state.max_retries:
            raise _forbidden(f"No retries left: {state.retry_count} of {state.max_retries} already used.")
        new = replace(
            state,
            status=target,
            stage=None,
            progress=0,
            retry_count=state.retry_count + 1,
            error=None,
            message=message,
        )
    elif target == Status.COMPLETED:
        new = replace(state, status=target, stage=None, progress=PROGRESS_MAX, result=change.result, message=message)
    elif target == Status.FAILED:
        new = replace(state, status=target, stage=None, error=change.error, message=message)
    elif target == Status.CANCELLED:
        # The error of a failure stays on the cancellation that gives it up.
        error = state.error if current == Status.FAILED else None
        new = replace(state, status=target, stage=None, error=error, message=message)
    else:
        new = replace(state, status=target, stage=None, message=message)
    return new, event_type(state, new)


def _processing_state(state: AnalysisState, change: Change, message: str) -> AnalysisState:
    if state.status != Status.PROCESSING:
        stage = Stage(change.stage) if change.stage is not None else Stage.UPLOAD_VALIDATION
        progress = change.progress if change.progress is not None else state.progress
        if progress < state.progress:
            raise _forbidden(f"Progress cannot go back from {state.progress} to {progress} within an attempt.")
        return replace(state, status=Status.PROCESSING, stage=stage, progress=progress, message=message)

    stage = Stage(change.stage) if change.stage is not None else state.stage
    if _stage_index(stage) < _stage_index(state.stage):
        raise _forbidden(f"The stage cannot go back from {state.stage} to {stage}.")
    progress = change.progress if change.progress is not None else state.progress
    if progress < state.progress:
        raise _forbidden(f"Progress cannot go back from {state.progress} to {progress} within an attempt.")
    new_message = change.message is not None and change.message != "" and change.message != state.message
    if stage == state.stage and progress == state.progress and not new_message:
        raise _forbidden(
            "processing -> processing must change something: a later stage, more progress or a new message."
        )
    return replace(state, stage=stage, progress=progress, message=message)


def event_type(before: AnalysisState, after: AnalysisState) -> EventType:
    """Name the event by what the change did; the first match wins (docs/protocol.md §2)."""
    entered = after.status != before.status
    if entered and after.status in TERMINAL:
        return EventType.COMPLETION_UPDATE
    if entered and after.status == Status.FAILED:
        return EventType.ERROR_UPDATE
    if entered:
        return EventType.STATUS_UPDATE
    if after.stage != before.stage:
        return EventType.STAGE_TRANSITION
    return EventType.PROGRESS_UPDATE
