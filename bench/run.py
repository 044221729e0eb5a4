"""The benchmark's entry point: ``python -m bench.run [--quick | --smoke]`` (scripts/bench runs it).

Runs every scenario against the bare relay and against our service, one after the other in the
same run, once per database (SQLite and PostgreSQL by default), and writes docs/performance.md and
docs/performance.json (a full run) or var/bench/ (a quick or smoke run, unless --output says otherwise).
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .control import Child
from .environment import Environment, load_average, machine_info, prepare_environment, raise_open_files_limit
from .layout import Layout, running_layout
from .report import render
from .scenarios import (
    ConnectsCase,
    Context,
    IdleCase,
    LatencyCase,
    SustainedCase,
    WritesCase,
    connects,
    idle,
    latency,
    sustained,
    writes,
)
from .servers import ROOT

TARGETS = ("relay", "ours")  # the relay first in each scenario: both see the same machine minutes apart
SCENARIOS = ("writes", "latency", "connects", "sustained", "idle")
DATABASES = ("sqlite", "postgres")
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Plan:
    name: str
    settle_seconds: float  # quiet time after opening sockets, before measuring
    clients: int
    idle_clients: int
    databases: tuple[str, ...]  # unless --databases says otherwise
    writes: WritesCase | None
    latency: tuple[LatencyCase, ...]
    connects: ConnectsCase | None
    sustained: SustainedCase | None
    idle: IdleCase | None


PLANS = {
    "full": Plan(
        name="full",
        settle_seconds=2.0,
        clients=2,
        idle_clients=4,
        databases=DATABASES,
        writes=WritesCase(connections=(4, 16), seconds=8),
        latency=(LatencyCase("100x10@50", sockets=100, analyses=10, rate=50, seconds=12),),
        connects=ConnectsCase(sockets=1000, analyses=100, in_flight=200),
        sustained=SustainedCase(subscribers=100, rates=(10, 20, 50, 100, 150, 200, 300, 400, 800, 1600), seconds=5),
        # One stage, held longer than one heartbeat interval (25 s), so every socket of ours shows a heartbeat;
        # on the first database only (an open socket no longer touches the database).
        idle=IdleCase(stages=(10000,), analyses=100, hold_seconds=26),
    ),
    "quick": Plan(
        name="quick",
        settle_seconds=1.0,
        clients=2,
        idle_clients=4,
        databases=DATABASES,
        writes=WritesCase(connections=(4, 16), seconds=3),
        latency=(LatencyCase("100x10@50", sockets=100, analyses=10, rate=50, seconds=3),),
        connects=ConnectsCase(sockets=300, analyses=30, in_flight=200),
        sustained=SustainedCase(subscribers=100, rates=(20, 200), seconds=2),
        idle=IdleCase(stages=(500,), analyses=10, hold_seconds=3),
    ),
    "smoke": Plan(
        name="smoke",
        settle_seconds=0.3,
        clients=2,
        idle_clients=2,
        databases=("sqlite",),
        writes=WritesCase(connections=(2,), seconds=1, warm_up_seconds=0.3),
        latency=(LatencyCase("10x2@10", sockets=10, analyses=2, rate=10, seconds=2),),
        connects=ConnectsCase(sockets=20, analyses=2, in_flight=10),
        sustained=None,
        idle=None,
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_const", dest="plan", const="quick", help="short durations, fewer sockets"
    )
    mode.add_argument("--smoke", action="store_const", dest="plan", const="smoke", help="a few sockets for 2 s")
    parser.set_defaults(plan="full")
    parser.add_argument("--output", type=Path, help="the Markdown report (default: docs/performance.md for a full run)")
    parser.add_argument("--json", type=Path, help="the raw figures (default: next to the report, .json)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios to run, comma-separated")
    parser.add_argument("--targets", default=",".join(TARGETS), help="relay, ours or both")
    parser.add_argument(
        "--databases",
        help="sqlite, postgres or both, comma-separated, one section each (default: both; --smoke: sqlite)",
    )
    default_url = os.environ.get("DATABASE_URL", "")
    parser.add_argument(
        "--database-url",
        default=default_url if default_url.startswith(("postgres://", "postgresql://")) else POSTGRES_URL,
        help="the PostgreSQL server to create the bench database on (default: $DATABASE_URL if it names one, "
        f"else {POSTGRES_URL})",
    )
    parser.add_argument(
        "--cluster",
        type=int,
        metavar="N",
        help="instead: the latency and connects scenarios through HAProxy in front of 1..N servers "
        "(deploy.cluster; ours only; writes var/bench/cluster.md)",
    )
    args = parser.parse_args(argv)
    args.databases = args.databases.split(",") if args.databases else list(PLANS[args.plan].databases)
    if unknown := set(args.databases) - set(DATABASES):
        parser.error(f"unknown database {', '.join(sorted(unknown))}: choose from {', '.join(DATABASES)}")
    return args


_began = time.monotonic()


def say(text: str) -> None:
    print(f"bench [{time.monotonic() - _began:5.0f} s]: {text}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> dict:
    plan = PLANS[args.plan]
    started = time.monotonic()
    open_files = raise_open_files_limit()
    needed = (max(plan.idle.stages) if plan.idle else 0) + 200
    if open_files < needed:
        say(f"open files limit {open_files} is below {needed}: the idle stages will stop early")
    results: dict = {
        "plan": asdict(plan),
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")),
        "targets": [target for target in TARGETS if target in args.targets.split(",")],
        "databases": {},
    }
    if args.cluster:
        results["layouts"] = await run_layouts(args.cluster, plan)
    else:
        for number, kind in enumerate(args.databases):
            results["databases"][kind] = await run_database(args, plan, kind, idle_too=number == 0)
    results["machine"]["load_average_at_end"] = load_average()
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    return results


async def run_database(args: argparse.Namespace, plan: Plan, kind: str, idle_too: bool) -> dict:
    """Every scenario of the plan on one database: relay first, then ours, each on fresh servers.

    The idle stages run on the run's first database only (``idle_too``): once open, an idle socket
    no longer touches the database, and the stages are the longest part of a run.
    """
    only = set(args.only.split(","))
    targets = [target for target in TARGETS if target in args.targets.split(",")]
    started = time.monotonic()
    say(f"{plan.name} run on {kind}: preparing the database and the producers")
    environment = await asyncio.to_thread(prepare_environment, args.database_url, kind)
    results: dict = {
        "database": environment.database,
        "server_logs": str(environment.logs.relative_to(ROOT)),
        **{scenario: {} for scenario in SCENARIOS},
    }
    producers: dict[str, Child] = {}
    try:
        # The producers load Django while the database migrates; they touch it only from "setup" on.
        starting = asyncio.gather(
            *(
                Child.start(f"{target} producer", "bench.producer", target, env=environment.env(target))
                for target in targets
            ),
            return_exceptions=True,
        )
        try:
            await asyncio.to_thread(environment.migrate)
        finally:
            launched = await starting
            producers = {
                target: child for target, child in zip(targets, launched, strict=True) if isinstance(child, Child)
            }
        for outcome in launched:
            if isinstance(outcome, BaseException):
                raise outcome
        tokens = {target: (await producers[target].call("setup"))["token"] for target in targets}
        context = Context(
            environment=environment,
            producers=producers,
            tokens=tokens,
            clients=plan.clients,
            idle_clients=plan.idle_clients,
            settle_seconds=plan.settle_seconds,
            heartbeat_interval=float(environment.ours.get("WS_HEARTBEAT_INTERVAL", 25.0)),
        )
        if "writes" in only and plan.writes:
            for target in targets:
                say(f"{kind}: writes through the HTTP API, {plan.writes.connections} connections: {target}")
                results["writes"][target] = await writes(context, target, plan.writes)
        if "latency" in only:
            for case in plan.latency:
                for target in targets:
                    say(f"{kind}: latency {case.key} through the HTTP API: {target}")
                    results["latency"].setdefault(case.key, {})[target] = await latency(context, target, case)
        if "connects" in only and plan.connects:
            for target in targets:
                say(f"{kind}: {plan.connects.sockets:,} connects, {plan.connects.in_flight} in flight: {target}")
                results["connects"][target] = await connects(context, target, plan.connects)
        if "sustained" in only and plan.sustained:
            for target in targets:
                say(f"{kind}: sustained rate, one analysis, {plan.sustained.subscribers} subscribers: {target}")
                results["sustained"][target] = await sustained(context, target, plan.sustained)
        if "idle" in only and plan.idle and idle_too:
            for target in targets:
                say(f"{kind}: idle sockets {plan.idle.stages}: {target}")
                results["idle"][target] = await idle(context, target, plan.idle)
    finally:
        await asyncio.gather(*(producer.stop() for producer in producers.values()), return_exceptions=True)
        results["server_errors"] = environment.logged_errors()
        environment.cleanup()
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    return results


async def run_layouts(largest: int, plan: Plan) -> dict:
    """The latency and connects scenarios through the production layout, with 1..``largest`` servers."""
    layouts = {}
    for servers in range(1, largest + 1):
        say(f"layout of {servers} server(s) behind HAProxy: starting")
        with contextlib.ExitStack() as stack:
            layout, env = await asyncio.to_thread(stack.enter_context, running_layout(servers, say))
            layouts[str(servers)] = await measure_layout(plan, layout, env)
    say("layout of 1 server without the database pool: starting")
    with contextlib.ExitStack() as stack:
        layout, env = await asyncio.to_thread(stack.enter_context, running_layout(1, say, pool=False))
        layouts["1, no pool"] = await measure_layout(plan, layout, env, with_latency=False)
    return layouts


async def measure_layout(plan: Plan, layout: Layout, env: dict[str, str], *, with_latency: bool = True) -> dict:
    environment = Environment(ours=env, relay={}, database="the layout's PostgreSQL", logs=ROOT / "var" / "bench")
    producer = await Child.start("ours producer", "bench.producer", "ours", env=env)
    try:
        context = Context(
            environment=environment,
            producers={"ours": producer},
            tokens={"ours": (await producer.call("setup"))["token"]},
            clients=plan.clients,
            idle_clients=plan.idle_clients,
            settle_seconds=plan.settle_seconds,
            heartbeat_interval=float(env.get("WS_HEARTBEAT_INTERVAL", 25.0)),
            layout=layout,
        )
        figures: dict = {"servers": len(layout.pids), "latency": {}}
        for case in plan.latency if with_latency else ():
            say(f"layout of {len(layout.pids)}: latency {case.key} through HAProxy")
            figures["latency"][case.key] = await latency(context, "ours", case)
        if plan.connects:
            say(f"layout of {len(layout.pids)}: {plan.connects.sockets:,} connects through HAProxy")
            figures["connects"] = await connects(context, "ours", plan.connects)
        if plan.sustained and with_latency:
            say(f"layout of {len(layout.pids)}: sustained rate, {plan.sustained.subscribers} subscribers via HAProxy")
            figures["sustained"] = await sustained(context, "ours", plan.sustained)
        return figures
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output = args.output or (
        ROOT / "var" / "bench" / "cluster.md"
        if args.cluster
        else ROOT / "docs" / "performance.md"
        if args.plan == "full"
        else ROOT / "var" / "bench" / f"{args.plan}.md"
    )
    json_output = args.json or output.with_suffix(".json")
    results = asyncio.run(run(args))
    output.parent.mkdir(parents=True, exist_ok=True)
    json_output.parent.mkdir(parents=True, exist_ok=True)
    json_output.write_text(json.dumps(results, indent=1) + "\n")
    output.write_text(render(results))
    say(f"wrote {output} and {json_output} in {results['minutes']} min")
    for kind, figures in results["databases"].items():
        if (ROOT / figures["server_logs"]).is_dir():
            say(f"{kind}: the servers wrote output: see {figures['server_logs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
