"""Fan-out at the wire: frame a message once per process and write the same bytes to each socket.

Under daphne every socket's ASGI ``send`` is ``partial(server.handle_reply, protocol)``, the
autobahn protocol of that connection. For a message that many sockets receive, the hub frames it
once (autobahn's ``PreparedMessage``) and hands the frame to each protocol, instead of encoding
and framing the same text again per socket through the ASGI path. Any other server (or the test
communicator) gets the plain ASGI ``send``; both write in call order on the event loop thread.
"""

import sys
from functools import partial
from typing import Any

from autobahn.websocket.protocol import PreparedMessage

try:
    from daphne.ws_protocol import WebSocketProtocol
except ImportError:  # pragma: no cover - daphne is a requirement; other servers take the ASGI path
    WebSocketProtocol = None


class Frame:
    """One text message for many sockets; framed on first use, then reused."""

    __slots__ = ("_prepared", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._prepared: PreparedMessage | None = None

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


def write_frame(protocol: Any, frame: Frame) -> None:
    """Write a prepared frame to an open connection; a closing one is skipped, as daphne would."""
    if protocol.state == protocol.STATE_OPEN:
        protocol.sendPreparedMessage(frame.prepared)


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
