"""Worker processes against the real database: concurrency, a killed worker, a stopped worker."""

import signal

import pytest
from django.db import connection

from analyses.models import Analysis
from analyses.state_machine import Status
from analyses.tests.helpers import GroupListener, drive_to
from analyses.tests.history_checks import assert_history_legal
from analyses.tests.worker_checks import FAST_WORKER_ENV, error_codes, worker_actors
from tests.workers import settled, start_worker, stop_worker, wait_until, workers

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

# About 5 s an analysis: long enough to stop a worker in the middle of one.
SLOW = {**FAST_WORKER_ENV, "WORKER_DEMO_SPEED": "3", "WORKER_DEMO_FAILURE_RATE": "0"}


def test_two_workers_share_ten_analyses_each_processed_by_one(owner, make_analysis):
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_SPEED": "40", "WORKER_DEMO_FAILURE_RATE": "0.3"}
    with workers("w-a", "w-b", **env) as processes:
        wait_until(lambda: all(p.poll() is None for p in processes), 5, "workers start")
        analyses = [drive_to(make_analysis(owner, f"clip-{n}.mp4"), Status.QUEUED) for n in range(10)]
        wait_until(lambda: all(settled(a) for a in analyses), 90, "every analysis settles")
        assert [stop_worker(p) for p in processes] == [0, 0]

    seen_workers = set()
    for analysis in analyses:
        events = assert_history_legal(analysis)
        per_attempt = worker_actors(events)
        assert all(len(actors) == 1 for actors in per_attempt), per_attempt
        seen_workers.update(*per_attempt)
        assert analysis.retry_count == len(error_codes(events)) - (analysis.status == Status.FAILED)
        assert sum(event.status == Status.COMPLETED for event in events) == (analysis.status == Status.COMPLETED)
    assert seen_workers == {"w-a", "w-b"}, f"on {connection.vendor}, one worker did everything"


def test_a_killed_workers_analysis_is_failed_as_worker_lost_then_finished_by_another(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    env = {**SLOW, "WORKER_STALL_TIMEOUT": "1.5"}
    first = start_worker("w-doomed", **env)
    try:
        wait_until(lambda: Analysis.objects.get(pk=analysis.pk).progress >= 10, 30, "w-doomed gets going")
        first.kill()
        first.wait()
    finally:
        first.kill()
    assert Analysis.objects.get(pk=analysis.pk).status == Status.PROCESSING

    with workers("w-rescue", **{**env, "WORKER_DEMO_SPEED": "40"}) as (second,):
        wait_until(lambda: settled(analysis), 60, "the analysis is finished by w-rescue")
        stop_worker(second)

    events = assert_history_legal(analysis)
    assert analysis.status == Status.COMPLETED
    lost = next(event for event in events if event.status == Status.FAILED)
    assert lost.error["code"] == "worker_lost" and "w-doomed" in lost.error["detail"]
    assert lost.actor == "system"
    assert worker_actors(events) == [{"w-doomed"}, {"w-rescue"}]


def test_sigterm_mid_job_leaves_a_legal_state_and_every_event_broadcast(owner, make_analysis):
    analysis = make_analysis(owner)
    listener = GroupListener.for_analysis(analysis.pk)
    try:
        drive_to(analysis, Status.QUEUED)
        worker = start_worker("w-stopping", **SLOW)
        try:
            wait_until(lambda: Analysis.objects.get(pk=analysis.pk).progress >= 10, 30, "w-stopping gets going")
        finally:
            assert stop_worker(worker, signal.SIGTERM) == 0

        events = assert_history_legal(analysis)
        assert (analysis.status, analysis.retry_count, analysis.worker) == (Status.QUEUED, 1, "")
        assert events[-2].error["code"] == "worker_stopped" and "w-stopping" in events[-2].error["detail"]
        expected, received = set(range(2, analysis.seq + 1)), set()
        while not expected <= received:  # seq 1 may or may not arrive: it was sent before listening
            message = listener.receive(10.0)
            assert message is not None, f"missing broadcasts: {expected - received}"
            if message["type"] == "analysis.event":
                received.add(message["event"]["seq"])
    finally:
        listener.close()
