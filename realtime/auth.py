"""Who is on a socket: JWT access tokens from the subprotocol header, the query string or a message.

Tokens are checked as simplejwt access tokens (signature, expiry and type; never UntypedToken, which
would let a refresh token pass) and the user must exist and be active.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

JWT_SUBPROTOCOL = "secureai.jwt.v1"


class TokenRefused(Exception):
    """The token is not a valid access token of an active user."""


@dataclass(frozen=True)
class TokenIdentity:
    user: AbstractBaseUser
    expires_at: datetime


def identify(raw_token: str) -> TokenIdentity:
    """Validate an access token fully and return its user and expiry; raise TokenRefused otherwise."""
    try:
        token = AccessToken(raw_token)
        user = JWTAuthentication().get_user(token)
    except (TokenError, AuthenticationFailed) as refused:
        raise TokenRefused(str(refused)) from None
    if not user.is_active:
        raise TokenRefused("The user is inactive.")
    return TokenIdentity(user=user, expires_at=datetime.fromtimestamp(token["exp"], tz=UTC))


aidentify = database_sync_to_async(identify)


def token_from_scope(scope: dict[str, Any]) -> str | None:
    """The token offered at the handshake: ``secureai.jwt.v1, <token>`` first, then ``?token=``."""
    subprotocols = scope.get("subprotocols") or []
    if len(subprotocols) >= 2 and subprotocols[0] == JWT_SUBPROTOCOL:
        return subprotocols[1]
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


class JwtAuthMiddleware(BaseMiddleware):
    """Put the user of a handshake token into the scope; a refused token is remembered, not raised.

    The consumer accepts such a connection and closes it at once with 4401, as the contract says.
    """

    async def __call__(self, scope, receive, send):
        raw = token_from_scope(scope)
        if raw is not None:
            scope = dict(scope)
            try:
                identity = await aidentify(raw)
            except TokenRefused as refused:
                scope["token_refused"] = str(refused)
            else:
                scope["user"] = identity.user
                scope["token_expires_at"] = identity.expires_at
        return await super().__call__(scope, receive, send)
