"""Claiming queued analyses and reporting on them: once per claim, only while held, resend-safe."""

import pytest
from django.db import OperationalError

from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status, TransitionError
from analyses.tests.helpers import drive_to
from analyses.worker import claiming
from analyses.worker.claiming import claim_next

pytestmark = pytest.mark.django_db


def test_claims_the_oldest_queued_analysis_once(owner, make_analysis):
    first, second = (drive_to(make_analysis(owner, f"{n}.mp4"), Status.QUEUED) for n in (1, 2))
    drive_to(make_analysis(owner, "pending.mp4"), Status.PENDING)

    claims = [claim_next(worker="w-a"), claim_next(worker="w-b"), claim_next(worker="w-c")]

    assert [claim.analysis_id if claim else None for claim in claims] == [first.pk, second.pk, None]
    first.refresh_from_db()
    assert (first.status, first.stage, first.progress, first.worker) == ("processing", "upload_validation", 0, "w-a")
    assert first.heartbeat_at is not None
    assert first.events.last().actor == "w-a"


def test_a_report_applies_only_while_the_worker_holds_the_analysis(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    claim = claim_next(worker="w-a")
    claim.report(Change(progress=3))
    analysis_transition(
        analysis_id=analysis.pk,
        change=Change(status=Status.FAILED, error={"code": "worker_lost", "detail": "silent"}),
        actor="system",
        held_by="w-a",
    )
    analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="system")
    claim_next(worker="w-b")

    with pytest.raises(TransitionError) as refused:
        claim.report(Change(stage=Stage.FACE_DETECTION, progress=50))
    assert refused.value.code == "conflict" and "w-b" in refused.value.detail
    analysis.refresh_from_db()
    assert (analysis.worker, analysis.stage, analysis.progress) == ("w-b", "upload_validation", 0)


def test_entering_processing_without_a_worker_name_records_the_actor(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.PROCESSING)
    assert analysis.worker == "setup" and analysis.heartbeat_at is not None
    analysis = drive_to(make_analysis(owner), Status.COMPLETED)
    assert analysis.worker == "" and analysis.heartbeat_at is None


@pytest.mark.django_db(transaction=True)  # a resend needs the first try committed, not inside a test transaction
def test_a_report_resent_after_a_lost_answer_applies_once(owner, make_analysis, monkeypatch):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    claim = claim_next(worker="w-a")
    real = claiming.analysis_transition
    calls = []

    def commit_then_lose_the_answer(**kwargs):
        calls.append(kwargs["transition_id"])
        outcome = real(**kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return outcome

    monkeypatch.setattr(claiming, "analysis_transition", commit_then_lose_the_answer)
    monkeypatch.setattr(claiming.time, "sleep", lambda seconds: None)
    outcome = claim.report(Change(progress=10, message="halfway through validation"))

    assert len(calls) == 2 and calls[0] == calls[1]
    assert outcome.repeated
    assert list(analysis.events.values_list("progress", flat=True)) == [0, 0, 0, 10]
