"""analysis_create and analysis_transition: the row and its history event are written together."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from analyses.models import Analysis, StatusEvent
from analyses.services import analysis_create, analysis_transition
from analyses.state_machine import Change, Stage, Status, TransitionError
from analyses.tests.helpers import ERROR, RESULT, Counts, drive_to

pytestmark = pytest.mark.django_db


def test_create_writes_a_pending_analysis_and_event_seq_1(owner):
    analysis = analysis_create(owner=owner, filename="clip.mov", media_url="https://media.example.com/clip.mov")

    analysis.refresh_from_db()
    assert (analysis.status, analysis.stage, analysis.progress, analysis.seq) == ("pending", None, 0, 1)
    assert (analysis.retry_count, analysis.max_retries, analysis.error, analysis.result) == (0, 3, None, None)
    [event] = analysis.events.all()
    assert (event.seq, event.event, event.status, event.previous_status) == (1, "status_update", "pending", None)
    assert event.actor == "alice"
    assert event.timestamp == analysis.created_at == analysis.updated_at


def test_a_transition_writes_the_row_and_one_matching_event(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), "queued")

    outcome = analysis_transition(
        analysis_id=analysis.pk,
        change=Change(status=Status.PROCESSING, stage=Stage.FRAME_EXTRACTION, progress=12, message="Extracting"),
        actor="worker-7",
    )

    row = Analysis.objects.get(pk=analysis.pk)
    event = StatusEvent.objects.get(analysis=analysis, seq=3)
    assert not outcome.repeated
    assert outcome.event.pk == event.pk
    assert (row.status, row.stage, row.progress, row.seq, row.message) == (
        "processing",
        "frame_extraction",
        12,
        3,
        "Extracting",
    )
    assert (event.event, event.previous_status, event.status, event.stage, event.progress) == (
        "status_update",
        "queued",
        "processing",
        "frame_extraction",
        12,
    )
    assert (event.message, event.actor, event.retry_count) == ("Extracting", "worker-7", 0)
    assert event.timestamp == row.updated_at
    assert outcome.snapshot["seq"] == 3 and outcome.snapshot["status"] == "processing"


def test_the_event_carries_only_the_changes_own_message(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), "processing")
    analysis_transition(analysis_id=analysis.pk, change=Change(message="Found faces"), actor="w")
    analysis_transition(analysis_id=analysis.pk, change=Change(progress=80), actor="w")

    row = Analysis.objects.get(pk=analysis.pk)
    assert row.message == "Found faces"  # the analysis keeps its latest message
    assert list(row.events.order_by("seq").values_list("message", flat=True))[-2:] == ["Found faces", ""]


def test_a_retry_and_give_up_keep_the_row_and_the_events_in_step(owner, make_analysis):
    analysis = drive_to(make_analysis(owner, max_retries=1), "failed")
    analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="w")
    analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.FAILED, error=ERROR), actor="w")
    with pytest.raises(TransitionError) as refused:
        analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="w")
    assert refused.value.code == "invalid_transition"
    analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.CANCELLED), actor="w")

    row = Analysis.objects.get(pk=analysis.pk)
    last = row.events.order_by("-seq").first()
    assert (row.status, row.retry_count, row.error, row.seq) == ("cancelled", 1, ERROR, last.seq)
    assert (last.status, last.retry_count, last.error, last.event) == ("cancelled", 1, ERROR, "completion_update")


@pytest.mark.parametrize(
    ("status", "change"),
    [
        ("pending", Change(status=Status.COMPLETED, result=RESULT)),
        ("processing", Change(progress=10)),
        ("completed", Change(message="late news")),
        ("queued", Change(status=Status.FAILED)),
    ],
)
def test_a_refused_change_writes_nothing(owner, make_analysis, status, change):
    analysis = drive_to(make_analysis(owner), status)
    before = Counts.take(analysis)
    with pytest.raises(TransitionError):
        analysis_transition(analysis_id=analysis.pk, change=change, actor="w")
    assert Counts.take(analysis) == before


def test_a_missing_analysis_raises_does_not_exist(db):
    with pytest.raises(Analysis.DoesNotExist):
        analysis_transition(analysis_id=uuid.uuid4(), change=Change(status=Status.QUEUED), actor="w")


def test_a_transition_id_of_100_chars_is_accepted_and_repeats(owner, make_analysis):
    analysis = make_analysis(owner)
    tid = "t" * 100
    first = analysis_transition(
        analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="w", transition_id=tid
    )
    again = analysis_transition(
        analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="w", transition_id=tid
    )
    assert (first.repeated, again.repeated) == (False, True)
    assert again.event.pk == first.event.pk
    assert again.snapshot == first.snapshot
    assert analysis.events.count() == 2


def test_the_database_refuses_a_second_event_with_the_same_seq(owner, make_analysis):
    analysis = make_analysis(owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusEvent.objects.create(
            analysis=analysis, seq=1, event="status_update", status="pending", progress=0, retry_count=0, actor="x"
        )


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "queued", "stage": "face_detection"},
        {"status": "processing", "stage": None},
        {"status": "bogus"},
        {"progress": 101},
        {"retry_count": 4},
    ],
)
def test_the_database_refuses_rows_that_break_the_model(owner, make_analysis, fields):
    analysis = make_analysis(owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Analysis.objects.filter(pk=analysis.pk).update(**fields)
