"""Where each process of the local layout listens: fixed defaults, a base port, or a free range.

With ``CLUSTER_BASE_PORT`` every port is the base plus its offset below, so tests (and a second
layout on the same machine) take a whole range at once; offsets 61-99 stay free for processes
that join later. A port's own variable wins over both.
"""

import random
from collections.abc import Mapping
from dataclasses import astuple, dataclass

from .processes import port_is_free

MAX_SERVERS = MAX_WORKERS = 10
BASE_SPAN = 100

# The first port of each part: (its variable, default, offset from CLUSTER_BASE_PORT).
FIRST_PORTS = {
    "haproxy": ("CLUSTER_HAPROXY_PORT", 8080, 0),
    "haproxy_stats": ("CLUSTER_HAPROXY_STATS_PORT", 8404, 1),
    "servers": ("CLUSTER_SERVER_PORT", 8101, 10),
    "redis": ("CLUSTER_REDIS_PORT", 6380, 20),
    "sentinels": ("CLUSTER_SENTINEL_PORT", 26380, 30),
    "postgres": ("CLUSTER_POSTGRES_PORT", 5433, 40),
    "worker_metrics": ("CLUSTER_WORKER_METRICS_PORT", 9101, 50),
    "prometheus": ("CLUSTER_PROMETHEUS_PORT", 9090, 60),
}


@dataclass(frozen=True)
class Ports:
    haproxy: int
    haproxy_stats: int
    servers: tuple[int, ...]
    # The primary at first start, then its replica (Sentinel may swap their roles).
    redis: tuple[int, int]
    sentinels: tuple[int, int, int]
    postgres: int
    # Each worker's WORKER_METRICS_PORT, where Prometheus scrapes it.
    worker_metrics: tuple[int, ...]
    prometheus: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], *, servers: int, workers: int) -> "Ports":
        if not 1 <= servers <= MAX_SERVERS or not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"1 to {MAX_SERVERS} servers and 1 to {MAX_WORKERS} workers, not {servers} and {workers}")
        base = _port(environ, "CLUSTER_BASE_PORT", None)
        first = {
            name: _port(environ, variable, base + offset if base else default)
            for name, (variable, default, offset) in FIRST_PORTS.items()
        }
        return cls(
            haproxy=first["haproxy"],
            haproxy_stats=first["haproxy_stats"],
            servers=tuple(range(first["servers"], first["servers"] + servers)),
            redis=(first["redis"], first["redis"] + 1),
            sentinels=(first["sentinels"], first["sentinels"] + 1, first["sentinels"] + 2),
            postgres=first["postgres"],
            worker_metrics=tuple(range(first["worker_metrics"], first["worker_metrics"] + workers)),
            prometheus=first["prometheus"],
        )

    @classmethod
    def free(cls, *, servers: int, workers: int, attempts: int = 50) -> "Ports":
        """A layout whose every port is free now, below Linux's range of outgoing ports (32768+)."""
        for _ in range(attempts):
            base = random.randrange(20_000, 32_000, BASE_SPAN)
            ports = cls.from_environment({"CLUSTER_BASE_PORT": str(base)}, servers=servers, workers=workers)
            if all(port_is_free(port) for port in ports.all()):
                return ports
        raise RuntimeError(f"no free range of {BASE_SPAN} ports found in {attempts} attempts")

    def all(self) -> list[int]:
        flat: list[int] = []
        for value in astuple(self):
            flat.extend(value if isinstance(value, tuple) else (value,))
        return flat


def _port(environ: Mapping[str, str], variable: str, default: int | None) -> int | None:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65_000:
        raise ValueError(f"{variable} must be a port number, not {raw!r}")
    return int(raw)
