"""The wire shapes of docs/protocol.md §2 and the snapshot, built from models as plain JSON types.

Everything returned here is str, int, float, bool, None, list or dict: it goes through
msgpack on the channel layer and through json in the API unchanged.
"""

from datetime import UTC, datetime
from typing import Any

from .models import Analysis, StatusEvent


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, as the contract writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(event: StatusEvent) -> dict[str, Any]:
    """The event as history, pushes and replays carry it."""
    return {
        "analysis_id": str(event.analysis_id),
        "seq": event.seq,
        "event": event.event,
        "status": event.status,
        "previous_status": event.previous_status,
        "stage": event.stage,
        "progress": event.progress,
        "retry_count": event.retry_count,
        "message": event.message,
        "error": event.error,
        "result": event.result,
        "actor": event.actor,
        "timestamp": iso_utc(event.timestamp),
    }


def analysis_snapshot(analysis: Analysis) -> dict[str, Any]:
    """The analysis's current fields."""
    return {
        "analysis_id": str(analysis.id),
        "status": analysis.status,
        "stage": analysis.stage,
        "progress": analysis.progress,
        "retry_count": analysis.retry_count,
        "max_retries": analysis.max_retries,
        "error": analysis.error,
        "result": analysis.result,
        "seq": analysis.seq,
        "created_at": iso_utc(analysis.created_at),
        "updated_at": iso_utc(analysis.updated_at),
        "filename": analysis.filename,
        "media_url": analysis.media_url or None,
        "owner": analysis.owner.get_username(),
    }


def snapshot_at_event(analysis: Analysis, event: StatusEvent) -> dict[str, Any]:
    """The snapshot as it stood right after ``event``: the answer a repeated transition gets."""
    snapshot = analysis_snapshot(analysis)
    snapshot.update(
        status=event.status,
        stage=event.stage,
        progress=event.progress,
        retry_count=event.retry_count,
        error=event.error,
        result=event.result,
        seq=event.seq,
        updated_at=iso_utc(event.timestamp),
    )
    return snapshot
