"""What the benchmark runs on: a database of its own, the environment of each process, the machine.

Our server and producer get the bench settings on a fresh database (a SQLite file under var/, or
a PostgreSQL database created for the run on the server a URL names, and dropped after it),
migrated by the harness; the relay gets its own settings. Each target has its own channel-layer
prefix on the shared Redis, so nothing else on it reaches the sockets under test.
"""

import os
import platform
import resource
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from .servers import ROOT

PACKAGES = (
    "Django",
    "channels",
    "channels-redis",
    "daphne",
    "Twisted",
    "autobahn",
    "redis",
    "msgpack",
    "websockets",
    "djangorestframework-simplejwt",
    "psycopg",
)
# Inherited variables that would point a child at the test suite's settings or database.
DROPPED = (
    "DJANGO_SETTINGS_MODULE",
    "SECUREAI_TEST_DATABASE_NAME",
    "SECUREAI_TEST_RUN",
    "CHANNEL_LAYER_PREFIX",
    "CACHE_KEY_PREFIX",
)


@dataclass
class Environment:
    ours: dict[str, str]
    relay: dict[str, str]
    database: str  # what the report says about it
    logs: Path  # where the servers write their output
    _drop: list = field(default_factory=list, repr=False)

    def server_log(self, target: str) -> Path:
        return self.logs / f"{target}-server.log"

    def env(self, target: str) -> dict[str, str]:
        return self.ours if target == "ours" else self.relay

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=self.ours,
            check=True,
            timeout=300,
        )

    def forget_channel_layer_keys(self) -> int:
        """Delete what this run left on the shared Redis under its own prefixes; how many keys."""
        client = redis.Redis.from_url(self.ours.get("REDIS_URL", "redis://127.0.0.1:6379/0"), socket_timeout=10)
        deleted = 0
        try:
            for env in (self.ours, self.relay):
                keys = list(client.scan_iter(match=f"{env['CHANNEL_LAYER_PREFIX']}*", count=1000))
                for start in range(0, len(keys), 500):
                    deleted += client.delete(*keys[start : start + 500])
        finally:
            client.close()
        return deleted

    def logged_errors(self) -> dict[str, dict[str, int]]:
        """Per target, each distinct error line the servers logged, with how often."""
        found: dict[str, dict[str, int]] = {}
        for target in ("ours", "relay"):
            log = self.server_log(target)
            if not log.exists():
                continue
            for line in log.read_text(errors="replace").splitlines():
                if " ERROR " in line or line.startswith("Exception inside application"):
                    message = line.split(" ERROR ", 1)[-1]
                    found.setdefault(target, {})[message] = found.get(target, {}).get(message, 0) + 1
        return found

    def forget_empty_logs(self) -> None:
        if self.logs.is_dir() and all(log.stat().st_size == 0 for log in self.logs.iterdir()):
            for log in self.logs.iterdir():
                log.unlink()
            self.logs.rmdir()

    def cleanup(self) -> None:
        for drop in self._drop:
            try:
                drop()
            except Exception as error:
                print(f"bench: cleanup failed: {error}", file=sys.stderr)


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard one (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _postgres_database(url: str, run: str) -> tuple[str, str, object]:
    import psycopg

    parts = urlsplit(url)
    name = f"secureai_bench_{run}"
    # Created and dropped from the server's maintenance database: the one the URL names may not exist.
    url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
        server_version = connection.execute("SHOW server_version").fetchone()[0]

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), f"PostgreSQL {server_version} (database {name})", drop


def _sqlite_database(run: str) -> tuple[str, str, object]:
    import sqlite3

    folder = ROOT / "var"
    folder.mkdir(exist_ok=True)
    path = folder / f"bench-{run}.sqlite3"

    def drop() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    drop()
    return f"sqlite:///{path}", f"SQLite {sqlite3.sqlite_version} (WAL), var/{path.name}", drop


def prepare_environment(database_url: str, kind: str) -> Environment:
    """Create the bench database (empty: ``migrate`` fills it) and build every child's environment.

    ``kind`` is "postgres" (on the server ``database_url`` names) or "sqlite".
    """
    run = f"{os.getpid()}_{kind}"
    base = {key: value for key, value in os.environ.items() if key not in DROPPED}
    base.update(PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    if kind == "postgres":
        url, described, drop = _postgres_database(database_url, run)
    else:
        url, described, drop = _sqlite_database(run)
    ours = {
        **base,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": url,
        "CHANNEL_LAYER": "redis",
        # Every socket of the benchmark is the same user's.
        "WS_MAX_CONNECTIONS_PER_USER": "100000",
        "CHANNEL_LAYER_PREFIX": f"bench-{run}-ours",
        "CACHE_KEY_PREFIX": f"bench-{run}-cache",
        "JWT_ACCESS_LIFETIME": "7200",
    }
    relay = {**base, "DJANGO_SETTINGS_MODULE": "bench.relay.settings", "CHANNEL_LAYER_PREFIX": f"bench-{run}-relay"}
    environment = Environment(ours=ours, relay=relay, database=described, logs=ROOT / "var" / "bench" / f"logs-{run}")
    environment._drop += [drop, environment.forget_channel_layer_keys, environment.forget_empty_logs]
    return environment


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "unavailable"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine_info(redis_url: str) -> dict:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = "not installed"
    try:
        redis_version = redis.Redis.from_url(redis_url, socket_connect_timeout=2).info("server")["redis_version"]
    except redis.RedisError:
        redis_version = "unreachable"
    return {
        "nproc": _run(["nproc"]),
        "free_h": _run(["free", "-h"]),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "packages": packages,
        "redis": redis_version,
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "load_average_at_start": load_average(),
    }
