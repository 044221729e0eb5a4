"""Fan-out at the wire: frame a message once per process and write the same bytes to each socket.

Under daphne every socket's ASGI ``send`` is ``partial(server.handle_reply, protocol)``, the
autobahn protocol of that connection. For a message that many sockets receive, the hub frames it
once (autobahn's ``PreparedMessage``) and hands the frame to each protocol, instead of encoding
and framing the same text again per socket through the ASGI path. Any other server (or the test
communicator) gets the plain ASGI ``send``; both write in call order on the event loop thread.
"""

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
