"""From a committed write to the channel layer: the receivers of the analyses signals.

Each receiver only schedules a send with ``transaction.on_commit``: a rolled-back change sends
nothing, and a failing channel layer is logged, never raised into the write that caused it.
History stays the durable copy; the delivery layer fills any gap from it.
"""

import time
from functools import partial
from typing import Any

from django.db import transaction

from analyses.models import Analysis, StatusEvent
from analyses.payloads import analysis_snapshot, event_body

from . import publisher
from .groups import FEED_ALL_GROUP, analysis_group_name, owner_feed_group_name

EVENT_MESSAGE = "analysis.event"
SNAPSHOT_MESSAGE = "analysis.snapshot"
CREATED_MESSAGE = "analysis.created"
#: Every type of message sent on the layer; each server's hub has a handler of the same name.
LAYER_MESSAGE_TYPES = frozenset({EVENT_MESSAGE, SNAPSHOT_MESSAGE, CREATED_MESSAGE})


def publish(groups: list[str], message: dict[str, Any]) -> None:
    """Queue ``message`` for each group; the publisher sends it and logs if the layer fails."""
    for group in groups:
        publisher.submit(group, {**message, "group": group})


def publish_event(group: str, body: dict[str, Any]) -> None:
    """Queue a committed event; it carries the time of its commit, so delivery latency counts from there."""
    publish([group], {"type": EVENT_MESSAGE, "event": body, "committed_at": time.time()})


def on_event_saved(sender: type, instance: StatusEvent, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    transaction.on_commit(partial(publish_event, analysis_group_name(instance.analysis_id), event_body(instance)))


def on_analysis_saved(sender: type, instance: Analysis, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    message = {"type": CREATED_MESSAGE, "analysis": analysis_snapshot(instance)}
    groups = [owner_feed_group_name(instance.owner_id), FEED_ALL_GROUP]
    transaction.on_commit(partial(publish, groups, message))


def on_snapshot_requested(sender: type, snapshot: dict[str, Any], **kwargs: Any) -> None:
    group = analysis_group_name(snapshot["analysis_id"])
    transaction.on_commit(partial(publish, [group], {"type": SNAPSHOT_MESSAGE, "analysis": snapshot}))
