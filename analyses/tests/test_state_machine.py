"""The pure rules of docs/protocol.md §1 and the event naming of §2, without a database."""

import itertools
from dataclasses import replace

import pytest

from analyses.state_machine import (
    ALLOWED,
    STAGE_ORDER,
    TERMINAL,
    AnalysisState,
    Change,
    EventType,
    Stage,
    Status,
    TransitionError,
    apply_change,
)

RESULT = {"verdict": "authentic", "confidence": 0.8}
ERROR = {"code": "timeout", "detail": "The worker stopped answering."}

SPEC_ALLOWED = {
    ("pending", "queued"),
    ("pending", "cancelled"),
    ("queued", "processing"),
    ("queued", "failed"),
    ("queued", "cancelled"),
    ("processing", "processing"),
    ("processing", "completed"),
    ("processing", "failed"),
    ("processing", "cancelled"),
    ("failed", "queued"),
    ("failed", "cancelled"),
}


def state(status: str, **fields) -> AnalysisState:
    if status == "processing":
        fields.setdefault("stage", Stage.UPLOAD_VALIDATION)
    return AnalysisState(status=Status(status), **fields)


def change_to(target: str, **fields) -> Change:
    """A well-formed change to ``target``, carrying what entering it requires."""
    if target == "completed":
        fields.setdefault("result", RESULT)
    if target == "failed":
        fields.setdefault("error", ERROR)
    if target == "processing":
        fields.setdefault("progress", 90)
    return Change(status=Status(target), **fields)


def refused(before: AnalysisState, change: Change) -> TransitionError:
    with pytest.raises(TransitionError) as caught:
        apply_change(before, change)
    return caught.value


class TestTable:
    def test_the_table_is_the_protocols(self):
        table = {(source.value, target.value) for source, targets in ALLOWED.items() for target in targets}
        assert table == SPEC_ALLOWED

    @pytest.mark.parametrize(("source", "target"), list(itertools.product(list(Status), repeat=2)))
    def test_every_pair(self, source, target):
        before = state(source, progress=50 if source == "processing" else 0)
        if (source.value, target.value) in SPEC_ALLOWED:
            after, _ = apply_change(before, change_to(target))
            assert after.status == target
            assert target in ALLOWED[source]
        else:
            error = refused(before, change_to(target))
            assert error.code == "invalid_transition"
            assert target not in ALLOWED[source]

    @pytest.mark.parametrize("status", list(Status))
    def test_terminal_states(self, status):
        assert (status in TERMINAL) == (status in {Status.COMPLETED, Status.CANCELLED})

    @pytest.mark.parametrize("terminal", ["completed", "cancelled"])
    @pytest.mark.parametrize(
        "change",
        [Change(message="one more thing"), Change(progress=100), Change(stage=Stage.REPORT_GENERATION)]
        + [change_to(target) for target in Status],
    )
    def test_a_terminal_state_refuses_every_change(self, terminal, change):
        before = state(terminal, progress=100 if terminal == "completed" else 0)
        error = refused(before, change)
        assert error.code == "invalid_transition"
        assert "final state" in error.detail


class TestProcessing:
    def test_entering_processing_defaults_to_the_first_stage(self):
        after, kind = apply_change(state("queued"), Change(status=Status.PROCESSING))
        assert (after.stage, after.progress, kind) == (Stage.UPLOAD_VALIDATION, 0, EventType.STATUS_UPDATE)

    def test_entering_processing_takes_the_given_stage(self):
        after, _ = apply_change(state("queued"), Change(status=Status.PROCESSING, stage=Stage.DEEPFAKE_INFERENCE))
        assert after.stage == Stage.DEEPFAKE_INFERENCE

    @pytest.mark.parametrize(("current", "later"), list(itertools.combinations(STAGE_ORDER, 2)))
    def test_a_later_stage_is_accepted_skipping_forward_included(self, current, later):
        after, kind = apply_change(state("processing", stage=current), Change(stage=later))
        assert after.stage == later
        assert kind == EventType.STAGE_TRANSITION

    @pytest.mark.parametrize(("earlier", "current"), list(itertools.combinations(STAGE_ORDER, 2)))
    def test_an_earlier_stage_is_refused(self, earlier, current):
        error = refused(state("processing", stage=current, progress=10), Change(stage=earlier, progress=20))
        assert error.code == "invalid_transition"
        assert "cannot go back" in error.detail

    def test_progress_may_grow(self):
        after, kind = apply_change(state("processing", progress=10), Change(progress=11))
        assert after.progress == 11
        assert kind == EventType.PROGRESS_UPDATE

    @pytest.mark.parametrize("lower", [0, 39])
    def test_progress_never_goes_back_within_an_attempt(self, lower):
        error = refused(state("processing", progress=40), Change(progress=lower, message="new news"))
        assert error.code == "invalid_transition"
        assert "Progress cannot go back" in error.detail

    def test_progress_never_goes_back_when_processing_is_entered_again(self):
        # The rule is checked when processing is entered too, whatever the state carried before.
        error = refused(state("queued", progress=60), Change(status=Status.PROCESSING, progress=30))
        assert error.code == "invalid_transition"

    @pytest.mark.parametrize(
        "change",
        [
            Change(status=Status.PROCESSING),
            Change(progress=40),
            Change(stage=Stage.FACE_DETECTION),
            Change(status=Status.PROCESSING, stage=Stage.FACE_DETECTION, progress=40),
            Change(message="Detected 3 faces"),
            Change(message=""),
        ],
    )
    def test_processing_to_processing_must_change_something(self, change):
        before = state("processing", stage=Stage.FACE_DETECTION, progress=40, message="Detected 3 faces")
        error = refused(before, change)
        assert error.code == "invalid_transition"
        assert "must change something" in error.detail

    def test_a_new_message_alone_is_a_change(self):
        before = state("processing", stage=Stage.FACE_DETECTION, progress=40, message="Detected 3 faces")
        after, kind = apply_change(before, Change(message="Detected 4 faces"))
        assert after.message == "Detected 4 faces"
        assert (after.stage, after.progress) == (before.stage, before.progress)
        assert kind == EventType.PROGRESS_UPDATE

    def test_a_stage_and_progress_together_make_a_stage_transition(self):
        after, kind = apply_change(state("processing", progress=10), Change(stage=Stage.FRAME_EXTRACTION, progress=20))
        assert (after.stage, after.progress, kind) == (Stage.FRAME_EXTRACTION, 20, EventType.STAGE_TRANSITION)

    @pytest.mark.parametrize("status", ["pending", "queued", "failed"])
    def test_stage_and_progress_only_while_processing(self, status):
        before = state(status, error=ERROR if status == "failed" else None)
        target = Status.CANCELLED
        assert refused(before, Change(status=target, stage=Stage.FACE_DETECTION)).code == "invalid_transition"
        assert refused(before, Change(status=target, progress=10)).code == "invalid_transition"


class TestRetry:
    @pytest.mark.parametrize("used", [0, 1, 2])
    def test_a_retry_while_retries_remain(self, used):
        before = state("failed", progress=70, retry_count=used, max_retries=3, error=ERROR, message="crashed")
        after, kind = apply_change(before, Change(status=Status.QUEUED))
        assert after.status == Status.QUEUED
        assert after.retry_count == used + 1
        assert (after.stage, after.progress, after.error) == (None, 0, None)
        assert kind == EventType.STATUS_UPDATE

    @pytest.mark.parametrize(("used", "limit"), [(3, 3), (0, 0), (5, 5)])
    def test_no_retry_once_the_limit_is_reached(self, used, limit):
        before = state("failed", retry_count=used, max_retries=limit, error=ERROR)
        error = refused(before, Change(status=Status.QUEUED))
        assert error.code == "invalid_transition"
        assert "No retries left" in error.detail

    def test_after_a_retry_progress_starts_again_from_zero(self):
        before = state("failed", progress=70, error=ERROR)
        queued, _ = apply_change(before, Change(status=Status.QUEUED))
        processing, _ = apply_change(queued, Change(status=Status.PROCESSING, progress=5))
        assert processing.progress == 5


class TestEntering:
    def test_completed_needs_a_result_and_sets_progress_to_100(self):
        before = state("processing", progress=60)
        assert refused(before, Change(status=Status.COMPLETED)).code == "invalid"
        after, kind = apply_change(before, Change(status=Status.COMPLETED, result=RESULT))
        assert (after.progress, after.result, after.stage) == (100, RESULT, None)
        assert kind == EventType.COMPLETION_UPDATE

    @pytest.mark.parametrize("source", ["queued", "processing"])
    def test_failed_needs_an_error(self, source):
        before = state(source)
        assert refused(before, Change(status=Status.FAILED)).code == "invalid"
        after, kind = apply_change(before, Change(status=Status.FAILED, error=ERROR))
        assert (after.error, after.stage) == (ERROR, None)
        assert kind == EventType.ERROR_UPDATE

    def test_cancelled_after_failed_keeps_the_error(self):
        after, kind = apply_change(state("failed", error=ERROR), Change(status=Status.CANCELLED))
        assert after.error == ERROR
        assert kind == EventType.COMPLETION_UPDATE

    @pytest.mark.parametrize("source", ["pending", "queued", "processing"])
    def test_cancelled_from_elsewhere_has_no_error(self, source):
        after, kind = apply_change(state(source), Change(status=Status.CANCELLED))
        assert (after.status, after.error, after.stage) == (Status.CANCELLED, None, None)
        assert kind == EventType.COMPLETION_UPDATE

    def test_a_result_is_accepted_only_when_entering_completed(self):
        error = refused(state("processing"), Change(status=Status.FAILED, error=ERROR, result=RESULT))
        assert error.code == "invalid_transition"

    def test_completed_may_say_progress_100_and_nothing_else(self):
        before = state("processing", progress=60)
        after, _ = apply_change(before, Change(status=Status.COMPLETED, result=RESULT, progress=100))
        assert after.progress == 100
        for other in (0, 60, 99):
            change = Change(status=Status.COMPLETED, result=RESULT, progress=other)
            assert refused(before, change).code == "invalid_transition"

    def test_an_error_is_accepted_only_when_entering_failed(self):
        error = refused(state("processing"), Change(status=Status.COMPLETED, result=RESULT, error=ERROR))
        assert error.code == "invalid_transition"


class TestEventNaming:
    """§2: completion_update, error_update, status_update, stage_transition, progress_update; first wins."""

    @pytest.mark.parametrize(
        ("before", "change", "expected"),
        [
            (state("pending"), Change(status=Status.QUEUED), EventType.STATUS_UPDATE),
            (state("pending"), Change(status=Status.CANCELLED), EventType.COMPLETION_UPDATE),
            (state("queued"), Change(status=Status.PROCESSING, stage=Stage.FACE_DETECTION), EventType.STATUS_UPDATE),
            (state("queued"), Change(status=Status.FAILED, error=ERROR), EventType.ERROR_UPDATE),
            (state("queued"), Change(status=Status.CANCELLED), EventType.COMPLETION_UPDATE),
            (state("processing"), Change(stage=Stage.FACE_DETECTION), EventType.STAGE_TRANSITION),
            (state("processing"), Change(progress=30), EventType.PROGRESS_UPDATE),
            (state("processing"), Change(message="halfway"), EventType.PROGRESS_UPDATE),
            (state("processing"), Change(status=Status.COMPLETED, result=RESULT), EventType.COMPLETION_UPDATE),
            (state("processing"), Change(status=Status.FAILED, error=ERROR), EventType.ERROR_UPDATE),
            (state("processing"), Change(status=Status.CANCELLED), EventType.COMPLETION_UPDATE),
            (state("failed", error=ERROR), Change(status=Status.QUEUED), EventType.STATUS_UPDATE),
            (state("failed", error=ERROR), Change(status=Status.CANCELLED), EventType.COMPLETION_UPDATE),
        ],
    )
    def test_event_type(self, before, change, expected):
        assert apply_change(before, change)[1] == expected

    def test_event_type_values_are_the_wire_names(self):
        assert {e.value for e in EventType} == {
            "status_update",
            "stage_transition",
            "progress_update",
            "error_update",
            "completion_update",
        }


class TestMalformed:
    @pytest.mark.parametrize(
        "change",
        [
            Change(),
            Change(result=RESULT),  # a result alone is not one of the five
            Change(progress=-1),
            Change(progress=101),
            Change(progress=True),
            Change(progress="5"),
            Change(progress=5.0),
            Change(status=Status.FAILED, error={"code": "x"}),
            Change(status=Status.FAILED, error={"code": "x", "detail": ""}),
            Change(status=Status.FAILED, error={"code": "x", "detail": "y", "extra": "z"}),
            Change(status=Status.FAILED, error="boom"),
            Change(status=Status.COMPLETED, result={"verdict": "fake", "confidence": 0.5}),
            Change(status=Status.COMPLETED, result={"verdict": "authentic", "confidence": 1.5}),
            Change(status=Status.COMPLETED, result={"verdict": "authentic", "confidence": True}),
            Change(status=Status.COMPLETED, result={"verdict": "authentic"}),
        ],
    )
    def test_malformed_changes_are_invalid_in_any_state(self, change):
        for status in ("queued", "processing"):
            assert refused(state(status), change).code == "invalid"

    @pytest.mark.parametrize(
        "change",
        [
            Change(status=Status.FAILED),
            Change(status=Status.COMPLETED),
            Change(status=Status.COMPLETED, progress=100),
            Change(status=Status.FAILED, error=ERROR, message="m" * 2001),
            Change(status=Status.FAILED, error={"code": "c" * 65, "detail": "d"}),
            Change(status=Status.COMPLETED, result={"verdict": ["authentic"], "confidence": 0.5}),
        ],
    )
    def test_malformed_wins_over_forbidden(self, change):
        """Checked before the rules: invalid even where the target status itself is not allowed."""
        for status in ("pending", "completed", "cancelled"):
            assert refused(state(status), change).code == "invalid"


def _reachable_steps():
    """Every state a run of legal changes reaches from pending, over a small set of changes."""
    changes = [
        Change(status=Status.QUEUED),
        Change(status=Status.PROCESSING),
        Change(stage=Stage.FACE_DETECTION),
        Change(stage=Stage.REPORT_GENERATION),
        Change(progress=50),
        Change(progress=20),
        Change(message="note"),
        Change(status=Status.COMPLETED, result=RESULT),
        Change(status=Status.FAILED, error=ERROR),
        Change(status=Status.CANCELLED),
    ]
    seen, frontier = set(), [AnalysisState(status=Status.PENDING, max_retries=2)]
    while frontier:
        current = frontier.pop()
        key = replace(current, error=None, result=None), bool(current.error), bool(current.result)
        if key in seen:
            continue
        seen.add(key)
        for change in changes:
            try:
                after, _ = apply_change(current, change)
            except TransitionError:
                continue
            yield current, change, after
            frontier.append(after)


def test_invariants_hold_on_every_reachable_step():
    steps = list(_reachable_steps())
    assert len(steps) > 50
    for before, change, after in steps:
        assert (after.stage is not None) == (after.status == Status.PROCESSING), (before, change, after)
        assert 0 <= after.progress <= 100
        assert after.retry_count <= after.max_retries
        assert (after.result is not None) == (after.status == Status.COMPLETED)
        if after.status == Status.FAILED:
            assert after.error is not None
        if after.status == Status.COMPLETED:
            assert after.progress == 100
        if before.status == after.status == Status.PROCESSING:
            assert after.progress >= before.progress
            assert STAGE_ORDER.index(after.stage) >= STAGE_ORDER.index(before.stage)
            assert (after.stage, after.progress, after.message) != (before.stage, before.progress, before.message)
        if before.status == Status.FAILED and after.status == Status.QUEUED:
            assert after.retry_count == before.retry_count + 1
        else:
            assert after.retry_count == before.retry_count
