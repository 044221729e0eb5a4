"""Fixtures for consumer tests: sockets on the real ASGI stack and the real Redis channel layer."""

import json
from collections.abc import Awaitable, Callable

import pytest
from channels.testing import WebsocketCommunicator

from conftest import access_token_for
from realtime.hub import close_hub
from realtime.routing import websocket_application

#: What a browser on the service's own page at http://127.0.0.1 sends with its handshake.
BROWSER = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


class Socket(WebsocketCommunicator):
    """A test client socket with helpers to read the JSON messages the server sends."""

    async def receive(self, timeout: float = 3) -> dict:
        return json.loads(await self.receive_from(timeout))

    async def receive_type(self, kind: str, timeout: float = 3) -> dict:
        """Skip heartbeats and other chatter until a message of ``kind`` arrives."""
        while True:
            message = await self.receive(timeout)
            if message["type"] == kind:
                return message

    async def request(self, message: dict, timeout: float = 3) -> dict:
        """Send ``message`` and return the next message that is not a heartbeat."""
        await self.send_to(text_data=json.dumps(message))
        while True:
            reply = await self.receive(timeout)
            if reply["type"] != "heartbeat":
                return reply

    async def close_code(self, timeout: float = 3) -> int:
        """Read until the server closes; return its close code."""
        while True:
            output = await self.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)


@pytest.fixture
async def open_socket() -> Callable[..., Awaitable[Socket]]:
    """Open a socket through origin check, session and JWT middleware; all are closed afterwards."""
    sockets: list[Socket] = []

    async def open_(
        path: str = "/ws/status/",
        *,
        user=None,
        token: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        subprotocols: list[str] | None = None,
        expect_established: bool = True,
    ) -> Socket:
        if user is not None:
            token = access_token_for(user)
        if token is not None and subprotocols is None:
            subprotocols = ["secureai.jwt.v1", token]
        socket = Socket(
            websocket_application, path, headers=BROWSER if headers is None else headers, subprotocols=subprotocols
        )
        connected, _ = await socket.connect()
        assert connected
        sockets.append(socket)
        if expect_established:
            established = await socket.receive()
            assert established["type"] == "connection_established", established
        return socket

    yield open_
    for socket in sockets:
        await socket.disconnect()
    await close_hub()


@pytest.fixture
def realtime_settings(settings):
    """Change REALTIME limits for one test: ``realtime_settings(AUTH_TIMEOUT=0.5)``."""

    def change(**values) -> None:
        settings.REALTIME = {**settings.REALTIME, **values}

    return change
