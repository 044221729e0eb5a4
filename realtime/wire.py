"""Writing to sockets: every message a socket gets leaves through its ``Outbox``, encoded once.

Under daphne every socket's ASGI ``send`` is ``partial(server.handle_reply, protocol)``, the
autobahn protocol of that connection. A message that many sockets receive is a ``Frame``: the
hub frames it once (autobahn's ``PreparedMessage``) and the outbox of each socket hands the same
bytes to its protocol, instead of encoding and framing the same text again per socket through the
ASGI path. Any other server (or the test communicator) gets the plain ASGI ``send``; both write
in call order on the event loop thread.
"""

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from autobahn.websocket.protocol import PreparedMessage
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from .protocol import CLOSE_PROTOCOL, CLOSE_RESTART, CLOSE_SLOW_CONSUMER, CLOSE_TOO_BIG

try:
    from daphne.ws_protocol import WebSocketProtocol
except ImportError:  # pragma: no cover - daphne is a requirement; other servers take the ASGI path
    WebSocketProtocol = None


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class Frame:
    """One text message of type ``kind``, for one socket or many; framed on first use, then reused.

    An event's frame knows when the event committed (``committed_at``, ``time.time()``), so its
    delivery latency can be measured when it is written.
    """

    __slots__ = ("_prepared", "committed_at", "kind", "text")

    def __init__(self, text: str, kind: str, committed_at: float | None = None) -> None:
        self.text = text
        self.kind = kind
        self.committed_at = committed_at
        self._prepared: PreparedMessage | None = None

    @classmethod
    def of(cls, message: dict[str, Any]) -> "Frame":
        return cls(encode(message), message["type"])

    @property
    def prepared(self) -> PreparedMessage:
        if self._prepared is None:
            self._prepared = PreparedMessage(self.text.encode(), False, False, False)
        return self._prepared


def daphne_protocol(send: Any) -> Any | None:
    """The autobahn protocol behind an ASGI ``send`` from daphne, or ``None`` for anything else."""
    if WebSocketProtocol is not None and isinstance(send, partial) and send.args:
        protocol = send.args[0]
        if isinstance(protocol, WebSocketProtocol):
            return protocol
    return None


#: How long a socket closed as a slow consumer has to read what waits and the close frame.
SLOW_CONSUMER_GRACE_SECONDS = 10.0


@implementer(IPushProducer)
class SendBuffer:
    """How much a daphne socket holds unsent, as far as its transport lets us know.

    Registered as the transport's producer, it is paused once Twisted's write buffer holds more
    than its ``bufferSize`` (the kernel's buffer being full: the client does not read) and resumed
    when that buffer is empty. From a pause on, the outbox adds up what it writes, so ``unsent``
    is what is waiting in this process, to within one frame. It takes the place of the producer
    the transport had (daphne's HTTP channel, which stops reading from a client that does not
    read) and passes every call on to it.
    """

    def __init__(self, transport: Any) -> None:
        self.transport_buffer = transport.bufferSize
        self.unsent = 0
        self.paused = False
        self._before = transport.producer
        if self._before is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)

    def pauseProducing(self) -> None:
        # Twisted asks again at every write while its buffer is full: the count starts at the first.
        if not self.paused:
            self.paused = True
            self.unsent = self.transport_buffer
        if self._before is not None:
            self._before.pauseProducing()

    def resumeProducing(self) -> None:
        self.paused = False
        self.unsent = 0
        if self._before is not None:
            self._before.resumeProducing()

    def stopProducing(self) -> None:
        self.paused = True
        if self._before is not None:
            self._before.stopProducing()


class Outbox:
    """The one way out of a socket: frames in call order, each sent frame told to ``on_sent``.

    Under daphne it bounds what waits unsent for the socket (``max_buffered``): past it the
    socket is closed with 4408 and nothing more is written, so a client that does not read costs
    the server at most that much. Nothing ever waits for the client to read: a long answer (a
    replay) is written a piece at a time and stops at the first piece refused.
    """

    __slots__ = ("_on_sent", "_send", "buffer", "max_buffered", "protocol")

    def __init__(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        on_sent: Callable[[Frame, int], None],
        *,
        max_buffered: int,
    ) -> None:
        self._send = send
        self._on_sent = on_sent
        self.max_buffered = max_buffered
        #: daphne's protocol of the socket, written to directly; ``None`` under any other server.
        self.protocol = daphne_protocol(send)
        self.buffer: SendBuffer | None = None
        if self.protocol is not None:
            self.buffer = SendBuffer(self.protocol.transport)

    @property
    def direct(self) -> bool:
        """True when ``write`` can write without a coroutine."""
        return self.protocol is not None

    @property
    def open(self) -> bool:
        """False once the socket is closing (after a 4408, say): nothing more will be written."""
        return self.protocol is None or self.protocol.state == self.protocol.STATE_OPEN

    def write(self, frame: Frame) -> int:
        """The fan-out's hot path (``direct`` outboxes only): write now; 1 if written, 0 if not.

        It does not tell ``on_sent``: the fan-out counts a whole batch at once.
        """
        protocol, buffer = self.protocol, self.buffer
        if protocol.state != protocol.STATE_OPEN:
            return 0  # a closing socket is skipped, as daphne would
        if buffer.paused:
            buffer.unsent += len(frame.prepared.payloadHybi)
            if buffer.unsent > self.max_buffered:
                # The close frame waits behind the unsent data: a client that reads again gets it
                # within the grace; one that does not is dropped then.
                protocol.closeHandshakeTimeout = SLOW_CONSUMER_GRACE_SECONDS
                protocol.sendCloseFrame(code=CLOSE_SLOW_CONSUMER, reasonUtf8=b"Slow consumer", isReply=False)
                return 0
        protocol.sendPreparedMessage(frame.prepared)
        return 1

    async def send(self, frame: Frame) -> int:
        """Write one frame; 1 if written, 0 if the socket is closing (or was just closed, 4408)."""
        if self.protocol is not None:
            sent = self.write(frame)
        else:
            await self._send({"type": "websocket.send", "text": frame.text})
            sent = 1
        self._on_sent(frame, sent)
        return sent


def refuse_big_messages(send: Any, max_bytes: int) -> None:
    """Under daphne, stop any incoming message over ``max_bytes`` as it arrives: close with 4413.

    daphne lets autobahn read messages of up to 1 MiB and drops the connection, without a close
    code, past that. Here the connection's own limit is ours, and going over it closes with the
    contract's code and stops buffering the rest of the message, however big it is.
    """
    protocol = daphne_protocol(send)
    if protocol is None:
        return

    def refuse(size: int, limit: int, reason: str) -> None:
        protocol.failedByMe = True  # autobahn discards the rest of the message from here on
        protocol.sendCloseFrame(code=CLOSE_TOO_BIG, reasonUtf8=b"Message too big", isReply=False)

    protocol.maxMessagePayloadSize = protocol.maxFramePayloadSize = max_bytes
    protocol._max_message_size_exceeded = refuse


def refuse_protocol_violations(send: Any) -> None:
    """Under daphne, close with 4400 a frame that breaks RFC 6455 (a text frame that is not UTF-8,
    a reserved opcode, an unmasked frame...).

    autobahn, as daphne sets it up, drops the TCP connection on these without a close frame: the
    client would see a silent close. Here it sends the contract's code, with autobahn's reason, and
    reads nothing more: what the client sends next (its answer to the close) ends the connection,
    or the close handshake's timeout does.
    """
    protocol = daphne_protocol(send)
    if protocol is None:
        return

    def refuse(reason: str) -> bool:
        protocol._fail_connection(CLOSE_PROTOCOL, reason)
        # Stop here: read on, and a bad close frame would pass for the answer to ours, and the
        # connection be aborted with our close frame still unsent.
        return True

    protocol.failByDrop = False
    protocol._protocol_violation = protocol._invalid_payload = refuse


def close_for_restart(protocol: Any, reason: bytes) -> None:
    """Tell an open connection to come back later (1012), as daphne itself sends 1011."""
    if protocol.state == protocol.STATE_OPEN:
        protocol.sendCloseFrame(code=CLOSE_RESTART, reasonUtf8=reason, isReply=False)
