"""Pushes leave after the commit, on the real Redis layer, as plain JSON; a dead layer never fails a write."""

import logging
import re
import time

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from analyses.models import StatusEvent
from analyses.payloads import analysis_snapshot, event_body
from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status
from analyses.tests.helpers import GroupListener, drive_to, is_plain_json, wait_for_broadcasts
from realtime.groups import FEED_ALL_GROUP, owner_feed_group_name

pytestmark = pytest.mark.django_db(transaction=True)

EVENT_KEYS = {
    "analysis_id",
    "seq",
    "event",
    "status",
    "previous_status",
    "stage",
    "progress",
    "retry_count",
    "message",
    "error",
    "result",
    "actor",
    "timestamp",
}
SNAPSHOT_KEYS = {
    "analysis_id",
    "status",
    "stage",
    "progress",
    "retry_count",
    "max_retries",
    "error",
    "result",
    "seq",
    "created_at",
    "updated_at",
    "filename",
    "media_url",
    "owner",
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


class Rollback(Exception):
    pass


def test_the_payloads_are_plain_json_before_they_reach_the_layer(owner, make_analysis):
    """msgpack on the Redis layer rejects datetime, UUID and Decimal: the bodies must not hold any."""
    analysis = drive_to(make_analysis(owner), "completed")
    for event in analysis.events.all():
        body = event_body(event)
        assert is_plain_json(body) and set(body) == EVENT_KEYS
    snapshot = analysis_snapshot(analysis)
    assert is_plain_json(snapshot) and set(snapshot) == SNAPSHOT_KEYS


def test_a_committed_change_is_pushed_with_the_event_body(owner, make_analysis, status_changer, api_client, listen):
    analysis = drive_to(make_analysis(owner), "queued")
    listener = listen(analysis.pk)
    client = api_client(status_changer)

    response = client.post(
        f"/api/analyses/{analysis.pk}/transition/",
        {"status": "processing", "stage": "face_detection", "progress": 40, "message": "Detected 3 faces"},
        format="json",
    )
    assert response.status_code == 200

    message = listener.receive(timeout=5)
    assert message is not None
    assert message["type"] == "analysis.event"
    assert is_plain_json(message)
    body = message["event"]
    assert set(body) == EVENT_KEYS
    assert body == {
        "analysis_id": str(analysis.pk),
        "seq": 3,
        "event": "status_update",
        "status": "processing",
        "previous_status": "queued",
        "stage": "face_detection",
        "progress": 40,
        "retry_count": 0,
        "message": "Detected 3 faces",
        "error": None,
        "result": None,
        "actor": "worker-1",
        "timestamp": body["timestamp"],
    }
    assert ISO_Z.match(body["timestamp"])
    history = client.get(f"/api/analyses/{analysis.pk}/history/?since_seq=2").json()
    assert history["events"] == [body]
    listener.assert_silent()


def test_nothing_is_pushed_before_the_commit(owner, make_analysis, listen):
    analysis = drive_to(make_analysis(owner), "processing")
    listener = listen(analysis.pk)

    with transaction.atomic():
        analysis_transition(analysis_id=analysis.pk, change=Change(stage=Stage.REPORT_GENERATION), actor="w")
        assert listener.receive(timeout=0.3) is None  # written, not yet committed: not pushed
    message = listener.receive(timeout=5)

    assert message is not None
    assert (message["event"]["seq"], message["event"]["stage"]) == (analysis.seq + 1, "report_generation")


def test_a_rolled_back_change_pushes_nothing(owner, make_analysis, listen):
    analysis = drive_to(make_analysis(owner), "processing")
    listener = listen(analysis.pk)

    with pytest.raises(Rollback), transaction.atomic():
        outcome = analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.CANCELLED), actor="w")
        assert outcome.event.pk is not None
        raise Rollback

    assert StatusEvent.objects.filter(analysis=analysis).count() == analysis.seq
    listener.assert_silent(timeout=0.5)


def test_a_rolled_back_savepoint_pushes_nothing_but_the_outer_commit_does(owner, make_analysis, listen):
    analysis = drive_to(make_analysis(owner), "processing")
    listener = listen(analysis.pk)

    with transaction.atomic():
        with pytest.raises(Rollback), transaction.atomic():
            analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.CANCELLED), actor="w")
            raise Rollback
        analysis_transition(analysis_id=analysis.pk, change=Change(progress=99), actor="w")

    message = listener.receive(timeout=5)
    assert message is not None
    assert (message["event"]["seq"], message["event"]["progress"], message["event"]["status"]) == (
        analysis.seq + 1,
        99,
        "processing",
    )
    listener.assert_silent()


def test_creation_is_announced_on_the_feeds_after_commit(owner, status_changer, api_client):
    feed_all = GroupListener(FEED_ALL_GROUP)
    feed_owner = GroupListener(owner_feed_group_name(owner.pk))
    try:
        response = api_client(owner).post("/api/analyses/", {"filename": "new.mp4"}, format="json")
        assert response.status_code == 201
        for listener in (feed_all, feed_owner):
            message = listener.receive(timeout=5)
            assert message is not None
            assert message["type"] == "analysis.created"
            assert is_plain_json(message)
            assert message["analysis"] == response.json()
    finally:
        feed_all.close()
        feed_owner.close()


@pytest.mark.parametrize("path", ["/api/analyses/{id}/broadcast/", "/ws/broadcast/{id}"])
def test_the_broadcast_trigger_pushes_a_snapshot_and_writes_no_event(
    path, owner, make_analysis, staff_user, api_client, listen
):
    analysis = drive_to(make_analysis(owner), "processing")
    listener = listen(analysis.pk)

    response = api_client(staff_user).post(path.format(id=analysis.pk))

    assert response.status_code == 202
    assert response.json() == {"analysis_id": str(analysis.pk), "seq": analysis.seq}
    message = listener.receive(timeout=5)
    assert message is not None
    assert message["type"] == "analysis.snapshot"
    assert is_plain_json(message)
    assert set(message["analysis"]) == SNAPSHOT_KEYS
    assert message["analysis"] == api_client(owner).get(f"/api/analyses/{analysis.pk}/").json()
    assert StatusEvent.objects.filter(analysis=analysis).count() == analysis.seq
    listener.assert_silent()


class TestRedisDown:
    """The app's layer points at a closed port; writes succeed and history keeps every event."""

    def test_a_transition_still_answers_200_and_stays_in_history(
        self, owner, make_analysis, status_changer, api_client, dead_channel_layer, caplog
    ):
        analysis = drive_to(make_analysis(owner), "queued")
        client = api_client(status_changer)

        failures = REGISTRY.get_sample_value("secureai_publish_failures_total")
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            response = client.post(f"/api/analyses/{analysis.pk}/transition/", {"status": "processing"}, format="json")
            elapsed = time.monotonic() - started
            wait_for_broadcasts()

        assert response.status_code == 200, response.content
        assert response.json()["seq"] == analysis.seq + 1
        history = client.get(f"/api/analyses/{analysis.pk}/history/").json()["events"]
        assert [e["seq"] for e in history] == list(range(1, analysis.seq + 2))
        assert history[-1]["status"] == "processing"
        # The push was attempted after the commit and its failure only logged, and counted.
        assert any("Channel layer send" in record.getMessage() for record in caplog.records)
        assert REGISTRY.get_sample_value("secureai_publish_failures_total") > failures
        assert elapsed < 10

    def test_create_and_broadcast_still_answer(self, owner, make_analysis, staff_user, api_client, dead_channel_layer):
        created = api_client(owner).post("/api/analyses/", {"filename": "offline.mp4"}, format="json")
        assert created.status_code == 201
        analysis_id = created.json()["analysis_id"]
        broadcast = api_client(staff_user).post(f"/api/analyses/{analysis_id}/broadcast/")
        assert broadcast.status_code == 202
        assert StatusEvent.objects.filter(analysis_id=analysis_id).count() == 1
