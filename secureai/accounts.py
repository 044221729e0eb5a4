"""Account events that revoke credentials: a new password ends every refresh token of its user.

Every way of changing a password (the admin, Django's password change views, ``set_password``
then ``save()``) ends in saving the user with a different hash, so the receivers compare the
hash being saved with the stored one instead of hooking each path. The blacklisting follows the
save at once (inside the save's transaction when it has one). Access tokens live out their short
lifetime (``JWT_ACCESS_LIFETIME``).
"""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

_PASSWORD_CHANGED = "_secureai_password_changed"


def note_password_change(sender: type[AbstractBaseUser], instance: AbstractBaseUser, **kwargs: Any) -> None:
    """pre_save: remember on the instance whether this save replaces the stored password hash."""
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        setattr(instance, _PASSWORD_CHANGED, False)
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    setattr(instance, _PASSWORD_CHANGED, stored is not None and stored != instance.password)


def revoke_tokens_after_password_change(
    sender: type[AbstractBaseUser], instance: AbstractBaseUser, **kwargs: Any
) -> None:
    """post_save: blacklist the user's refresh tokens when note_password_change saw a new hash."""
    if getattr(instance, _PASSWORD_CHANGED, False):
        setattr(instance, _PASSWORD_CHANGED, False)
        blacklist_refresh_tokens(user=instance)


def blacklist_refresh_tokens(*, user: AbstractBaseUser) -> None:
    """Blacklist every unexpired refresh token issued to ``user`` that is not blacklisted yet."""
    usable = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in usable], ignore_conflicts=True)
