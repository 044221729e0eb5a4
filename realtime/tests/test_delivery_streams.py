"""The delivery module on its own: streams over a fake history, no database, no layer, no socket.

Each test plays the part of the hub (``admit`` then write, as ``Hub.analysis_event`` does) and of
the ticker (``heartbeat`` then ``fill_behind``), and reads what the socket would have received.
"""

import asyncio
import json

import pytest

from realtime.delivery import Admission, EventLog, Stream, Streams, event_frame, history_frames

ANALYSIS = "3f2b5c1e-0000-4000-8000-000000000001"


def body(seq: int) -> dict:
    return {
        "analysis_id": ANALYSIS,
        "seq": seq,
        "event": "progress_update",
        "status": "processing",
        "timestamp": "2026-11-30T12:00:00.000000Z",
    }


class FakeHistory:
    """The committed events of one analysis; counts the pages asked for."""

    def __init__(self, last_seq: int) -> None:
        self.last_seq = last_seq
        self.pages = 0

    def commit(self, count: int = 1) -> list[int]:
        first = self.last_seq + 1
        self.last_seq += count
        return list(range(first, self.last_seq + 1))

    async def fetch(self, analysis_id: str, since_seq: int, limit: int) -> tuple[list[dict], bool]:
        assert analysis_id == ANALYSIS
        self.pages += 1
        await asyncio.sleep(0)  # a real query lets other tasks run
        seqs = range(since_seq + 1, min(self.last_seq, since_seq + limit) + 1)
        return [body(seq) for seq in seqs], since_seq + limit < self.last_seq


class FakeMembership:
    def __init__(self) -> None:
        self.following: set[str] = set()

    async def follow(self, analysis_id: str, socket: object) -> None:
        self.following.add(analysis_id)

    async def unfollow(self, analysis_id: str, socket: object) -> None:
        self.following.discard(analysis_id)


class Socket:
    """What one socket received: (seq, replay) of each event, in order."""

    def __init__(self, history: FakeHistory, takes: int | None = None) -> None:
        self.history = history
        self.takes = takes  # how many frames the socket takes before it is closed (a slow consumer)
        self.membership = FakeMembership()
        self.received: list[tuple[int, bool]] = []
        self.fills: list[int] = []
        self.streams = Streams(
            socket=self,
            membership=self.membership,
            log=EventLog(history.fetch),
            send=self.send,
            on_filled=self.fills.append,
        )

    async def send(self, frame) -> int:
        if len(self.received) == self.takes:
            return 0  # closing: it takes nothing more
        message = json.loads(frame.text)
        self.received.append((message["seq"], message.get("replay", False)))
        return 1

    async def subscribe(self, since_seq: int | None = None, readable: bool = True) -> int | None:
        async def read_seq() -> int | None:
            return self.history.last_seq if readable else None

        current = await self.streams.open(ANALYSIS, read_seq)
        if current is not None:
            await self.streams.start(ANALYSIS, current, since_seq)
        return current

    async def live(self, seq: int) -> None:
        """The hub's part: admit, and write what is admitted."""
        if self.streams.admit(ANALYSIS, seq):
            await self.send(event_frame(body(seq)))

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    def seqs(self) -> list[int]:
        return [seq for seq, _ in self.received]


def test_the_admit_rule():
    stream = Stream(ANALYSIS, last_seq=4, filling=False)
    assert stream.admit(5) is Admission.SEND and stream.last_seq == 5
    assert stream.admit(5) is Admission.DROP
    assert stream.admit(3) is Admission.DROP
    assert stream.admit(8) is Admission.FILL and (stream.filling, stream.wanted) == (True, 8)
    assert stream.admit(9) is Admission.HOLD and stream.wanted == 9
    assert stream.admit(6) is Admission.HOLD and stream.wanted == 9


async def test_live_events_in_order_once_and_duplicates_dropped():
    history = FakeHistory(last_seq=3)
    socket = Socket(history)
    assert await socket.subscribe() == 3
    for seq in history.commit(3):
        await socket.live(seq)
    await socket.live(5)  # the layer delivers one again
    assert socket.seqs() == [4, 5, 6]
    assert history.pages == 0  # nothing was read back


async def test_a_gap_is_filled_from_history_before_the_later_event():
    history = FakeHistory(last_seq=1)
    socket = Socket(history)
    await socket.subscribe()
    lost = history.commit(3)  # 2, 3, 4 never arrive live
    arrived = history.commit(1)[0]
    await socket.live(arrived)
    await socket.settle()
    assert socket.seqs() == [*lost, arrived]
    assert socket.fills == [4]
    assert not any(replay for _, replay in socket.received)  # filled events are live events


async def test_events_arriving_during_a_fill_are_held_then_written_in_order():
    history = FakeHistory(last_seq=1)
    socket = Socket(history)
    await socket.subscribe()
    history.commit(2)
    await socket.live(history.commit(1)[0])  # 4 arrives: fill 2..4 starts
    for seq in history.commit(3):  # 5, 6, 7 arrive while the fill runs
        await socket.live(seq)
    await socket.settle()
    assert socket.seqs() == [2, 3, 4, 5, 6, 7]


async def test_replay_then_live_with_no_gap_and_no_duplicate():
    history = FakeHistory(last_seq=1200)
    socket = Socket(history)
    subscribing = asyncio.create_task(socket.subscribe(since_seq=10))
    await asyncio.sleep(0)
    committed = history.commit(5)  # committed during the subscribe: after the seq was read
    for seq in committed:
        await socket.live(seq)
    await subscribing
    await socket.settle()
    assert socket.seqs() == list(range(11, 1206))
    assert all(replay for seq, replay in socket.received if seq <= 1200)
    assert not any(replay for seq, replay in socket.received if seq > 1200)
    assert history.pages >= 3  # 1,190 events in pages of at most 500


async def test_a_replay_stops_at_the_first_event_the_socket_refuses():
    """A slow consumer closed mid-replay: the rest is neither fetched nor framed."""
    history = FakeHistory(last_seq=2000)
    socket = Socket(history, takes=700)
    await socket.subscribe(since_seq=0)
    assert socket.seqs() == list(range(1, 701))
    assert history.pages == 2  # the third page of 500 was never read


async def test_since_seq_at_or_past_the_current_seq_replays_nothing():
    history = FakeHistory(last_seq=7)
    socket = Socket(history)
    await socket.subscribe(since_seq=50)
    await socket.live(history.commit(1)[0])
    assert socket.seqs() == [8]


async def test_the_heartbeat_delivers_a_lost_latest_event():
    history = FakeHistory(last_seq=2)
    socket = Socket(history)
    await socket.subscribe()
    history.commit(2)  # both lost: nothing later exposes the gap
    seqs = socket.streams.heartbeat({ANALYSIS: history.last_seq})
    assert seqs == {ANALYSIS: 4}
    socket.streams.fill_behind(seqs)
    await socket.settle()
    assert socket.seqs() == [3, 4]
    assert socket.streams.heartbeat({}) == {ANALYSIS: 4}  # without the database: its own position


async def test_a_subscribe_refused_by_the_access_check_leaves_nothing_behind():
    history = FakeHistory(last_seq=3)
    socket = Socket(history)
    assert await socket.subscribe(readable=False) is None
    assert socket.membership.following == set()
    assert ANALYSIS not in socket.streams and socket.streams.heartbeat({ANALYSIS: 3}) == {}
    await socket.live(4)
    assert socket.received == []


async def test_a_subscribe_that_fails_leaves_nothing_behind():
    history = FakeHistory(last_seq=3)
    socket = Socket(history)

    async def failing_read() -> int:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        await socket.streams.open(ANALYSIS, failing_read)
    assert socket.membership.following == set() and ANALYSIS not in socket.streams


async def test_a_stream_is_mentioned_only_once_its_access_is_checked():
    history = FakeHistory(last_seq=3)
    socket = Socket(history)
    checked = asyncio.Event()

    async def slow_read() -> int:
        await checked.wait()
        return history.last_seq

    opening = asyncio.create_task(socket.streams.open(ANALYSIS, slow_read))
    await asyncio.sleep(0)
    assert socket.membership.following == {ANALYSIS}  # joined first, so nothing committed now is missed
    assert socket.streams.heartbeat({ANALYSIS: 3}) == {} and not socket.streams.follows(ANALYSIS)
    assert len(socket.streams) == 0
    checked.set()
    await socket.streams.start(ANALYSIS, await opening, None)
    assert socket.streams.heartbeat({}) == {ANALYSIS: 3} and socket.streams.follows(ANALYSIS)
    assert len(socket.streams) == 1


async def test_unsubscribing_stops_delivery_and_leaves_the_group():
    history = FakeHistory(last_seq=1)
    socket = Socket(history)
    await socket.subscribe()
    assert await socket.streams.close(ANALYSIS) is True
    assert await socket.streams.close(ANALYSIS) is False
    await socket.live(history.commit(1)[0])
    assert socket.received == [] and socket.membership.following == set()


async def test_sockets_filling_the_same_gap_share_one_query():
    history = FakeHistory(last_seq=1)
    log = EventLog(history.fetch)
    log.follow(ANALYSIS)
    history.commit(40)
    first, second = await asyncio.gather(log.between(ANALYSIS, 1, 41), log.between(ANALYSIS, 1, 41))
    assert [seq for seq, _ in first] == list(range(2, 42)) and first == second
    assert history.pages == 1
    assert await log.between(ANALYSIS, 1, 41) == first and history.pages == 1  # now from memory


async def test_the_history_loop_pages_and_stops_at_its_bound():
    history = FakeHistory(last_seq=1234)
    pages = [page async for page in history_frames(history.fetch, ANALYSIS, 0, 1100, replay=True)]
    assert [len(page) for page in pages] == [500, 500, 100]
    assert [seq for page in pages for seq, _ in page] == list(range(1, 1101))
    assert json.loads(pages[0][0][1].text) == {"type": "progress_update", **body(1), "replay": True}
