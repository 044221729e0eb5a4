"""The timers of every socket of a process, driven by one ticker instead of a task per socket.

Each socket has a heartbeat; until it authenticates, a deadline; with a JWT, an expiry warning and
the expiry itself (docs/protocol.md §3). ``SocketTimers`` keeps when the next of them is due, so
each tick compares one number per socket and wakes only the sockets with something to do. The
ticker also reads, in one query, the latest seqs that the due heartbeats report, and runs the
process's periodic work (the stats report, renewing group memberships).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from django.conf import settings

from .queries import credentials_now, latest_seqs

logger = logging.getLogger(__name__)

#: Group memberships are renewed this often, so sockets that live for weeks never expire out of them.
GROUP_REFRESH_SECONDS = 3600.0


class Due(Enum):
    AUTH_TIMEOUT = auto()  # not authenticated within the window
    EXPIRED = auto()  # the JWT expired with no fresh one
    EXPIRY_WARNING = auto()  # time for token_expiring
    HEARTBEAT = auto()
    REVOKED = auto()  # found at the heartbeat: the user's access is gone


@dataclass(slots=True)
class SocketTimers:
    """When a socket next needs the ticker, on the monotonic clock."""

    next_heartbeat: float
    auth_deadline: float | None  # None once authenticated
    expires: float | None = None  # the JWT's expiry; None for a session, which does not expire in-band
    expiry_warned: bool = False
    next_due: float = 0.0

    @classmethod
    def start(cls, now: float) -> "SocketTimers":
        config = settings.REALTIME
        timers = cls(next_heartbeat=now + config["HEARTBEAT_INTERVAL"], auth_deadline=now + config["AUTH_TIMEOUT"])
        timers._reschedule()
        return timers

    def authenticated(self, expires_in: float | None) -> None:
        """The socket authenticated, or renewed its token; ``expires_in`` seconds from now, if a JWT."""
        self.auth_deadline = None
        if expires_in is not None:
            self.expires = time.monotonic() + expires_in
            self.expiry_warned = False
        self._reschedule()

    def heartbeat_due(self, now: float) -> bool:
        return now >= self.next_heartbeat

    def heartbeat_now(self) -> None:
        """Beat at the next tick (the layer came back: let every socket compare seqs at once)."""
        self.next_heartbeat = self.next_due = 0.0

    def fire(self, now: float) -> list[Due]:
        """The timers due at ``now``, in the order they are to be handled; reschedules the rest."""
        fired = []
        if self.auth_deadline is not None and now >= self.auth_deadline:
            fired.append(Due.AUTH_TIMEOUT)
        if self.expires is not None:
            if now >= self.expires:
                fired.append(Due.EXPIRED)
            elif not self.expiry_warned and now >= self.expires - settings.REALTIME["TOKEN_EXPIRY_WARNING"]:
                self.expiry_warned = True
                fired.append(Due.EXPIRY_WARNING)
        if self.heartbeat_due(now):
            self.next_heartbeat = now + settings.REALTIME["HEARTBEAT_INTERVAL"]
            fired.append(Due.HEARTBEAT)
        self._reschedule()
        return fired

    def _reschedule(self) -> None:
        due = self.next_heartbeat
        if self.auth_deadline is not None:
            due = min(due, self.auth_deadline)
        if self.expires is not None:
            warn_at = self.expires - settings.REALTIME["TOKEN_EXPIRY_WARNING"]
            due = min(due, self.expires if self.expiry_warned else warn_at)
        self.next_due = due


class Ticker:
    """One loop per process: wakes the sockets whose timers are due, reports stats, renews groups."""

    def __init__(
        self,
        sockets: Collection[Any],
        report: Callable[[], Awaitable[None]],
        rejoin: Callable[[], Awaitable[None]],
    ) -> None:
        self.sockets = sockets  # the hub's live set: read at each tick
        self.report = report
        self.rejoin = rejoin
        self._last_report = 0.0
        self._last_refresh = time.monotonic()

    @staticmethod
    def period() -> float:
        return max(0.05, min(1.0, settings.REALTIME["HEARTBEAT_INTERVAL"] / 4))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period())
            try:
                await self.tick(time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Realtime tick failed")

    async def tick(self, now: float) -> None:
        due = [socket for socket in self.sockets if socket.timers.next_due <= now]
        if due:
            beating = [socket for socket in due if socket.timers.heartbeat_due(now)]
            latest = await self._latest_seqs(beating)
            revoked = await self._revoked(beating)
            for socket in due:
                fired = socket.timers.fire(now)
                if socket in revoked:
                    fired.append(Due.REVOKED)
                try:
                    await socket.on_timers(fired, latest)
                except Exception:
                    logger.debug("Timer of a closing socket failed", exc_info=True)
        if now - self._last_report >= settings.REALTIME["STATS_INTERVAL"]:
            self._last_report = now
            await self.report()
        if now - self._last_refresh >= GROUP_REFRESH_SECONDS:
            self._last_refresh = now
            await self.rejoin()

    @staticmethod
    async def _latest_seqs(beating: list[Any]) -> dict[str, int]:
        """The latest seq of every analysis that a due heartbeat reports, in one query.

        Without the database the heartbeats still go out, with the seqs the sockets know.
        """
        followed: set[str] = set()
        for socket in beating:
            followed.update(socket.streams.followed())
        if not followed:
            return {}
        try:
            return await latest_seqs(followed)
        except Exception:
            logger.warning("Could not read the latest seqs for heartbeats", exc_info=True)
            return {}

    @staticmethod
    async def _revoked(beating: list[Any]) -> set[Any]:
        """The sockets, of those about to beat, whose user's access is gone (docs/protocol.md §5).

        Without the database nobody is revoked: the check runs again at the next heartbeat.
        """
        identities = {socket: socket.identity for socket in beating if socket.identity.user is not None}
        if not identities:
            return set()
        user_ids = {str(identity.user.pk) for identity in identities.values()}
        sessions = {identity.session_key for identity in identities.values() if identity.via_session}
        try:
            now = await credentials_now(user_ids, sessions)
        except Exception:
            logger.warning("Could not check the sockets' users again", exc_info=True)
            return set()
        return {socket for socket, identity in identities.items() if identity.revoked(now)}
