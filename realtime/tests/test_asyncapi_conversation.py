"""Over a real socket, the server accepts every client example of the AsyncAPI document, answers each
with a reply the document promises, and sends every server message type valid under its payload schema.

One conversation on the real ASGI stack and Redis layer: the document's client examples go out with a
real analysis id and token; commits, a broadcast and a new analysis make the server send the rest.
"""

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import sync_to_async

from analyses.services import analysis_request_broadcast
from conftest import access_token_for
from realtime.protocol import SERVER_TYPES

from .asyncapi_document import live_every_kind_of_event, messages_by_action, payload_errors, reply_names

pytestmark = pytest.mark.django_db(transaction=True)


class Conversation:
    """Reads a socket, checking each message against the document and noting its type."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.seen: set[str] = set()
        self.replayed = 0

    async def read_until(self, wanted: Callable[[dict], bool], timeout: float = 5) -> dict:
        while True:
            message = await self.socket.receive(timeout)
            assert message.get("type") in SERVER_TYPES, message
            assert payload_errors(message["type"], message) == [], message
            self.seen.add(message["type"])
            self.replayed += message.get("replay") is True
            if wanted(message):
                return message

    async def ask(self, message: dict) -> dict:
        await self.socket.send_to(text_data=json.dumps(message))
        return await self.read_until(lambda reply: reply.get("request_id") == message["request_id"])


def client_examples(analysis_id: str, token: str) -> Iterator[tuple[str, dict]]:
    """Every client example of the document, with this test's analysis and token and a request_id of its own."""
    for name, message in messages_by_action("send").items():
        for example in message["examples"]:
            payload = {**example["payload"], "request_id": f"{name}/{example['name']}"}
            if "analysis_id" in payload:
                payload["analysis_id"] = analysis_id
            if "jwt_token" in payload:
                payload["jwt_token"] = token
            yield name, payload


async def test_the_server_speaks_as_the_document_says(open_socket, owner, make_analysis, realtime_settings):
    # Heartbeats and the expiry notice come at once, so they are part of the conversation too.
    realtime_settings(HEARTBEAT_INTERVAL=0.3, TOKEN_EXPIRY_WARNING=10**6)
    first = await sync_to_async(make_analysis)(owner)
    await sync_to_async(live_every_kind_of_event)(first.pk)
    socket = await open_socket(f"/ws/status/{first.pk}/", user=owner, expect_established=False)
    talk = Conversation(socket)
    await talk.read_until(lambda message: message["type"] == "subscribe_success")
    assert "connection_established" in talk.seen

    for name, example in client_examples(str(first.pk), access_token_for(owner)):
        reply = await talk.ask(example)
        assert reply["type"] in reply_names(name) - {"error"}, (example, reply)
    assert talk.replayed == 4  # the example resumes after seq 5 of 9

    unknown = await talk.ask({"type": "status_request", "analysis_id": str(uuid.uuid4()), "request_id": "x"})
    assert unknown["type"] == "error" and unknown["code"] == "not_found"

    await talk.ask({"type": "subscribe_request", "feed": "analyses", "request_id": "feed"})
    second = await sync_to_async(make_analysis)(owner, "press-conference.mov")
    await talk.read_until(lambda message: message["type"] == "analysis_created")
    await talk.ask({"type": "subscribe_request", "analysis_id": str(second.pk), "request_id": "second"})
    await sync_to_async(live_every_kind_of_event)(second.pk)
    await talk.read_until(lambda message: message.get("seq") == 9 and message.get("analysis_id") == str(second.pk))
    await sync_to_async(analysis_request_broadcast)(analysis=second)
    await talk.read_until(lambda message: message["type"] == "status_snapshot")
    await talk.read_until(lambda message: talk.seen >= {"heartbeat", "token_expiring"})

    assert talk.seen == SERVER_TYPES
