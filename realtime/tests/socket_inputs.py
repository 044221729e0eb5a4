"""What a hostile or broken client can send a socket, as Hypothesis strategies, and what the contract
lets the server answer to each (docs/protocol.md §3): the oracle of ``test_socket_fuzzing``.

A frame is text or binary. Text comes as JSON objects shaped like every request type and alias
with each field mutated (wrong types, huge and negative numbers, strings empty, huge, with
control, right-to-left or combining characters, lone surrogates as JSON escapes), as other JSON
values, as text that is not JSON (deep nesting included) and as messages sized around and past
the 16 KiB limit. Real values (the user's analysis, someone else's, tokens) are placeholders
(``Ref``) that the test resolves, since they exist only once the test runs.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from hypothesis import strategies as st

from realtime.protocol import (
    ALIASES,
    CLOSE_PROTOCOL,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    OPEN_TYPES,
    REQUEST_TYPES,
    SERVER_TYPES,
)

#: What each request is answered with when it succeeds; anything else it gets is an ``error``.
SUCCESS_REPLY = {
    "status_request": "status_response",
    "subscribe_request": "subscribe_success",
    "unsubscribe_request": "unsubscribe_success",
    "ping_request": "pong",
    "history_request": "history_response",
    "authenticate": "authenticated",
}
REPLY_TYPES = frozenset({"error", *SUCCESS_REPLY.values()})


class Ref(NamedTuple):
    """A real value the test fills in: ``Ref("analysis", "upper")`` is the user's analysis id in capitals."""

    what: str
    form: str = ""


#: Ways of writing a UUID; ``uuid.UUID`` reads all but the last two.
UUID_FORMS = {
    "plain": str,
    "upper": str.upper,
    "braces": lambda value: "{" + value + "}",
    "urn": lambda value: "urn:uuid:" + value,
    "hex": lambda value: value.replace("-", ""),
    "padded": lambda value: f" {value} ",
    "truncated": lambda value: value[:-1],
}
VALID_UUID_FORMS = ["plain", "upper", "braces", "urn", "hex"]


def tampered(token: str) -> str:
    """The token with its signature reversed: well formed, wrongly signed."""
    header, payload, signature = token.split(".")
    return f"{header}.{payload}.{signature[::-1]}"


@dataclass(frozen=True)
class Reals:
    """The values behind the ``Ref`` placeholders, made by the test."""

    analysis_id: str  # the socket user's own analysis (not the one whose events the test watches)
    foreign_analysis_id: str  # another user's: not_found, like a missing one
    token: str  # a valid access token of the socket's user
    other_token: str  # a valid access token of another user

    def resolve(self, value: Any) -> Any:
        if not isinstance(value, Ref):
            return value
        if value.what in ("analysis", "foreign"):
            raw = self.analysis_id if value.what == "analysis" else self.foreign_analysis_id
            return UUID_FORMS[value.form](raw)
        if value.what == "missing":
            return str(uuid.uuid4())
        return {"own": self.token, "other": self.other_token, "tampered": tampered(self.token)}[value.form]


# --- values ----------------------------------------------------------------------------------
NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\u202e",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd",  # right-to-left mark, Hebrew
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "\ufeff",
    "\u200b",
    "e\u0301\u0301\u0301",
    "\U0001f600",
    "\ud800",  # lone surrogates: not encodable, so they travel as JSON escapes
    "\udfff",
    "\ud83d",
    "\uffff",
    "null",
    "NaN",
    "%s%n",
    "'; DROP TABLE analyses_analysis; --",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "ping",
    "analyses",
]
characters = st.one_of(st.characters(), st.sampled_from([c for c in NASTY_STRINGS if len(c) == 1]))
strings = st.one_of(
    st.text(characters, max_size=40),
    st.sampled_from(NASTY_STRINGS),
    # Huge ones: one character many times (4 bytes each at most, so some pass 16 KiB on their own).
    st.builds(lambda char, count: char * count, characters, st.integers(100, 2000)),
)
numbers = st.one_of(
    st.integers(),
    st.integers(-(2**64), -1),
    st.integers(2**31 - 1, 2**64),
    st.sampled_from([0, 1, 100, 500, 501, -1, 2**63 - 1, 2**63, -(2**63), 10**300, -(10**300)]),
    st.floats(),  # NaN and the infinities too: Python's json writes and reads them
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 1e308, -1e308]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4),
    max_leaves=12,
)

# --- requests ---------------------------------------------------------------------------------
KNOWN_TYPES = sorted(REQUEST_TYPES | ALIASES.keys())
types = st.one_of(
    st.sampled_from(KNOWN_TYPES),
    st.sampled_from(KNOWN_TYPES).map(str.upper),
    st.sampled_from(KNOWN_TYPES).map(lambda kind: f" {kind}"),
    st.sampled_from(sorted(SERVER_TYPES)),
    strings,
    json_values,
)
analysis_ids = st.one_of(
    st.builds(Ref, st.sampled_from(["analysis", "foreign"]), st.sampled_from(sorted(UUID_FORMS))),
    st.just(Ref("missing")),
    st.uuids().map(str),
    strings,
    json_values,
)
tokens = st.one_of(st.sampled_from([Ref("token", form) for form in ("own", "other", "tampered")]), strings, json_values)
#: Each field: values of every kind, right and wrong.
FIELDS = {
    "type": types,
    "request_id": st.one_of(strings, json_values),
    "analysis_id": analysis_ids,
    "feed": st.one_of(st.just("analyses"), strings, json_values),
    "since_seq": st.one_of(st.integers(0, 5), numbers, json_values),
    "limit": st.one_of(st.integers(1, 500), numbers, json_values),
    "jwt_token": tokens,
    "timestamp": st.one_of(st.just("2026-11-26T09:14:03.120000Z"), strings, json_values),
}
#: A valid request of each type, to start from: its fields with right values.
ids = st.builds(Ref, st.sampled_from(["analysis", "foreign", "missing"]), st.sampled_from(VALID_UUID_FORMS))
by_id = st.fixed_dictionaries({"analysis_id": ids})
by_feed = st.fixed_dictionaries({"feed": st.just("analyses")})
VALID_FIELDS = {
    "status_request": by_id,
    "subscribe_request": st.one_of(
        by_feed, st.fixed_dictionaries({"analysis_id": ids}, optional={"since_seq": st.integers(0, 5)})
    ),
    "unsubscribe_request": st.one_of(by_id, by_feed),
    "ping_request": st.just({}),
    "history_request": st.fixed_dictionaries(
        {"analysis_id": ids}, optional={"since_seq": st.integers(0, 5), "limit": st.integers(1, 500)}
    ),
    "authenticate": st.fixed_dictionaries({"jwt_token": st.just(Ref("token", "own"))}),
}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request of any type or alias, then none to three of its fields changed, dropped or
    added with values of any kind, and maybe an unknown field or two."""
    kind = draw(st.sampled_from(KNOWN_TYPES))
    message = {"type": kind, **draw(VALID_FIELDS[ALIASES.get(kind, kind)])}
    if draw(st.booleans()):
        message["request_id"] = draw(strings)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(FIELDS)))
        if name in message and draw(st.integers(0, 3)) == 0:
            del message[name]
        else:
            message[name] = draw(FIELDS[name])
    message.update(draw(st.dictionaries(strings, json_values, max_size=2)))
    return message


# --- frames -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One frame to send. ``message`` is a request to resolve and encode; else ``text`` or ``data``
    as they are. ``data`` goes as a binary frame, or over daphne only as a text frame
    (``data_as="text"``) or written to the connection as it is (``"raw"``, a malformed frame)."""

    kind: str
    message: Any = None
    text: str | None = None
    data: bytes | None = None
    data_as: str = "binary"
    ascii_only: bool = True
    fragments: int = 1


def encode(message: Any, *, ascii_only: bool) -> str:
    """JSON text; lone surrogates cannot be sent raw (a text frame is UTF-8), so they stay escaped."""
    text = json.dumps(message, ensure_ascii=ascii_only)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(message)
    return text


def deeply_nested(depth: int, array: bool) -> str:
    # Past the JSON decoder's depth however deep the caller's stack: Python's own limit is 1,000.
    return "[" * depth + "]" * depth if array else '{"a":' * depth + "null" + "}" * depth


#: Characters of 1 to 4 bytes in UTF-8: the size limit counts bytes, not characters.
PADDING = ["x", "\u00e9", "\u202e", "\U0001f600"]


def padded_to(size: int, char: str) -> str:
    """A ping of about ``size`` bytes of UTF-8 (within one ``char``)."""
    base = len(encode({"type": "ping", "request_id": "padded", "padding": ""}, ascii_only=False).encode())
    count = max(0, (size - base) // len(char.encode()))
    return encode({"type": "ping", "request_id": "padded", "padding": char * count}, ascii_only=False)


def frames(max_bytes: int, *, over_daphne: bool = False) -> st.SearchStrategy[Frame]:
    """Every kind of frame; ``over_daphne`` adds what only a real connection can carry (fragments,
    bytes that are not UTF-8 in a text frame, malformed frames) and messages of megabytes."""
    text_nesting = st.builds(deeply_nested, st.integers(1500, 2700), st.booleans())
    oversize = st.one_of(st.integers(max_bytes - 8, max_bytes + 8), st.integers(max_bytes + 1, 4 * max_bytes))
    if over_daphne:
        oversize = oversize | st.integers(1024 * 1024 - 8, 3 * 1024 * 1024)
    kinds = [
        st.builds(Frame, st.just("json"), message=json_values.filter(lambda value: not isinstance(value, dict))),
        st.builds(Frame, st.just("text"), text=st.text(st.characters(codec="utf-8"), max_size=200)),
        st.builds(Frame, st.just("text"), text=st.sampled_from(AWKWARD_TEXTS)),
        st.builds(Frame, st.just("nested"), text=text_nesting),
        st.builds(
            Frame,
            st.just("nested"),
            text=text_nesting.map(lambda nested: '{"type": "ping", "request_id": "deep", "timestamp": ' + nested + "}"),
        ),
        st.builds(Frame, st.just("binary"), data=st.binary(max_size=64)),
        st.builds(
            Frame,
            st.just("oversize"),
            text=st.builds(padded_to, oversize, st.sampled_from(PADDING)),
            fragments=st.integers(1, 40) if over_daphne else st.just(1),
        ),
    ]
    if over_daphne:
        kinds += [
            st.builds(Frame, st.just("not_utf8"), data=st.sampled_from(NOT_UTF8), data_as=st.just("text")),
            st.builds(Frame, st.just("malformed"), data=st.sampled_from(MALFORMED), data_as=st.just("raw")),
        ]
    # Half are requests: they reach the most code.
    request_frames = st.builds(Frame, st.just("request"), message=requests(), ascii_only=st.booleans())
    other_frames = st.one_of(kinds)
    return st.booleans().flatmap(lambda request: request_frames if request else other_frames)


#: Text that is not JSON, or only just.
AWKWARD_TEXTS = [
    "",
    " ",
    "{",
    "}",
    '{"type": "ping"',
    '{"type": "ping"}}',
    '{"type": "ping"} {"type": "ping"}',
    "{'type': 'ping'}",
    '{type: "ping"}',
    '{"type": "ping",}',
    '\ufeff{"type": "ping"}',
    '{"type": "pi\x00ng"}',  # a raw control character inside a string
    '{"type": "ping", "request_id": "\\ud800"}',  # a lone surrogate escaped: valid JSON
    '{"type": "ping", "since_seq": ' + "9" * 5000 + "}",  # more digits than Python reads
    '{"type": "ping", "limit": 1e999}',
    "undefined",
    "\x00\x01\x02",
    "\u202e{}",
]
#: Bytes that are not UTF-8.
NOT_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b'{"type": "ping", "request_id": "\xff"}', b"\xf4\x90\x80\x80"]
MASK = b"\x00\x00\x00\x00"  # a client's frames are masked (RFC 6455 §5.3); a zero mask leaves the payload as it is
#: Frames that break RFC 6455, as a client would write them on the connection.
MALFORMED = [
    bytes([0x83, 0x80]) + MASK,  # a reserved data opcode
    bytes([0x8B, 0x80]) + MASK,  # a reserved control opcode
    bytes([0xC1, 0x80]) + MASK,  # RSV1 set with no extension agreed
    bytes([0xA1, 0x80]) + MASK,  # RSV2
    bytes([0x81, 0x02]) + b"hi",  # not masked
    bytes([0x80, 0x80]) + MASK,  # a continuation with no message begun
    bytes([0x01, 0x81]) + MASK + b"a" + bytes([0x81, 0x81]) + MASK + b"b",  # a new message inside a fragmented one
    bytes([0x09, 0x80]) + MASK,  # a fragmented ping
    bytes([0x89, 0xFE, 0x00, 0x7E]) + MASK + b"x" * 126,  # a ping over 125 bytes
    bytes([0x81, 0xFE, 0x00, 0x05]) + MASK + b"hello",  # a length not in its shortest form
    bytes([0x88, 0x81]) + MASK + b"\x00",  # a close frame of one byte
    bytes([0x88, 0x82]) + MASK + (999).to_bytes(2, "big"),  # a close code no one may send
]


# --- the oracle -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expectation:
    """What the contract lets the server do with one frame (docs/protocol.md §3)."""

    must_close: int | None = None  # the close code this frame must get, if any
    may_close: int | None = None  # a close code it may get instead of a reply (a refused token)
    request_id: str | None = None  # what an error must echo
    error_code: str | None = None  # the one error code this frame can get, when the contract fixes it
    success: str | None = None  # the reply it gets when it succeeds; None: it can only be an error
    signs_in: bool = False  # it may authenticate an anonymous socket, whatever the reply


def expect(text: str | None, max_bytes: int, *, reals: Reals, authenticated: bool) -> Expectation:
    """The expectation for a text frame (None: a binary frame)."""
    if text is None:
        return Expectation(must_close=CLOSE_PROTOCOL)
    if len(text.encode()) > max_bytes:
        return Expectation(must_close=CLOSE_TOO_BIG)
    try:
        content = json.loads(text)
    except (ValueError, RecursionError):
        return Expectation(error_code="invalid_json")
    if not isinstance(content, dict):
        return Expectation(error_code="invalid_message")
    request_id = content.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        return Expectation(error_code="invalid_message")
    kind = content.get("type")
    if not isinstance(kind, str):
        return Expectation(request_id=request_id, error_code="invalid_message")
    kind = ALIASES.get(kind, kind)
    if kind not in REQUEST_TYPES:
        return Expectation(request_id=request_id, error_code="unknown_type")
    token = content.get("jwt_token")
    valid_tokens = {reals.token} if authenticated else {reals.token, reals.other_token}
    refused = isinstance(token, str) and token not in valid_tokens
    signed_in = authenticated or (isinstance(token, str) and not refused)
    success = SUCCESS_REPLY[kind] if signed_in or kind in OPEN_TYPES else None
    return Expectation(
        may_close=CLOSE_UNAUTHENTICATED if refused else None,
        request_id=request_id,
        success=success,
        signs_in=signed_in,
    )
