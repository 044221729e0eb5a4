"""Reads: who may see which analyses, and the history of one."""

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, Permission
from django.db.models import Q, QuerySet

from .contract import HISTORY_LIMIT_DEFAULT
from .models import Analysis, StatusEvent

User = AbstractBaseUser | AnonymousUser


def can_read_all(user: User) -> bool:
    """Staff, and holders of either analyses permission, read every analysis."""
    return bool(
        user.is_active
        and (user.is_staff or any(user.has_perm(f"analyses.{codename}") for codename in READ_ALL_PERMISSIONS))
    )


#: The permissions that let a user read every analysis, beside being staff (see ``can_read_all``).
READ_ALL_PERMISSIONS = ("view_all_analyses", "change_analysis_status")


def users_reading_all(user_ids: set[Any]) -> set[Any]:
    """Of ``user_ids``, those ``can_read_all`` says yes to, found with one query."""
    granted = Permission.objects.filter(content_type__app_label="analyses", codename__in=READ_ALL_PERMISSIONS)
    readers = (
        get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .filter(
            Q(is_staff=True)
            | Q(is_superuser=True)
            | Q(user_permissions__in=granted)
            | Q(groups__permissions__in=granted)
        )
    )
    return set(readers.values_list("pk", flat=True).distinct())


def can_change_status(user: User) -> bool:
    return bool(user.is_active and (user.is_staff or user.has_perm("analyses.change_analysis_status")))


def analysis_list(*, user: User) -> QuerySet[Analysis]:
    """The analyses ``user`` may read, newest first."""
    if not (user.is_authenticated and user.is_active):
        return Analysis.objects.none()
    queryset = Analysis.objects.select_related("owner")
    return queryset if can_read_all(user) else queryset.filter(owner=user)


def _as_uuid(analysis_id: Any) -> uuid.UUID | None:
    try:
        return analysis_id if isinstance(analysis_id, uuid.UUID) else uuid.UUID(str(analysis_id))
    except ValueError:
        return None


def analysis_get_readable(*, user: User, analysis_id: Any) -> Analysis | None:
    """The analysis if ``user`` may read it; ``None`` both when it is missing and when it is not theirs."""
    key = _as_uuid(analysis_id)
    return None if key is None else analysis_list(user=user).filter(pk=key).first()


def analysis_seq_readable(*, user: User, analysis_id: Any) -> int | None:
    """The current seq of the analysis if ``user`` may read it, in one light query (a socket's
    subscribe makes it); ``None`` both when it is missing and when it is not theirs."""
    key = _as_uuid(analysis_id)
    if key is None:
        return None
    return analysis_list(user=user).filter(pk=key).order_by().values_list("seq", flat=True).first()


def event_history(
    *, analysis_id: uuid.UUID | str, since_seq: int = 0, limit: int = HISTORY_LIMIT_DEFAULT
) -> tuple[list[StatusEvent], bool]:
    """Events with seq > ``since_seq`` in seq order, at most ``limit``, and whether more follow."""
    rows = list(StatusEvent.objects.filter(analysis_id=analysis_id, seq__gt=since_seq).order_by("seq")[: limit + 1])
    return rows[:limit], len(rows) > limit
