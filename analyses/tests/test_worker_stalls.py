"""Heartbeats and the stall check: silent workers lose their analyses, live and finished ones do not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analyses.models import Analysis
from analyses.state_machine import Status
from analyses.tests.helpers import drive_to
from analyses.tests.history_checks import assert_history_legal
from analyses.tests.metric_checks import Counted
from analyses.worker.claiming import claim_next
from analyses.worker.heartbeat import fail_stalled, heartbeat

pytestmark = pytest.mark.django_db


def age_heartbeat(analysis: Analysis, seconds: float) -> None:
    Analysis.objects.filter(pk=analysis.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_a_silent_workers_analysis_fails_as_worker_lost_naming_the_worker(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    claim_next(worker="w-silent")
    age_heartbeat(analysis, 90)
    stalls = Counted("secureai_stalled_jobs_total")

    assert fail_stalled(stall_timeout=60) == [analysis.pk]
    assert stalls.changes() == {"": 1}
    events = assert_history_legal(analysis)
    assert analysis.status == Status.FAILED and analysis.worker == ""
    assert analysis.error["code"] == "worker_lost" and "w-silent" in analysis.error["detail"]
    assert events[-1].actor == "system"
    assert fail_stalled(stall_timeout=60) == []
    assert stalls.changes() == {"": 1}


def test_a_heartbeat_keeps_the_analysis_and_writes_no_event(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    claim_next(worker="w-alive")
    age_heartbeat(analysis, 90)
    seq = Analysis.objects.get(pk=analysis.pk).seq
    stalls = Counted("secureai_stalled_jobs_total")

    assert heartbeat(analysis_id=analysis.pk, worker="w-alive")
    assert not heartbeat(analysis_id=analysis.pk, worker="w-other")
    assert fail_stalled(stall_timeout=60) == []
    assert stalls.changes() == {}
    analysis.refresh_from_db()
    assert (analysis.status, analysis.seq) == (Status.PROCESSING, seq)


def test_terminal_and_idle_analyses_are_never_touched(owner, make_analysis):
    done = drive_to(make_analysis(owner), Status.COMPLETED)
    cancelled = drive_to(make_analysis(owner), Status.CANCELLED)
    queued = drive_to(make_analysis(owner), Status.QUEUED)
    for analysis in (done, cancelled, queued):
        age_heartbeat(analysis, 3600)
    before = {a.pk: (a.status, a.seq) for a in Analysis.objects.all()}

    assert fail_stalled(stall_timeout=60) == []
    assert {a.pk: (a.status, a.seq) for a in Analysis.objects.all()} == before
