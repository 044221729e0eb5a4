"""The database reads of the realtime layer, each wrapped for use from async code."""

import uuid
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from analyses.models import Analysis
from analyses.payloads import analysis_snapshot, event_body
from analyses.selectors import (
    analysis_get_readable,
    analysis_seq_readable,
    can_read_all,
    event_history,
    users_reading_all,
)

from .auth import Credentials


@database_sync_to_async
def readable_snapshot(user: AbstractBaseUser, analysis_id: uuid.UUID) -> dict[str, Any] | None:
    analysis = analysis_get_readable(user=user, analysis_id=analysis_id)
    return None if analysis is None else analysis_snapshot(analysis)


readable_seq = database_sync_to_async(analysis_seq_readable)


@database_sync_to_async
def history_page(analysis_id: uuid.UUID | str, since_seq: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
    events, has_more = event_history(analysis_id=analysis_id, since_seq=since_seq, limit=limit)
    return [event_body(event) for event in events], has_more


@database_sync_to_async
def latest_seqs(analysis_ids: set[str]) -> dict[str, int]:
    return {str(pk): seq for pk, seq in Analysis.objects.filter(pk__in=analysis_ids).values_list("pk", "seq")}


@database_sync_to_async
def reads_all(user: AbstractBaseUser) -> bool:
    return can_read_all(user)


@database_sync_to_async
def credentials_now(user_ids: set[str], session_keys: set[str]) -> Credentials:
    """What the database says now of these users and sessions: two queries, and one per session."""
    users = get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "is_active", "password")
    engine = import_module(settings.SESSION_ENGINE)
    return Credentials(
        users={str(pk): (active, password) for pk, active, password in users},
        reading_all={str(pk) for pk in users_reading_all(user_ids)},
        sessions={key: engine.SessionStore(key).get(SESSION_KEY) for key in session_keys},
    )
