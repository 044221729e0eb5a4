"""Fuzzing the WebSocket with Hypothesis: whatever a client sends, the socket answers as docs/protocol.md
§3 says and stays usable.

Frames come from ``socket_inputs``: requests of every type and alias with mutated fields, other JSON,
text that is not JSON, deep nesting, binary frames, messages around and past the size limit. For
each one:

- the server never crashes: nothing is logged as an error (in-process) and no traceback reaches
  the server's output (daphne);
- it is never closed silently: the frame gets exactly one reply, an ``error`` with a code of
  ``ERROR_CODES`` (the right one where the contract fixes it) and its string ``request_id``
  echoed, or the request's own reply when it was valid; or the socket is closed with the code the
  contract gives (4400 a binary frame, 4413 too big, 4401 a refused token), and only then;
- a socket that stays open still answers ``ping`` with ``pong`` and still gets, in seq order with
  no gap, the events of the analysis it subscribed to: one is committed after every frame. A
  closed one is replaced by a new socket that resumes with ``since_seq``, so the hub is shown
  still working after every close too.

The rate limits are raised so that they do not answer in the fuzzed frames' place (they have
tests of their own in test_consumer_messages). In-process runs go through the real ASGI stack
(origin check, authentication, consumer) and the real Redis, with a signed-in socket and an
anonymous one; the smaller run over daphne takes the oversize and binary paths through autobahn,
with fragments and messages of megabytes, and adds text frames that are not UTF-8 and frames that
break RFC 6455 (4400). Each run prints its number of cases, its time and what the frames got.
"""

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from conftest import access_token_for
from realtime.protocol import CLOSE_PROTOCOL, ERROR_CODES
from tests.clients import open_ws
from tests.servers import daphne

from .conftest import Socket
from .helpers import commit
from .socket_inputs import REPLY_TYPES, Expectation, Frame, Reals, encode, expect, frames

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fuzz]

MAX_BYTES = settings.REALTIME["MAX_MESSAGE_BYTES"]
#: Generated frames per run: 20 to 40 seconds together on two busy cores.
SIGNED_IN_CASES = 1000
ANONYMOUS_CASES = 500
DAPHNE_CASES = 300
UNLIMITED = {"RATE_PER_SECOND": 1e9, "RATE_BURST": 10**9, "FLOOD_PER_SECOND": 10**9, "AUTH_TIMEOUT": 3600.0}

#: No shrinking: a socket's replies take milliseconds, a shrink of a stream of them minutes; the failing
#: frame is in the report as it was sent.
fuzzing = hypothesis_settings(
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Closed:
    code: int | None  # None: the connection ended without a close frame


class InProcess:
    """A socket of the ``open_socket`` fixture, read frame by frame."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket

    async def send(self, frame: Frame, text: str | None) -> None:
        content = {"text": text} if text is not None else {"bytes": frame.data}
        await self.socket.send_input({"type": "websocket.receive", **content})

    async def next(self, timeout: float) -> dict | Closed:
        output = await self.socket.receive_output(timeout)
        if output["type"] == "websocket.close":
            return Closed(output.get("code", 1000))
        return json.loads(output["text"])

    async def close(self) -> None:
        await self.socket.disconnect()


class OverDaphne:
    """A websockets client connection to a daphne process."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: Frame, text: str | None) -> None:
        try:
            if frame.data_as == "raw":
                self.ws.transport.write(frame.data)
            elif frame.data is not None:
                await self.ws.send(frame.data, text=frame.data_as == "text")
            elif frame.fragments > 1:
                step = len(text) // frame.fragments + 1
                await self.ws.send(text[start : start + step] for start in range(0, len(text), step))
            else:
                await self.ws.send(text)
        except ConnectionClosed:
            pass  # closed while the rest was still going out: ``next`` reports how

    async def next(self, timeout: float) -> dict | Closed:
        try:
            async with asyncio.timeout(timeout):
                return json.loads(await self.ws.recv())
        except ConnectionClosed as closed:
            return Closed(closed.rcvd.code if closed.rcvd else None)

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class FuzzedSocket:
    """The socket under fuzzing, replaced after each close the contract allows.

    ``watched`` is an analysis it stays subscribed to (signed-in sockets): every event of it must
    arrive once, in order, across frames and replacements alike.
    """

    connect: Callable[[], Awaitable[Any]]
    reals: Reals
    _: KW_ONLY
    authenticated: bool
    errors_logged: Callable[[], str]
    watched: str | None = None
    seq: int = 0
    client: Any = None
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)

    async def check(self, frame: Frame) -> None:
        """Send ``frame`` and hold the answer to the contract; raise AssertionError where it breaks it."""
        self.cases += 1
        try:
            await self._check(frame)
        except BaseException as failure:
            self.client = None  # a broken socket is not used again
            sent = self._text(frame) if frame.data is None else frame.data
            failure.add_note(f"frame {self.cases} ({frame.kind}, {frame.fragments} fragments): {sent!r:.600}")
            raise

    async def _check(self, frame: Frame) -> None:
        await self._open()
        await self._answer(frame)
        logged = self.errors_logged()
        assert not logged, f"the server logged an error:\n{logged}"

    async def _answer(self, frame: Frame) -> None:
        text = self._text(frame)
        expected = self._expect(frame, text)
        await self.client.send(frame, text)
        answer = await self._reply()
        if isinstance(answer, Closed):
            self.outcomes[f"{frame.kind}: close {answer.code}"] += 1
            allowed = {expected.must_close, expected.may_close} - {None}
            assert answer.code in allowed, f"closed with {answer.code}, allowed {allowed or 'none'}"
            await self._drop()
            return
        self.outcomes[f"{frame.kind}: {answer['type']} {answer.get('code', '')}".rstrip()] += 1
        assert expected.must_close is None, f"got {answer} where the socket must close with {expected.must_close}"
        assert_reply(answer, expected)
        if not self.authenticated and expected.signs_in:
            await self._drop()  # it authenticated: the next frame gets an anonymous socket again
            return
        await self._assert_still_usable()

    def _text(self, frame: Frame) -> str | None:
        if frame.kind == "request":
            message = {name: self.reals.resolve(value) for name, value in frame.message.items()}
            return encode(message, ascii_only=frame.ascii_only)
        if frame.kind == "json":
            return encode(frame.message, ascii_only=True)
        return frame.text

    def _expect(self, frame: Frame, text: str | None) -> Expectation:
        if frame.data_as != "binary":  # bytes that are no UTF-8 text, or no frame: a protocol violation
            return Expectation(must_close=CLOSE_PROTOCOL)
        return expect(text, MAX_BYTES, reals=self.reals, authenticated=self.authenticated)

    async def _open(self) -> None:
        if self.client is not None:
            return
        self.client = await self.connect()
        if self.watched is not None:
            await self.client.send(Frame("text"), json.dumps(self._watch()))
            reply = await self._reply()
            assert isinstance(reply, dict) and reply["type"] == "subscribe_success", reply

    def _watch(self) -> dict[str, Any]:
        return {"type": "subscribe", "analysis_id": self.watched, "since_seq": self.seq, "request_id": "watch"}

    async def _drop(self) -> None:
        """Close the socket; the next frame gets a new one."""
        await self.client.close()
        self.client = None

    async def _reply(self, timeout: float = 10) -> dict | Closed:
        """The next reply or close; events of the watched analysis on the way are checked."""
        while True:
            answer = await self.client.next(timeout)
            if isinstance(answer, Closed) or answer["type"] in REPLY_TYPES:
                return answer
            self._note(answer)

    def _note(self, message: dict) -> None:
        if message.get("analysis_id") == self.watched and "seq" in message and "event" in message:
            assert message["seq"] == self.seq + 1, f"event {message['seq']} after {self.seq}: a gap or a duplicate"
            self.seq = message["seq"]

    async def _assert_still_usable(self) -> None:
        if self.watched is not None:
            seq = await commit(self.watched, message=f"after frame {self.cases}")
            while self.seq < seq:
                try:
                    answer = await self.client.next(5)
                except TimeoutError:
                    raise AssertionError(f"event {seq} of the subscribed analysis never came") from None
                assert isinstance(answer, dict) and answer["type"] not in REPLY_TYPES, f"unexpected {answer}"
                self._note(answer)
        request_id = f"alive-{self.cases}"
        await self.client.send(Frame("text"), json.dumps({"type": "ping", "request_id": request_id}))
        pong = await self._reply()
        assert isinstance(pong, dict) and pong["type"] == "pong" and pong["request_id"] == request_id, pong

    def report(self, name: str, seconds: float) -> str:
        lines = [f"\n{name}: {self.cases} cases in {seconds:.1f} s"]
        lines += [f"  {count:>5}  {outcome}" for outcome, count in sorted(self.outcomes.items())]
        return "\n".join(lines)


def assert_reply(reply: dict, expected: Expectation) -> None:
    if reply["type"] == "error":
        assert reply["code"] in ERROR_CODES, reply
        assert reply["code"] != "internal_error", "the server failed to handle it"
        assert isinstance(reply["detail"], str) and reply["detail"], reply
        assert reply["request_id"] == expected.request_id, f"request_id {reply['request_id']!r}, sent {expected}"
        if expected.error_code is not None:
            assert reply["code"] == expected.error_code, reply
        return
    assert reply["type"] == expected.success, f"{reply['type']} where only {expected.success or 'an error'} may come"
    assert reply.get("request_id") == expected.request_id, f"request_id {reply.get('request_id')!r}, sent {expected}"


def errors_in(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """What this process logged as an error (or with a traceback) since the last call."""
    caplog.set_level(logging.WARNING)

    def logged() -> str:
        failures = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
        text = caplog.text if failures else ""
        caplog.clear()
        return text

    return logged


def tracebacks_in(capfd: pytest.CaptureFixture) -> Callable[[], str]:
    """What a server process wrote with a traceback since the last call."""

    def logged() -> str:
        _, err = capfd.readouterr()
        return err if "Traceback" in err else ""

    return logged


@pytest.fixture
def report(capfd):
    """Print each fuzzed socket's case count, time and outcomes once the test ends."""
    sockets: list[tuple[str, FuzzedSocket]] = []
    started = time.monotonic()
    yield lambda name, fuzzed: sockets.append((name, fuzzed))
    with capfd.disabled():
        for name, fuzzed in sockets:
            print(fuzzed.report(name, time.monotonic() - started))


@pytest.fixture
async def reals(owner, other_user, make_analysis) -> Reals:
    mine = await sync_to_async(make_analysis)(owner, "decoy.mp4")
    theirs = await sync_to_async(make_analysis)(other_user, "theirs.mp4")
    return Reals(
        analysis_id=str(mine.pk),
        foreign_analysis_id=str(theirs.pk),
        token=access_token_for(owner),
        other_token=access_token_for(other_user),
    )


@pytest.fixture
async def watched(owner, make_analysis) -> tuple[str, int]:
    """An analysis of the socket's user, processing, so that every frame can be followed by an event;
    its id and seq."""
    analysis = await sync_to_async(make_analysis)(owner, "watched.mp4")
    await commit(analysis.pk, status="queued")
    return str(analysis.pk), await commit(analysis.pk, status="processing")


@pytest.fixture
async def signed_in(open_socket, realtime_settings, reals, watched, report, caplog) -> FuzzedSocket:
    realtime_settings(**UNLIMITED)
    analysis_id, seq = watched
    fuzzed = FuzzedSocket(
        lambda: open_in_process(open_socket, token=reals.token),
        reals,
        authenticated=True,
        errors_logged=errors_in(caplog),
        watched=analysis_id,
        seq=seq,
    )
    report("signed-in socket, in-process", fuzzed)
    return fuzzed


@pytest.fixture
async def anonymous(open_socket, realtime_settings, reals, report, caplog) -> FuzzedSocket:
    realtime_settings(**UNLIMITED)
    fuzzed = FuzzedSocket(
        lambda: open_in_process(open_socket), reals, authenticated=False, errors_logged=errors_in(caplog)
    )
    report("anonymous socket, in-process", fuzzed)
    return fuzzed


async def open_in_process(open_socket, token: str | None = None) -> InProcess:
    return InProcess(await open_socket(token=token))


@given(frame=frames(MAX_BYTES))
@hypothesis_settings(fuzzing, max_examples=SIGNED_IN_CASES)
async def test_a_signed_in_socket_answers_every_frame_and_stays_usable(signed_in, frame):
    await signed_in.check(frame)


@given(frame=frames(MAX_BYTES))
@hypothesis_settings(fuzzing, max_examples=ANONYMOUS_CASES)
async def test_an_anonymous_socket_answers_every_frame_and_stays_usable(anonymous, frame):
    await anonymous.check(frame)


@pytest.fixture
def server():
    limits = {"WS_RATE_PER_SECOND": "1000000000", "WS_RATE_BURST": "1000000000", "WS_FLOOD_PER_SECOND": "1000000000"}
    with daphne(**limits) as server:
        yield server


@pytest.fixture
async def over_daphne(server, reals, watched, report, capfd) -> FuzzedSocket:
    analysis_id, seq = watched

    async def connect() -> OverDaphne:
        return OverDaphne(await open_ws(server, reals.token))

    fuzzed = FuzzedSocket(
        connect, reals, authenticated=True, errors_logged=tracebacks_in(capfd), watched=analysis_id, seq=seq
    )
    report("signed-in socket, over daphne", fuzzed)
    yield fuzzed
    if fuzzed.client is not None:
        await fuzzed.client.close()


@pytest.mark.server
@given(frame=frames(MAX_BYTES, over_daphne=True))
@hypothesis_settings(fuzzing, max_examples=DAPHNE_CASES)
async def test_over_daphne_every_frame_is_answered_and_the_socket_stays_usable(over_daphne, frame):
    await over_daphne.check(frame)
