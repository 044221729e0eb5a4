"""The production layout as the server under test: ``scripts/bench --cluster N``.

For n = 1..N servers it starts ``deploy.cluster.Cluster`` (HAProxy in front of n daphne servers,
Redis with Sentinel, a PostgreSQL of its own, the demo seeded) and runs the plan's HTTP latency and
connects scenarios through HAProxy against ours (the relay has no layout). The demo's worker is
stopped once the layout is up, so the benchmark's producer is the only writer. CPU and memory
are summed over the n server processes. Last, one server without the database pool runs the
connects scenario again, to show what the pool saves.
"""

import contextlib
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from deploy.cluster import Cluster
from deploy.ports import Ports

from .servers import ROOT, Measured

# What the servers of the layout need for the benchmark: every socket is one user's, and tokens
# outlive the run.
SERVER_ENV = {"WS_MAX_CONNECTIONS_PER_USER": "100000", "JWT_ACCESS_LIFETIME": "7200"}
# The layout without Django's connection pool: a database connection opened and closed per request,
# the cost the pool takes away.
WITHOUT_POOL_ENV = {"DATABASE_POOL": "false", "DATABASE_CONN_MAX_AGE": "0"}


@dataclass
class Layout(Measured):
    url: str  # HAProxy's
    server_pids: tuple[int, ...]

    @property
    def pids(self) -> tuple[int, ...]:
        return self.server_pids

    @property
    def http_url(self) -> str:
        return self.url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


@contextlib.contextmanager
def running_layout(
    servers: int, log: Callable[[str], None], *, pool: bool = True
) -> Iterator[tuple[Layout, dict[str, str]]]:
    """The layout with ``servers`` servers, and the environment of a process of the service beside it."""
    env = {**SERVER_ENV, "SECRET_KEY": secrets.token_urlsafe(50), **({} if pool else WITHOUT_POOL_ENV)}
    state_dir = ROOT / "var" / "bench" / f"cluster-{servers}"
    try:
        with Cluster(state_dir=state_dir, ports=Ports.free(servers=servers, workers=1), env=env, log=log) as cluster:
            cluster.stop_process("worker-1")
            pids = tuple(cluster.children[name].pid for name in cluster.server_names)
            yield Layout(cluster.url, pids), cluster.service_env(LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)  # its PostgreSQL data folder alone is tens of MiB
