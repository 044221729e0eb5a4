"""Every client message, alias and error code of docs/protocol.md §3; the socket stays usable after each error."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async

from analyses.contract import NOT_FOUND
from realtime import queries

from .helpers import commit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def analysis(owner, make_analysis):
    return await sync_to_async(make_analysis)(owner)


async def assert_still_usable(socket) -> None:
    pong = await socket.request({"type": "ping", "request_id": "still-there"})
    assert pong["type"] == "pong" and pong["request_id"] == "still-there"


async def test_connection_established_describes_the_connection(open_socket, owner):
    socket = await open_socket(user=owner, expect_established=False)
    first = await socket.receive()
    assert first["type"] == "connection_established"
    assert first["authenticated"] is True and first["user"] == "alice"
    assert first["heartbeat_interval"] == 25.0
    assert first["server_time"].endswith("Z") and len(first["connection_id"]) >= 16


@pytest.mark.parametrize("kind", ["ping_request", "ping"])
async def test_ping(open_socket, owner, kind):
    socket = await open_socket(user=owner)
    pong = await socket.request({"type": kind, "request_id": "p1", "timestamp": "ignored"})
    assert pong["type"] == "pong" and pong["request_id"] == "p1" and pong["server_time"].endswith("Z")


@pytest.mark.parametrize("kind", ["status_request", "status"])
async def test_status(open_socket, owner, analysis, kind):
    socket = await open_socket(user=owner)
    reply = await socket.request({"type": kind, "analysis_id": str(analysis.pk), "request_id": "s1"})
    assert reply["type"] == "status_response" and reply["request_id"] == "s1"
    snapshot = reply["analysis"]
    assert snapshot["analysis_id"] == str(analysis.pk) and snapshot["status"] == "pending" and snapshot["seq"] == 1
    assert set(snapshot) == {
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


@pytest.mark.parametrize("kind", ["history_request", "history"])
async def test_history(open_socket, owner, analysis, kind):
    await commit(analysis.pk, status="queued")
    await commit(analysis.pk, status="processing")
    socket = await open_socket(user=owner)
    reply = await socket.request({"type": kind, "analysis_id": str(analysis.pk), "since_seq": 1, "limit": 1})
    assert reply["type"] == "history_response" and reply["analysis_id"] == str(analysis.pk)
    assert [e["seq"] for e in reply["events"]] == [2] and reply["has_more"] is True
    reply = await socket.request({"type": kind, "analysis_id": str(analysis.pk)})
    assert [e["seq"] for e in reply["events"]] == [1, 2, 3] and reply["has_more"] is False


@pytest.mark.parametrize(
    ("subscribe", "unsubscribe"), [("subscribe_request", "unsubscribe_request"), ("subscribe", "unsubscribe")]
)
async def test_subscribe_then_unsubscribe(open_socket, owner, analysis, subscribe, unsubscribe):
    socket = await open_socket(user=owner)
    reply = await socket.request({"type": subscribe, "analysis_id": str(analysis.pk), "request_id": "a"})
    assert reply == {"type": "subscribe_success", "analysis_id": str(analysis.pk), "seq": 1, "request_id": "a"}
    await commit(analysis.pk, status="queued")
    event = await socket.receive()
    assert event["type"] == "status_update" and event["seq"] == 2 and event["status"] == "queued"
    reply = await socket.request({"type": unsubscribe, "analysis_id": str(analysis.pk), "request_id": "b"})
    assert reply == {"type": "unsubscribe_success", "analysis_id": str(analysis.pk), "request_id": "b"}
    await commit(analysis.pk, status="processing")
    await assert_still_usable(socket)  # the pong comes next: no event for the unsubscribed analysis


async def test_feed_announces_new_analyses(open_socket, owner, other_user, make_analysis):
    socket = await open_socket(user=owner)
    reply = await socket.request({"type": "subscribe", "feed": "analyses", "request_id": "f"})
    assert reply == {"type": "subscribe_success", "feed": "analyses", "request_id": "f"}
    await sync_to_async(make_analysis)(other_user, "not-yours.mp4")
    mine = await sync_to_async(make_analysis)(owner, "mine.mp4")
    created = await socket.receive()
    assert created["type"] == "analysis_created"
    assert created["analysis"]["analysis_id"] == str(mine.pk) and created["analysis"]["filename"] == "mine.mp4"
    reply = await socket.request({"type": "unsubscribe", "feed": "analyses"})
    assert reply == {"type": "unsubscribe_success", "feed": "analyses"}
    await sync_to_async(make_analysis)(owner, "after.mp4")
    await assert_still_usable(socket)


async def test_feed_of_staff_has_every_analysis(open_socket, staff_user, other_user, make_analysis):
    socket = await open_socket(user=staff_user)
    await socket.request({"type": "subscribe", "feed": "analyses"})
    theirs = await sync_to_async(make_analysis)(other_user)
    created = await socket.receive()
    assert created["analysis"]["analysis_id"] == str(theirs.pk) and created["analysis"]["owner"] == "bob"


async def test_path_subscription_on_connect(open_socket, owner, analysis):
    socket = await open_socket(f"/ws/status/{analysis.pk}", user=owner)
    reply = await socket.receive()
    assert reply == {"type": "subscribe_success", "analysis_id": str(analysis.pk), "seq": 1}
    await commit(analysis.pk, status="queued")
    assert (await socket.receive())["seq"] == 2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_json"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),  # nested deeper than the decoder goes
        ('{"type": "ping", "timestamp": ' + '{"a":' * 2000 + "null" + "}" * 2000 + "}", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('"ping"', "invalid_message"),
        ("{}", "invalid_message"),
        ('{"type": 7}', "invalid_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "status"}', "invalid_message"),
        ('{"type": "status", "analysis_id": 12}', "invalid_message"),
        ('{"type": "status", "analysis_id": "not-a-uuid"}', "invalid_analysis_id"),
        ('{"type": "subscribe", "analysis_id": "12345"}', "invalid_analysis_id"),
        ('{"type": "subscribe", "feed": "everything"}', "invalid_message"),
        ('{"type": "subscribe", "feed": ["analyses"]}', "invalid_message"),
        ('{"type": "unsubscribe", "feed": {"analyses": true}}', "invalid_message"),
        (f'{{"type": "subscribe", "analysis_id": "{uuid.uuid4()}", "since_seq": -1}}', "invalid_message"),
        (f'{{"type": "subscribe", "analysis_id": "{uuid.uuid4()}", "since_seq": "3"}}', "invalid_message"),
        (f'{{"type": "history", "analysis_id": "{uuid.uuid4()}", "limit": 0}}', "invalid_message"),
        (f'{{"type": "history", "analysis_id": "{uuid.uuid4()}", "limit": 501}}', "invalid_message"),
        (f'{{"type": "history", "analysis_id": "{uuid.uuid4()}", "limit": true}}', "invalid_message"),
        ('{"type": "ping", "request_id": 5}', "invalid_message"),
        ('{"type": "authenticate"}', "invalid_message"),
        ('{"type": "ping", "jwt_token": 5}', "invalid_message"),
        (f'{{"type": "status", "analysis_id": "{uuid.uuid4()}"}}', "not_found"),
    ],
)
async def test_bad_input_gets_an_error_and_the_socket_stays_usable(open_socket, owner, text, code):
    socket = await open_socket(user=owner)
    await socket.send_to(text_data=text)
    error = await socket.receive()
    assert error["type"] == "error" and error["code"] == code, error
    assert isinstance(error["detail"], str) and error["detail"]
    await assert_still_usable(socket)


async def test_errors_echo_the_request_id(open_socket, owner):
    socket = await open_socket(user=owner)
    error = await socket.request({"type": "dance", "request_id": "r-42"})
    assert error == {"type": "error", "code": "unknown_type", "detail": error["detail"], "request_id": "r-42"}
    error = await socket.request({"type": "status", "analysis_id": "x", "request_id": "r-43"})
    assert error["code"] == "invalid_analysis_id" and error["request_id"] == "r-43"
    error = await socket.request({"type": 7, "request_id": ""})  # an empty string is a request_id too
    assert error["code"] == "invalid_message" and error["request_id"] == ""


async def test_someone_elses_analysis_and_a_missing_one_get_the_same_not_found(
    open_socket, owner, other_user, make_analysis
):
    theirs = await sync_to_async(make_analysis)(other_user)
    refused = {"type": "error", "code": "not_found", "detail": NOT_FOUND, "request_id": "r"}
    socket = await open_socket(user=owner)
    for kind in ("status", "subscribe", "history"):
        for analysis_id in (theirs.pk, uuid.uuid4()):
            assert await socket.request({"type": kind, "analysis_id": str(analysis_id), "request_id": "r"}) == refused
    for analysis_id in (theirs.pk, uuid.uuid4()):  # by the path: the socket stays open with the error
        by_path = await open_socket(f"/ws/status/{analysis_id}/", user=owner)
        assert await by_path.receive() == {**refused, "request_id": None}
        await assert_still_usable(by_path)
    await assert_still_usable(socket)


async def test_staff_and_readers_of_everything_read_someone_elses_analysis(
    open_socket, staff_user, all_viewer, status_changer, analysis
):
    for reader in (staff_user, all_viewer, status_changer):
        socket = await open_socket(user=reader)
        reply = await socket.request({"type": "status", "analysis_id": str(analysis.pk)})
        assert reply["type"] == "status_response" and reply["analysis"]["owner"] == "alice", reader
        reply = await socket.request({"type": "subscribe", "analysis_id": str(analysis.pk)})
        assert reply["type"] == "subscribe_success", reader


async def test_unauthenticated_requests_are_refused_except_ping_and_authenticate(open_socket, owner, analysis):
    socket = await open_socket()
    for message in (
        {"type": "status", "analysis_id": str(analysis.pk)},
        {"type": "subscribe", "analysis_id": str(analysis.pk)},
        {"type": "subscribe", "feed": "analyses"},
        {"type": "history", "analysis_id": str(analysis.pk)},
        {"type": "unsubscribe", "analysis_id": str(analysis.pk)},
    ):
        error = await socket.request({**message, "request_id": "u"})
        assert error["type"] == "error" and error["code"] == "unauthenticated" and error["request_id"] == "u"
    await assert_still_usable(socket)


async def test_too_many_subscriptions(open_socket, owner, make_analysis, realtime_settings):
    realtime_settings(MAX_SUBSCRIPTIONS=2)
    first, second, third = [await sync_to_async(make_analysis)(owner, f"{n}.mp4") for n in range(3)]
    socket = await open_socket(user=owner)
    for analysis in (first, second):
        assert (await socket.request({"type": "subscribe", "analysis_id": str(analysis.pk)}))[
            "type"
        ] == "subscribe_success"
    error = await socket.request({"type": "subscribe", "analysis_id": str(third.pk), "request_id": "3"})
    assert error["code"] == "too_many_subscriptions" and error["request_id"] == "3"
    # Subscribing again to one already held is not a new subscription.
    again = await socket.request({"type": "subscribe", "analysis_id": str(first.pk)})
    assert again["type"] == "subscribe_success"
    await assert_still_usable(socket)


async def test_rate_limited_past_the_burst(open_socket, owner, realtime_settings):
    realtime_settings(RATE_PER_SECOND=1, RATE_BURST=5)
    socket = await open_socket(user=owner)
    for n in range(8):
        await socket.send_to(text_data=json.dumps({"type": "ping", "request_id": str(n)}))
    replies = [await socket.receive() for _ in range(8)]
    assert [r["type"] for r in replies[:5]] == ["pong"] * 5
    assert all(r["type"] == "error" and r["code"] == "rate_limited" for r in replies[5:])
    assert [r["request_id"] for r in replies] == [str(n) for n in range(8)]


async def test_internal_error_keeps_the_socket(open_socket, owner, analysis, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    socket = await open_socket(user=owner)
    monkeypatch.setattr("realtime.consumers.readable_snapshot", broken)
    error = await socket.request({"type": "status", "analysis_id": str(analysis.pk), "request_id": "i"})
    assert error["code"] == "internal_error" and error["request_id"] == "i" and "fire" not in error["detail"]
    monkeypatch.setattr("realtime.consumers.readable_snapshot", queries.readable_snapshot)
    assert (await socket.request({"type": "status", "analysis_id": str(analysis.pk)}))["type"] == "status_response"


async def test_binary_frame_closes_4400(open_socket, owner):
    socket = await open_socket(user=owner)
    await socket.send_to(bytes_data=b"\x00\x01")
    assert await socket.close_code() == 4400


async def test_message_over_16_kib_closes_4413(open_socket, owner):
    socket = await open_socket(user=owner)
    await socket.send_to(text_data=json.dumps({"type": "ping", "padding": "x" * 17 * 1024}))
    assert await socket.close_code() == 4413


async def test_message_of_exactly_16_kib_is_accepted(open_socket, owner):
    socket = await open_socket(user=owner)
    base = json.dumps({"type": "ping", "padding": ""})
    await socket.send_to(text_data=json.dumps({"type": "ping", "padding": "x" * (16384 - len(base))}))
    assert (await socket.receive())["type"] == "pong"


async def test_flooding_closes_4429(open_socket, owner):
    socket = await open_socket(user=owner)
    for n in range(101):
        await socket.send_to(text_data=json.dumps({"type": "ping", "request_id": str(n)}))
    assert await socket.close_code() == 4429
