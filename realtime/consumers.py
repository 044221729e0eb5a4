"""The WebSocket status consumer of docs/protocol.md §3.

Thin by design: parsing lives in ``protocol``, limits in ``limits``, the delivery rule in
``delivery``, token checks in ``auth``, reads in ``queries``, and fan-out and timers in the
process's ``hub``. The consumer wires them to one socket.
"""

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from analyses.payloads import iso_utc

from .auth import JWT_SUBPROTOCOL, TokenRefused, aidentify
from .delivery import Admission, Stream
from .groups import FEED_ALL_GROUP, analysis_group_name, owner_feed_group_name
from .hub import HISTORY_PAGE, encode, get_hub
from .limits import RateLimiter
from .protocol import OPEN_TYPES, ProtocolError, Request, error_reply, parse_analysis_id, parse_request, reply
from .protocol import server_time as now_iso
from .queries import history_page, readable_seq, readable_snapshot, reads_all
from .wire import Frame, daphne_protocol, write_frame

logger = logging.getLogger(__name__)

CLOSE_PROTOCOL = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_BIG = 4413
CLOSE_FLOODING = 4429


class StatusConsumer(AsyncJsonWebsocketConsumer):
    # No channel per socket: the process's hub holds the only channel on the layer.
    channel_layer_alias = None

    # --- connection ---------------------------------------------------------------------
    async def connect(self) -> None:
        config = settings.REALTIME
        self.hub = get_hub()
        self.connection_id = uuid.uuid4().hex
        self.streams: dict[str, Stream] = {}
        self.feed_group: str | None = None
        self.limiter = RateLimiter(config["RATE_PER_SECOND"], config["RATE_BURST"], config["FLOOD_PER_SECOND"])
        self.user: AbstractBaseUser | None = None
        self.expires_at: datetime | None = None
        self.expiry_warned = False
        self.via_session = False
        self.closed = False
        now = time.monotonic()
        self.auth_deadline = now + config["AUTH_TIMEOUT"]
        self.next_heartbeat = now + config["HEARTBEAT_INTERVAL"]
        self.expires_mono: float | None = None  # the token's expiry on the monotonic clock
        self._schedule()

        offered = self.scope.get("subprotocols") or []
        await self.accept(JWT_SUBPROTOCOL if JWT_SUBPROTOCOL in offered else None)
        self.wire = daphne_protocol(self.base_send)
        self.hub.connect(self)
        if "token_refused" in self.scope:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_active:
            self.via_session = "token_expires_at" not in self.scope
            self._become(user, self.scope.get("token_expires_at"))
        await self.send_json(
            reply(
                "connection_established",
                connection_id=self.connection_id,
                authenticated=self.user is not None,
                user=self.user.get_username() if self.user else None,
                server_time=now_iso(),
                heartbeat_interval=config["HEARTBEAT_INTERVAL"],
            )
        )
        self.path_analysis = self.scope["url_route"]["kwargs"].get("analysis_id")
        if self.user is not None:
            await self._subscribe_path()

    async def disconnect(self, code: int) -> None:
        for stream in self.streams.values():
            stream.cancel()
        self.hub.stats.subscriptions -= len(self.streams)
        groups = [analysis_group_name(key) for key in self.streams]
        if self.feed_group:
            groups.append(self.feed_group)
        self.streams.clear()
        if self.user is not None:
            self.hub.stats.authenticated -= 1
        self.hub.disconnect(self)
        for group in groups:
            await self.hub.leave(group, self)

    async def close_with(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code)

    def _become(self, user: AbstractBaseUser, expires_at: datetime | None) -> None:
        if self.user is None:
            self.hub.stats.authenticated += 1
        self.user = user
        # A session does not expire in-band; a JWT connection lives as long as its latest token.
        if expires_at is not None and not self.via_session:
            self.expires_at = expires_at
            self.expires_mono = time.monotonic() + (expires_at - datetime.now(UTC)).total_seconds()
            self.expiry_warned = False
        self._schedule()

    def _schedule(self) -> None:
        """Set when the hub's ticker next needs this socket: heartbeat, auth deadline or expiry."""
        due = self.next_heartbeat
        if self.user is None:
            due = min(due, self.auth_deadline)
        if self.expires_mono is not None:
            warn_at = self.expires_mono - settings.REALTIME["TOKEN_EXPIRY_WARNING"]
            due = min(due, self.expires_mono if self.expiry_warned else warn_at)
        self.next_due = due

    async def _subscribe_path(self) -> None:
        raw, self.path_analysis = self.path_analysis, None
        if raw is None:
            return
        try:
            await self._subscribe(parse_analysis_id(raw), None, None)
        except ProtocolError as error:
            await self.send_error(error.code, error.detail, None)

    # --- sending --------------------------------------------------------------------------
    async def send_text(self, text: str) -> None:
        self.hub.stats.messages_sent += 1
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_frame(self, frame: Frame) -> None:
        """Send a message shared with other sockets: the prepared frame when daphne serves us."""
        if self.wire is None:
            await self.send_text(frame.text)
        else:
            self.hub.stats.messages_sent += 1
            write_frame(self.wire, frame)

    async def send_json(self, content: dict[str, Any], close: bool = False) -> None:
        await self.send_text(encode(content))

    async def send_error(self, code: str, detail: str, request_id: str | None) -> None:
        self.hub.stats.errors += 1
        await self.send_json(error_reply(code, detail, request_id))

    # --- receiving ------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.closed:
            return
        self.hub.stats.messages_received += 1
        if text_data is None:
            await self.close_with(CLOSE_PROTOCOL)
            return
        limit = settings.REALTIME["MAX_MESSAGE_BYTES"]
        if len(text_data) > limit or (len(text_data) * 4 > limit and len(text_data.encode()) > limit):
            await self.close_with(CLOSE_TOO_BIG)
            return
        if self.limiter.is_flooding():
            await self.close_with(CLOSE_FLOODING)
            return
        allowed = self.limiter.allow()
        try:
            request = parse_request(text_data)
        except ProtocolError as error:
            request, refusal = None, error
        else:
            refusal = None
        if not allowed:
            request_id = request.request_id if request else refusal.request_id
            refusal = ProtocolError("rate_limited", "Too many messages; slow down.", request_id)
        if refusal is not None:
            await self.send_error(refusal.code, refusal.detail, refusal.request_id)
            return
        try:
            await self.handle(request)
        except ProtocolError as error:
            await self.send_error(error.code, error.detail, request.request_id)
        except Exception:
            logger.exception("Failed to handle %s", request.type)
            await self.send_error("internal_error", "The server could not handle this message.", request.request_id)

    async def handle(self, request: Request) -> None:
        if request.jwt_token is not None and not await self._authenticate(request.jwt_token):
            return
        if self.user is None and request.type not in OPEN_TYPES:
            raise ProtocolError("unauthenticated", "Authenticate first: send a JWT access token.")
        await getattr(self, request.type)(request)

    async def _authenticate(self, raw_token: str) -> bool:
        try:
            identity = await aidentify(raw_token)
        except TokenRefused:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return False
        if self.user is not None and identity.user.pk != self.user.pk:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return False
        was_anonymous = self.user is None
        self._become(identity.user, identity.expires_at)
        if was_anonymous:
            await self._subscribe_path()
        return True

    # --- request handlers, named after the message type -----------------------------------
    async def authenticate(self, request: Request) -> None:
        expires = iso_utc(self.expires_at) if self.expires_at else None
        await self.send_json(
            reply("authenticated", request.request_id, user=self.user.get_username(), expires_at=expires)
        )

    async def ping_request(self, request: Request) -> None:
        await self.send_json(reply("pong", request.request_id, server_time=now_iso()))

    async def status_request(self, request: Request) -> None:
        snapshot = await readable_snapshot(self.user, request.analysis_id)
        if snapshot is None:
            raise ProtocolError("not_found", "No analysis with that id is visible to you.")
        await self.send_json(reply("status_response", request.request_id, analysis=snapshot))

    async def history_request(self, request: Request) -> None:
        if await readable_seq(self.user, request.analysis_id) is None:
            raise ProtocolError("not_found", "No analysis with that id is visible to you.")
        events, has_more = await history_page(request.analysis_id, request.since_seq, request.limit)
        await self.send_json(
            reply(
                "history_response",
                request.request_id,
                analysis_id=str(request.analysis_id),
                events=events,
                has_more=has_more,
            )
        )

    async def subscribe_request(self, request: Request) -> None:
        if request.feed is not None:
            await self._subscribe_feed(request.request_id)
        else:
            await self._subscribe(request.analysis_id, request.since_seq, request.request_id)

    async def unsubscribe_request(self, request: Request) -> None:
        if request.feed is not None:
            if self.feed_group is not None:
                group, self.feed_group = self.feed_group, None
                await self.hub.leave(group, self)
            await self.send_json(reply("unsubscribe_success", request.request_id, feed=request.feed))
            return
        key = str(request.analysis_id)
        stream = self.streams.pop(key, None)
        if stream is not None:
            stream.cancel()
            self.hub.stats.subscriptions -= 1
            await self.hub.leave(analysis_group_name(key), self)
        await self.send_json(reply("unsubscribe_success", request.request_id, analysis_id=key))

    # --- subscriptions ----------------------------------------------------------------------
    async def _subscribe_feed(self, request_id: str | None) -> None:
        group = FEED_ALL_GROUP if await reads_all(self.user) else owner_feed_group_name(self.user.pk)
        if self.feed_group not in (None, group):
            await self.hub.leave(self.feed_group, self)
        self.feed_group = group
        await self.hub.join(group, self)
        await self.send_json(reply("subscribe_success", request_id, feed="analyses"))

    async def _subscribe(self, analysis_id: uuid.UUID, since_seq: int | None, request_id: str | None) -> None:
        key = str(analysis_id)
        if key not in self.streams and len(self.streams) >= settings.REALTIME["MAX_SUBSCRIPTIONS"]:
            raise ProtocolError(
                "too_many_subscriptions", f"At most {settings.REALTIME['MAX_SUBSCRIPTIONS']} subscriptions."
            )
        previous = self.streams.pop(key, None)
        if previous is not None:
            previous.cancel()
        stream = self.streams[key] = Stream(key)
        group = analysis_group_name(key)
        # Join first, read the seq after: whatever commits later reaches the group, and whatever
        # committed earlier is at or below the seq read here. The same read checks access; a
        # socket that may not read the analysis leaves again before anything was sent to it.
        await self.hub.join(group, self)
        current = await readable_seq(self.user, analysis_id)
        if current is None:
            del self.streams[key]
            await self.hub.leave(group, self)
            if previous is not None:
                self.hub.stats.subscriptions -= 1
            raise ProtocolError("not_found", "No analysis with that id is visible to you.")
        if previous is None:
            self.hub.stats.subscriptions += 1
        stream.confirmed = True
        await self.send_json(reply("subscribe_success", request_id, analysis_id=key, seq=current))
        if since_seq is not None and since_seq < current:
            await self._replay(stream, since_seq, current)
        else:
            stream.last_seq = current
        await self._catch_up(stream)

    async def _replay(self, stream: Stream, since_seq: int, upto: int) -> None:
        stream.last_seq = since_seq
        while stream.last_seq < upto:
            bodies, has_more = await history_page(
                stream.analysis_id, stream.last_seq, min(HISTORY_PAGE, upto - stream.last_seq)
            )
            for body in bodies:
                await self.send_text(encode({"type": body["event"], **body, "replay": True}))
                stream.last_seq = body["seq"]
            if not bodies or not has_more:
                break

    async def _catch_up(self, stream: Stream) -> None:
        """Deliver from history up to the highest seq seen, then let live events flow again."""
        try:
            while stream.wanted > stream.last_seq:
                before = stream.last_seq
                for seq, frame in await self.hub.events_between(stream.analysis_id, stream.last_seq, stream.wanted):
                    if seq == stream.last_seq + 1:
                        await self.send_frame(frame)
                        stream.last_seq = seq
                if stream.last_seq == before:
                    break  # not visible yet; the next event or heartbeat tries again
        finally:
            stream.catching_up = False

    # --- called by the hub -------------------------------------------------------------------
    def admit_event(self, analysis_id: str, seq: int) -> bool:
        stream = self.streams.get(analysis_id)
        if stream is None:
            return False
        admission = stream.admit(seq)
        if admission is Admission.CATCH_UP:
            stream.task = asyncio.create_task(self._catch_up(stream))
        return admission is Admission.SEND

    def follows(self, analysis_id: str) -> bool:
        """Subscribed, with access checked: may receive the analysis's snapshots."""
        stream = self.streams.get(analysis_id)
        return stream is not None and stream.confirmed

    def followed_analyses(self) -> set[str]:
        return set(self.streams)

    async def on_tick(self, now: float, latest: dict[str, int]) -> None:
        """A timer of this socket is due: close it, warn of expiry, or send its heartbeat."""
        if self.closed:
            return
        if self.user is None and now >= self.auth_deadline:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return
        if self.expires_mono is not None:
            if now >= self.expires_mono:
                await self.close_with(CLOSE_UNAUTHENTICATED)
                return
            if not self.expiry_warned and now >= self.expires_mono - settings.REALTIME["TOKEN_EXPIRY_WARNING"]:
                self.expiry_warned = True
                await self.send_json(reply("token_expiring", expires_at=iso_utc(self.expires_at)))
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + settings.REALTIME["HEARTBEAT_INTERVAL"]
            seqs = {key: latest.get(key, stream.last_seq) for key, stream in self.streams.items()}
            await self.send_json(reply("heartbeat", server_time=now_iso(), subscriptions=seqs))
            for key, stream in self.streams.items():
                if stream.needs_catch_up(seqs[key]):
                    stream.task = asyncio.create_task(self._catch_up(stream))
        self._schedule()
