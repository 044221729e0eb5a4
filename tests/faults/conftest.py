"""One reduced production layout for the whole fault suite, the load that runs during every
fault, and the report of what each fault did (var/faults/report.json, and a summary at the end).

The layout: HAProxy, three servers, one worker, PostgreSQL, a Redis primary and replica with three
Sentinels. server-3 reaches Redis through a proxy of the suite (tests/faults/redis_proxy.py) that
follows the primary, so one test can cut that server alone off from Redis.
"""

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.cluster import MASTER_NAME, Cluster
from deploy.ports import Ports
from deploy.processes import Child, port_is_free, wait_until
from tests.faults.load import Load
from tests.servers import ROOT, cluster_state_dir

REPORT = ROOT / "var" / "faults" / "report.json"
LOGS = ROOT / "var" / "faults" / "logs"
PROXIED_SERVER = "server-3"
# Offsets 61-99 of the layout's ports are free for processes that join it.
PROXY_OFFSET = 70
# The demo worker stays out of the way: no demo analyses, no stall sweep of the load's analyses
# (the producer pauses between faults); sockets may live as long as the suite (one user, 200 sockets).
LAYOUT_ENV = {
    "WORKER_DEMO_INTERVAL": "3600",
    "WORKER_STALL_TIMEOUT": "3600",
    "WORKER_DEMO_SPEED": "3",
    "WS_MAX_CONNECTIONS_PER_USER": "1000",
    "JWT_ACCESS_LIFETIME": "3600",
}
ANALYSES = 20
SUBSCRIBERS = 200
ANALYSES_PER_SUBSCRIBER = 2
TRANSITIONS_PER_SECOND = 60

figures: list[dict[str, Any]] = []


def proxy_child(cluster_dir: Path, ports: Ports, port: int) -> Child:
    return Child(
        "redis-proxy",
        "proxy",
        [
            sys.executable,
            *("-m", "tests.faults.redis_proxy", "--port", str(port)),
            *("--sentinels", ",".join(f"127.0.0.1:{sentinel}" for sentinel in ports.sentinels)),
            *("--master", MASTER_NAME),
        ],
        env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        log_path=cluster_dir / "redis-proxy.log",
    )


@pytest.fixture(scope="session")
def redis_proxy_and_cluster() -> Iterator[tuple[Child, Cluster]]:
    ports = Ports.free(servers=3, workers=1)
    proxy_port = ports.haproxy + PROXY_OFFSET
    with cluster_state_dir() as state_dir:
        proxy = proxy_child(state_dir, ports, proxy_port)
        proxy.start()
        wait_until(lambda: not port_is_free(proxy_port), 20, "the Redis proxy listens")
        cluster = Cluster(
            state_dir=state_dir,
            ports=ports,
            env=LAYOUT_ENV,
            server_env={
                PROXIED_SERVER: {
                    "REDIS_URL": f"redis://127.0.0.1:{proxy_port}/0",
                    "REDIS_SENTINELS": "",
                    "REDIS_SENTINEL_MASTER": "",
                }
            },
        )
        try:
            cluster.start()
            yield proxy, cluster
        finally:
            cluster.stop()
            proxy.stop()
            # Every process's log, for a failure to be read after the state folder is gone.
            shutil.rmtree(LOGS, ignore_errors=True)
            shutil.copytree(state_dir / "logs", LOGS)
            shutil.copy(state_dir / "redis-proxy.log", LOGS)


@pytest.fixture(scope="session")
def cluster(redis_proxy_and_cluster: tuple[Child, Cluster]) -> Cluster:
    return redis_proxy_and_cluster[1]


@pytest.fixture(scope="session")
def redis_proxy(redis_proxy_and_cluster: tuple[Child, Cluster]) -> Child:
    return redis_proxy_and_cluster[0]


@pytest.fixture(scope="session")
def load(cluster: Cluster) -> Iterator[Load]:
    running = Load(
        url=cluster.url,
        ws_url=cluster.ws_url,
        origin=cluster.origin,
        analyses=ANALYSES,
        subscribers=SUBSCRIBERS,
        per_subscriber=ANALYSES_PER_SUBSCRIBER,
        rate=TRANSITIONS_PER_SECOND,
    )
    running.start()
    yield running
    running.close()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not figures:
        return
    terminalreporter.section("faults under load")
    for fault in figures:
        terminalreporter.write_line(
            f"{fault['fault']}: closes {fault['closes']}, {fault['reconnections']} reconnections "
            f"(p50 {fault['reconnection_ms_p50']} ms, p99 {fault['reconnection_ms_p99']} ms), "
            f"refusals {fault['transition_refusals']}, resent unanswered {fault['transitions_resent_unanswered']}, "
            f"{fault['transitions_accepted']} writes "
            f"({fault['transitions_per_second']}/s), delivery p50/p99/max {fault['delivery_ms_p50']}/"
            f"{fault['delivery_ms_p99']}/{fault['delivery_ms_max']} ms, complete {fault['complete_after_stop_s']} s "
            f"after the last write, lost {fault['events_lost']}"
        )
    terminalreporter.write_line(f"written to {REPORT}")
