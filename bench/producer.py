"""A producer process of the benchmark: events at a fixed rate, for our service or for the relay.

``python -m bench.producer ours`` runs Django with the bench settings and commits each event
through ``analyses.services.analysis_transition``; our post-save signal broadcasts it after
commit, as in production. The time of an event is ``time.time()`` right after the commit returns.

``python -m bench.producer relay`` calls ``channel_layer.group_send`` with an event body of the
same shape; the time of an event is ``time.time()`` right before the send.

Either way the ``message`` field carries a timestamp, which also makes every processing ->
processing update a legal change. Events go round-robin over the analyses given, at
``start + i / rate``; a producer that falls behind sends the next one at once, and the achieved
rate is reported next to the asked one.
"""

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .control import serve_async, serve_sync

ACTOR = "bench-producer"
OWNER = "bench-owner"


def schedule(count: int, rate: float, started: float) -> float:
    """Seconds to wait before event ``count``."""
    return started + count / rate - time.monotonic()


# --- our service -------------------------------------------------------------------------------
def serve_ours() -> None:
    import django

    django.setup()

    from django.contrib.auth.models import User
    from rest_framework_simplejwt.tokens import RefreshToken

    from analyses.services import analysis_create, analysis_transition
    from analyses.state_machine import Change, Stage, Status
    from realtime import publisher

    def setup() -> dict[str, Any]:
        owner, _ = User.objects.get_or_create(username=OWNER)
        return {"token": str(RefreshToken.for_user(owner).access_token)}

    def prepare(count: int) -> dict[str, Any]:
        owner = User.objects.get(username=OWNER)
        ids = []
        for number in range(count):
            analysis = analysis_create(owner=owner, filename=f"bench-{number}.mp4")
            analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor=ACTOR)
            analysis_transition(
                analysis_id=analysis.pk,
                change=Change(status=Status.PROCESSING, stage=Stage.UPLOAD_VALIDATION),
                actor=ACTOR,
            )
            ids.append(str(analysis.pk))
        return {"analyses": ids}

    def commit(analysis_id: str) -> tuple[int, float, float]:
        started = time.time()
        outcome = analysis_transition(analysis_id=analysis_id, change=Change(message=f"t={started:.6f}"), actor=ACTOR)
        return outcome.event.seq, started, time.time()

    def run(analyses: list[str], rate: float, duration: float, max_seconds: float) -> dict[str, Any]:
        total = max(1, round(rate * duration))
        events: list[list] = []
        in_transaction = 0.0
        cpu = time.process_time()
        started = time.monotonic()
        for number in range(total):
            wait = schedule(number, rate, started)
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() - started > max_seconds:
                break
            index = number % len(analyses)
            seq, began, committed = commit(analyses[index])
            in_transaction += committed - began
            events.append([index, seq, committed])
        seconds = time.monotonic() - started
        return {
            "events": events,
            "asked": total,
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu,
            "mean_transaction_ms": 1000 * in_transaction / max(1, len(events)),
            "publish_backlog_seconds": drain_publisher(),
        }

    def probe(analyses: list[str]) -> dict[str, Any]:
        events = []
        for index, analysis_id in enumerate(analyses):
            seq, _, committed = commit(analysis_id)
            events.append([index, seq, committed])
        drain_publisher()
        return {"events": events}

    def drain_publisher() -> float:
        """Wait for the broadcasts queued by our commits to leave; how long that took."""
        started = time.monotonic()
        publisher.flush(timeout=10.0)
        return time.monotonic() - started

    serve_sync({"setup": setup, "prepare": prepare, "run": run, "probe": probe})


# --- the relay ---------------------------------------------------------------------------------
def relay_body(analysis_id: str, seq: int, now: float) -> dict[str, Any]:
    """An event of the same shape and size as ours (docs/protocol.md §2), with the send time as message."""
    return {
        "type": "progress_update",
        "analysis_id": analysis_id,
        "seq": seq,
        "event": "progress_update",
        "status": "processing",
        "previous_status": "processing",
        "stage": "upload_validation",
        "progress": 0,
        "retry_count": 0,
        "message": f"t={now:.6f}",
        "error": None,
        "result": None,
        "actor": ACTOR,
        "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


async def serve_relay() -> None:
    import django

    django.setup()
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    seqs: dict[str, int] = {}

    async def send(analysis_id: str) -> tuple[int, float]:
        seq = seqs[analysis_id] = seqs.get(analysis_id, 0) + 1
        now = time.time()
        await layer.group_send(
            f"analysis.{analysis_id}", {"type": "analysis.event", "event": relay_body(analysis_id, seq, now)}
        )
        return seq, now

    async def setup() -> dict[str, Any]:
        return {"token": None}

    async def prepare(count: int) -> dict[str, Any]:
        return {"analyses": [str(uuid.uuid4()) for _ in range(count)]}

    async def run(analyses: list[str], rate: float, duration: float, max_seconds: float) -> dict[str, Any]:
        total = max(1, round(rate * duration))
        events: list[list] = []
        cpu = time.process_time()
        started = time.monotonic()
        for number in range(total):
            wait = schedule(number, rate, started)
            if wait > 0:
                await asyncio.sleep(wait)
            if time.monotonic() - started > max_seconds:
                break
            index = number % len(analyses)
            seq, sent = await send(analyses[index])
            events.append([index, seq, sent])
        return {
            "events": events,
            "asked": total,
            "seconds": time.monotonic() - started,
            "cpu_seconds": time.process_time() - cpu,
            "mean_transaction_ms": None,
            "publish_backlog_seconds": 0.0,
        }

    async def probe(analyses: list[str]) -> dict[str, Any]:
        events = []
        for index, analysis_id in enumerate(analyses):
            seq, sent = await send(analysis_id)
            events.append([index, seq, sent])
        return {"events": events}

    await serve_async({"setup": setup, "prepare": prepare, "run": run, "probe": probe})


if __name__ == "__main__":
    target = sys.argv[1]
    if target == "ours":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        serve_ours()
    elif target == "relay":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.relay.settings")
        asyncio.run(serve_relay())
    else:
        sys.exit(f"usage: python -m bench.producer ours|relay, not {target!r}")
