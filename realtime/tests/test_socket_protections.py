"""The protections of docs/protocol.md §5 over real sockets to real daphne processes: a client that
does not read, a message too big, a frame that breaks the WebSocket protocol, a foreign origin, too
many sockets, and access revoked while a socket is open."""

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from analyses.services import analysis_create
from conftest import access_token_for
from tests.clients import next_of_type, open_ws, request
from tests.servers import Server, daphne

from .helpers import commit_steps
from .socket_inputs import MALFORMED

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def close_code(ws, timeout: float = 15) -> int:
    """Read (and drop) whatever arrives until the server closes; its close code."""
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    return ws.close_code


async def test_a_client_that_does_not_read_is_closed_4408_and_costs_at_most_the_bound(owner):
    bound = 256 * 1024
    analysis = await database_sync_to_async(analysis_create)(owner=owner, filename="long.mp4")
    await commit_steps(analysis.pk, 400, at_once=True)  # history answers of ~200 KiB each
    limits = {"WS_RATE_PER_SECOND": "1000", "WS_RATE_BURST": "1000", "WS_FLOOD_PER_SECOND": "1000"}
    with daphne(WS_MAX_BUFFERED_BYTES=str(bound), **limits) as server:
        # A client that stops reading once one message waits (max_queue=1), with a modest receive
        # buffer, so what it leaves unread piles up on the server's side.
        raw = socket.create_connection(("127.0.0.1", server.port))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        ws = await connect(
            f"{server.ws_url}/ws/status/",
            sock=raw,
            origin=server.origin,
            subprotocols=[Subprotocol("secureai.jwt.v1"), Subprotocol(access_token_for(owner))],
            max_queue=1,
            max_size=None,
        )
        await asyncio.sleep(0.5)
        before = rss_kib(server.process.pid)
        ask = {"type": "history", "analysis_id": str(analysis.pk), "limit": 500}
        for _ in range(100):  # about 20 MiB of answers if nothing bounded them
            await ws.send(json.dumps(ask))
        await asyncio.sleep(3)
        grown = rss_kib(server.process.pid) - before

        assert grown * 1024 < bound + 4 * 1024 * 1024, f"the server grew by {grown} KiB"
        answers = 0
        with pytest.raises(ConnectionClosed) as closed:
            async for _ in ws:  # reading again: what waited, then the close frame
                answers += 1
        assert closed.value.rcvd.code == 4408
        assert answers < 100  # the answers past the bound were never made


async def test_a_message_of_2_mib_is_closed_4413(owner):
    with daphne() as server:
        ws = await open_ws(server, access_token_for(owner))
        await ws.send(json.dumps({"type": "ping", "padding": "x" * (2 * 1024 * 1024)}))
        assert await close_code(ws) == 4413


async def test_a_foreign_origin_gets_403_at_the_handshake(owner):
    with daphne(WS_ALLOWED_ORIGINS="https://app.example:8443") as server:
        token = access_token_for(owner)
        for origin in ("http://evil.example", "https://app.example", f"https://127.0.0.1:{server.port}"):
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{server.ws_url}/ws/status/", origin=origin, subprotocols=jwt_subprotocols(token))
            assert refused.value.response.status_code == 403, origin
        for origin in (server.origin, "https://app.example:8443", None):  # its own, a listed one, none at all
            ws = await connect(f"{server.ws_url}/ws/status/", origin=origin, subprotocols=jwt_subprotocols(token))
            assert json.loads(await ws.recv())["authenticated"] is True, origin
            await ws.close()


def jwt_subprotocols(token: str) -> list[Subprotocol]:
    return [Subprotocol("secureai.jwt.v1"), Subprotocol(token)]


async def test_a_frame_that_breaks_rfc_6455_is_closed_4400_not_dropped(owner):
    """autobahn alone drops the connection without a close frame; the client is told 4400."""
    with daphne() as server:
        for raw in MALFORMED:
            ws = await open_ws(server, access_token_for(owner))
            ws.transport.write(raw)
            assert await received_close_code(ws) == 4400, raw
        ws = await open_ws(server, access_token_for(owner))
        await ws.send(b"\xc3\x28", text=True)  # a text frame that is not UTF-8
        assert await received_close_code(ws) == 4400


async def received_close_code(ws) -> int | None:
    """The code of the close frame the server sent; None when it dropped the connection without one."""
    await close_code(ws, timeout=5)
    return ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None


async def test_the_51st_socket_of_a_user_over_the_whole_service_is_closed_4429(owner, make_user):
    other = await database_sync_to_async(make_user)("carol")
    shared = {"CHANNEL_LAYER_PREFIX": f"cap-{time.monotonic_ns()}"}
    with daphne(**shared) as first, daphne(**shared) as second:
        token = access_token_for(owner)
        held = [await open_ws(server, token) for server in (first, second) for _ in range(25)]
        extra = await connect(
            f"{second.ws_url}/ws/status/",
            origin=second.origin,
            subprotocols=[Subprotocol("secureai.jwt.v1"), Subprotocol(token)],
        )
        assert await close_code(extra) == 4429
        assert (await request(held[-1], {"type": "ping"}, "pong"))["type"] == "pong"  # the 50 stay
        other_user = await open_ws(first, access_token_for(other))  # another user is not held back
        await request(other_user, {"type": "ping"}, "pong")
        await held[0].close()
        await asyncio.sleep(0.2)
        again = await open_ws(first, token)  # a freed place can be taken
        await request(again, {"type": "ping"}, "pong")
        for ws in (*held[1:], other_user, again):
            await ws.close()


@pytest.fixture
def fast_heartbeat() -> dict[str, str]:
    return {"WS_HEARTBEAT_INTERVAL": "1", "JWT_USER_CACHE_SECONDS": "0"}


async def open_jwt_socket(server: Server, user) -> object:
    ws = await open_ws(server, access_token_for(user))
    await request(ws, {"type": "ping"}, "pong")
    return ws


@pytest.mark.parametrize("change", ["deactivated", "password_changed", "read_all_lost"])
async def test_a_live_socket_is_closed_4401_within_one_heartbeat_when_access_goes(change, make_user, fast_heartbeat):
    user = await database_sync_to_async(make_user)("dora", perms=("view_all_analyses",))
    with daphne(**fast_heartbeat) as server:
        ws = await open_jwt_socket(server, user)
        await next_of_type(ws, "heartbeat", timeout=5)  # beats while nothing changed

        @database_sync_to_async
        def revoke() -> None:
            if change == "deactivated":
                user.is_active = False
            elif change == "password_changed":
                user.set_password("a-brand-new-passphrase")
            else:
                user.user_permissions.remove(Permission.objects.get(codename="view_all_analyses"))
            user.save()

        await revoke()
        started = time.monotonic()
        assert await close_code(ws, timeout=5) == 4401
        assert time.monotonic() - started < 2.5  # within about one heartbeat interval (1 s) and a tick


async def test_a_session_socket_is_closed_4401_within_one_heartbeat_after_sign_out(owner, fast_heartbeat):
    browser = Client()
    await database_sync_to_async(browser.force_login)(owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    with daphne(**fast_heartbeat) as server:
        ws = await connect(f"{server.ws_url}/ws/status/", origin=server.origin, additional_headers={"Cookie": cookie})
        established = json.loads(await ws.recv())
        assert established["authenticated"] and established["user"] == owner.username
        await next_of_type(ws, "heartbeat", timeout=5)

        await database_sync_to_async(browser.logout)()
        started = time.monotonic()
        assert await close_code(ws, timeout=5) == 4401
        assert time.monotonic() - started < 2.5


async def test_a_socket_whose_user_is_unchanged_stays_open(owner, fast_heartbeat):
    with daphne(**fast_heartbeat) as server:
        ws = await open_jwt_socket(server, owner)
        for _ in range(3):
            await next_of_type(ws, "heartbeat", timeout=5)
        await request(ws, {"type": "ping"}, "pong")
        await ws.close()
