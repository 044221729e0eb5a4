"""Reads: who may see which analyses, and the history of one."""

import uuid
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from .contract import HISTORY_LIMIT_DEFAULT
from .models import Analysis, StatusEvent

User = AbstractBaseUser | AnonymousUser


def can_read_all(user: User) -> bool:
    """Staff, and holders of either analyses permission, read every analysis."""
    return bool(
        user.is_active
        and (
            user.is_staff
            or user.has_perm("analyses.view_all_analyses")
            or user.has_perm("analyses.change_analysis_status")
        )
    )


def can_change_status(user: User) -> bool:
    return bool(user.is_active and (user.is_staff or user.has_perm("analyses.change_analysis_status")))


def analysis_list(*, user: User) -> QuerySet[Analysis]:
    """The analyses ``user`` may read, newest first."""
    if not (user.is_authenticated and user.is_active):
        return Analysis.objects.none()
    queryset = Analysis.objects.select_related("owner")
    return queryset if can_read_all(user) else queryset.filter(owner=user)


def analysis_get_readable(*, user: User, analysis_id: Any) -> Analysis | None:
    """The analysis if ``user`` may read it; ``None`` both when it is missing and when it is not theirs."""
    try:
        key = analysis_id if isinstance(analysis_id, uuid.UUID) else uuid.UUID(str(analysis_id))
    except ValueError:
        return None
    return analysis_list(user=user).filter(pk=key).first()


def event_history(
    *, analysis_id: uuid.UUID | str, since_seq: int = 0, limit: int = HISTORY_LIMIT_DEFAULT
) -> tuple[list[StatusEvent], bool]:
    """Events with seq > ``since_seq`` in seq order, at most ``limit``, and whether more follow."""
    rows = list(StatusEvent.objects.filter(analysis_id=analysis_id, seq__gt=since_seq).order_by("seq")[: limit + 1])
    return rows[:limit], len(rows) > limit
