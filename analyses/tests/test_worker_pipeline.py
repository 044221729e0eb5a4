"""The pipeline and the demo detector run in-process: outcomes, progress, failures, retries, stops."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status
from analyses.tests.helpers import drive_to
from analyses.tests.history_checks import assert_history_legal
from analyses.tests.metric_checks import Counted
from analyses.tests.worker_checks import error_codes, worker_actors
from analyses.worker import demo_detector
from analyses.worker.claiming import claim_next
from analyses.worker.config import WorkerConfig
from analyses.worker.loop import Worker
from analyses.worker.pipeline import JobContext, load_pipeline, step
from analyses.worker.retries import backoff_seconds, requeue_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    """Fast demo settings; ``demo(failure_rate=...)`` changes the failure rate."""

    def configure(failure_rate: float = 0.0, speed: float = 10_000.0) -> None:
        settings.WORKER = {**settings.WORKER, "DEMO_SPEED": speed, "DEMO_FAILURE_RATE": failure_rate}

    configure()
    return configure


def make_worker(**overrides) -> Worker:
    return Worker(WorkerConfig.from_settings(name="w-test", heartbeat_interval=60.0, **overrides))


def run_one(worker: Worker) -> None:
    claim = claim_next(worker=worker.config.name)
    assert claim is not None
    worker.process(claim)


def test_a_successful_attempt_walks_every_stage_and_completes(demo, owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    jobs = Counted("secureai_worker_jobs_total")
    run_one(make_worker())

    assert jobs.changes() == {"completed": 1}
    events = assert_history_legal(analysis)
    assert analysis.status == Status.COMPLETED and analysis.progress == 100
    assert analysis.result["verdict"] in {"authentic", "manipulated", "inconclusive"}
    assert 0 <= analysis.result["confidence"] <= 1
    stages = [event.stage for event in events if event.event == "stage_transition"]
    assert stages == [stage.value for stage in Stage][1:]
    assert worker_actors(events) == [{"w-test"}]
    progress = [event.progress for event in events if event.status == Status.PROCESSING]
    assert progress == sorted(progress) and progress[-1] == 99


def test_a_failing_attempt_records_a_stage_error_and_is_retried_after_backoff(demo, owner, make_analysis):
    demo(failure_rate=1.0)
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    jobs = Counted("secureai_worker_jobs_total")
    run_one(make_worker())
    assert jobs.changes() == {"failed": 1}
    analysis.refresh_from_db()
    assert analysis.status == Status.FAILED
    assert analysis.error["code"] in {code for code, _ in demo_detector.FAILURES.values()}

    assert requeue_due(base=3600, maximum=3600) == []  # backoff not over yet
    assert requeue_due(base=0, maximum=0) == [analysis.pk]
    analysis.refresh_from_db()
    assert (analysis.status, analysis.retry_count, analysis.error) == (Status.QUEUED, 1, None)
    assert analysis.events.last().actor == "system"


def test_failures_stop_being_retried_at_max_retries(demo, owner, make_analysis):
    demo(failure_rate=1.0)
    analysis = drive_to(make_analysis(owner, max_retries=2), Status.QUEUED)
    worker = make_worker()
    for _ in range(3):
        run_one(worker)
        requeue_due(base=0, maximum=0)

    events = assert_history_legal(analysis)
    assert (analysis.status, analysis.retry_count) == (Status.FAILED, 2)
    assert len(error_codes(events)) == 3
    assert claim_next(worker="w-test") is None


def test_the_demo_is_deterministic_per_analysis_and_attempt(demo, owner, make_analysis):
    demo(failure_rate=0.5)
    analysis = make_analysis(owner)
    claim = type("FakeClaim", (), {"analysis_id": analysis.pk, "attempt": 0, "worker": "w"})()
    plans = [demo_detector.plan_for(JobContext(claim, threading.Event(), threading.Event())) for _ in range(2)]
    assert plans[0] == plans[1]
    later = type("FakeClaim", (), {"analysis_id": analysis.pk, "attempt": 1, "worker": "w"})()
    retry = demo_detector.plan_for(JobContext(later, threading.Event(), threading.Event()))
    assert (retry.verdict, retry.confidence, retry.faces) == (plans[0].verdict, plans[0].confidence, plans[0].faces)


def test_a_stop_fails_the_held_analysis_as_worker_stopped_and_requeues_it(demo, owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    worker = make_worker()
    claim = claim_next(worker="w-test")
    worker.stop.set()
    jobs = Counted("secureai_worker_jobs_total")
    worker.process(claim)

    assert jobs.changes() == {"stopped": 1}
    events = assert_history_legal(analysis)
    assert [event.status for event in events[-2:]] == [Status.FAILED, Status.QUEUED]
    assert events[-2].error["code"] == "worker_stopped" and "w-test" in events[-2].error["detail"]
    assert analysis.retry_count == 1


def test_a_stop_on_the_last_retry_leaves_the_analysis_failed(demo, owner, make_analysis):
    analysis = drive_to(make_analysis(owner, max_retries=0), Status.QUEUED)
    worker = make_worker()
    claim = claim_next(worker="w-test")
    worker.stop.set()
    worker.process(claim)
    assert_history_legal(analysis)
    assert (analysis.status, analysis.error["code"]) == (Status.FAILED, "worker_stopped")


def test_a_cancelled_analysis_is_let_go_without_a_further_write(demo, owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    claim = claim_next(worker="w-test")
    analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.CANCELLED), actor="alice")
    jobs = Counted("secureai_worker_jobs_total")
    make_worker().process(claim)
    assert jobs.changes() == {"lost": 1}
    events = assert_history_legal(analysis)
    assert events[-1].status == Status.CANCELLED and events[-1].actor == "alice"


@step(Stage.FACE_DETECTION)
def crashing_step(context: JobContext) -> None:
    raise RuntimeError("model file missing")


def test_a_crashing_step_fails_the_attempt_with_internal_error(demo, owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    pipeline = ("analyses.worker.demo_detector.validate_upload", f"{__name__}.crashing_step")
    jobs = Counted("secureai_worker_jobs_total")
    run_one(make_worker(pipeline=pipeline))
    assert jobs.changes() == {"crashed": 1}
    assert_history_legal(analysis)
    assert analysis.status == Status.FAILED
    assert analysis.error == {"code": "internal_error", "detail": "RuntimeError: model file missing"}


def test_the_pipeline_must_follow_the_stage_order():
    with pytest.raises(ValueError, match="stage order"):
        load_pipeline(("analyses.worker.demo_detector.detect_faces", "analyses.worker.demo_detector.extract_frames"))
    with pytest.raises(TypeError, match="not a pipeline Step"):
        load_pipeline(("analyses.worker.demo_detector.work",))


def test_demo_names_the_demonstration_detector_in_stage_order():
    steps = load_pipeline(("demo",))
    assert [item.stage for item in steps] == list(Stage)
    assert all(item.run.__module__ == demo_detector.__name__ for item in steps)


def test_a_worker_without_a_pipeline_refuses_to_start(settings):
    settings.WORKER = {**settings.WORKER, "PIPELINE": []}
    with pytest.raises(ImproperlyConfigured, match="WORKER_PIPELINE names no steps"):
        make_worker()
    assert make_worker(pipeline=("demo",)).steps == load_pipeline(("demo",))


def test_backoff_doubles_up_to_its_cap():
    assert [backoff_seconds(n, base=5, maximum=30) for n in range(5)] == [5, 10, 20, 30, 30]
