"""Writers racing on one analysis never produce a history that breaks the rules (docs/protocol.md §1).

Real threads, real connections, real commits: on PostgreSQL the row lock serialises them, on
SQLite the write lock does. Each thread closes its own connection when it is done.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from analyses.models import Analysis, StatusEvent
from analyses.state_machine import Stage
from analyses.tests.helpers import ERROR, RESULT, drive_to
from analyses.tests.history_checks import assert_history_legal

pytestmark = pytest.mark.django_db(transaction=True)

STAGES = [s.value for s in Stage]


def fire_concurrently(
    client_for, analysis: Analysis, scripts: dict[str, list[dict]]
) -> list[tuple[str, dict, int, Any]]:
    """Run each script in its own thread, all starting together; return (thread, body, status, json)."""
    url = f"/api/analyses/{analysis.pk}/transition/"
    barrier = threading.Barrier(len(scripts))
    clients = {name: client_for() for name in scripts}

    def run(name: str) -> list[tuple[str, dict, int, Any]]:
        answers = []
        try:
            barrier.wait(timeout=30)
            for body in scripts[name]:
                response = clients[name].post(url, body, format="json")
                answers.append((name, body, response.status_code, response.json()))
        finally:
            connection.close()
        return answers

    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        futures = [pool.submit(run, name) for name in scripts]
        return [answer for future in futures for answer in future.result(timeout=120)]


def assert_every_answer_is_a_result_or_a_refusal(answers) -> None:
    for name, body, status_code, data in answers:
        assert status_code in (200, 409), (name, body, status_code, data)
        if status_code == 409:
            assert data["code"] in ("invalid_transition", "conflict"), data


def test_racing_writers_leave_a_legal_gapless_history(owner, make_analysis, status_changer, api_client, listen):
    analysis = drive_to(make_analysis(owner, max_retries=2), "queued")
    listener = listen(analysis.pk)
    start_events = analysis.seq
    scripts = {
        f"reporter-{i}": [
            {"status": "processing", "stage": STAGES[(i + k) % 6], "progress": 5 * i + 12 * k} for k in range(6)
        ]
        for i in range(4)
    }
    scripts["messenger"] = [{"message": f"note {k}"} for k in range(6)]
    scripts["stager"] = [{"stage": stage} for stage in STAGES]
    scripts["failer"] = [
        {"progress": 30},
        {"status": "failed", "error": ERROR},
        {"status": "queued"},
        {"status": "processing"},
    ]
    scripts["finisher"] = [{"progress": 70}, {"message": "almost"}, {"status": "completed", "result": RESULT}]
    scripts["twin-a"] = [{"message": "twin", "transition_id": "twin-1"}, {"progress": 64, "transition_id": "twin-2"}]
    scripts["twin-b"] = [{"message": "twin", "transition_id": "twin-1"}, {"progress": 64, "transition_id": "twin-2"}]
    assert len(scripts) >= 8

    answers = fire_concurrently(lambda: api_client(status_changer), analysis, scripts)

    assert_every_answer_is_a_result_or_a_refusal(answers)
    events = assert_history_legal(analysis)

    # Every accepted change is exactly one event: nothing accepted was lost or overwritten.
    accepted = [(body, data) for _, body, code, data in answers if code == 200]
    plain = [(body, data) for body, data in accepted if "transition_id" not in body]
    with_id = {body["transition_id"] for body, _ in accepted if "transition_id" in body}
    assert len(events) - start_events == len(plain) + len(with_id)
    assert len(plain) + len(with_id) >= 2
    seqs = [data["seq"] for _, data in plain]
    assert len(set(seqs)) == len(seqs)
    by_seq = {e.seq: e for e in events}
    for _, data in accepted:
        # The answer a writer got is what history recorded at that seq.
        event = by_seq[data["seq"]]
        assert (data["status"], data["stage"], data["progress"]) == (event.status, event.stage, event.progress)
    # Twins sharing a transition_id got the same answer.
    for tid in with_id:
        bodies = {str(data) for body, data in accepted if body.get("transition_id") == tid}
        assert len(bodies) == 1
    # Each committed event was pushed once (publishers may interleave, so order is not asserted here).
    pushed = []
    while (message := listener.receive(timeout=1)) is not None:
        pushed.append(message["event"]["seq"])
    assert sorted(pushed) == list(range(start_events + 1, len(events) + 1))


def test_racing_starters_let_exactly_one_start(owner, make_analysis, status_changer, api_client):
    analysis = drive_to(make_analysis(owner), "queued")
    scripts = {f"worker-{i}": [{"status": "processing"}] for i in range(8)}

    answers = fire_concurrently(lambda: api_client(status_changer), analysis, scripts)

    assert_every_answer_is_a_result_or_a_refusal(answers)
    assert sorted(code for _, _, code, _ in answers) == [200] + [409] * 7
    events = assert_history_legal(analysis)
    assert [e.status for e in events] == ["pending", "queued", "processing"]


def test_racing_repeats_of_one_transition_id_apply_once(owner, make_analysis, status_changer, api_client):
    analysis = drive_to(make_analysis(owner), "processing")
    seq_before = analysis.seq
    body = {"stage": "report_generation", "progress": 90, "transition_id": "final-stage"}
    scripts = {f"resender-{i}": [body] for i in range(8)}

    answers = fire_concurrently(lambda: api_client(status_changer), analysis, scripts)

    assert {code for _, _, code, _ in answers} == {200}
    assert len({str(data) for _, _, _, data in answers}) == 1
    events = assert_history_legal(analysis)
    assert len(events) == seq_before + 1
    assert StatusEvent.objects.filter(analysis=analysis, transition_id="final-stage").count() == 1
