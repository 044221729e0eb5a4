"""The five ways to authenticate a socket, the refused tokens, and token expiry (docs/protocol.md §3)."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from conftest import access_token_for
from realtime.routing import websocket_application

from .conftest import BROWSER

pytestmark = pytest.mark.django_db(transaction=True)


def short_token(user, seconds: float) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def expired_token(user) -> str:
    return short_token(user, -60)


def tampered_token(user) -> str:
    header, payload, signature = access_token_for(user).split(".")
    return f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"


def refresh_token(user) -> str:
    """A valid refresh token of ``user``, made without the database write ``for_user`` does."""
    token = RefreshToken()
    token["user_id"] = str(user.pk)
    return str(token)


@sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def assert_authenticated_as(socket, username: str) -> None:
    reply = await socket.request({"type": "ping"})
    assert reply["type"] == "pong"
    reply = await socket.request({"type": "subscribe", "feed": "analyses"})
    assert reply["type"] == "subscribe_success", f"not authenticated as {username}: {reply}"


async def test_session_cookie(open_socket, owner):
    cookie = await session_cookie(owner)
    socket = await open_socket(headers=[*BROWSER, (b"cookie", cookie)], expect_established=False)
    established = await socket.receive()
    assert established["authenticated"] is True and established["user"] == "alice"
    await assert_authenticated_as(socket, "alice")


async def test_subprotocol_header_selects_the_protocol_and_never_echoes_the_token(owner, open_socket):
    from channels.testing import WebsocketCommunicator

    from realtime.routing import websocket_application

    token = access_token_for(owner)
    socket = WebsocketCommunicator(
        websocket_application,
        "/ws/status/",
        headers=BROWSER,
        subprotocols=["secureai.jwt.v1", token],
    )
    connected, subprotocol = await socket.connect()
    assert connected and subprotocol == "secureai.jwt.v1"
    established = json.loads(await socket.receive_from())
    assert established["authenticated"] is True and established["user"] == "alice"
    assert token not in json.dumps(established)
    await socket.disconnect()


async def test_query_string_token(open_socket, owner):
    socket = await open_socket(f"/ws/status/?token={access_token_for(owner)}", expect_established=False)
    established = await socket.receive()
    assert established["authenticated"] is True and established["user"] == "alice"


async def test_authenticate_message(open_socket, owner):
    socket = await open_socket(expect_established=False)
    established = await socket.receive()
    assert established["authenticated"] is False and established["user"] is None
    reply = await socket.request({"type": "authenticate", "jwt_token": access_token_for(owner), "request_id": "a"})
    assert reply["type"] == "authenticated" and reply["user"] == "alice" and reply["request_id"] == "a"
    assert reply["expires_at"].endswith("Z")
    await assert_authenticated_as(socket, "alice")


async def test_jwt_token_field_on_any_request(open_socket, owner, make_analysis):
    analysis = await sync_to_async(make_analysis)(owner)
    socket = await open_socket()
    reply = await socket.request(
        {"type": "status", "analysis_id": str(analysis.pk), "jwt_token": access_token_for(owner)}
    )
    assert reply["type"] == "status_response" and reply["analysis"]["owner"] == "alice"


async def test_path_subscription_waits_for_authentication(open_socket, owner, make_analysis):
    analysis = await sync_to_async(make_analysis)(owner)
    socket = await open_socket(f"/ws/status/{analysis.pk}/")
    await socket.send_to(text_data=json.dumps({"type": "authenticate", "jwt_token": access_token_for(owner)}))
    messages = [await socket.receive(), await socket.receive()]
    assert {m["type"] for m in messages} == {"authenticated", "subscribe_success"}


@pytest.mark.parametrize(
    "make_token", [expired_token, tampered_token, refresh_token], ids=["expired", "tampered", "refresh"]
)
@pytest.mark.parametrize("where", ["subprotocol", "query", "authenticate", "field"])
async def test_refused_tokens_close_4401(open_socket, owner, make_token, where):
    token = make_token(owner)
    if where == "subprotocol":
        socket = await open_socket(token=token, expect_established=False)
    elif where == "query":
        socket = await open_socket(f"/ws/status/?token={token}", expect_established=False)
    else:
        socket = await open_socket()
        message = (
            {"type": "authenticate", "jwt_token": token}
            if where == "authenticate"
            else {"type": "ping", "jwt_token": token}
        )
        await socket.send_to(text_data=json.dumps(message))
    assert await socket.close_code() == 4401


@pytest.mark.parametrize("kind", ["authenticate", "ping"])
async def test_a_token_with_a_lone_surrogate_is_refused_4401(open_socket, owner, kind):
    socket = await open_socket()
    # Sent as the JSON escape \ud800: a character that UTF-8, and so the JWT decoder, cannot encode.
    await socket.send_to(text_data=json.dumps({"type": kind, "jwt_token": access_token_for(owner) + "\ud800"}))
    assert await socket.close_code() == 4401


async def test_inactive_users_token_is_refused(open_socket, make_user):
    sleeper = await sync_to_async(make_user)("sleeper", active=False)
    socket = await open_socket(user=sleeper, expect_established=False)
    assert await socket.close_code() == 4401


async def test_token_of_another_user_on_a_live_connection_closes_4401(open_socket, owner, other_user):
    socket = await open_socket(user=owner)
    await socket.send_to(text_data=json.dumps({"type": "ping", "jwt_token": access_token_for(other_user)}))
    assert await socket.close_code() == 4401


async def test_no_credentials_closes_after_the_authentication_window(open_socket, realtime_settings):
    realtime_settings(AUTH_TIMEOUT=0.5, HEARTBEAT_INTERVAL=0.4)
    socket = await open_socket()
    assert await socket.close_code(timeout=5) == 4401


async def test_authenticating_in_time_keeps_the_socket(open_socket, owner, realtime_settings):
    realtime_settings(AUTH_TIMEOUT=0.5, HEARTBEAT_INTERVAL=0.4)
    socket = await open_socket()
    await socket.request({"type": "authenticate", "jwt_token": access_token_for(owner)})
    await asyncio.sleep(1.0)
    assert (await socket.request({"type": "subscribe", "feed": "analyses"}))["type"] == "subscribe_success"


async def test_token_expiring_then_4401(open_socket, owner, realtime_settings):
    realtime_settings(HEARTBEAT_INTERVAL=0.4)
    socket = await open_socket(token=short_token(owner, 2))
    warning = await socket.receive_type("token_expiring", timeout=3)
    assert warning["expires_at"].endswith("Z")
    assert await socket.close_code(timeout=5) == 4401


async def test_refreshing_in_band_keeps_the_socket_open(open_socket, owner, realtime_settings):
    realtime_settings(HEARTBEAT_INTERVAL=0.4)
    socket = await open_socket(token=short_token(owner, 2))
    await socket.receive_type("token_expiring", timeout=3)
    fresh = access_token_for(owner)
    await socket.send_to(text_data=json.dumps({"type": "authenticate", "jwt_token": fresh}))
    reply = await socket.receive_type("authenticated")
    assert reply["user"] == "alice"
    await asyncio.sleep(2.5)
    assert (await socket.request({"type": "subscribe", "feed": "analyses"}))["type"] == "subscribe_success"


async def test_token_expiring_comes_at_least_30_seconds_early_by_default():
    assert settings.REALTIME["TOKEN_EXPIRY_WARNING"] >= 30


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example", "127.0.0.1"),
        ("http://localhost:9999", "localhost:8000"),  # the same host name, another port
        ("https://127.0.0.1", "127.0.0.1"),  # the same host, another scheme
        ("http://127.0.0.1:8000", "127.0.0.1"),
        ("http://evil.example", "evil.example"),  # a host outside ALLOWED_HOSTS (DNS rebinding)
        ("null", "127.0.0.1"),
        ("not a url", "127.0.0.1"),
    ],
)
async def test_a_foreign_origin_is_refused_at_the_handshake(origin, host):
    socket = WebsocketCommunicator(
        websocket_application, "/ws/status/", headers=[(b"origin", origin.encode()), (b"host", host.encode())]
    )
    connected, _ = await socket.connect()
    assert not connected  # refused before accept: daphne answers it with 403 (test_socket_protections)
    await socket.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1", "127.0.0.1"),
        ("http://127.0.0.1:80", "127.0.0.1"),  # the default port, written or not
        ("http://localhost:8000", "localhost:8000"),
        ("HTTP://LOCALHOST:8000", "localhost:8000"),
    ],
)
async def test_the_services_own_origin_passes(origin, host, owner):
    socket = WebsocketCommunicator(
        websocket_application,
        "/ws/status/",
        headers=[(b"origin", origin.encode()), (b"host", host.encode())],
        subprotocols=["secureai.jwt.v1", access_token_for(owner)],
    )
    connected, _ = await socket.connect()
    assert connected
    await socket.disconnect()


async def test_a_listed_origin_of_another_site_passes(owner, realtime_settings):
    realtime_settings(ALLOWED_ORIGINS=["https://app.example:8443"])

    def handshake(origin: bytes) -> WebsocketCommunicator:
        return WebsocketCommunicator(
            websocket_application, "/ws/status/", headers=[(b"origin", origin), (b"host", b"127.0.0.1")]
        )

    listed = handshake(b"https://app.example:8443")
    assert (await listed.connect())[0]
    await listed.disconnect()
    other_port = handshake(b"https://app.example")
    assert not (await other_port.connect())[0]
    await other_port.disconnect()


async def test_missing_origin_is_let_through_to_authenticate(open_socket, owner):
    socket = await open_socket(user=owner, headers=[])
    assert (await socket.request({"type": "ping"}))["type"] == "pong"


async def test_a_session_of_an_inactive_user_is_not_authenticated(open_socket, make_user):
    user = await sync_to_async(make_user)("leaver")
    cookie = await session_cookie(user)
    user.is_active = False
    await sync_to_async(user.save)()
    socket = await open_socket(headers=[*BROWSER, (b"cookie", cookie)], expect_established=False)
    assert (await socket.receive())["authenticated"] is False


async def test_an_unknown_session_cookie_is_not_authenticated(open_socket):
    socket = await open_socket(
        headers=[*BROWSER, (b"cookie", f"{settings.SESSION_COOKIE_NAME}=forged".encode())],
        expect_established=False,
    )
    assert (await socket.receive())["authenticated"] is False


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement the process runs, from any thread (socket queries run on their own)."""
    from django.db.backends.utils import CursorWrapper

    ran: list[str] = []
    execute = CursorWrapper._execute

    def counting(self, sql, *args, **kwargs):
        ran.append(sql)
        return execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "_execute", counting)
    return ran


async def test_a_connect_and_subscribe_costs_one_query_once_the_user_is_known(
    open_socket, owner, make_analysis, statements
):
    """JWT checked without the database, the user from the process's cache, and one light query
    that checks access and reads the current seq."""
    analysis = await sync_to_async(make_analysis)(owner)
    await open_socket(user=owner)  # the first socket of this user reads the user once
    statements.clear()

    socket = await open_socket(f"/ws/status/{analysis.pk}/", user=owner)
    assert (await socket.receive_type("subscribe_success"))["seq"] == 1

    assert len(statements) == 1 and '"seq"' in statements[0], statements
