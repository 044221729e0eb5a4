"""The fan-out hub: one per server process, between the channel layer and that process's sockets.

The hub owns the process's only channel on the layer and joins each group that any of its
sockets follows, so the layer carries a message once per process instead of once per socket,
and the hub encodes each event once before handing the same text to every subscriber. It also
keeps the recent events of each followed analysis, so sockets that see the same gap are filled
by one history query, and it drives the per-socket timers (heartbeat, authentication deadline,
token expiry) and the stats report from one ticker instead of a task per socket.
"""

import asyncio
import json
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from typing import Any, Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from . import publisher
from .broadcasting import CREATED_MESSAGE, EVENT_MESSAGE, SNAPSHOT_MESSAGE
from .groups import analysis_group_name
from .queries import history_page, latest_seqs
from .stats import ProcessStats, StatsReporter
from .wire import Frame, close_for_restart, on_server_shutdown, write_frame

logger = logging.getLogger(__name__)

HISTORY_PAGE = 500
CACHE_PER_ANALYSIS = 512
GROUP_REFRESH_SECONDS = 3600.0


class Member(Protocol):
    """What the hub needs of a socket."""

    wire: Any  # daphne's protocol of the socket, for writing shared frames directly; or None
    next_due: float  # monotonic time of the socket's next timer (heartbeat, deadline, expiry)
    next_heartbeat: float

    def admit_event(self, analysis_id: str, seq: int) -> bool: ...
    def follows(self, analysis_id: str) -> bool: ...
    async def send_frame(self, frame: Frame) -> None: ...
    async def on_tick(self, now: float, latest: dict[str, int]) -> None: ...
    def followed_analyses(self) -> set[str]: ...


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = f"hub.{uuid.uuid4().hex}"
        self.members: dict[str, set[Member]] = {}
        self.sockets: set[Member] = set()
        self.stats = ProcessStats()
        self._recent: dict[str, OrderedDict[int, Frame]] = {}
        self._fetches: dict[tuple[str, int, int], asyncio.Future] = {}
        self._joined: set[str] = set()
        self._group_locks: dict[str, asyncio.Lock] = {}
        self._reporter = StatsReporter()
        self._tasks: list[asyncio.Task] = []
        self._last_report = 0.0

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.sender = publisher.LoopSender(asyncio.get_running_loop())
        self.sender.start()
        publisher.attach(self.sender)
        self._reporter.withdraw_at_exit(self.stats.id)
        on_server_shutdown(self._close_for_restart)
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="hub-receive"),
            asyncio.create_task(self._tick_loop(), name="hub-tick"),
        ]

    def _close_for_restart(self) -> None:
        """The server is stopping: close every socket with 1012 so clients resume with since_seq."""
        logger.info("Server stopping: closing %d sockets with 1012", len(self.sockets))
        for socket in tuple(self.sockets):
            if socket.wire is not None:
                close_for_restart(socket.wire)

    async def close(self) -> None:
        publisher.detach(self.sender)
        self.sender.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for group in list(self._joined):
            try:
                await self.layer.group_discard(group, self.channel)
            except Exception:
                logger.debug("group_discard of %s failed while closing", group, exc_info=True)
        self.members.clear()
        self._joined.clear()
        await self._reporter.withdraw(self.stats.id)

    # --- membership ----------------------------------------------------------------------
    def connect(self, socket: Member) -> None:
        self.sockets.add(socket)
        self.stats.connections += 1

    def disconnect(self, socket: Member) -> None:
        self.sockets.discard(socket)
        self.stats.connections -= 1

    async def join(self, group: str, socket: Member) -> None:
        """Add a socket to a group; returns once the hub's channel is in the group on the layer."""
        self.members.setdefault(group, set()).add(socket)
        await self._sync_membership(group)

    async def leave(self, group: str, socket: Member) -> None:
        members = self.members.get(group)
        if members is not None:
            members.discard(socket)
        await self._sync_membership(group)

    async def _sync_membership(self, group: str) -> None:
        # One lock per group, so a leave and a join racing on the same group can never leave the
        # layer without our channel while a socket here still follows it.
        lock = self._group_locks.setdefault(group, asyncio.Lock())
        async with lock:
            wanted = bool(self.members.get(group))
            if wanted and group not in self._joined:
                await self.layer.group_add(group, self.channel)
                self._joined.add(group)
            elif not wanted:
                self.members.pop(group, None)
                self._recent.pop(group, None)
                if group in self._joined:
                    self._joined.discard(group)
                    try:
                        await self.layer.group_discard(group, self.channel)
                    except Exception:
                        logger.warning("Could not leave group %s; it expires on its own", group, exc_info=True)
        if not lock.locked() and group not in self._joined:
            self._group_locks.pop(group, None)

    async def _rejoin_all(self) -> None:
        for group in list(self._joined):
            await self.layer.group_add(group, self.channel)

    # --- from the layer to the sockets ---------------------------------------------------
    async def _receive_loop(self) -> None:
        backoff = 0.5
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Channel layer receive failed; retrying in %.1f s", backoff, exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                try:
                    # A restarted Redis has forgotten our groups; rejoin, then let every socket's
                    # heartbeat compare seqs right away so anything missed is filled from history.
                    await self._rejoin_all()
                    for socket in self.sockets:
                        socket.next_heartbeat = socket.next_due = 0.0
                except Exception:
                    logger.debug("Rejoining groups failed; will retry", exc_info=True)
                continue
            backoff = 0.5
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception("Could not fan out %s", message.get("type"))

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == EVENT_MESSAGE:
            await self._fan_out_event(message["event"])
        elif kind == SNAPSHOT_MESSAGE:
            snapshot = message["analysis"]
            analysis_id = snapshot["analysis_id"]
            frame = Frame(encode({"type": "status_snapshot", "analysis": snapshot}))
            members = tuple(self.members.get(analysis_group_name(analysis_id), ()))
            await self._send_all([socket for socket in members if socket.follows(analysis_id)], frame)
        elif kind == CREATED_MESSAGE:
            frame = Frame(encode({"type": "analysis_created", "analysis": message["analysis"]}))
            await self._send_all(tuple(self.members.get(message["group"], ())), frame)

    async def _fan_out_event(self, body: dict[str, Any]) -> None:
        analysis_id, seq = body["analysis_id"], body["seq"]
        group = analysis_group_name(analysis_id)
        members = self.members.get(group)
        if not members:
            return
        frame = Frame(encode({"type": body["event"], **body}))
        self._remember(group, seq, frame)
        await self._send_all((socket for socket in tuple(members) if socket.admit_event(analysis_id, seq)), frame)

    async def _send_all(self, sockets, frame: Frame) -> None:
        """Hand one frame to many sockets; one failing socket never stops the others."""
        written = 0
        for socket in sockets:
            try:
                if socket.wire is not None:
                    write_frame(socket.wire, frame)  # the hot path: no coroutine, no re-encoding
                    written += 1
                else:
                    await socket.send_frame(frame)
            except Exception:
                logger.debug("Could not write to a closing socket", exc_info=True)
        self.stats.messages_sent += written

    # --- recent events and gap filling ---------------------------------------------------
    def _remember(self, group: str, seq: int, frame: Frame) -> None:
        recent = self._recent.setdefault(group, OrderedDict())
        recent[seq] = frame
        while len(recent) > CACHE_PER_ANALYSIS:
            recent.popitem(last=False)

    async def events_between(self, analysis_id: str, after: int, upto: int) -> list[tuple[int, Frame]]:
        """Framed events with ``after < seq <= upto`` in order, from memory or one shared query."""
        group = analysis_group_name(analysis_id)
        recent = self._recent.get(group, {})
        wanted = range(after + 1, upto + 1)
        if all(seq in recent for seq in wanted):
            return [(seq, recent[seq]) for seq in wanted]
        key = (analysis_id, after, upto)
        pending = self._fetches.get(key)
        if pending is None:
            pending = self._fetches[key] = asyncio.ensure_future(self._fetch(group, analysis_id, after, upto))
            pending.add_done_callback(lambda _: self._fetches.pop(key, None))
        return await asyncio.shield(pending)

    async def _fetch(self, group: str, analysis_id: str, after: int, upto: int) -> list[tuple[int, Frame]]:
        found: list[tuple[int, Frame]] = []
        cursor = after
        while cursor < upto:
            bodies, has_more = await history_page(analysis_id, cursor, min(HISTORY_PAGE, upto - cursor))
            for body in bodies:
                frame = Frame(encode({"type": body["event"], **body}))
                found.append((body["seq"], frame))
                if group in self.members:
                    self._remember(group, body["seq"], frame)
            if not bodies or not has_more:
                break
            cursor = bodies[-1]["seq"]
        return found

    # --- timers ------------------------------------------------------------------------------
    def _tick_period(self) -> float:
        return max(0.05, min(1.0, settings.REALTIME["HEARTBEAT_INTERVAL"] / 4))

    async def _tick_loop(self) -> None:
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(self._tick_period())
            now = time.monotonic()
            try:
                await self._tick(now)
                if now - last_refresh > GROUP_REFRESH_SECONDS:
                    last_refresh = now
                    await self._rejoin_all()  # renews group expiry for sockets that live for weeks
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Realtime tick failed")

    async def _tick(self, now: float) -> None:
        # One comparison per socket; only sockets with a timer due get any work.
        due = [socket for socket in self.sockets if socket.next_due <= now]
        followed: set[str] = set()
        for socket in due:
            if socket.next_heartbeat <= now:
                followed |= socket.followed_analyses()
        latest = await latest_seqs(followed) if followed else {}
        for socket in due:
            try:
                await socket.on_tick(now, latest)
            except Exception:
                logger.debug("Timer of a closing socket failed", exc_info=True)
        if now - self._last_report >= settings.REALTIME["STATS_INTERVAL"]:
            self._last_report = now
            await self._reporter.publish(self.stats.report(self.followed_analyses()))

    def followed_analyses(self) -> set[str]:
        return {group.removeprefix("analysis.") for group in self.members if group.startswith("analysis.")}


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process), started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
        hub.start()
    return hub


def current_hub() -> Hub | None:
    """The hub of this process if one runs, for readers outside its event loop (the stats view)."""
    return next(iter(_hubs.values()), None)


async def close_hub() -> None:
    """Stop the running loop's hub; tests call it so no task outlives its event loop."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.close()
