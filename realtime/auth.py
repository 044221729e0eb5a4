"""Who is on a socket: the session cookie, or JWT access tokens from the subprotocol, the query string or a message.

Tokens are checked as simplejwt access tokens (signature, expiry and type; never UntypedToken, which
would let a refresh token pass) and the user must exist and be active.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from analyses.selectors import can_read_all
from secureai.authentication import user_of_token

JWT_SUBPROTOCOL = "secureai.jwt.v1"


class TokenRefused(Exception):
    """The token is not a valid access token of an active user."""


@dataclass(frozen=True)
class TokenIdentity:
    user: AbstractBaseUser
    expires_at: datetime


@dataclass(frozen=True)
class Credentials:
    """What the database says now of some users and sessions (``realtime.queries.credentials_now``)."""

    users: dict[str, tuple[bool, str]]  # user id -> (active, password hash); deleted users are missing
    reading_all: set[str]  # the user ids that may read every analysis
    sessions: dict[str, str | None]  # session key -> the user id it is signed in as, None if signed out


@dataclass
class SocketIdentity:
    """Who is on a socket, how they proved it, and what was true of them then.

    A session, or JWTs that must be renewed in-band. What it remembers of the user (password,
    whether they read everything, the session) is compared at every heartbeat with the database
    (``revoked``), so a socket does not outlive its user's access (docs/protocol.md §5 "Revocation").
    """

    user: AbstractBaseUser | None = None
    via_session: bool = False
    expires_at: datetime | None = None  # the latest JWT's expiry; None for a session
    session_key: str | None = None
    password: str = ""
    reads_all: bool = False

    def become(
        self, user: AbstractBaseUser, expires_at: datetime | None, *, session_key: str | None = None
    ) -> float | None:
        """The socket is ``user``'s; returns how many seconds its token has left, or None for a session.

        The first identity decides the kind: a session socket does not expire in-band even when a
        request later carries a JWT. ``user`` has its permissions loaded (no query is made here).
        """
        if self.user is None:
            self.via_session = expires_at is None
            self.session_key = session_key
        self.user = user
        self.password = user.password
        self.reads_all = can_read_all(user)
        if self.via_session:
            return None
        self.expires_at = expires_at
        return (expires_at - datetime.now(UTC)).total_seconds()

    def revoked(self, now: Credentials) -> bool:
        """The user is gone or inactive, changed password, lost the right to read everything, or signed out."""
        user_id = str(self.user.pk)
        active, password = now.users.get(user_id, (False, ""))
        if not active or password != self.password:
            return True
        if self.reads_all and user_id not in now.reading_all:
            return True
        return self.via_session and now.sessions.get(self.session_key) != user_id


async def aidentify(raw_token: str) -> TokenIdentity:
    """Validate an access token fully and return its user and expiry; raise TokenRefused otherwise.

    The token is checked here on the event loop; its user comes from the process's cache of users
    (``secureai.authentication``), and only when it is not there from the database, in a thread.
    """
    try:
        token = AccessToken(raw_token)
        user = user_of_token(token, query=False) or await database_sync_to_async(user_of_token)(token)
    except (TokenError, AuthenticationFailed) as refused:
        raise TokenRefused(str(refused)) from None
    except UnicodeEncodeError:  # a lone surrogate, sent as a JSON escape: no token has one
        raise TokenRefused("The token is not ASCII.") from None
    return TokenIdentity(user=user, expires_at=datetime.fromtimestamp(token["exp"], tz=UTC))


def token_from_scope(scope: dict[str, Any]) -> str | None:
    """The token offered at the handshake: ``secureai.jwt.v1, <token>`` first, then ``?token=``."""
    subprotocols = scope.get("subprotocols") or []
    if len(subprotocols) >= 2 and subprotocols[0] == JWT_SUBPROTOCOL:
        return subprotocols[1]
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


@database_sync_to_async
def _session_user(session_key: str) -> AbstractBaseUser | AnonymousUser:
    """The user of a Django session cookie, checked as Django checks it (session hash included),
    with its permissions loaded."""
    engine = import_module(settings.SESSION_ENGINE)
    user = get_user(SimpleNamespace(session=engine.SessionStore(session_key)))
    if user.is_authenticated:
        user.get_all_permissions()
    return user


def _cookie(scope: dict[str, Any], name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(name)
    return None


class SocketAuthMiddleware:
    """Who opens the socket: a handshake JWT (subprotocol or ``?token=``), else the session cookie.

    One middleware instead of Channels' cookie, session and auth stack plus a JWT layer: one copy
    of the scope per socket, no session object kept for the socket's lifetime, no session lookup
    for token clients, and ``send`` left unwrapped. A refused token is remembered in the scope,
    not raised: the consumer accepts the socket and closes it at once with 4401, as the contract
    says.
    """

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw = token_from_scope(scope)
        if raw is not None:
            try:
                identity = await aidentify(raw)
            except TokenRefused as refused:
                scope["token_refused"] = str(refused)
                scope["user"] = AnonymousUser()
            else:
                scope["user"] = identity.user
                scope["token_expires_at"] = identity.expires_at
        else:
            session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
            scope["user"] = await _session_user(session_key) if session_key else AnonymousUser()
            scope["session_key"] = session_key
        return await self.inner(scope, receive, send)
