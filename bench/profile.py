"""Where a server process spends its CPU on the two paths every user takes: ``scripts/profile``.

``transition``: workers' status updates, ``POST /api/analyses/<id>/transition/`` with a worker's
JWT, from 8 keep-alive connections (wrk). ``connect``: frontends opening sockets, each
authenticated with the subprotocol JWT and subscribed through its path, 50 at a time.

One daphne of the given checkout (this one by default: point ``--checkout`` at another worktree to
profile older code the same way) on a fresh SQLite database, or a database of its own on the
PostgreSQL server of ``--database-url``, under that load while py-spy samples only the thread
holding the GIL, i.e. where the CPU goes. Prints the requests per second and the server's CPU per
request, the share of each part of the request, and the busiest functions.
"""

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .servers import ROOT, cpu_seconds, free_port

#: Parts of a request, each named by the files of its innermost frame (the first match wins).
PARTS = [
    ("publishing to Redis", ("realtime/publisher.py", "channels_redis/", "redis/asyncio")),
    ("JWT and the user", ("secureai/authentication.py", "jwt/", "rest_framework_simplejwt/")),
    ("validation and rules", ("api/serializers.py", "rest_framework/fields.py", "state_machine.py")),
    ("ORM: compiling SQL", ("sql/compiler.py", "sql/query.py", "models/expressions.py", "models/lookups.py")),
    (
        "ORM: running SQL",
        ("backends/utils.py", "backends/sqlite3/", "backends/postgresql/", "psycopg", "db/transaction.py"),
    ),
    ("ORM: models and querysets", ("db/models/",)),
    ("the socket's work", ("realtime/", "channels/")),
    ("DRF", ("rest_framework/",)),
    (
        "Django: middleware, handler, URLs",
        (
            "django/middleware/",
            "django/contrib/",
            "django/core/handlers/",
            "django/urls/",
            "django/http/",
            "django/utils/",
            "secureai/",
        ),
    ),
    ("hops between threads", ("asgiref/", "concurrent/futures/", "threading.py", "queue.py")),
    ("daphne, Twisted, autobahn", ("daphne/", "twisted/", "autobahn/", "txaio/")),
    ("the event loop", ("asyncio/", "selectors.py")),
]

TRANSITIONS_LUA = """
local ids, token, counter = {}, nil, 0
thread_id = 0
local made = 0
function setup(thread) made = made + 1; thread:set("thread_id", made) end
function init(args) token = args[1]; for i = 2, #args do ids[#ids + 1] = args[i] end end
function request()
  counter = counter + 1
  return wrk.format("POST", "/api/analyses/" .. ids[(counter % #ids) + 1] .. "/transition/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"message": "p' .. thread_id .. '-' .. counter .. '"}')
end
"""

PREPARE = """
import django, json
django.setup()
from django.contrib.auth.models import Permission, User
from rest_framework_simplejwt.tokens import RefreshToken
from analyses.services import analysis_create, analysis_transition
from analyses.state_machine import Change, Stage, Status
owner = User.objects.create(username="profile-owner")
worker = User.objects.create(username="profile-worker")
worker.user_permissions.add(Permission.objects.get(codename="change_analysis_status"))
ids = []
for number in range(10):
    analysis = analysis_create(owner=owner, filename=f"profile-{number}.mp4")
    analysis_transition(analysis_id=analysis.pk, change=Change(status=Status.QUEUED), actor="profile")
    start = Change(status=Status.PROCESSING, stage=Stage.UPLOAD_VALIDATION)
    analysis_transition(analysis_id=analysis.pk, change=start, actor="profile")
    ids.append(str(analysis.pk))
tokens = {name: str(RefreshToken.for_user(user).access_token) for name, user in (("owner", owner), ("worker", worker))}
print(json.dumps({"ids": ids, **tokens}))
"""


def parts_of(stacks: Path) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Share of samples per part and the busiest functions (innermost frame) of py-spy's raw output."""
    by_part: collections.Counter[str] = collections.Counter()
    by_leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        by_leaf[frames[-1].split(" (")[0] + " (" + frames[-1].rsplit("/", 1)[-1]] += samples
        for frame in reversed(frames):
            part = next((name for name, files in PARTS if any(f in frame for f in files)), None)
            if part is not None:
                by_part[part] += samples
                break
        else:
            by_part["other"] += samples
    share = {name: round(100 * samples / total, 1) for name, samples in by_part.most_common()}
    return share, [(name, round(100 * samples / total, 1)) for name, samples in by_leaf.most_common(12)]


async def open_and_close_sockets(port: int, token: str, ids: list[str], seconds: float) -> int:
    """Open sockets (JWT subprotocol, subscribed by path) 50 at a time for ``seconds``; how many."""
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    opened = 0
    deadline = time.monotonic() + seconds

    async def one_after_another(lane: int) -> None:
        nonlocal opened
        while time.monotonic() < deadline:
            analysis_id = ids[opened % len(ids)]
            async with connect(
                f"ws://127.0.0.1:{port}/ws/status/{analysis_id}/",
                subprotocols=[Subprotocol("secureai.jwt.v1"), Subprotocol(token)],
                compression=None,
            ) as ws:
                while json.loads(await ws.recv())["type"] != "subscribe_success":
                    pass
            opened += 1

    await asyncio.gather(*(one_after_another(lane) for lane in range(50)))
    return opened


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/profile", description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["transition", "connect"])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the code to profile (default: this checkout)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", help="a PostgreSQL server to create the profile's database on")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--stacks", type=Path, help="also keep py-spy's raw stacks here")
    args = parser.parse_args(argv)
    checkout = args.checkout.resolve()
    work = Path(tempfile.mkdtemp(prefix="secureai-profile-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECUREAI_TEST"))},
        "PYTHONPATH": str(checkout),
        "DJANGO_SETTINGS_MODULE": "secureai.settings.local",
        "SECRET_KEY": "profile-" + "x" * 50,
        "WORKER_PIPELINE": "demo",
        "LOG_LEVEL": "WARNING",
        "CHANNEL_LAYER_PREFIX": f"profile-{os.getpid()}",
        "WS_MAX_CONNECTIONS_PER_USER": "100000",
        "DATABASE_URL": f"sqlite:///{work / 'profile.sqlite3'}",
    }
    database = PostgresDatabase(args.database_url, f"secureai_profile_{os.getpid()}") if args.database_url else None
    if database is not None:
        env["DATABASE_URL"] = database.create()
    port = free_port()
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=checkout, env=env, check=True)
        prepared = json.loads(
            subprocess.run(
                [sys.executable, "-c", PREPARE], cwd=checkout, env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-v",
                "0",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "secureai.asgi:application",
            ],
            cwd=checkout,
            env=env,
        )
        try:
            figures = _profile(args, server, port, prepared, work)
        finally:
            server.terminate()
            server.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if database is not None:
            database.drop()
    print(render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


def _profile(args: argparse.Namespace, server: subprocess.Popen, port: int, prepared: dict, work: Path) -> dict:
    _wait_for(port)
    stacks = work / "stacks.txt"
    spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--gil", "-r", "200", "-f", "raw", "-o", str(stacks)]
    spy += ["-d", str(int(args.seconds)), "-p", str(server.pid), "--nonblocking"]
    if args.path == "transition":
        script = work / "transitions.lua"
        script.write_text(TRANSITIONS_LUA)

        def load(seconds: float) -> list[str]:
            target = [f"http://127.0.0.1:{port}", "--", prepared["worker"], *prepared["ids"]]
            return ["wrk", "-t2", "-c8", f"-d{int(seconds)}s", "-s", str(script), *target]

        subprocess.run(load(2), check=True, capture_output=True)  # warm up
        cpu = cpu_seconds(server.pid)
        running = subprocess.Popen(load(args.seconds + 2), stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        subprocess.run(spy, check=True, capture_output=True)
        output = running.communicate()[0]
        done = int(next(line.split()[0] for line in output.splitlines() if "requests in" in line))
        rate = float(next(line.split()[1] for line in output.splitlines() if line.startswith("Requests/sec")))
    else:
        asyncio.run(open_and_close_sockets(port, prepared["owner"], prepared["ids"], 2))  # warm up
        cpu = cpu_seconds(server.pid)
        spying = subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        done = asyncio.run(open_and_close_sockets(port, prepared["owner"], prepared["ids"], args.seconds))
        rate = done / (time.monotonic() - started)
        spying.wait(60)
    share, busiest = parts_of(stacks)
    if args.stacks:
        shutil.copy(stacks, args.stacks)
    return {
        "path": args.path,
        "checkout": str(args.checkout),
        "per_second": round(rate, 1),
        "server_cpu_ms_each": round(1000 * (cpu_seconds(server.pid) - cpu) / done, 2),
        "parts_percent": share,
        "busiest_functions_percent": busiest,
    }


def render(figures: dict) -> str:
    """The figures as Markdown, as docs/profiles.md shows them."""
    lines = [
        f"{figures['path']}: {figures['per_second']}/s, {figures['server_cpu_ms_each']} ms of server CPU each",
        "",
        "| part of the work | share of the CPU |",
        "|---|---|",
        *(f"| {part} | {share} % |" for part, share in figures["parts_percent"].items()),
        "",
        "| busiest function | share |",
        "|---|---|",
        *(f"| `{name}` | {share} % |" for name, share in figures["busiest_functions_percent"]),
    ]
    return "\n".join(lines)


def _wait_for(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"daphne did not listen on {port}")


class PostgresDatabase:
    """A database of the profile's own on a PostgreSQL server, dropped afterwards."""

    def __init__(self, server_url: str, name: str) -> None:
        self.server_url, self.name = server_url, name

    def create(self) -> str:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{self.name}"))

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
