"""Sign-in throttling: too many failures for one username from one client address, then 429.

django-axes counts the failures (its cache handler, in the Redis cache every server process
shares) under a key of username and client address (``secureai.client_address``), so one
client's guessing never holds back other users signing in from the same address. Its
authentication backend refuses a locked pair before the password is checked; ours turns that
refusal into :class:`SignInThrottled`, one exception for both ways in: DRF renders it for
``POST /api/token/`` as ``{"code": "throttled"}`` with ``Retry-After``, and
``secureai.errors.ExceptionResponseMiddleware`` renders the 429 page for the sign-in forms.

The first ``THROTTLE_SIGNIN_FAILURES`` failures are answered as failures; attempts after them
get 429 until ``THROTTLE_SIGNIN_WINDOW`` seconds have passed since the last failure. If Redis
cannot be reached the attempt goes through unthrottled (and a warning is logged): signing in
matters more than counting.
"""

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.cache import AxesCacheHandler
from django.conf import settings
from django.http import HttpRequest
from redis import RedisError
from rest_framework.exceptions import Throttled

logger = logging.getLogger(__name__)


class SignInThrottled(Throttled):
    """Too many failed sign-ins for this username from this client address."""

    default_detail = "Too many failed sign-ins for this username from your address."

    def __init__(self) -> None:
        super().__init__(wait=settings.THROTTLE_SIGNIN_WINDOW)


class SignInThrottleBackend(AxesStandaloneBackend):
    """First in AUTHENTICATION_BACKENDS: refuses a locked username and address before any password check."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None  # no address to count by (e.g. a script calling authenticate() itself)
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            raise SignInThrottled() from None
        except RedisError:
            logger.warning("Sign-in throttle skipped: Redis cannot be reached", exc_info=True)
            return None


class SignInFailureCounter(AxesCacheHandler):
    """axes' cache handler, letting sign-ins through when Redis cannot be reached."""

    def user_login_failed(
        self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except RedisError:
            logger.warning("Sign-in failure not counted: Redis cannot be reached", exc_info=True)
