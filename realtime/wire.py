"""Writing to sockets: every message a socket gets leaves through its ``Outbox``, encoded once.

Under daphne every socket's ASGI ``send`` is ``partial(server.handle_reply, protocol)``, the
autobahn protocol of that connection. A message that many sockets receive is a ``Frame``: the
hub frames it once (autobahn's ``PreparedMessage``) and the outbox of each socket hands the same
bytes to its protocol, instead of encoding and framing the same text again per socket through the
ASGI path. Any other server (or the test communicator) gets the plain ASGI ``send``; both write
in call order on the event loop thread.
"""

import json
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from autobahn.websocket.protocol import PreparedMessage

try:
    from daphne.ws_protocol import WebSocketProtocol
except ImportError:  # pragma: no cover - daphne is a requirement; other servers take the ASGI path
    WebSocketProtocol = None


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class Frame:
    """One text message of type ``kind``, for one socket or many; framed on first use, then reused."""

    __slots__ = ("_prepared", "kind", "text")

    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind
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


class Outbox:
    """The one way out of a socket: frames in call order, each sent type told to ``on_sent``."""

    __slots__ = ("_on_sent", "_send", "protocol")

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]], on_sent: Callable[[str, int], None]) -> None:
        self._send = send
        self._on_sent = on_sent
        #: daphne's protocol of the socket, written to directly; ``None`` under any other server.
        self.protocol = daphne_protocol(send)

    @property
    def direct(self) -> bool:
        """True when ``write`` can write without a coroutine."""
        return self.protocol is not None

    def write(self, frame: Frame) -> int:
        """The fan-out's hot path (``direct`` outboxes only): write now; 1 if written, 0 if closing.

        It does not tell ``on_sent``: the fan-out counts a whole batch at once.
        """
        if self.protocol.state != self.protocol.STATE_OPEN:
            return 0  # a closing socket is skipped, as daphne would
        self.protocol.sendPreparedMessage(frame.prepared)
        return 1

    async def send(self, frame: Frame) -> None:
        if self.protocol is not None:
            sent = self.write(frame)
        else:
            await self._send({"type": "websocket.send", "text": frame.text})
            sent = 1
        self._on_sent(frame.kind, sent)


#: "Service restart" (RFC 6455 registry): clients reconnect with backoff and ``since_seq``.
CLOSE_RESTART = 1012


def close_for_restart(protocol: Any) -> None:
    """Tell an open connection that the server is restarting, as daphne itself sends 1011."""
    if protocol.state == protocol.STATE_OPEN:
        protocol.sendCloseFrame(code=CLOSE_RESTART, reasonUtf8=b"Server restarting", isReply=False)


#: How long shutdown waits for the close frames to leave before connections are dropped.
CLOSE_FLUSH_SECONDS = 0.5


def on_server_shutdown(callback: Any) -> None:
    """Run ``callback`` when daphne's reactor starts to shut down; elsewhere, do nothing.

    Shutdown then waits a moment, so what the callback wrote reaches the clients before the
    reactor drops every connection. Only a reactor that is already running is used: importing
    one here would install Twisted's default reactor in processes that have none.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not reactor.running:
        return
    from twisted.internet.task import deferLater

    def run_then_flush():
        callback()
        return deferLater(reactor, CLOSE_FLUSH_SECONDS, lambda: None)

    reactor.addSystemEventTrigger("before", "shutdown", run_then_flush)
