"""The load that runs during every fault: subscribers on WebSockets and a producer of transitions.

Both go through HAProxy, as apps and workers do. The subscribers behave as docs/protocol.md §3
tells a client to: on any close or error they reconnect with a short backoff and resubscribe with
``since_seq``, the last seq they hold. The producer resends a refused or unanswered transition
with the same ``transition_id`` until it is accepted, so nothing is applied twice. What both saw
during one fault is a :class:`Tally`; :meth:`Load.settle` then compares every subscriber's
stream with the history API.
"""

import asyncio
import concurrent.futures
import contextlib
import http.client
import itertools
import json
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.clients import http_json

EVENT_TYPES = {"status_update", "stage_transition", "progress_update", "completion_update", "error_update"}
# A client's wait before it reconnects: a short random backoff, so reconnections spread out.
BACKOFF_SECONDS = (0.1, 0.5)
# HAProxy's answers when the server it chose went away mid-request: the write may or may not be
# applied, so it is resent with the same id.
GATEWAY_ERRORS = {502, 504}
# Enough posting threads to keep the rate while answers take a few hundred milliseconds.
PRODUCER_THREADS = 16
# The longest a transition may stay unaccepted once the producer is told to stop.
FINISH_TIMEOUT = 60.0


def percentile(values: list[float], fraction: float) -> float | None:
    """The value below which ``fraction`` of ``values`` lie (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class Tally:
    """What the clients and the producer saw during one fault; shared by threads, hence the lock."""

    fault: str
    started: float = field(default_factory=time.monotonic)
    closes: Counter = field(default_factory=Counter)
    reconnection_seconds: list[float] = field(default_factory=list)
    # Error messages on the sockets, by code.
    errors: Counter = field(default_factory=Counter)
    # Transition answers other than 200, by status.
    refusals: Counter = field(default_factory=Counter)
    # Transitions sent again after no answer at all (a reset, a keep-alive connection closed under
    # the request), by error: what any HTTP client retries.
    unanswered: Counter = field(default_factory=Counter)
    accepted: int = 0
    producing_seconds: float | None = None
    # Commit (the event's timestamp) to first arrival at a subscriber, for each event and subscriber.
    delivery_seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, counter: Counter, key: object) -> None:
        with self.lock:
            counter[str(key)] += 1


class Subscriber:
    """One app on one WebSocket, following a few analyses, reconnecting as the protocol says."""

    def __init__(self, load: "Load", analyses: list[str]) -> None:
        self.load = load
        self.received: dict[str, list[int]] = {analysis_id: [] for analysis_id in analyses}
        # Since when this subscriber has been without a subscribed socket (None while it has one).
        self.disconnected_at: float | None = None

    def last_seq(self, analysis_id: str) -> int:
        seqs = self.received[analysis_id]
        return seqs[-1] if seqs else 0

    async def run(self) -> None:
        """Follow until cancelled: connect, subscribe, read; after any end, back off and again."""
        tally = self.load.tally
        while True:
            try:
                async with connect(
                    f"{self.load.ws_url}/ws/status/",
                    origin=self.load.origin,
                    subprotocols=[Subprotocol("secureai.jwt.v1"), Subprotocol(self.load.token)],
                    open_timeout=20,
                    max_queue=None,
                ) as socket:
                    await self.follow(socket)
            except ConnectionClosed as closed:
                code: object = closed.rcvd.code if closed.rcvd else 1006
            except InvalidStatus as refused:  # HAProxy's or a stopping server's answer to the handshake
                code = f"handshake {refused.response.status_code}"
            except Exception as error:  # a reset, a timeout
                code = type(error).__name__
            if self.disconnected_at is None:
                self.disconnected_at = time.monotonic()
            tally = self.load.tally
            tally.count(tally.closes, code)
            await asyncio.sleep(random.uniform(*BACKOFF_SECONDS))

    async def follow(self, socket: ClientConnection) -> None:
        """Subscribe from the last seq held, then record every event until the socket closes."""
        for analysis_id in self.received:
            request = {"type": "subscribe_request", "analysis_id": analysis_id, "since_seq": self.last_seq(analysis_id)}
            await socket.send(json.dumps(request))
        waiting = set(self.received)
        async for raw in socket:
            message = json.loads(raw)
            kind = message.get("type")
            if kind in EVENT_TYPES:
                self.record(message)
            elif kind == "subscribe_success" and message.get("analysis_id") in waiting:
                waiting.discard(message["analysis_id"])
                if not waiting and self.disconnected_at is not None:
                    self.load.tally.reconnection_seconds.append(time.monotonic() - self.disconnected_at)
                    self.disconnected_at = None
            elif kind == "error":
                self.load.tally.count(self.load.tally.errors, message["code"])
        raise ConnectionClosed(socket.close_rcvd, socket.close_sent)

    def record(self, event: dict[str, Any]) -> None:
        seqs = self.received[event["analysis_id"]]
        if not seqs or event["seq"] > seqs[-1]:
            committed = datetime.fromisoformat(event["timestamp"]).timestamp()
            self.load.tally.delivery_seconds.append(max(0.0, time.time() - committed))
        seqs.append(event["seq"])


class Producer:
    """Progress updates at a steady rate through HAProxy, each resent with its id until accepted.

    A few OS threads, each with one keep-alive connection, as a pool of workers would post.
    """

    def __init__(self, load: "Load", *, rate: float, threads: int) -> None:
        self.load = load
        self.rate = rate
        self.threads = threads
        self._stop = threading.Event()
        self._running: list[threading.Thread] = []
        self._analyses = itertools.cycle(load.analyses)
        self._next_lock = threading.Lock()

    def start(self) -> None:
        self._stop.clear()
        self._running = [threading.Thread(target=self._post_steadily, daemon=True) for _ in range(self.threads)]
        for thread in self._running:
            thread.start()

    def stop(self) -> None:
        """Stop posting; every transition under way is resent until accepted (or FINISH_TIMEOUT)."""
        self._stop.set()
        for thread in self._running:
            thread.join(FINISH_TIMEOUT + 30)

    def _next_analysis(self) -> str:
        with self._next_lock:
            return next(self._analyses)

    def _post_steadily(self) -> None:
        interval = self.threads / self.rate
        due = time.monotonic()
        connection = self.load.http_connection()
        while not self._stop.is_set():
            due = max(due + interval, time.monotonic() - 1.0)
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            analysis_id = self._next_analysis()
            transition_id = uuid.uuid4().hex
            # processing -> processing must change something: each update is a new message.
            body = {"message": f"progress note {transition_id}", "transition_id": transition_id}
            connection = self._send_until_accepted(connection, analysis_id, body)

    def _send_until_accepted(
        self, connection: http.client.HTTPConnection, analysis_id: str, body: dict[str, str]
    ) -> http.client.HTTPConnection:
        tally, path = self.load.tally, f"/api/analyses/{analysis_id}/transition/"
        deadline: float | None = None
        while True:
            if self._stop.is_set() and deadline is None:
                deadline = time.monotonic() + FINISH_TIMEOUT
            if deadline is not None and time.monotonic() > deadline:
                self.load.unfinished.append(body["transition_id"])
                return connection
            try:
                connection.request("POST", path, json.dumps(body), self.load.headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                tally.count(tally.unanswered, type(error).__name__)
                connection.close()
                connection = self.load.http_connection()
                time.sleep(0.2)
                continue
            if response.status == 200:
                with tally.lock:
                    self.load.accepted[analysis_id] += 1
                    tally.accepted += 1
                return connection
            tally.count(tally.refusals, response.status)
            if response.status == 503:
                retry_after = response.getheader("Retry-After")
                if not retry_after:
                    tally.count(tally.refusals, "503 without Retry-After")
                time.sleep(min(float(retry_after or 1), 2.0))
            elif response.status in GATEWAY_ERRORS:
                time.sleep(0.2)
            else:  # a refusal the producer cannot cure by resending: counted, and the suite fails
                self.load.unfinished.append(body["transition_id"])
                return connection


@dataclass
class Settled:
    """What the subscribers hold once the producer has stopped, compared with history."""

    seconds: float | None
    missing: int
    duplicates: int
    out_of_order: int
    history_not_written: int
    subscribers_behind: int


class Load:
    """Subscribers and a producer against one layout; analyses are made through the API first."""

    def __init__(
        self, *, url: str, ws_url: str, origin: str, analyses: int, subscribers: int, per_subscriber: int, rate: float
    ) -> None:
        self.url, self.ws_url, self.origin = url, ws_url, origin
        self.rate = rate
        self.token = self._sign_in("admin", "admin-demo-pass")
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._sign_in_worker()}"}
        self.setup_seq: dict[str, int] = {}
        self.analyses = [self._analysis_in_processing(number) for number in range(analyses)]
        self.subscribers = [
            Subscriber(self, [self.analyses[(number + step * 7) % analyses] for step in range(per_subscriber)])
            for number in range(subscribers)
        ]
        # Transitions accepted per analysis, and those never accepted, over every fault.
        self.accepted: Counter = Counter()
        self.unfinished: list[str] = []
        self.tally = Tally("start")
        self.producer: Producer | None = None
        self._loop = asyncio.new_event_loop()
        self._runs: list[concurrent.futures.Future] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _sign_in(self, username: str, password: str) -> str:
        status, tokens = http_json("POST", f"{self.url}/api/token/", body={"username": username, "password": password})
        assert status == 200, tokens
        return tokens["access"]

    def _sign_in_worker(self) -> str:
        """The demo's worker account: it may change any analysis's status (not staff)."""
        return self._sign_in("worker", "worker-demo-pass")

    def _analysis_in_processing(self, number: int) -> str:
        """A new analysis moved to processing through the API; the demo worker may claim one first."""
        for attempt in itertools.count():
            _, created = http_json(
                "POST", f"{self.url}/api/analyses/", self.token, {"filename": f"fault-load-{number}-{attempt}.mp4"}
            )
            analysis_id = created["analysis_id"]
            transition = f"{self.url}/api/analyses/{analysis_id}/transition/"
            http_json("POST", transition, self.token, {"status": "queued"})
            status, snapshot = http_json(
                "POST", transition, self.token, {"status": "processing", "stage": "upload_validation"}
            )
            if status == 200:
                self.setup_seq[analysis_id] = snapshot["seq"]
                return analysis_id
        raise AssertionError("unreachable")

    def http_connection(self) -> http.client.HTTPConnection:
        address = urlsplit(self.url)
        return http.client.HTTPConnection(address.hostname, address.port, timeout=15)

    # --- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Open every subscriber's socket and wait until each has replayed its analyses."""
        self._thread.start()
        self._runs = [asyncio.run_coroutine_threadsafe(s.run(), self._loop) for s in self.subscribers]
        self.settle(timeout=120)

    def close(self) -> None:
        for run in self._runs:
            run.cancel()
        concurrent.futures.wait(self._runs, timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @contextlib.contextmanager
    def producing(self, fault: str) -> Iterator[Tally]:
        """A fresh tally, and the producer running for the body of the ``with``."""
        self.tally = Tally(fault)
        self.producer = Producer(self, rate=self.rate, threads=PRODUCER_THREADS)
        self.producer.start()
        try:
            yield self.tally
        finally:
            self.producer.stop()
            self.tally.producing_seconds = time.monotonic() - self.tally.started

    # --- checking ----------------------------------------------------------------------------------
    def history(self, analysis_id: str) -> list[int]:
        """Every seq of the analysis, from the history API, page by page."""
        seqs: list[int] = []
        while True:
            url = f"{self.url}/api/analyses/{analysis_id}/history/?since_seq={seqs[-1] if seqs else 0}&limit=500"
            status, page = http_json("GET", url, self.token)
            assert status == 200, page
            seqs.extend(event["seq"] for event in page["events"])
            if not page["has_more"]:
                return seqs

    def settle(self, timeout: float = 60) -> Settled:
        """Wait until every subscriber holds its analyses' whole history, then compare exactly."""
        histories = {analysis_id: self.history(analysis_id) for analysis_id in self.analyses}
        started = time.monotonic()
        deadline = started + timeout
        seconds, behind = None, []
        while time.monotonic() < deadline:
            behind = [s for s in self.subscribers if any(s.last_seq(a) < len(histories[a]) for a in s.received)]
            if not behind:
                seconds = time.monotonic() - started
                break
            time.sleep(0.2)
        missing = duplicates = out_of_order = 0
        for subscriber in self.subscribers:
            for analysis_id, seqs in subscriber.received.items():
                expected = histories[analysis_id]
                missing += len(set(expected) - set(seqs))
                duplicates += len(seqs) - len(set(seqs))
                out_of_order += sum(1 for before, after in itertools.pairwise(seqs) if after <= before)
        written = {a: self.setup_seq[a] + self.accepted[a] for a in self.analyses}
        history_not_written = sum(
            abs(len(histories[a]) - written[a]) + (histories[a] != list(range(1, len(histories[a]) + 1)))
            for a in self.analyses
        )
        return Settled(
            seconds=seconds,
            missing=missing,
            duplicates=duplicates,
            out_of_order=out_of_order,
            history_not_written=history_not_written,
            subscribers_behind=len(behind) if seconds is None else 0,
        )

    def figures(self, settled: Settled) -> dict[str, Any]:
        """One fault's figures, as var/faults/report.json keeps them."""
        tally = self.tally

        def milliseconds(values: list[float], fraction: float) -> float | None:
            value = percentile(values, fraction)
            return None if value is None else round(value * 1000)

        producing = tally.producing_seconds
        return {
            "fault": tally.fault,
            "subscribers": len(self.subscribers),
            "analyses": len(self.analyses),
            "transitions_accepted": tally.accepted,
            "transitions_per_second": round(tally.accepted / producing, 1) if producing else None,
            "transition_refusals": dict(tally.refusals),
            "transitions_resent_unanswered": dict(tally.unanswered),
            "transitions_unfinished": len(self.unfinished),
            "closes": dict(tally.closes),
            "socket_errors": dict(tally.errors),
            "reconnections": len(tally.reconnection_seconds),
            "reconnection_ms_p50": milliseconds(tally.reconnection_seconds, 0.5),
            "reconnection_ms_p99": milliseconds(tally.reconnection_seconds, 0.99),
            "delivery_ms_p50": milliseconds(tally.delivery_seconds, 0.5),
            "delivery_ms_p99": milliseconds(tally.delivery_seconds, 0.99),
            "delivery_ms_max": milliseconds(tally.delivery_seconds, 1.0),
            "complete_after_stop_s": None if settled.seconds is None else round(settled.seconds, 2),
            "events_lost": settled.missing,
            "events_duplicated": settled.duplicates,
            "events_out_of_order": settled.out_of_order,
            "history_mismatches": settled.history_not_written,
            "mean_subscribers_per_analysis": statistics.mean(
                sum(a in s.received for s in self.subscribers) for a in self.analyses
            ),
        }
