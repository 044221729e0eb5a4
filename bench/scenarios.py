"""The scenarios, each run against one target ("ours" or "relay") on a fresh server process.

- ``writes``: the highest rate of events one server commits (ours) or publishes (the relay) through
  its HTTP API: a closed loop of a fixed number of keep-alive connections, no sockets open.
- ``latency``: sockets spread over analyses, events through the HTTP API at a fixed total rate;
  latency from the producer's event time to arrival, and loss.
- ``connects``: sockets opened (ours: authenticated and subscribed) with a bounded number of
  handshakes in flight; connects per second, handshake times, and the server's memory per socket.
- ``sustained``: one analysis, many subscribers, events committed in the producer's process (a
  ceiling of fan-out, not of the HTTP API), the rate stepped up until a step loses an event, has
  p99 at or over the limit, or is not reached by the producer.
- ``idle``: as many idle sockets as one server process holds, in stages; each stage is held, then
  every socket must still be open and receive one probe event (sent through the HTTP API).
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from .control import Child
from .environment import Environment, load_average
from .rest import percentile
from .servers import Measured, Server, runqueue_wait_seconds, start_server

WARM_UP_SOCKETS = 10
P99_LIMIT_MS = 250.0
REACHED_SHARE = 0.9  # a step counts only if the producer reached this share of the asked rate


@dataclass(frozen=True)
class WritesCase:
    connections: tuple[int, ...]  # keep-alive connections of each closed loop
    seconds: float
    warm_up_seconds: float = 1.0


@dataclass(frozen=True)
class LatencyCase:
    key: str
    sockets: int
    analyses: int
    rate: float
    seconds: float


@dataclass(frozen=True)
class ConnectsCase:
    sockets: int
    analyses: int
    in_flight: int  # handshakes in flight at most, over all clients


@dataclass(frozen=True)
class SustainedCase:
    subscribers: int
    rates: tuple[float, ...]
    seconds: float


@dataclass(frozen=True)
class IdleCase:
    stages: tuple[int, ...]
    analyses: int
    hold_seconds: float


@dataclass
class Context:
    environment: Environment
    producers: dict[str, Child]
    tokens: dict[str, str | None]
    clients: int  # client processes for the load scenarios
    idle_clients: int
    settle_seconds: float
    heartbeat_interval: float
    layout: Measured | None = None  # a running layout to measure instead of a fresh server per session


class Session:
    """One fresh server for a target (or the running layout), its client processes and sockets."""

    def __init__(self, context: Context, target: str, clients: int) -> None:
        self.context = context
        self.target = target
        self.client_count = clients
        self.producer = context.producers[target]
        self.server: Measured | None = None
        self.clients: list[Child] = []
        self.analyses: list[str] = []
        self.subscribers: dict[int, int] = {}  # analysis index -> sockets on it
        self.sockets = 0

    async def __aenter__(self) -> "Session":
        env = self.context.environment.env(self.target)
        started = await asyncio.gather(
            self._server(env),
            *(Child.start(f"{self.target} client {n}", "bench.client", env=env) for n in range(self.client_count)),
            return_exceptions=True,
        )
        self.server = started[0] if isinstance(started[0], Measured) else None
        self.clients = [child for child in started[1:] if isinstance(child, Child)]
        failed = [outcome for outcome in started if isinstance(outcome, BaseException)]
        if not failed:
            try:
                await self.producer.call("attach", base_url=self.server.http_url)
            except Exception as error:
                failed.append(error)
        if failed:
            await self.__aexit__(None, None, None)
            raise failed[0]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(self.producer.call("detach"), return_exceptions=True)
        await asyncio.gather(*(client.call("close", timeout=120) for client in self.clients), return_exceptions=True)
        await asyncio.gather(*(client.stop() for client in self.clients), return_exceptions=True)
        if isinstance(self.server, Server):
            await self.server.stop()

    async def _server(self, env: dict[str, str]) -> Measured:
        if self.context.layout is not None:
            return self.context.layout
        return await start_server(self.target, env, self.context.environment.server_log(self.target))

    async def prepare(self, count: int) -> None:
        answer = await self.producer.call("prepare", count=count, timeout=120 + count)
        self.analyses = answer["analyses"]

    async def warm_up(self) -> None:
        """Open and close a few sockets, so one-time costs (imports, the hub) land before any measurement."""
        answer = await self.clients[0].call(
            "warm_up",
            url=self.server.ws_url,
            analysis_ids=self.analyses,
            count=WARM_UP_SOCKETS,
            token=self.context.tokens[self.target],
        )
        if answer["failures"]:
            raise RuntimeError(f"{self.target}: warm-up sockets failed: {answer['failures']}")
        await asyncio.sleep(self.context.settle_seconds)

    async def open(self, count: int, in_flight: int | None = None) -> dict[str, Any]:
        """Open ``count`` more sockets: socket i follows analysis i mod A; an analysis's sockets span the clients.

        ``in_flight`` bounds the handshakes in flight over all clients (default: each client's own bound).
        """
        limit = {} if in_flight is None else {"concurrency": max(1, in_flight // len(self.clients))}
        share: list[list[int]] = [[] for _ in self.clients]
        for number in range(self.sockets, self.sockets + count):
            analysis = number % len(self.analyses)
            share[(number // len(self.analyses)) % len(self.clients)].append(analysis)
            self.subscribers[analysis] = self.subscribers.get(analysis, 0) + 1
        self.sockets += count
        started = time.monotonic()
        answers = await asyncio.gather(
            *(
                client.call(
                    "open",
                    timeout=120 + len(part) * 0.1,
                    url=self.server.ws_url,
                    analysis_ids=self.analyses,
                    sockets=part,
                    token=self.context.tokens[self.target],
                    **limit,
                )
                for client, part in zip(self.clients, share, strict=True)
                if part
            )
        )
        failures: dict[str, int] = {}
        for answer in answers:
            for reason, number in answer["failures"].items():
                failures[reason] = failures.get(reason, 0) + number
        handshakes = sorted(ms for answer in answers for ms in answer["handshake_ms"])
        return {
            "asked": count,
            "opened": sum(answer["opened"] for answer in answers),
            "failures": failures,
            "seconds": round(time.monotonic() - started, 2),
            "handshake_p50_ms": percentile(handshakes, 0.50),
            "handshake_p99_ms": percentile(handshakes, 0.99),
        }

    async def received(self) -> int:
        answers = await asyncio.gather(*(client.call("count") for client in self.clients))
        return sum(answer["received"] for answer in answers)

    async def drain(self, expected: int, patience: float, limit: float) -> float:
        """Wait until ``expected`` receipts arrived, or nothing arrived for ``patience`` s, or ``limit`` s passed."""
        started = last_progress = time.monotonic()
        seen = -1
        while True:
            got = await self.received()
            now = time.monotonic()
            if got >= expected or now - last_progress > patience or now - started > limit:
                return now - started
            if got != seen:
                seen, last_progress = got, now
            await asyncio.sleep(0.1)

    async def window(self, rate: float, seconds: float, via: str = "rest") -> dict[str, Any]:
        """Produce events at ``rate`` for ``seconds`` (``via`` "rest" or "in_process"); gather what sockets received."""
        await asyncio.gather(*(client.call("reset") for client in self.clients))
        load_before = load_average()
        server_cpu = self.server.cpu_seconds()
        waits = self._waits()
        started = time.monotonic()
        run = await self.producer.call(
            "run",
            timeout=seconds * 3 + 60,
            analyses=self.analyses,
            rate=rate,
            duration=seconds,
            max_seconds=seconds * 1.5 + 2,
            via=via,
        )
        server_cpu = self.server.cpu_seconds() - server_cpu
        load_seconds = time.monotonic() - started
        waits = {name: (after - waits[name]) / load_seconds for name, after in self._waits().items()}
        events = run["events"]
        expected = sum(self.subscribers.get(analysis, 0) for analysis, _, _ in events)
        # Ours fills a dropped latest event within one heartbeat; the relay never will.
        limit = self.context.heartbeat_interval + 5 if self.target == "ours" else 10
        drain_seconds = await self.drain(expected, patience=3.0 if self.target == "relay" else limit, limit=limit)
        answers = await asyncio.gather(*(client.call("collect", timeout=120, events=events) for client in self.clients))
        return summarize(
            target=self.target,
            via=via,
            rate=rate,
            run=run,
            expected=expected,
            answers=answers,
            events_per_analysis=_count_by_analysis(events),
            server_cpu_share=server_cpu / load_seconds,
            waits=waits,
            drain_seconds=drain_seconds,
            load_average=[load_before, load_average()],
        )

    def _waits(self) -> dict[str, float]:
        """Seconds each process of the session has waited for a CPU so far."""
        waits = {"server": self.server.runqueue_wait_seconds(), "producer": runqueue_wait_seconds(self.producer.pid)}
        for number, client in enumerate(self.clients):
            waits[f"client {number}"] = runqueue_wait_seconds(client.pid)
        return waits

    async def status(self) -> dict[str, Any]:
        answers = await asyncio.gather(*(client.call("status") for client in self.clients))
        codes: dict[str, int] = {}
        for answer in answers:
            for code, number in answer["close_codes"].items():
                codes[code] = codes.get(code, 0) + number
        return {
            "open": sum(answer["open"] for answer in answers),
            "close_codes": codes,
            "min_heartbeats": min(answer["min_heartbeats"] for answer in answers),
        }

    async def probe(self) -> dict[str, Any]:
        """One event per analysis: how many sockets receive theirs."""
        await asyncio.gather(*(client.call("reset") for client in self.clients))
        answer = await self.producer.call("probe", analyses=self.analyses, timeout=120)
        if answer["failures"]:
            raise RuntimeError(f"{self.target}: probe events failed: {answer['failures']}")
        expected = sum(self.subscribers.values())
        await self.drain(expected, patience=5.0, limit=30.0)
        answers = await asyncio.gather(
            *(client.call("collect", timeout=120, events=answer["events"]) for client in self.clients)
        )
        reached = sum(1 for part in answers for _, unique in part["unique"] if unique > 0)
        return {"sockets": expected, "reached": reached}


def _count_by_analysis(events: list[list]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for analysis, _, _ in events:
        counts[analysis] = counts.get(analysis, 0) + 1
    return counts


def summarize(
    *,
    target: str,
    via: str,
    rate: float,
    run: dict[str, Any],
    expected: int,
    answers: list[dict[str, Any]],
    events_per_analysis: dict[int, int],
    server_cpu_share: float,
    waits: dict[str, float],
    drain_seconds: float,
    load_average: list[list[float]],
) -> dict[str, Any]:
    latencies = sorted(value for answer in answers for value in answer["latencies_ms"])
    lost = 0
    sockets_with_loss = 0
    for answer in answers:
        for analysis, unique in answer["unique"]:
            missing = events_per_analysis.get(analysis, 0) - unique
            if missing > 0:
                lost += missing
                sockets_with_loss += 1
    received = len(latencies)
    produced = len(run["events"])
    seconds = run["seconds"]
    client_cpu = [answer["cpu_seconds"] / max(answer["wall_seconds"], 1e-9) for answer in answers]
    return {
        "target": target,
        "via": via,
        "asked_rate": rate,
        "events": produced,
        "producer_failures": run.get("failures") or {},
        "achieved_rate": round(produced / seconds, 1) if seconds else None,
        "expected_deliveries": expected,
        "received": received,
        "deliveries_per_second": round(received / seconds, 1) if seconds else None,
        "lost": lost,
        "loss_share": round(lost / expected, 6) if expected else 0.0,
        "sockets_with_loss": sockets_with_loss,
        "repeats": sum(answer["repeats"] for answer in answers),
        "gaps": sum(answer["gaps"] for answer in answers),
        "stray": sum(answer["stray"] for answer in answers),
        "sockets_open": sum(answer["open"] for answer in answers),
        "close_codes": _merge_codes(answers),
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1] if latencies else None,
        "server_cpu": round(server_cpu_share, 3),
        "client_cpu_max": round(max(client_cpu), 3) if client_cpu else None,
        "producer_cpu": round(run["cpu_seconds"] / seconds, 3) if seconds else None,
        # Shares of the window each process was runnable but got no CPU: other work on the machine.
        "server_cpu_wait": round(waits["server"], 3),
        "producer_cpu_wait": round(waits["producer"], 3),
        "client_cpu_wait_max": round(max(v for k, v in waits.items() if k.startswith("client")), 3),
        "mean_transaction_ms": None if run["mean_transaction_ms"] is None else round(run["mean_transaction_ms"], 3),
        "publish_backlog_seconds": round(run["publish_backlog_seconds"], 3),
        "drain_seconds": round(drain_seconds, 2),
        "load_average": load_average,
    }


def _merge_codes(answers: list[dict[str, Any]]) -> dict[str, int]:
    codes: dict[str, int] = {}
    for answer in answers:
        for code, number in answer["close_codes"].items():
            codes[code] = codes.get(code, 0) + number
    return codes


# --- the scenarios ------------------------------------------------------------------------------
async def latency(context: Context, target: str, case: LatencyCase) -> dict[str, Any]:
    async with Session(context, target, context.clients) as session:
        await session.prepare(case.analyses)
        await session.warm_up()
        rss_before = session.server.rss_kib()
        opened = await session.open(case.sockets)
        await asyncio.sleep(context.settle_seconds)
        rss_after = session.server.rss_kib()
        result = await session.window(case.rate, case.seconds, via="rest")
        result.update(
            sockets=case.sockets,
            analyses=case.analyses,
            seconds=case.seconds,
            open=opened,
            rss_before_kib=rss_before,
            rss_after_open_kib=rss_after,
            rss_after_load_kib=session.server.rss_kib(),
        )
        return result


async def writes(context: Context, target: str, case: WritesCase) -> dict[str, Any]:
    """Closed loops through the HTTP API, one per connection count, on one fresh server; no sockets open."""
    async with Session(context, target, clients=0) as session:
        await session.prepare(max(case.connections))
        # Warm up: the first requests pay for imports, the database connections and the token's user.
        await session.producer.call(
            "writes", analyses=session.analyses, connections=max(case.connections), seconds=case.warm_up_seconds
        )
        loops = []
        for connections in case.connections:
            await asyncio.sleep(context.settle_seconds)
            cpu, wait = session.server.cpu_seconds(), session.server.runqueue_wait_seconds()
            answer = await session.producer.call(
                "writes",
                timeout=case.seconds * 3 + 60,
                analyses=session.analyses,
                connections=connections,
                seconds=case.seconds,
            )
            seconds = answer["seconds"]
            answer["server_cpu"] = round((session.server.cpu_seconds() - cpu) / seconds, 3)
            answer["server_cpu_wait"] = round((session.server.runqueue_wait_seconds() - wait) / seconds, 3)
            answer["load_average"] = load_average()
            loops.append(answer)
        best = max(loops, key=lambda loop: loop["per_second"])
        return {"loops": loops, "best_per_second": best["per_second"], "best_connections": best["connections"]}


async def connects(context: Context, target: str, case: ConnectsCase) -> dict[str, Any]:
    """Sockets opened as frontends open them, at most ``in_flight`` handshakes at a time; memory per socket."""
    async with Session(context, target, context.clients) as session:
        await session.prepare(case.analyses)
        await session.warm_up()
        rss_before = session.server.rss_kib()
        cpu = session.server.cpu_seconds()
        opened = await session.open(case.sockets, in_flight=case.in_flight)
        server_cpu = session.server.cpu_seconds() - cpu
        await asyncio.sleep(context.settle_seconds)
        rss_after = session.server.rss_kib()
        return {
            **opened,
            "sockets": case.sockets,
            "analyses": case.analyses,
            "in_flight": case.in_flight,
            "connects_per_second": round(opened["opened"] / opened["seconds"], 1) if opened["seconds"] else None,
            "timeouts": opened["failures"].get("timeout", 0),
            "server_cpu": round(server_cpu / opened["seconds"], 3) if opened["seconds"] else None,
            "rss_before_kib": rss_before,
            "rss_after_open_kib": rss_after,
            "kib_per_socket": round((rss_after - rss_before) / opened["opened"], 2) if opened["opened"] else None,
        }


def judge(step: dict[str, Any], p99_limit: float = P99_LIMIT_MS) -> tuple[bool, str | None]:
    """Whether a sustained-rate step passes, and why stepping stops after it (None: go on).

    A step the producer could not reach still counts at the rate it did reach when nothing was
    lost and p99 held; the next step could not go faster, so stepping stops there.
    """
    if step["lost"]:
        return False, f"{step['lost']:,} of {step['expected_deliveries']:,} deliveries lost"
    if step["repeats"] or (step["target"] == "ours" and step["gaps"]):
        return False, f"{step['repeats']:,} duplicate or out-of-order deliveries, {step['gaps']:,} gaps"
    if step["p99_ms"] is None or step["p99_ms"] >= p99_limit:
        return False, "no deliveries" if step["p99_ms"] is None else f"p99 {step['p99_ms']:.0f} ms"
    if step["achieved_rate"] is None or step["achieved_rate"] < REACHED_SHARE * step["asked_rate"]:
        return True, f"the producer reached only {step['achieved_rate']} of {step['asked_rate']:g} events/s"
    return True, None


async def sustained(context: Context, target: str, case: SustainedCase) -> dict[str, Any]:
    async with Session(context, target, context.clients) as session:
        await session.prepare(1)
        await session.warm_up()
        opened = await session.open(case.subscribers)
        await asyncio.sleep(context.settle_seconds)
        steps = []
        best = None
        stop = None
        for rate in case.rates:
            step = await session.window(rate, case.seconds, via="in_process")
            step["passed"], stop = judge(step)
            if not step["passed"]:
                # Once more: on a shared machine one window can coincide with someone else's burst
                # of work. The step fails only when the repeat fails too.
                step["repeated"] = True
                steps.append(step)
                await asyncio.sleep(context.settle_seconds)
                step = await session.window(rate, case.seconds, via="in_process")
                step["passed"], stop = judge(step)
                step["repeat"] = True
            steps.append(step)
            if step["passed"]:
                best = step
            if stop is not None:
                break
            await asyncio.sleep(context.settle_seconds)
        return {
            "subscribers": case.subscribers,
            "open": opened,
            "steps": steps,
            # None when even the first step failed: below the lowest rate tried.
            "sustained_events_per_second": best["achieved_rate"] if best else None,
            "sustained_deliveries_per_second": best["deliveries_per_second"] if best else None,
            "lowest_rate": case.rates[0],
            "sustained_step": best["asked_rate"] if best else None,
            "stopped_by": stop or "the last step passed",
            "producer_bound": bool(stop and stop.startswith("the producer")),
        }


async def idle(context: Context, target: str, case: IdleCase) -> dict[str, Any]:
    async with Session(context, target, context.idle_clients) as session:
        await session.prepare(case.analyses)
        await session.warm_up()
        rss_before = session.server.rss_kib()
        stages = []
        for total in case.stages:
            opened = await session.open(total - session.sockets)
            cpu = session.server.cpu_seconds()
            await asyncio.sleep(case.hold_seconds)
            idle_cpu = (session.server.cpu_seconds() - cpu) / case.hold_seconds
            status = await session.status()
            probe = await session.probe()
            rss = session.server.rss_kib()
            held = status["open"]
            stage = {
                "sockets": total,
                "open": opened,
                "held": held,
                "close_codes": status["close_codes"],
                "min_heartbeats": status["min_heartbeats"],
                "probe_reached": probe["reached"],
                "rss_kib": rss,
                "kib_per_socket": round((rss - rss_before) / held, 2) if held else None,
                "idle_server_cpu": round(idle_cpu, 3),
                "server_open_files": session.server.open_files(),
                "ok": held == total and probe["reached"] == total,
            }
            stages.append(stage)
            if not stage["ok"]:
                break
        best = max((stage["sockets"] for stage in stages if stage["ok"]), default=0)
        return {"stages": stages, "held": best, "hold_seconds": case.hold_seconds, "rss_before_kib": rss_before}
