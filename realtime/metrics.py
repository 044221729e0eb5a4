"""The Prometheus metrics of the read path: sockets, messages, closes, delivery, publishing.

Each server process counts its own sockets; Prometheus sums over the processes. Labels take only
the bounded values listed here (message types, close codes), never an analysis or user id, so a
metric's number of series stays fixed whatever the traffic. Every labelled child is created at
import, so each series is exported (at 0) before anything happens and rates start from zero.
docs/monitoring.md lists the metrics and what each means.
"""

from prometheus_client import Counter, Gauge, Histogram

from .protocol import REQUEST_TYPES, SERVER_TYPES

#: The ``type`` of a received message that did not parse (no JSON, no string type, unknown type).
INVALID = "invalid"
RECEIVED_TYPES = REQUEST_TYPES | {INVALID}
#: Close codes worth a series of their own: the contract's (docs/protocol.md §3) and the usual
#: client-side ones (1000 normal, 1001 going away, 1006 dropped without a close frame).
CLOSE_CODES = frozenset({1000, 1001, 1006, 1011, 1012, 4400, 4401, 4408, 4413, 4429})
#: Any other code a client chose (3000-4999 are free for applications).
OTHER_CLOSE_CODE = "other"
#: From 1 ms (one process, idle) to 10 s (a gap filled after a heartbeat); past 10 s is +Inf.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

WS_CONNECTIONS = Gauge("secureai_ws_connections", "Open WebSocket connections of this process.")
WS_SUBSCRIPTIONS = Gauge(
    "secureai_ws_subscriptions", "Analysis subscriptions held by the sockets of this process (feeds not counted)."
)
WS_MESSAGES_SENT = Counter(
    "secureai_ws_messages_sent_total", "Messages sent to WebSocket clients, by message type.", ["type"]
)
WS_MESSAGES_RECEIVED = Counter(
    "secureai_ws_messages_received_total",
    'Messages received from WebSocket clients, by request type ("invalid" when it did not parse).',
    ["type"],
)
WS_CLOSES = Counter("secureai_ws_closes_total", 'WebSocket connections closed, by close code (or "other").', ["code"])
DELIVERY_LATENCY = Histogram(
    "secureai_delivery_latency_seconds",
    "Time from an event's commit to its frame being written to a subscriber's socket.",
    buckets=LATENCY_BUCKETS,
)
GAP_FILLS = Counter("secureai_gap_fills_total", "Gaps in a socket's seq stream filled from history.")
REPLAYED_EVENTS = Counter("secureai_replayed_events_total", "Events sent from history with replay: true (since_seq).")
PUBLISH_FAILURES = Counter(
    "secureai_publish_failures_total", "Events or snapshots this process could not hand to the channel layer."
)


def close_code_label(code: int | None) -> str:
    """The ``code`` label of a close: the code itself when it has a series, else ``other``."""
    return str(code) if code in CLOSE_CODES else OTHER_CLOSE_CODE


def _export_every_series() -> None:
    for kind in SERVER_TYPES:
        WS_MESSAGES_SENT.labels(type=kind)
    for kind in RECEIVED_TYPES:
        WS_MESSAGES_RECEIVED.labels(type=kind)
    for code in [*CLOSE_CODES, None]:
        WS_CLOSES.labels(code=close_code_label(code))


_export_every_series()
