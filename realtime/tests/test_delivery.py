"""The delivery guarantee of docs/protocol.md §3: seq order, exactly once, no gap, even when the layer drops."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.db import connection
from prometheus_client import REGISTRY

from analyses.services import analysis_transition
from analyses.state_machine import Change

from .helpers import collect_events, commit, commit_steps

pytestmark = pytest.mark.django_db(transaction=True)


def assert_complete(events: list[dict], first: int, last: int) -> None:
    assert [event["seq"] for event in events] == list(range(first, last + 1))


@pytest.fixture
def lossy_layer(settings):
    """The real Redis layer, losing 30 % of group messages at its boundary."""
    config = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**config, "BACKEND": "realtime.tests.lossy_layer.LossyRedisChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def test_every_subscriber_gets_every_event_when_the_layer_drops(open_socket, owner, make_analysis, lossy_layer):
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    sockets = [await open_socket(user=owner) for _ in range(5)]
    for socket in sockets:
        await socket.request({"type": "subscribe", "analysis_id": key})
    gap_fills = REGISTRY.get_sample_value("secureai_gap_fills_total")
    last = await commit_steps(analysis.pk, 200)
    assert last == 201
    for socket in sockets:
        events = await collect_events(socket, key, last, timeout=15)
        assert_complete(events, 2, last)
        assert not any(event.get("replay") for event in events)
    assert channel_layers["default"].dropped >= 40, "the layer should have lost messages in this test"
    assert REGISTRY.get_sample_value("secureai_gap_fills_total") > gap_fills  # each gap filled is counted


async def test_heartbeat_exposes_a_dropped_latest_event(
    open_socket, owner, make_analysis, realtime_settings, monkeypatch
):
    realtime_settings(HEARTBEAT_INTERVAL=0.5)
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    socket = await open_socket(user=owner)
    await socket.request({"type": "subscribe", "analysis_id": key})
    monkeypatch.setattr("realtime.broadcasting.publish", lambda groups, message: None)  # the layer loses it
    await commit(analysis.pk, status="queued")
    heartbeat = await socket.receive_type("heartbeat", timeout=3)
    assert heartbeat["subscriptions"] == {key: 2}
    event = await socket.receive_type("status_update", timeout=3)
    assert event["seq"] == 2 and event["status"] == "queued"


async def test_a_gap_is_filled_from_history_before_the_later_event(open_socket, owner, make_analysis, monkeypatch):
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    socket = await open_socket(user=owner)
    await socket.request({"type": "subscribe", "analysis_id": key})
    import realtime.broadcasting as broadcasting

    real_publish = broadcasting.publish
    monkeypatch.setattr(broadcasting, "publish", lambda groups, message: None)
    await commit(analysis.pk, status="queued")
    await commit(analysis.pk, status="processing")
    monkeypatch.setattr(broadcasting, "publish", real_publish)
    await commit(analysis.pk, progress=10)
    events = await collect_events(socket, key, 4)
    assert_complete(events, 2, 4)
    assert [e["type"] for e in events] == ["status_update", "status_update", "progress_update"]


async def test_duplicates_from_the_layer_are_dropped(open_socket, owner, make_analysis):
    from realtime.broadcasting import EVENT_MESSAGE
    from realtime.hub import get_hub

    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    socket = await open_socket(user=owner)
    await socket.request({"type": "subscribe", "analysis_id": key})
    await commit(analysis.pk, status="queued")
    first = await socket.receive()
    # The same event delivered a second time, as a redelivering layer would.
    await get_hub().dispatch({"type": EVENT_MESSAGE, "event": {k: v for k, v in first.items() if k != "type"}})
    await commit(analysis.pk, status="processing")
    assert (await socket.receive())["seq"] == 3


def _commit_in_background(analysis_id, count: int, started: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            started.set()
            for step in range(count):
                analysis_transition(analysis_id=analysis_id, change=Change(message=f"live {step}"), actor="worker-1")
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def test_reconnect_with_since_seq_replays_then_goes_live_while_events_commit(open_socket, owner, make_analysis):
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    await commit_steps(analysis.pk, 3)  # seq 4, processing
    socket = await open_socket(user=owner)
    await socket.request({"type": "subscribe", "analysis_id": key})
    await commit(analysis.pk, message="seen")
    seen = (await socket.receive())["seq"]
    await socket.disconnect()

    for step in range(20):  # missed while away
        await commit(analysis.pk, message=f"missed {step}")
    started = threading.Event()
    writer = _commit_in_background(analysis.pk, 60, started)
    await asyncio.to_thread(started.wait)
    socket = await open_socket(user=owner)
    await socket.send_to(text_data=json.dumps({"type": "subscribe", "analysis_id": key, "since_seq": seen}))
    success = await socket.receive()
    assert success["type"] == "subscribe_success" and success["seq"] >= seen + 20
    await asyncio.to_thread(writer.join)
    final = seen + 20 + 60
    events = await collect_events(socket, key, final, timeout=15)
    assert_complete(events, seen + 1, final)
    replayed = [e["seq"] for e in events if e.get("replay")]
    assert replayed == list(range(seen + 1, success["seq"] + 1))
    assert all(not e.get("replay") for e in events if e["seq"] > success["seq"])


async def test_since_seq_at_or_past_the_current_seq_replays_nothing(open_socket, owner, make_analysis):
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    socket = await open_socket(user=owner)
    for since in (1, 50):
        reply = await socket.request({"type": "subscribe", "analysis_id": key, "since_seq": since})
        assert reply == {"type": "subscribe_success", "analysis_id": key, "seq": 1}
    await commit(analysis.pk, status="queued")
    assert (await socket.receive())["seq"] == 2


async def test_broadcast_sends_a_snapshot_outside_the_seq_stream(
    open_socket, owner, staff_user, make_analysis, api_client
):
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    socket = await open_socket(user=owner)
    await socket.request({"type": "subscribe", "analysis_id": key})
    response = await sync_to_async(api_client(staff_user).post)(f"/ws/broadcast/{key}")
    assert response.status_code == 202 and response.json() == {"analysis_id": key, "seq": 1}
    snapshot = await socket.receive()
    assert snapshot["type"] == "status_snapshot" and snapshot["analysis"]["analysis_id"] == key
    assert "seq" not in {k for k in snapshot if k != "analysis"}


async def test_a_leave_racing_a_join_keeps_the_group(open_socket, owner, make_analysis):
    """The last socket leaving while another joins must not drop the process out of the group."""
    analysis = await sync_to_async(make_analysis)(owner)
    key = str(analysis.pk)
    leaving, joining = await open_socket(user=owner), await open_socket(user=owner)
    await leaving.request({"type": "subscribe", "analysis_id": key})
    for _ in range(5):
        await leaving.send_to(text_data=json.dumps({"type": "unsubscribe", "analysis_id": key}))
        await joining.send_to(text_data=json.dumps({"type": "subscribe", "analysis_id": key}))
        await leaving.receive_type("unsubscribe_success")
        await joining.receive_type("subscribe_success")
        await joining.send_to(text_data=json.dumps({"type": "unsubscribe", "analysis_id": key}))
        await leaving.send_to(text_data=json.dumps({"type": "subscribe", "analysis_id": key}))
        await joining.receive_type("unsubscribe_success")
        await leaving.receive_type("subscribe_success")
    await commit(analysis.pk, status="queued")
    event = await leaving.receive_type("status_update", timeout=2)  # live, long before any heartbeat
    assert event["seq"] == 2
