"""The benchmark's entry point: ``python -m bench.run [--quick | --smoke]`` (scripts/bench runs it).

Runs every scenario against the bare relay and against our service, one after the other in the
same run, and writes docs/performance.md and docs/performance.json (a full run) or var/bench/
(a quick or smoke run, unless --output says otherwise).
"""

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .control import Child
from .environment import load_average, machine_info, prepare_environment, raise_open_files_limit
from .report import render
from .scenarios import Context, IdleCase, LatencyCase, SustainedCase, idle, latency, sustained
from .servers import ROOT

TARGETS = ("relay", "ours")  # the relay first in each scenario: both see the same machine minutes apart


@dataclass(frozen=True)
class Plan:
    name: str
    settle_seconds: float  # quiet time after opening sockets, before measuring
    clients: int
    idle_clients: int
    latency: tuple[LatencyCase, ...]
    sustained: SustainedCase | None
    idle: IdleCase | None


PLANS = {
    "full": Plan(
        name="full",
        settle_seconds=2.0,
        clients=2,
        idle_clients=4,
        latency=(
            LatencyCase("100x10@50", sockets=100, analyses=10, rate=50, seconds=12),
            LatencyCase("1000x100@20", sockets=1000, analyses=100, rate=20, seconds=12, memory=True),
        ),
        sustained=SustainedCase(
            subscribers=100, rates=(5, 10, 20, 30, 50, 70, 100, 150, 200, 300, 400, 800, 1600), seconds=8
        ),
        # Held longer than one heartbeat interval (25 s), so every socket of ours shows a heartbeat.
        idle=IdleCase(stages=(5000, 10000), analyses=100, hold_seconds=26),
    ),
    "quick": Plan(
        name="quick",
        settle_seconds=1.0,
        clients=2,
        idle_clients=4,
        latency=(
            LatencyCase("100x10@50", sockets=100, analyses=10, rate=50, seconds=4),
            LatencyCase("1000x100@20", sockets=1000, analyses=100, rate=20, seconds=4, memory=True),
        ),
        sustained=SustainedCase(subscribers=100, rates=(5, 20, 100, 400), seconds=3),
        idle=IdleCase(stages=(1000, 2000), analyses=20, hold_seconds=5),
    ),
    "smoke": Plan(
        name="smoke",
        settle_seconds=0.3,
        clients=2,
        idle_clients=2,
        latency=(LatencyCase("10x2@10", sockets=10, analyses=2, rate=10, seconds=2),),
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
    parser.add_argument("--only", default="latency,sustained,idle", help="scenarios to run, comma-separated")
    parser.add_argument("--targets", default=",".join(TARGETS), help="relay, ours or both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server to create the bench database on (default: $DATABASE_URL; none: SQLite)",
    )
    return parser.parse_args(argv)


_began = time.monotonic()


def say(text: str) -> None:
    print(f"bench [{time.monotonic() - _began:5.0f} s]: {text}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> dict:
    plan = PLANS[args.plan]
    only = set(args.only.split(","))
    targets = [target for target in TARGETS if target in args.targets.split(",")]
    started = time.monotonic()
    open_files = raise_open_files_limit()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    results: dict = {
        "plan": asdict(plan),
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(redis_url),
        "targets": targets,
        "latency": {},
        "sustained": {},
        "idle": {},
    }
    say(f"{plan.name} run; preparing the database and the producers")
    environment = await asyncio.to_thread(prepare_environment, args.database_url)
    results["database"] = environment.database
    results["server_logs"] = str(environment.logs.relative_to(ROOT))
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
        needed = (max(plan.idle.stages) if plan.idle else 0) + 200
        if open_files < needed:
            say(f"open files limit {open_files} is below {needed}: the idle stages will stop early")
        if "latency" in only:
            for case in plan.latency:
                for target in targets:
                    say(f"latency {case.key}: {target}")
                    results["latency"].setdefault(case.key, {})[target] = await latency(context, target, case)
        if "sustained" in only and plan.sustained:
            for target in targets:
                say(f"sustained rate, one analysis, {plan.sustained.subscribers} subscribers: {target}")
                results["sustained"][target] = await sustained(context, target, plan.sustained)
        if "idle" in only and plan.idle:
            for target in targets:
                say(f"idle sockets {plan.idle.stages}: {target}")
                results["idle"][target] = await idle(context, target, plan.idle)
    finally:
        await asyncio.gather(*(producer.stop() for producer in producers.values()), return_exceptions=True)
        results["server_errors"] = environment.logged_errors()
        environment.cleanup()
    results["machine"]["load_average_at_end"] = load_average()
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output = args.output or (
        ROOT / "docs" / "performance.md" if args.plan == "full" else ROOT / "var" / "bench" / f"{args.plan}.md"
    )
    json_output = args.json or output.with_suffix(".json")
    results = asyncio.run(run(args))
    output.parent.mkdir(parents=True, exist_ok=True)
    json_output.parent.mkdir(parents=True, exist_ok=True)
    json_output.write_text(json.dumps(results, indent=1) + "\n")
    output.write_text(render(results))
    say(f"wrote {output} and {json_output} in {results['minutes']} min")
    if (ROOT / results["server_logs"]).is_dir():
        say(f"the servers wrote output: see {results['server_logs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
