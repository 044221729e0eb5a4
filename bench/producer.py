"""A producer process of the benchmark: events for our service or for the relay, over HTTP or in process.

``python -m bench.producer ours`` runs Django with the bench settings. Over HTTP (the headline, the
path workers take) it commits each event through ``POST /api/analyses/<id>/transition/`` of the
server under test with a worker's JWT, obtained from ``POST /api/token/`` as a worker obtains it
(``bench.rest``); an event's time is the server's write time its answer reports. In process it commits
through ``analyses.services.analysis_transition`` and our post-save signal broadcasts after
commit; an event's time is ``time.time()`` right after the commit returns.

``python -m bench.producer relay`` posts to the relay's ``POST /publish/<id>`` over HTTP (an
event's time is the send time the view returns), or in process calls ``channel_layer.group_send``
with an event body of the same shape (timed right before the send).

Either way the ``message`` field carries a timestamp, which also makes every processing ->
processing update a legal change. Paced events go round-robin over the analyses given, at
``start + i / rate``; the achieved rate is reported next to the asked one.
"""

import asyncio
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from . import rest
from .control import serve_async

ACTOR = "bench-producer"
OWNER = "bench-owner"
WORKER = "bench-worker"
HTTP_CONNECTIONS = 16  # keep-alive connections of a paced run: more than enough in flight at 50 events/s


def schedule(count: int, rate: float, started: float) -> float:
    """Seconds to wait before event ``count``."""
    return started + count / rate - time.monotonic()


class HttpProducer:
    """The producer's HTTP side: one keep-alive session per server under test."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.endpoint: rest.Endpoint | None = None

    async def attach(self, endpoint: rest.Endpoint) -> None:
        await self.detach()
        self.session = rest.open_session(HTTP_CONNECTIONS)
        self.endpoint = endpoint

    async def detach(self) -> dict[str, Any]:
        if self.session is not None:
            await self.session.close()
        self.session = self.endpoint = None
        return {}

    async def run(self, analyses: list[str], rate: float, duration: float, max_seconds: float) -> dict[str, Any]:
        answer = await rest.paced(self.session, self.endpoint, analyses, rate, duration, max_seconds)
        return {**answer, "mean_transaction_ms": answer["mean_call_ms"], "publish_backlog_seconds": 0.0}

    async def writes(self, analyses: list[str], connections: int, seconds: float) -> dict[str, Any]:
        """A closed loop on a session of exactly ``connections`` keep-alive connections."""
        session = rest.open_session(connections)
        try:
            return await rest.closed_loop(session, self.endpoint, analyses, connections, seconds)
        finally:
            await session.close()

    async def probe(self, analyses: list[str]) -> dict[str, Any]:
        return await rest.probe(self.session, self.endpoint, analyses)


def handlers(
    http: HttpProducer, connect: Callable[..., Awaitable[None]], in_process: Callable[..., Awaitable[dict[str, Any]]]
) -> dict[str, Callable[..., Awaitable[dict[str, Any]]]]:
    """The commands both producers answer; ``run`` goes over HTTP unless asked ``via="in_process"``."""

    async def run(via: str = "rest", **arguments: Any) -> dict[str, Any]:
        return await (http.run(**arguments) if via == "rest" else in_process(**arguments))

    async def attach(base_url: str) -> dict[str, Any]:
        await connect(base_url)
        return {}

    return {"attach": attach, "detach": http.detach, "run": run, "writes": http.writes, "probe": http.probe}


# --- our service -------------------------------------------------------------------------------
async def serve_ours() -> None:
    import django

    django.setup()

    from django.contrib.auth.models import Permission, User
    from rest_framework_simplejwt.tokens import RefreshToken

    from analyses.services import analysis_create, analysis_transition
    from analyses.state_machine import Change, Stage, Status
    from realtime import publisher

    password = secrets.token_urlsafe(16)
    http = HttpProducer()

    def setup() -> dict[str, Any]:
        """The owner of the analyses (whose token the sockets use) and a worker that may change statuses."""
        owner, _ = User.objects.get_or_create(username=OWNER)
        worker, _ = User.objects.get_or_create(username=WORKER)
        worker.set_password(password)
        worker.save()
        worker.user_permissions.add(Permission.objects.get(codename="change_analysis_status"))
        return {"token": str(RefreshToken.for_user(owner).access_token)}

    async def connect(base_url: str) -> None:
        """Sign the worker in on the server under test, as a worker does, and keep its connections."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base_url}/api/token/", json={"username": WORKER, "password": password}) as answer,
        ):
            if answer.status != 200:
                raise RuntimeError(f"sign-in answered {answer.status}: {await answer.text()}")
            token = (await answer.json())["access"]
        await http.attach(rest.transition_endpoint(base_url, token))

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

    def run_in_process(analyses: list[str], rate: float, duration: float, max_seconds: float) -> dict[str, Any]:
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

    def drain_publisher() -> float:
        """Wait for the broadcasts queued by our commits to leave; how long that took."""
        started = time.monotonic()
        publisher.flush(timeout=10.0)
        return time.monotonic() - started

    async def in_process(**arguments: Any) -> dict[str, Any]:
        # The ORM is synchronous: it runs on a thread without an event loop.
        return await asyncio.to_thread(run_in_process, **arguments)

    async def setup_async() -> dict[str, Any]:
        return await asyncio.to_thread(setup)

    async def prepare_async(count: int) -> dict[str, Any]:
        return await asyncio.to_thread(prepare, count)

    await serve_async({"setup": setup_async, "prepare": prepare_async, **handlers(http, connect, in_process)})
    await http.detach()


# --- the relay ---------------------------------------------------------------------------------
async def serve_relay() -> None:
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from .relay.publish import relay_body

    layer = get_channel_layer()
    seqs: dict[str, int] = {}
    http = HttpProducer()

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

    async def connect(base_url: str) -> None:
        await http.attach(rest.publish_endpoint(base_url))

    async def in_process(analyses: list[str], rate: float, duration: float, max_seconds: float) -> dict[str, Any]:
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

    await serve_async({"setup": setup, "prepare": prepare, **handlers(http, connect, in_process)})
    await http.detach()


if __name__ == "__main__":
    target = sys.argv[1]
    if target == "ours":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        asyncio.run(serve_ours())
    elif target == "relay":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.relay.settings")
        asyncio.run(serve_relay())
    else:
        sys.exit(f"usage: python -m bench.producer ours|relay, not {target!r}")
