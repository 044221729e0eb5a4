"""GET /api/analyses/<id>/history/: §2 events in seq order, with since_seq, limit and has_more."""

import pytest

from analyses.payloads import event_body
from analyses.services import analysis_transition
from analyses.state_machine import Change
from analyses.tests.helpers import ERROR, drive_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_history(owner, make_analysis):
    """An analysis with 107 events: created, queued, processing, then 104 messages."""
    analysis = drive_to(make_analysis(owner), "processing")
    for n in range(104):
        analysis_transition(analysis_id=analysis.pk, change=Change(message=f"step {n}"), actor="worker-1")
    analysis.refresh_from_db()
    assert analysis.seq == 107
    return analysis


def history(client, analysis, query=""):
    response = client.get(f"/api/analyses/{analysis.pk}/history/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_default_page_is_the_first_100(long_history, owner, api_client):
    body = history(api_client(owner), long_history)
    assert set(body) == {"analysis_id", "events", "has_more"}
    assert body["analysis_id"] == str(long_history.pk)
    assert [e["seq"] for e in body["events"]] == list(range(1, 101))
    assert body["has_more"] is True


def test_paging_with_since_seq_walks_the_whole_history_once(long_history, owner, api_client):
    client, seen, cursor = api_client(owner), [], 0
    while True:
        body = history(client, long_history, f"?since_seq={cursor}&limit=30")
        seen += [e["seq"] for e in body["events"]]
        if not body["has_more"]:
            break
        cursor = body["events"][-1]["seq"]
    assert seen == list(range(1, 108))


@pytest.mark.parametrize(
    ("query", "seqs", "has_more"),
    [
        ("?limit=1", [1], True),
        ("?limit=500", list(range(1, 108)), False),
        ("?since_seq=100", list(range(101, 108)), False),
        ("?since_seq=100&limit=7", list(range(101, 108)), False),
        ("?since_seq=100&limit=6", list(range(101, 107)), True),
        ("?since_seq=107", [], False),
        ("?since_seq=5000", [], False),
    ],
)
def test_since_seq_and_limit(long_history, owner, api_client, query, seqs, has_more):
    body = history(api_client(owner), long_history, query)
    assert [e["seq"] for e in body["events"]] == seqs
    assert body["has_more"] is has_more


def test_events_are_the_section_2_bodies(owner, make_analysis, all_viewer, api_client):
    analysis = drive_to(make_analysis(owner), "failed")
    analysis_transition(analysis_id=analysis.pk, change=Change(status="cancelled", message="Given up"), actor="ops")

    events = history(api_client(all_viewer), analysis)["events"]

    assert events == [event_body(e) for e in analysis.events.order_by("seq")]
    assert [(e["event"], e["previous_status"], e["status"]) for e in events] == [
        ("status_update", None, "pending"),
        ("status_update", "pending", "queued"),
        ("error_update", "queued", "failed"),
        ("completion_update", "failed", "cancelled"),
    ]
    assert events[2]["error"] == ERROR
    assert events[3]["error"] == ERROR  # the failure's error stays on the cancellation
    assert (events[3]["message"], events[3]["actor"]) == ("Given up", "ops")
    assert all(e["timestamp"].endswith("Z") for e in events)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)


def test_history_of_one_analysis_holds_only_its_events(owner, make_analysis, api_client):
    one, two = make_analysis(owner), make_analysis(owner)
    drive_to(two, "completed")
    body = history(api_client(owner), one)
    assert [e["analysis_id"] for e in body["events"]] == [str(one.pk)]
