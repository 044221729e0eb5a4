"""The delivery guarantee of docs/protocol.md §3, in one place: for each socket and each analysis it
follows, every committed event exactly once, in seq order, with no gap.

Why it holds, in terms of the code below:

1. History is the durable copy. An event is committed with its seq (1, 2, 3... per analysis, no
   gaps) before its broadcast is even queued; the channel layer only hurries it along, and may
   drop it. Everything a socket misses can be read back with ``HistoryFetch``.
2. A ``Stream`` (one socket, one analysis) remembers ``last_seq``, the last seq written to the
   socket, and writes an event only when its seq is ``last_seq + 1`` (``Stream.admit``). So no
   duplicate and no reordering can reach the socket, whatever the layer delivers.
3. A live event past ``last_seq + 1`` shows a gap: the stream fills it from history
   (``Streams._fill``, through ``EventLog.between``) before anything later is written. Live
   events that arrive meanwhile only raise the seq to fill up to.
4. A subscribe joins the analysis's group *before* it reads the current seq (``Streams.open``):
   an event committed after that read reaches the group and is admitted live; one committed
   before it is at or below the seq read, and the replay of ``since_seq`` (``Streams.start``)
   takes it from history. The stream holds live events until the replay is written.
5. When the latest event itself is lost, nothing later exposes the gap; so every heartbeat reads
   the latest seqs from the database and fills each stream up to them (``Streams.heartbeat``).

History is read through one paging loop (``history_frames``) and every event becomes a frame in
one place (``event_frame``). ``EventLog`` keeps the recent frames of the analyses a process
follows, so the sockets that see the same gap are filled by one query and one encoding.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, auto
from typing import Any, Protocol

from analyses.contract import HISTORY_LIMIT_MAX

from .wire import Frame, encode

#: ``fetch(analysis_id, since_seq, limit)``: event bodies with ``seq > since_seq`` in seq order, and
#: whether more follow (``realtime.queries.history_page`` in the service).
HistoryFetch = Callable[[str, int, int], Awaitable[tuple[list[dict[str, Any]], bool]]]
#: Writes one frame to the socket, in call order; 0 when the socket took none (it is closing).
Send = Callable[[Frame], Awaitable[int]]

RECENT_PER_ANALYSIS = 512

logger = logging.getLogger(__name__)


def event_frame(body: dict[str, Any], *, replay: bool = False, committed_at: float | None = None) -> Frame:
    """The one place an event becomes a message: its §2 body under its event type (§3).

    A live event knows when it committed; one read back from history takes its ``timestamp`` (set
    in the transaction, just before the commit); a replay is no delivery of a new event: none.
    """
    message = {"type": body["event"], **body}
    if replay:
        message["replay"] = True
    elif committed_at is None:
        committed_at = datetime.fromisoformat(body["timestamp"]).timestamp()
    return Frame(encode(message), body["event"], committed_at)


async def history_frames(
    fetch: HistoryFetch, analysis_id: str, after: int, upto: int, *, replay: bool = False
) -> AsyncIterator[list[tuple[int, Frame]]]:
    """The one history paging loop: framed events with ``after < seq <= upto``, a page at a time."""
    cursor = after
    while cursor < upto:
        bodies, has_more = await fetch(analysis_id, cursor, min(HISTORY_LIMIT_MAX, upto - cursor))
        if not bodies:
            return
        yield [(body["seq"], event_frame(body, replay=replay)) for body in bodies]
        cursor = bodies[-1]["seq"]
        if not has_more:
            return


class EventLog:
    """The recent events of each analysis this process follows, framed once for all its sockets.

    Gap fills read from here first; what is missing is fetched once, however many sockets wait
    for the same range at the same time.
    """

    def __init__(self, fetch: HistoryFetch) -> None:
        self.fetch = fetch
        self._recent: dict[str, OrderedDict[int, Frame]] = {}
        self._fetches: dict[tuple[str, int, int], asyncio.Future] = {}

    def follow(self, analysis_id: str) -> None:
        self._recent.setdefault(analysis_id, OrderedDict())

    def forget(self, analysis_id: str) -> None:
        self._recent.pop(analysis_id, None)

    def remember(self, analysis_id: str, seq: int, frame: Frame) -> None:
        recent = self._recent.get(analysis_id)
        if recent is None:
            return
        recent[seq] = frame
        while len(recent) > RECENT_PER_ANALYSIS:
            recent.popitem(last=False)

    async def between(self, analysis_id: str, after: int, upto: int) -> list[tuple[int, Frame]]:
        """Framed events from ``after + 1`` on, in order: up to ``upto``, at most a page."""
        upto = min(upto, after + HISTORY_LIMIT_MAX)
        recent = self._recent.get(analysis_id, {})
        wanted = range(after + 1, upto + 1)
        if all(seq in recent for seq in wanted):
            return [(seq, recent[seq]) for seq in wanted]
        key = (analysis_id, after, upto)
        pending = self._fetches.get(key)
        if pending is None:
            pending = self._fetches[key] = asyncio.ensure_future(self._fetch_page(analysis_id, after, upto))
            pending.add_done_callback(lambda _: self._fetches.pop(key, None))
        return await asyncio.shield(pending)

    async def _fetch_page(self, analysis_id: str, after: int, upto: int) -> list[tuple[int, Frame]]:
        async for page in history_frames(self.fetch, analysis_id, after, upto):
            for seq, frame in page:
                self.remember(analysis_id, seq, frame)
            return page
        return []


class Admission(Enum):
    SEND = auto()  # the next event: write it now
    DROP = auto()  # already written
    HOLD = auto()  # a replay or fill is running and will write it
    FILL = auto()  # a gap: fill from history first


@dataclass(slots=True, eq=False)
class Stream:
    """One socket's position in one analysis's events."""

    analysis_id: str
    last_seq: int = 0
    filling: bool = True  # a new stream holds live events until its subscribe replay is written
    confirmed: bool = False  # access checked: only now may heartbeats and snapshots mention it
    wanted: int = 0  # the highest seq seen while filling
    task: asyncio.Task | None = None

    def admit(self, seq: int) -> Admission:
        if self.filling:
            self.wanted = max(self.wanted, seq)
            return Admission.HOLD
        if seq <= self.last_seq:
            return Admission.DROP
        if seq == self.last_seq + 1:
            self.last_seq = seq
            return Admission.SEND
        self.filling = True
        self.wanted = seq
        return Admission.FILL

    def behind(self, latest_seq: int) -> bool:
        """The database has events this stream has not written, and no fill is running: start one."""
        if self.filling or latest_seq <= self.last_seq:
            return False
        self.filling = True
        self.wanted = latest_seq
        return True

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


class Membership(Protocol):
    """Where a socket follows analyses: the process's hub, or a stand-in in tests."""

    async def follow(self, analysis_id: str, socket: Any) -> None: ...
    async def unfollow(self, analysis_id: str, socket: Any) -> None: ...


class Streams:
    """The streams of one socket: subscribe (join, check, replay), live admission, gap fill, heartbeat.

    ``on_filled(count)`` and ``on_replayed(count)`` are told how many events each fill and replay
    wrote, for the process's counters.
    """

    def __init__(
        self,
        *,
        socket: Any,
        membership: Membership,
        log: EventLog,
        send: Send,
        on_filled: Callable[[int], None] = lambda count: None,
        on_replayed: Callable[[int], None] = lambda count: None,
    ) -> None:
        self._socket = socket
        self._membership = membership
        self._log = log
        self._send = send
        self._on_filled = on_filled
        self._on_replayed = on_replayed
        self._streams: dict[str, Stream] = {}

    def __len__(self) -> int:
        return sum(stream.confirmed for stream in self._streams.values())

    def __contains__(self, analysis_id: str) -> bool:
        return analysis_id in self._streams

    def follows(self, analysis_id: str) -> bool:
        """Subscribed, with access checked: may receive the analysis's snapshots."""
        stream = self._streams.get(analysis_id)
        return stream is not None and stream.confirmed

    def followed(self) -> list[str]:
        return [key for key, stream in self._streams.items() if stream.confirmed]

    # --- subscribe -------------------------------------------------------------------------
    async def open(self, analysis_id: str, read_seq: Callable[[], Awaitable[int | None]]) -> int | None:
        """Follow the analysis, then read its current seq through ``read_seq`` (which checks access).

        Returns that seq, or ``None`` when the socket may not read the analysis; then, as when
        anything here fails, nothing of the subscription is left behind.
        """
        previous = self._streams.get(analysis_id)
        if previous is not None:
            previous.cancel()  # subscribing again starts over; the socket stays in the group
        stream = self._streams[analysis_id] = Stream(analysis_id)
        try:
            await self._membership.follow(analysis_id, self._socket)
            current = await read_seq()
        except BaseException:
            await self._drop(stream)
            raise
        if current is None:
            await self._drop(stream)
        return current

    async def start(self, analysis_id: str, current: int, since_seq: int | None) -> None:
        """Replay the events after ``since_seq`` up to ``current``, then let live events through.

        The replay goes a page at a time, never whole in memory, and stops at the first event the
        socket does not take: a client that does not read is closed (4408) and resumes later.
        """
        stream = self._streams[analysis_id]
        stream.confirmed = True
        stream.last_seq = current
        if since_seq is not None and since_seq < current:
            stream.last_seq = since_seq
            written = 0
            async for page in history_frames(self._log.fetch, analysis_id, since_seq, current, replay=True):
                for seq, frame in page:
                    if not await self._send(frame):
                        self._on_replayed(written)
                        return
                    stream.last_seq = seq
                    written += 1
            self._on_replayed(written)
        await self._fill(stream)

    # --- live events and gaps --------------------------------------------------------------
    def admit(self, analysis_id: str, seq: int) -> bool:
        """A live event arrived: true when it is to be written now (the hub writes it)."""
        stream = self._streams.get(analysis_id)
        if stream is None:
            return False
        admission = stream.admit(seq)
        if admission is Admission.FILL:
            stream.task = asyncio.create_task(self._fill(stream, counted=True))
        return admission is Admission.SEND

    def heartbeat(self, latest: dict[str, int]) -> dict[str, int]:
        """The seqs a heartbeat reports (checked streams only): the database's, else the stream's own."""
        return {key: latest.get(key, stream.last_seq) for key, stream in self._streams.items() if stream.confirmed}

    def fill_behind(self, seqs: dict[str, int]) -> None:
        """After the heartbeat: fill every stream the database is ahead of (its latest event was lost)."""
        for key, seq in seqs.items():
            stream = self._streams.get(key)
            if stream is not None and stream.behind(seq):
                stream.task = asyncio.create_task(self._fill(stream, counted=True))

    async def _fill(self, stream: Stream, *, counted: bool = False) -> None:
        """Write from history up to the highest seq seen, then let live events through again.

        A fill that fails (the database is away) gives up quietly: the stream's position is
        unchanged, so the next event or heartbeat starts another.
        """
        written = 0
        try:
            while stream.wanted > stream.last_seq:
                before = stream.last_seq
                for seq, frame in await self._log.between(stream.analysis_id, stream.last_seq, stream.wanted):
                    if seq == stream.last_seq + 1:
                        await self._send(frame)
                        stream.last_seq = seq
                written += stream.last_seq - before
                if stream.last_seq == before:
                    break  # not readable yet; the next event or heartbeat tries again
        except Exception:
            logger.warning(
                "Filling %s from history failed; the next heartbeat retries", stream.analysis_id, exc_info=True
            )
        finally:
            stream.filling = False
        if counted and written:
            self._on_filled(written)

    # --- unsubscribe -----------------------------------------------------------------------
    async def close(self, analysis_id: str) -> bool:
        """Stop following the analysis; false when it was not followed."""
        stream = self._streams.get(analysis_id)
        if stream is None:
            return False
        await self._drop(stream)
        return True

    async def close_all(self) -> int:
        """Stop following everything (the socket closed); how many checked streams there were."""
        count = len(self)
        for stream in list(self._streams.values()):
            await self._drop(stream)
        return count

    async def _drop(self, stream: Stream) -> None:
        stream.cancel()
        if self._streams.get(stream.analysis_id) is stream:
            del self._streams[stream.analysis_id]
        await self._membership.unfollow(stream.analysis_id, self._socket)
