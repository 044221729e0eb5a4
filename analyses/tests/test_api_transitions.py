"""Every (from, to) pair of statuses through POST /api/analyses/<id>/transition/, with its event and push.

The request runs inside the test's transaction; ``django_capture_on_commit_callbacks(execute=True)``
runs what it scheduled for after the commit, so a push reaches the real Redis layer as in
production (the commit itself is covered by test_broadcast_on_commit.py).
"""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analyses.models import StatusEvent
from analyses.state_machine import Status
from analyses.tests.helpers import ERROR, RESULT, Counts, assert_error_body, drive_to

pytestmark = pytest.mark.django_db

STATUSES = [s.value for s in Status]

# The allowed pairs of docs/protocol.md §1, each with a body that makes it and the event it must write.
ALLOWED = {
    ("pending", "queued"): ({"status": "queued"}, "status_update"),
    ("pending", "cancelled"): ({"status": "cancelled", "message": "The user gave up."}, "completion_update"),
    ("queued", "processing"): ({"status": "processing", "stage": "frame_extraction", "progress": 5}, "status_update"),
    ("queued", "failed"): ({"status": "failed", "error": ERROR}, "error_update"),
    ("queued", "cancelled"): ({"status": "cancelled"}, "completion_update"),
    ("processing", "processing"): (
        {"status": "processing", "stage": "deepfake_inference", "progress": 60},
        "stage_transition",
    ),
    ("processing", "completed"): ({"status": "completed", "result": RESULT}, "completion_update"),
    ("processing", "failed"): ({"status": "failed", "error": ERROR}, "error_update"),
    ("processing", "cancelled"): ({"status": "cancelled"}, "completion_update"),
    ("failed", "queued"): ({"status": "queued", "message": "Retrying."}, "status_update"),
    ("failed", "cancelled"): ({"status": "cancelled"}, "completion_update"),
}
FORBIDDEN = [pair for pair in itertools.product(STATUSES, repeat=2) if pair not in ALLOWED]


def well_formed_body(target: str) -> dict:
    """A body for ``target`` that is complete, so only the rules can refuse it."""
    body = {"status": target}
    if target == "completed":
        body["result"] = RESULT
    if target == "failed":
        body["error"] = ERROR
    return body


def test_the_matrix_covers_all_36_pairs():
    assert len(ALLOWED) + len(FORBIDDEN) == 36
    assert len(ALLOWED) == 11


@pytest.fixture
def post_transition(status_changer, api_client, django_capture_on_commit_callbacks):
    """POST a transition as the worker; return the response and the after-commit callbacks it scheduled."""
    client = api_client(status_changer)

    def post(analysis, body):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(f"/api/analyses/{analysis.pk}/transition/", body, format="json")
        return response, callbacks

    return post


@pytest.fixture
def analysis_in(owner, make_analysis):
    def make(status: str):
        return drive_to(make_analysis(owner), status)

    return make


@pytest.mark.parametrize(("source", "target"), list(ALLOWED))
def test_an_allowed_transition_succeeds_writes_one_event_and_pushes_it(
    source, target, analysis_in, status_changer, api_client, post_transition, listen
):
    analysis = analysis_in(source)
    body, expected_event = ALLOWED[(source, target)]
    listener = listen(analysis.pk)
    client = api_client(status_changer)

    response, callbacks = post_transition(analysis, body)

    assert response.status_code == 200, response.json()
    assert callbacks  # the push of the new event is scheduled for after the commit
    snapshot = response.json()
    assert snapshot["analysis_id"] == str(analysis.pk)
    assert snapshot["status"] == target
    assert snapshot["seq"] == analysis.seq + 1
    if target == "completed":
        assert (snapshot["result"], snapshot["progress"]) == (RESULT, 100)
    if target == "failed":
        assert snapshot["error"] == ERROR
    if (source, target) == ("failed", "cancelled"):
        assert snapshot["error"] == ERROR  # the failure's error stays on the cancellation
    if (source, target) == ("failed", "queued"):
        assert (snapshot["retry_count"], snapshot["error"], snapshot["progress"]) == (1, None, 0)
    assert (snapshot["stage"] is not None) == (target == "processing")

    history = client.get(f"/api/analyses/{analysis.pk}/history/").json()["events"]
    assert [e["seq"] for e in history] == list(range(1, analysis.seq + 2))
    last = history[-1]
    assert last["event"] == expected_event
    assert (last["previous_status"], last["status"], last["actor"]) == (source, target, "worker-1")
    assert StatusEvent.objects.filter(analysis=analysis).count() == analysis.seq + 1

    pushed = listener.receive(timeout=5)
    assert pushed is not None, "the committed event was not pushed"
    assert (pushed["type"], pushed["event"]) == ("analysis.event", last)
    listener.assert_silent()


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_a_forbidden_transition_is_409_and_writes_and_pushes_nothing(
    source, target, analysis_in, status_changer, api_client, post_transition, listen
):
    analysis = analysis_in(source)
    before = Counts.take(analysis)
    listener = listen(analysis.pk)
    client = api_client(status_changer)

    response, callbacks = post_transition(analysis, well_formed_body(target))

    assert_error_body(response, 409, "invalid_transition")
    assert callbacks == []
    assert Counts.take(analysis) == before
    history = client.get(f"/api/analyses/{analysis.pk}/history/").json()["events"]
    assert [e["seq"] for e in history] == list(range(1, analysis.seq + 1))
    listener.assert_silent()


@pytest.mark.parametrize(
    ("source", "body", "missing"),
    [
        ("processing", {"status": "completed"}, "result"),
        ("queued", {"status": "failed"}, "error"),
        ("processing", {"status": "failed", "message": "It broke."}, "error"),
    ],
)
def test_entering_completed_or_failed_without_what_it_requires_is_400(
    source, body, missing, analysis_in, post_transition, listen
):
    analysis = analysis_in(source)
    before = Counts.take(analysis)
    listener = listen(analysis.pk)

    response, callbacks = post_transition(analysis, body)

    assert missing in assert_error_body(response, 400, "invalid")["detail"]
    assert callbacks == []
    assert Counts.take(analysis) == before
    listener.assert_silent()


def test_processing_to_processing_changing_nothing_is_409(analysis_in, post_transition, listen):
    analysis = analysis_in("processing")  # face_detection at 40
    before = Counts.take(analysis)
    listener = listen(analysis.pk)

    for body in (
        {"status": "processing"},
        {"stage": "face_detection", "progress": 40},
        {"stage": "frame_extraction", "progress": 50},
        {"progress": 39},
    ):
        response, callbacks = post_transition(analysis, body)
        assert_error_body(response, 409, "invalid_transition")
        assert callbacks == []

    assert Counts.take(analysis) == before
    listener.assert_silent()


def test_a_run_through_a_retry_to_completion(owner, make_analysis, staff_user, api_client):
    """A whole life over the API: seq counts 1..n and each event is named per §2."""
    analysis = make_analysis(owner)
    client = api_client(staff_user)
    steps = [
        ({"status": "queued"}, "status_update"),
        ({"status": "processing"}, "status_update"),
        ({"progress": 10}, "progress_update"),
        ({"stage": "face_detection", "progress": 30}, "stage_transition"),
        ({"status": "failed", "error": ERROR}, "error_update"),
        ({"status": "queued"}, "status_update"),
        ({"status": "processing", "stage": "frame_extraction", "progress": 5}, "status_update"),
        ({"message": "Still extracting"}, "progress_update"),
        ({"stage": "report_generation", "progress": 95}, "stage_transition"),
        ({"status": "completed", "result": RESULT, "message": "Done"}, "completion_update"),
    ]
    for body, _ in steps:
        response = client.post(f"/api/analyses/{analysis.pk}/transition/", body, format="json")
        assert response.status_code == 200, (body, response.json())

    events = client.get(f"/api/analyses/{analysis.pk}/history/").json()["events"]
    assert [e["seq"] for e in events] == list(range(1, len(steps) + 2))
    assert [e["event"] for e in events] == ["status_update"] + [kind for _, kind in steps]
    assert events[0]["previous_status"] is None
    assert events[0]["actor"] == owner.username
    assert [e["retry_count"] for e in events][-1] == 1
    assert events[5]["error"] == ERROR and events[6]["error"] is None
    assert events[7]["progress"] == 5  # progress started again after the retry
    assert events[-1]["progress"] == 100 and events[-1]["result"] == RESULT
    final = client.get(f"/api/analyses/{analysis.pk}/").json()
    assert (final["status"], final["seq"], final["retry_count"]) == ("completed", len(steps) + 1, 1)


def test_completing_with_progress_100_is_accepted(analysis_in, post_transition, listen):
    analysis = analysis_in("processing")
    listener = listen(analysis.pk)

    response, callbacks = post_transition(analysis, {"status": "completed", "result": RESULT, "progress": 100})

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["progress"]) == ("completed", 100)
    assert len(callbacks) == 1
    assert listener.receive()["event"]["event"] == "completion_update"


@pytest.mark.parametrize("progress", [0, 60, 99])
def test_completing_with_any_other_progress_breaks_the_rules(progress, analysis_in, post_transition, listen):
    analysis = analysis_in("processing")
    before = Counts.take(analysis)
    listener = listen(analysis.pk)

    response, callbacks = post_transition(analysis, {"status": "completed", "result": RESULT, "progress": progress})

    assert_error_body(response, 409, "invalid_transition")
    assert callbacks == []
    assert Counts.take(analysis) == before
    listener.assert_silent()


@pytest.mark.parametrize(
    ("source", "body"),
    [
        # failed is not allowed from pending or completed, but the missing error is found first.
        ("pending", {"status": "failed"}),
        ("completed", {"status": "failed", "message": "late"}),
        ("cancelled", {"status": "completed"}),
        ("pending", {"status": "completed", "progress": 100}),
    ],
)
def test_malformed_wins_over_forbidden(source, body, analysis_in, post_transition, listen):
    analysis = analysis_in(source)
    before = Counts.take(analysis)
    listener = listen(analysis.pk)

    response, callbacks = post_transition(analysis, body)

    assert_error_body(response, 400, "invalid")
    assert callbacks == []
    assert Counts.take(analysis) == before
    listener.assert_silent()


def test_a_status_update_costs_four_statements(analysis_in, status_changer, api_client):
    """The worker's path: its user from the cache; the row locked (the only read of it), the
    transition_id looked up, the analysis updated and its event inserted. Nothing else."""
    analysis = analysis_in("processing")
    client = api_client(status_changer)
    path = f"/api/analyses/{analysis.pk}/transition/"
    assert client.post(path, {"progress": 50, "transition_id": "job:1"}, format="json").status_code == 200

    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, {"progress": 60, "transition_id": "job:2"}, format="json")

    assert response.status_code == 200
    statements = [q["sql"].split()[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert statements == ["SELECT", "SELECT", "UPDATE", "INSERT"]
    assert "FOR UPDATE" in queries.captured_queries[1]["sql"] or connection.vendor == "sqlite"
