"""Client messages of docs/protocol.md §3: parsing, validation and the shapes of replies.

Pure functions: the consumer hands in the raw text and gets back a ``Request`` or a
``ProtocolError`` carrying the error code the contract names.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analyses.contract import HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX
from analyses.payloads import iso_utc
from analyses.state_machine import EventType

ALIASES = {
    "status": "status_request",
    "subscribe": "subscribe_request",
    "unsubscribe": "unsubscribe_request",
    "ping": "ping_request",
    "history": "history_request",
}
REQUEST_TYPES = frozenset(
    {
        "status_request",
        "subscribe_request",
        "unsubscribe_request",
        "ping_request",
        "history_request",
        "authenticate",
    }
)
#: Every type of message the server sends: the replies and notices below, and the events of §2
#: (whose ``type`` is their ``event``).
SERVER_TYPES = frozenset(
    {
        "connection_established",
        "authenticated",
        "status_response",
        "subscribe_success",
        "unsubscribe_success",
        "pong",
        "history_response",
        "analysis_created",
        "status_snapshot",
        "heartbeat",
        "token_expiring",
        "error",
        *(kind.value for kind in EventType),
    }
)
#: Close codes (§3): what went wrong tells the client whether and how to come back.
CLOSE_PROTOCOL = 4400  # a protocol violation, e.g. a binary frame: do not retry
CLOSE_UNAUTHENTICATED = 4401  # no, a refused or an expired token: get a fresh one, then reconnect
CLOSE_SLOW_CONSUMER = 4408  # unread data passed WS_MAX_BUFFERED_BYTES: read faster, resume with since_seq
CLOSE_TOO_BIG = 4413  # a message over the limit: do not resend it
CLOSE_FLOODING = 4429  # flooding or too many sockets: back off
CLOSE_RESTART = 1012  # the server is stopping (RFC 6455 "service restart"): reconnect with backoff and since_seq

#: What an unauthenticated connection may still ask.
OPEN_TYPES = frozenset({"authenticate", "ping_request"})
FEEDS = frozenset({"analyses"})


#: Every code of an ``error`` reply (§3); ``ProtocolError`` refuses any other.
ERROR_CODES = frozenset(
    {
        "invalid_json",
        "invalid_message",
        "unknown_type",
        "invalid_analysis_id",
        "not_found",
        "unauthenticated",
        "rate_limited",
        "too_many_subscriptions",
        "internal_error",
    }
)


class ProtocolError(Exception):
    """A request refused with one of ``ERROR_CODES``; the socket answers it with an ``error`` message."""

    def __init__(self, code: str, detail: str, request_id: str | None = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"{code!r} is not an error code of the protocol")
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.request_id = request_id


@dataclass
class Request:
    type: str
    request_id: str | None = None
    jwt_token: str | None = None
    analysis_id: uuid.UUID | None = None
    feed: str | None = None
    since_seq: int | None = None
    limit: int = HISTORY_LIMIT_DEFAULT
    fields: dict[str, Any] = field(default_factory=dict)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _analysis_id(content: dict[str, Any], request_id: str | None) -> uuid.UUID:
    if "analysis_id" not in content:
        raise ProtocolError("invalid_message", "analysis_id is required.", request_id)
    raw = content["analysis_id"]
    if not isinstance(raw, str):
        raise ProtocolError("invalid_message", "analysis_id must be a string.", request_id)
    return parse_analysis_id(raw, request_id)


def parse_analysis_id(raw: str, request_id: str | None = None) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ProtocolError("invalid_analysis_id", f"{raw[:64]!r} is not a UUID.", request_id) from None


def _since_seq(content: dict[str, Any], request_id: str | None, default: int | None) -> int | None:
    value = content.get("since_seq", default)
    if value is None:
        return default
    if not _is_int(value) or value < 0:
        raise ProtocolError("invalid_message", "since_seq must be a whole number of 0 or more.", request_id)
    return value


def parse_request(text: str) -> Request:
    """Decode one client frame; raise ProtocolError with the contract's code when it is not valid."""
    try:
        content = json.loads(text)
    except ValueError:
        raise ProtocolError("invalid_json", "The message is not valid JSON.") from None
    except RecursionError:  # within 16 KiB, arrays or objects can nest deeper than the decoder goes
        raise ProtocolError("invalid_json", "The message nests too deeply to be read.") from None
    if not isinstance(content, dict):
        raise ProtocolError("invalid_message", "A message must be a JSON object.")
    request_id = content.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError("invalid_message", "request_id must be a string.")
    kind = content.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "A message needs a string type.", request_id)
    kind = ALIASES.get(kind, kind)
    if kind not in REQUEST_TYPES:
        raise ProtocolError("unknown_type", f"Unknown message type {kind[:64]!r}.", request_id)
    token = content.get("jwt_token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError("invalid_message", "jwt_token must be a string.", request_id)
    request = Request(type=kind, request_id=request_id, jwt_token=token)

    if kind == "authenticate" and token is None:
        raise ProtocolError("invalid_message", "authenticate needs a jwt_token.", request_id)
    if kind in ("subscribe_request", "unsubscribe_request") and "feed" in content:
        if not isinstance(content["feed"], str) or content["feed"] not in FEEDS:
            raise ProtocolError("invalid_message", 'feed must be "analyses".', request_id)
        request.feed = content["feed"]
    elif kind in ("status_request", "subscribe_request", "unsubscribe_request", "history_request"):
        request.analysis_id = _analysis_id(content, request_id)
    if kind == "subscribe_request" and request.feed is None:
        request.since_seq = _since_seq(content, request_id, None)
    if kind == "history_request":
        request.since_seq = _since_seq(content, request_id, 0)
        limit = content.get("limit", HISTORY_LIMIT_DEFAULT)
        if not _is_int(limit) or not 1 <= limit <= HISTORY_LIMIT_MAX:
            raise ProtocolError(
                "invalid_message", f"limit must be a whole number from 1 to {HISTORY_LIMIT_MAX}.", request_id
            )
        request.limit = limit
    return request


def rate_limited(request_id: str | None) -> ProtocolError:
    return ProtocolError("rate_limited", "Too many messages; slow down.", request_id)


def server_time() -> str:
    return iso_utc(datetime.now(UTC))


def reply(kind: str, request_id: str | None = None, **fields: Any) -> dict[str, Any]:
    message = {"type": kind, **fields}
    if request_id is not None:
        message["request_id"] = request_id
    return message


def error_reply(code: str, detail: str, request_id: str | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, "request_id": request_id}
