"""Who a JWT names: checked fully on every request, looked up in the database only now and then.

The token itself is validated every time (signature, expiry, type: simplejwt's access token).
Finding its user, and then the user's permissions, would cost two or three queries per request
that nearly always give the same answer; so each process keeps a user, permissions included, for
``JWT_USER_CACHE_SECONDS`` (default 10). A user who is deactivated, deleted, or whose password or
permissions change is seen within that time by every process, and at once by the process that
made the change. The API (``CachedJWTAuthentication``) and the sockets (``realtime.auth``) share it.
"""

import copy
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

#: Users kept per process at most; the least recently used go first.
MAX_CACHED_USERS = 10_000


class UserCache:
    """Users by id, with their permissions loaded, each kept for a while; safe across threads.

    Ids are kept as text: tokens carry them as text, model instances as numbers.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, AbstractBaseUser]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: object, *, query: bool = True) -> AbstractBaseUser | None:
        """A private copy of the user (``DoesNotExist`` when there is none).

        With ``query=False`` only what is kept is looked at: ``None`` when the user is not there.
        """
        key = str(user_id)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] < settings.JWT_USER_CACHE_SECONDS:
                self._entries.move_to_end(key)
                return copy.copy(entry[1])
        if not query:
            return None
        user = get_user_model().objects.get(**{api_settings.USER_ID_FIELD: user_id})
        user.get_all_permissions()  # fills the permission caches: has_perm asks the database nothing more
        with self._lock:
            self._entries[key] = (now, user)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_CACHED_USERS:
                self._entries.popitem(last=False)
        return copy.copy(user)

    def forget(self, user_id: object) -> None:
        with self._lock:
            self._entries.pop(str(user_id), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


USERS = UserCache()


def user_of_token(validated_token: Token, *, query: bool = True) -> AbstractBaseUser | None:
    """The active user a validated access token names; ``AuthenticationFailed`` otherwise.

    With ``query=False``, ``None`` when the answer is not kept (async callers then ask in a thread).
    """
    try:
        user_id = validated_token[api_settings.USER_ID_CLAIM]
    except KeyError:
        raise InvalidToken(_("Token contained no recognizable user identification")) from None
    try:
        user = USERS.get(user_id, query=query)
    except get_user_model().DoesNotExist:
        raise AuthenticationFailed(_("User not found"), code="user_not_found") from None
    if user is None:
        return None
    if not user.is_active:
        raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
    return user


class CachedJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, with the user from ``USERS``."""

    def get_user(self, validated_token: Token) -> AbstractBaseUser:
        return user_of_token(validated_token)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="secureai.authentication.user_saved")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="secureai.authentication.user_deleted")
def forget_changed_user(sender: type, instance: AbstractBaseUser, **kwargs: object) -> None:
    USERS.forget(instance.pk)


@receiver(m2m_changed, dispatch_uid="secureai.authentication.permissions_changed")
def forget_users_whose_permissions_changed(
    sender: type, instance: object, model: type, pk_set: set | None, **kwargs: object
) -> None:
    """Permissions or groups changed, from whichever side: forget the users concerned."""
    user_model = get_user_model()
    if isinstance(instance, user_model):
        USERS.forget(instance.pk)
    elif model is user_model and pk_set is not None:
        for user_id in pk_set:
            USERS.forget(user_id)
    elif model is user_model or isinstance(instance, Group) or model is Group:
        USERS.clear()  # a group's members or permissions changed: any of its users may be concerned
