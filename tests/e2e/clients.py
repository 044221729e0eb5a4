"""Real clients for end-to-end tests: a websockets socket and JSON over HTTP, as apps use them."""

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.servers import Server


def http_json(method: str, url: str, token: str | None = None, body: dict | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


async def ahttp_json(method: str, url: str, token: str | None = None, body: dict | None = None) -> tuple[int, Any]:
    return await asyncio.to_thread(http_json, method, url, token, body)


async def open_ws(server: Server, token: str, path: str = "/ws/status/") -> ClientConnection:
    """Connect with the recommended subprotocol authentication; read connection_established."""
    socket = await connect(
        f"{server.ws_url}{path}",
        origin=server.origin,
        subprotocols=[Subprotocol("secureai.jwt.v1"), Subprotocol(token)],
        open_timeout=20,
    )
    established = json.loads(await socket.recv())
    assert established["type"] == "connection_established" and established["authenticated"], established
    return socket


async def next_of_type(socket: ClientConnection, kind: str, timeout: float = 10) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == kind:
                return message


async def request(socket: ClientConnection, message: dict, reply_type: str, timeout: float = 10) -> dict:
    await socket.send(json.dumps(message))
    return await next_of_type(socket, reply_type, timeout)
