"""The fan-out hub: one per server process, between the channel layer and that process's sockets.

The hub owns the process's only channel on the layer and joins each group that any of its
sockets follows, so the layer carries a message once per process instead of once per socket,
and each event is framed once for every socket that gets it. Layer messages are handled by the
method named after their type (``analysis.event`` -> ``analysis_event``), as Channels does.
Which socket may see which event is the business of ``delivery``; timers belong to ``timers``.
"""

import asyncio
import logging
import time
import uuid
import weakref
from typing import Any, Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from secureai.server import on_server_start, on_server_stop

from . import metrics, publisher
from .auth import SocketIdentity
from .broadcasting import LAYER_MESSAGE_TYPES
from .delivery import EventLog, Streams, event_frame
from .groups import analysis_group_name
from .queries import history_page
from .stats import ProcessStats, StatsReporter
from .timers import Due, SocketTimers, Ticker
from .user_sockets import UserSockets
from .wire import Frame, Outbox, close_for_restart

logger = logging.getLogger(__name__)

#: How long a stopping server waits for its close frames to leave before connections are dropped.
CLOSE_FLUSH_SECONDS = 0.5


class Member(Protocol):
    """What the hub needs of a socket."""

    outbox: Outbox
    streams: Streams
    timers: SocketTimers
    user: Any  # None until the socket authenticates
    identity: SocketIdentity
    connection_id: str

    async def on_timers(self, due: list[Due], latest: dict[str, int]) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = f"hub.{uuid.uuid4().hex}"
        self.stats = ProcessStats()
        self.log = EventLog(history_page)
        self.sockets: set[Member] = set()
        self._members: dict[str, set[Member]] = {}
        self._joined: set[str] = set()
        self._group_locks: dict[str, asyncio.Lock] = {}
        self._reporter = StatsReporter(self.stats.id)
        self.user_sockets = UserSockets(settings.CHANNEL_LAYER_PREFIX)
        self._left_this_outage = False
        self._ticker = Ticker(self.sockets, report=self.publish_report, rejoin=self.rejoin_all)
        self._tasks: list[asyncio.Task] = []

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.sender = publisher.LoopSender(asyncio.get_running_loop())
        self.sender.start()
        publisher.attach(self.sender)
        self._reporter.withdraw_at_exit()
        on_server_stop(self._close_for_restart)
        metrics.WS_CONNECTIONS.set_function(lambda: len(self.sockets))
        metrics.WS_SUBSCRIPTIONS.set_function(lambda: sum(len(socket.streams) for socket in tuple(self.sockets)))
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="hub-receive"),
            asyncio.create_task(self._ticker.run(), name="hub-ticker"),
        ]

    async def _close_for_restart(self) -> None:
        """The server is stopping: close every socket with 1012 so clients resume with since_seq.

        Then wait a moment, so the close frames leave before the server drops every connection.
        """
        logger.info("Server stopping: closing %d sockets with 1012", len(self.sockets))
        self._send_elsewhere(b"Server restarting")
        await asyncio.sleep(CLOSE_FLUSH_SECONDS)

    def _send_elsewhere(self, reason: bytes) -> None:
        """Close every socket with 1012: its client resumes with since_seq through the balancer."""
        for socket in tuple(self.sockets):
            if socket.outbox.direct:
                close_for_restart(socket.outbox.protocol, reason)

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
        self._members.clear()
        self._joined.clear()
        await self._reporter.withdraw()
        await self.user_sockets.close()

    # --- sockets and their groups: the one place that joins and leaves ---------------------
    def connect(self, socket: Member) -> None:
        self.sockets.add(socket)

    def disconnect(self, socket: Member) -> None:
        self.sockets.discard(socket)

    async def follow(self, analysis_id: str, socket: Member) -> None:
        """Deliver the analysis's events to ``socket``; returns once this process is in its group."""
        self.log.follow(analysis_id)
        await self.join(analysis_group_name(analysis_id), socket)

    async def unfollow(self, analysis_id: str, socket: Member) -> None:
        group = analysis_group_name(analysis_id)
        await self.leave(group, socket)
        if group not in self._members:
            self.log.forget(analysis_id)

    async def join(self, group: str, socket: Member) -> None:
        self._members.setdefault(group, set()).add(socket)
        await self._sync_membership(group)

    async def leave(self, group: str, socket: Member) -> None:
        members = self._members.get(group)
        if members is not None:
            members.discard(socket)
        await self._sync_membership(group)

    async def _sync_membership(self, group: str) -> None:
        # One lock per group, so a leave and a join racing on the same group can never leave the
        # layer without our channel while a socket here still follows it.
        lock = self._group_locks.setdefault(group, asyncio.Lock())
        async with lock:
            wanted = bool(self._members.get(group))
            if wanted and group not in self._joined:
                await self.layer.group_add(group, self.channel)
                self._joined.add(group)
            elif not wanted:
                self._members.pop(group, None)
                if group in self._joined:
                    self._joined.discard(group)
                    try:
                        await self.layer.group_discard(group, self.channel)
                    except Exception:
                        logger.warning("Could not leave group %s; it expires on its own", group, exc_info=True)
        if not lock.locked() and group not in self._joined:
            self._group_locks.pop(group, None)

    async def rejoin_all(self) -> None:
        """Add this process's channel to its groups again (after a Redis restart, or to renew them)."""
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
                await self._recover()
                continue
            backoff = 0.5
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception("Could not fan out %s", message.get("type"))

    async def _recover(self) -> None:
        """Redis may have forgotten our groups: rejoin them, then let every heartbeat compare seqs now."""
        try:
            await self.rejoin_all()
        except Exception:
            logger.debug("Rejoining groups failed; will retry", exc_info=True)
            return
        for socket in self.sockets:
            socket.timers.heartbeat_now()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Hand a layer message to the method named after its type."""
        kind = message.get("type")
        if kind not in LAYER_MESSAGE_TYPES:
            logger.warning("Ignoring a layer message of unknown type %r", kind)
            return
        await getattr(self, kind.replace(".", "_"))(message)

    async def analysis_event(self, message: dict[str, Any]) -> None:
        body = message["event"]
        analysis_id, seq = body["analysis_id"], body["seq"]
        members = self._members.get(analysis_group_name(analysis_id))
        if not members:
            return
        frame = event_frame(body, committed_at=message.get("committed_at"))
        self.log.remember(analysis_id, seq, frame)
        await self._write_all([socket for socket in tuple(members) if socket.streams.admit(analysis_id, seq)], frame)

    async def analysis_snapshot(self, message: dict[str, Any]) -> None:
        snapshot = message["analysis"]
        analysis_id = snapshot["analysis_id"]
        members = tuple(self._members.get(analysis_group_name(analysis_id), ()))
        frame = Frame.of({"type": "status_snapshot", "analysis": snapshot})
        await self._write_all([socket for socket in members if socket.streams.follows(analysis_id)], frame)

    async def analysis_created(self, message: dict[str, Any]) -> None:
        frame = Frame.of({"type": "analysis_created", "analysis": message["analysis"]})
        await self._write_all(tuple(self._members.get(message["group"], ())), frame)

    async def _write_all(self, sockets: list[Member] | tuple[Member, ...], frame: Frame) -> None:
        """Hand one frame to many sockets; one failing socket never stops the others."""
        written = 0
        for socket in sockets:
            try:
                if socket.outbox.direct:
                    written += socket.outbox.write(frame)  # the hot path: no coroutine, no re-encoding
                else:
                    await socket.outbox.send(frame)
            except Exception:
                logger.debug("Could not write to a closing socket", exc_info=True)
        self.stats.sent(frame, written)

    # --- stats -----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """This process's figures, read from its sockets now."""
        analyses: set[str] = set()
        authenticated = subscriptions = 0
        for socket in self.sockets:
            followed = socket.streams.followed()
            analyses.update(followed)
            subscriptions += len(followed)
            authenticated += socket.user is not None
        return self.stats.report(
            connections=len(self.sockets), authenticated=authenticated, subscriptions=subscriptions, analyses=analyses
        )

    async def publish_report(self) -> None:
        """Report this process's figures and vouch for its sockets; if Redis forgot us (restarted,
        emptied), rejoin our groups."""
        if await self._reporter.publish(self.report()):
            logger.warning("Redis has forgotten this process's groups; joining them again")
            await self._recover()
        self._leave_if_cut_off()
        await self.user_sockets.vouch(
            (socket.user.pk, socket.connection_id) for socket in tuple(self.sockets) if socket.user is not None
        )

    def _leave_if_cut_off(self) -> None:
        """Cut off from Redis past ``REDIS_LOST_CLOSE_SECONDS`` (docs/protocol.md §5 "Server process
        lost"): send the sockets held then to a process that has Redis; the balancer has taken this
        one out by then. Once per outage: a socket that arrives during it found no better process,
        and stays, served from history at each heartbeat."""
        lost_since = self._reporter.unreachable_since
        if lost_since is None:
            self._left_this_outage = False
            return
        lost_for = time.monotonic() - lost_since
        if self._left_this_outage or lost_for < settings.REALTIME["REDIS_LOST_CLOSE_SECONDS"]:
            return
        self._left_this_outage = True
        logger.warning("Redis unreachable for %.0f s: closing %d sockets with 1012", lost_for, len(self.sockets))
        self._send_elsewhere(b"Server cut off from Redis")


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process), started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
        hub.start()
    return hub


def start_with_server() -> None:
    """Start the hub as soon as the server runs, not at its first socket: from then on the process
    reports its stats (so /ws/stats lists an idle server) and follows Redis."""
    on_server_start(get_hub)


def current_hub() -> Hub | None:
    """The hub of this process if one runs, for readers outside its event loop (the stats view)."""
    return next(iter(_hubs.values()), None)


async def close_hub() -> None:
    """Stop the running loop's hub; tests call it so no task outlives its event loop."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.close()
