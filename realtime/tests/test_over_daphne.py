"""The realtime service over real sockets: daphne processes, the websockets client, the real Redis."""

import asyncio
import json
import signal
import time
import uuid

import pytest

from conftest import access_token_for
from tests.clients import ahttp_json, next_of_type, open_ws, request
from tests.servers import daphne, start_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server]


async def transition(server, token: str, analysis_id: str, body: dict) -> dict:
    status, reply = await ahttp_json("POST", f"{server.http_url}/api/analyses/{analysis_id}/transition/", token, body)
    assert status == 200, reply
    return reply


async def create(server, token: str, filename: str = "clip.mp4") -> str:
    status, reply = await ahttp_json("POST", f"{server.http_url}/api/analyses/", token, {"filename": filename})
    assert status == 201, reply
    return reply["analysis_id"]


async def test_event_over_a_real_socket(owner, status_changer):
    with daphne() as server:
        analysis_id = await create(server, access_token_for(owner))
        socket = await open_ws(server, access_token_for(owner))
        reply = await request(socket, {"type": "subscribe", "analysis_id": analysis_id}, "subscribe_success")
        assert reply["seq"] == 1
        await transition(server, access_token_for(status_changer), analysis_id, {"status": "queued"})
        event = await next_of_type(socket, "status_update")
        assert event["seq"] == 2 and event["status"] == "queued" and event["actor"] == "worker-1"
        await socket.close()


async def test_two_server_processes_share_events_and_stats(owner, status_changer, staff_user):
    # A layer prefix of their own, so no other server of this test run shows up in the stats.
    shared = {"WS_STATS_INTERVAL": "0.3", "CHANNEL_LAYER_PREFIX": f"stats-{uuid.uuid4().hex[:8]}"}
    with daphne(**shared) as first, daphne(**shared) as second:
        analysis_id = await create(first, access_token_for(owner))
        sockets = [await open_ws(server, access_token_for(owner)) for server in (first, second)]
        for socket in sockets:
            await request(socket, {"type": "subscribe", "analysis_id": analysis_id}, "subscribe_success")
        worker = access_token_for(status_changer)
        await transition(second, worker, analysis_id, {"status": "queued"})
        await transition(first, worker, analysis_id, {"status": "processing"})
        await transition(second, worker, analysis_id, {"progress": 30, "stage": "face_detection"})
        for socket in sockets:
            seqs = [
                (await next_of_type(socket, kind))["seq"]
                for kind in ("status_update", "status_update", "stage_transition")
            ]
            assert seqs == [2, 3, 4]

        await asyncio.sleep(1.0)  # both processes report at least once
        status, stats = await ahttp_json("GET", f"{first.http_url}/ws/stats", access_token_for(staff_user))
        assert status == 200, stats
        assert len(stats["processes"]) == 2
        assert stats["connections"]["total"] == 2 and stats["connections"]["authenticated"] == 2
        assert stats["subscriptions"] == {"total": 2, "analyses": 1}
        assert stats["messages"]["sent"] >= 2 * (1 + 1 + 3)
        status, twin = await ahttp_json("GET", f"{second.http_url}/api/realtime/stats/", access_token_for(staff_user))
        assert status == 200 and len(twin["processes"]) == 2
        status, refused = await ahttp_json("GET", f"{first.http_url}/ws/stats", access_token_for(owner))
        assert status == 403 and refused["code"] == "permission_denied"
        for socket in sockets:
            await socket.close()


async def stats_process_ids(server, token: str) -> list[str]:
    status, stats = await ahttp_json("GET", f"{server.http_url}/ws/stats", token)
    assert status == 200, stats
    return sorted(process["id"] for process in stats["processes"])


async def test_stats_list_an_idle_server_from_its_start_and_drop_a_dead_one_within_seconds(staff_user):
    """No socket anywhere: each server reports from its start; a killed one ages out with its report."""
    shared = {"WS_STATS_INTERVAL": "0.3", "WS_STATS_TTL": "2", "CHANNEL_LAYER_PREFIX": f"idle-{uuid.uuid4().hex[:8]}"}
    token = access_token_for(staff_user)
    with daphne(**shared) as first:
        second = start_daphne(**shared)
        try:
            deadline = time.monotonic() + 5
            while len(await stats_process_ids(first, token)) < 2:
                assert time.monotonic() < deadline, "the idle second server never showed up in the stats"
                await asyncio.sleep(0.2)
            _, stats = await ahttp_json("GET", f"{first.http_url}/ws/stats", token)
            assert stats["connections"]["total"] == 0
            assert all(process["connections"] == 0 for process in stats["processes"])
        finally:
            second.stop(signal.SIGKILL)  # no clean exit: its report must expire on its own
        deadline = time.monotonic() + 5
        while len(await stats_process_ids(first, token)) != 1:
            assert time.monotonic() < deadline, "the dead server stayed in the stats"
            await asyncio.sleep(0.2)


async def test_an_idle_socket_stays_open_and_receives_the_next_event(owner, status_changer):
    """Idle for longer than redis-py's default 5 s socket timeout and the 10 s auth window."""
    with daphne() as server:
        analysis_id = await create(server, access_token_for(owner))
        socket = await open_ws(server, access_token_for(owner), f"/ws/status/{analysis_id}/")
        await next_of_type(socket, "subscribe_success")
        await asyncio.sleep(12)
        await transition(server, access_token_for(status_changer), analysis_id, {"status": "queued"})
        event = await next_of_type(socket, "status_update")
        assert event["seq"] == 2
        await socket.close()


async def test_a_burst_of_200_concurrent_connects(owner, status_changer):
    with daphne(WS_MAX_CONNECTIONS_PER_USER="200") as server:  # one user's 200: the cap is tested elsewhere
        analysis_id = await create(server, access_token_for(owner))
        token = access_token_for(owner)
        sockets = await asyncio.gather(*(open_ws(server, token, f"/ws/status/{analysis_id}") for _ in range(200)))
        await asyncio.gather(*(next_of_type(socket, "subscribe_success", 30) for socket in sockets))
        await transition(server, access_token_for(status_changer), analysis_id, {"status": "queued"})
        events = await asyncio.gather(*(next_of_type(socket, "status_update", 30) for socket in sockets))
        assert [event["seq"] for event in events] == [2] * 200
        await asyncio.gather(*(socket.close() for socket in sockets))


async def test_query_token_never_reaches_the_server_log(owner, capfd):
    with daphne() as server:
        token = access_token_for(owner)
        from websockets.asyncio.client import connect

        async with connect(f"{server.ws_url}/ws/status/?token={token}", origin=server.origin) as socket:
            established = json.loads(await socket.recv())
            assert established["authenticated"] is True
    out, err = capfd.readouterr()
    assert token not in out and token not in err


async def test_a_stopping_server_closes_sockets_with_1012(owner):
    """Service restart: the client knows to reconnect with backoff and since_seq."""
    from websockets.exceptions import ConnectionClosed

    with daphne() as server:
        socket = await open_ws(server, access_token_for(owner))
        await asyncio.to_thread(server.stop)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await socket.recv()
        assert socket.close_code == 1012
