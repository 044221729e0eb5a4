"""The WebSocket status consumer of docs/protocol.md §3: one socket's lifecycle, who is on it, its
limits, and each request parsed, handled by the method named after its type, and answered.

Which events reach the socket, and when, is not decided here: that is ``delivery`` (the
guarantee), fed by the process's ``hub`` and woken by ``timers``.
"""

import logging
import time
import uuid
from datetime import datetime
from functools import partial
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from analyses.contract import NOT_FOUND
from analyses.payloads import iso_utc
from secureai.logs import bind_log_ids, scoped_log_ids
from secureai.server import stopping

from .auth import JWT_SUBPROTOCOL, SocketIdentity, TokenRefused, aidentify
from .delivery import Streams
from .groups import feed_group_name
from .hub import get_hub
from .limits import MessageGate
from .protocol import (
    CLOSE_FLOODING,
    CLOSE_RESTART,
    CLOSE_UNAUTHENTICATED,
    OPEN_TYPES,
    ProtocolError,
    Request,
    error_reply,
    parse_analysis_id,
    parse_request,
    rate_limited,
    reply,
    server_time,
)
from .queries import history_page, readable_seq, readable_snapshot, reads_all
from .timers import Due, SocketTimers
from .wire import Frame, Outbox, refuse_big_messages, refuse_protocol_violations

logger = logging.getLogger(__name__)


class StatusConsumer(AsyncJsonWebsocketConsumer):
    # No channel per socket: the process's hub holds the only channel on the layer.
    channel_layer_alias = None

    # --- connection ---------------------------------------------------------------------
    async def connect(self) -> None:
        self.hub = get_hub()
        self.connection_id = uuid.uuid4().hex
        bind_log_ids(connection_id=self.connection_id)  # on every line this socket's task logs
        self.identity = SocketIdentity()
        self.feed_group: str | None = None
        self.closed = False
        self.gate = MessageGate()
        self.timers = SocketTimers.start(time.monotonic())
        offered = self.scope.get("subprotocols") or []
        await self.accept(JWT_SUBPROTOCOL if JWT_SUBPROTOCOL in offered else None)
        config, stats = settings.REALTIME, self.hub.stats
        refuse_big_messages(self.base_send, config["MAX_MESSAGE_BYTES"])
        refuse_protocol_violations(self.base_send)
        self.outbox = Outbox(self.base_send, stats.sent, max_buffered=config["MAX_BUFFERED_BYTES"])
        self.streams = Streams(
            socket=self,
            membership=self.hub,
            log=self.hub.log,
            send=self.outbox.send,
            on_filled=stats.gap_filled,
            on_replayed=stats.replayed,
        )
        self.hub.connect(self)
        if stopping():  # between the drain's start and the port's closing: go to another server
            await self.close_with(CLOSE_RESTART)
            return
        if "token_refused" in self.scope:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return
        user = self.scope.get("user")
        signed_in = user is not None and user.is_authenticated and user.is_active
        expires_at, session_key = self.scope.get("token_expires_at"), self.scope.get("session_key")
        if signed_in and not await self._sign_in(user, expires_at, session_key=session_key):
            return
        await self.send_json(
            reply(
                "connection_established",
                connection_id=self.connection_id,
                authenticated=self.user is not None,
                user=self.user.get_username() if self.user else None,
                server_time=server_time(),
                heartbeat_interval=settings.REALTIME["HEARTBEAT_INTERVAL"],
            )
        )
        if self.user is not None:
            await self._subscribe_path()

    async def disconnect(self, code: int) -> None:
        self.hub.stats.closed(code)
        if self.user is not None:
            await self.hub.user_sockets.release(self.user.pk, self.connection_id)
        await self.streams.close_all()
        if self.feed_group is not None:
            await self.hub.leave(self.feed_group, self)
        self.hub.disconnect(self)

    async def close_with(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            logger.info("Closing the socket with %d", code, extra={"connection_id": self.connection_id})
            await self.close(code)

    @property
    def user(self) -> AbstractBaseUser | None:
        return self.identity.user

    async def _sign_in(
        self, user: AbstractBaseUser, expires_at: datetime | None, *, session_key: str | None = None
    ) -> bool:
        """The socket becomes ``user``'s; false when the user already holds every socket allowed (4429)."""
        if self.user is None and not await self.hub.user_sockets.claim(user.pk, self.connection_id):
            await self.close_with(CLOSE_FLOODING)
            return False
        self.timers.authenticated(self.identity.become(user, expires_at, session_key=session_key))
        return True

    async def _subscribe_path(self) -> None:
        """``/ws/status/<analysis_id>/``: subscribe once the socket is authenticated."""
        raw = self.scope["url_route"]["kwargs"].pop("analysis_id", None)
        if raw is None:
            return
        try:
            await self._subscribe(parse_analysis_id(raw), None, None)
        except ProtocolError as error:
            await self.send_error(error.code, error.detail, None)

    # --- sending --------------------------------------------------------------------------
    async def send_json(self, content: dict[str, Any], close: bool = False) -> None:
        await self.outbox.send(Frame.of(content))

    async def send_error(self, code: str, detail: str, request_id: str | None) -> None:
        self.hub.stats.error(code)
        await self.send_json(error_reply(code, detail, request_id))

    # --- receiving: parse, handle, reply ----------------------------------------------------
    @scoped_log_ids  # the request's analysis id is logged while it is handled, and no longer
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.closed or not self.outbox.open:
            return  # what arrives while the socket closes gets no answer, so it costs nothing
        close_code = self.gate.close_code(text_data)
        if close_code is not None:
            self.hub.stats.received("invalid")
            await self.close_with(close_code)
            return
        allowed = self.gate.allow()  # every frame takes a token, malformed ones too
        request: Request | None = None
        try:
            request = parse_request(text_data)
            bind_log_ids(analysis_id=request.analysis_id)
            self.hub.stats.received(request.type)
            if not allowed:
                raise rate_limited(request.request_id)
            await self.handle(request)
        except ProtocolError as error:
            if request is None:
                self.hub.stats.received("invalid")
                error = error if allowed else rate_limited(error.request_id)
            request_id = error.request_id if error.request_id is not None else request and request.request_id
            await self.send_error(error.code, error.detail, request_id)
        except Exception:
            logger.exception("Failed to handle %s", request.type if request else "a message")
            error = ProtocolError("internal_error", "The server could not handle this message.")
            await self.send_error(error.code, error.detail, request and request.request_id)

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
        if not await self._sign_in(identity.user, identity.expires_at):
            return False
        if was_anonymous:
            await self._subscribe_path()
        return True

    # --- request handlers, named after the message type -----------------------------------
    async def authenticate(self, request: Request) -> None:
        expires = iso_utc(self.identity.expires_at) if self.identity.expires_at else None
        await self.send_json(
            reply("authenticated", request.request_id, user=self.user.get_username(), expires_at=expires)
        )

    async def ping_request(self, request: Request) -> None:
        await self.send_json(reply("pong", request.request_id, server_time=server_time()))

    async def status_request(self, request: Request) -> None:
        snapshot = await readable_snapshot(self.user, request.analysis_id)
        if snapshot is None:
            raise ProtocolError("not_found", NOT_FOUND)
        await self.send_json(reply("status_response", request.request_id, analysis=snapshot))

    async def history_request(self, request: Request) -> None:
        if await readable_seq(user=self.user, analysis_id=request.analysis_id) is None:
            raise ProtocolError("not_found", NOT_FOUND)
        key = str(request.analysis_id)
        events, has_more = await history_page(key, request.since_seq, request.limit)
        await self.send_json(
            reply("history_response", request.request_id, analysis_id=key, events=events, has_more=has_more)
        )

    async def subscribe_request(self, request: Request) -> None:
        if request.feed is None:
            await self._subscribe(request.analysis_id, request.since_seq, request.request_id)
            return
        group = feed_group_name(user_id=self.user.pk, reads_all=await reads_all(self.user))
        if self.feed_group not in (None, group):
            await self.hub.leave(self.feed_group, self)
        self.feed_group = group
        await self.hub.join(group, self)
        await self.send_json(reply("subscribe_success", request.request_id, feed=request.feed))

    async def unsubscribe_request(self, request: Request) -> None:
        if request.feed is None:
            key = str(request.analysis_id)
            await self.streams.close(key)
            await self.send_json(reply("unsubscribe_success", request.request_id, analysis_id=key))
            return
        if self.feed_group is not None:
            group, self.feed_group = self.feed_group, None
            await self.hub.leave(group, self)
        await self.send_json(reply("unsubscribe_success", request.request_id, feed=request.feed))

    async def _subscribe(self, analysis_id: uuid.UUID, since_seq: int | None, request_id: str | None) -> None:
        key = str(analysis_id)
        limit = settings.REALTIME["MAX_SUBSCRIPTIONS"]
        if key not in self.streams and len(self.streams) >= limit:
            raise ProtocolError("too_many_subscriptions", f"At most {limit} subscriptions.")
        current = await self.streams.open(key, partial(readable_seq, user=self.user, analysis_id=analysis_id))
        if current is None:
            raise ProtocolError("not_found", NOT_FOUND)
        await self.send_json(reply("subscribe_success", request_id, analysis_id=key, seq=current))
        await self.streams.start(key, current, since_seq)

    # --- timers, woken by the process's ticker ----------------------------------------------
    async def on_timers(self, due: list[Due], latest: dict[str, int]) -> None:
        if self.closed:
            return
        if Due.AUTH_TIMEOUT in due or Due.EXPIRED in due or Due.REVOKED in due:
            await self.close_with(CLOSE_UNAUTHENTICATED)
            return
        if Due.EXPIRY_WARNING in due:
            await self.send_json(reply("token_expiring", expires_at=iso_utc(self.identity.expires_at)))
        if Due.HEARTBEAT in due:
            seqs = self.streams.heartbeat(latest)
            await self.send_json(reply("heartbeat", server_time=server_time(), subscriptions=seqs))
            self.streams.fill_behind(seqs)
