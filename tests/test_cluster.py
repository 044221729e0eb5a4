"""The production layout on one machine (deploy.cluster and scripts/cluster), seen through HAProxy.

A client signs in, opens a WebSocket and sees a worker move an analysis; HAProxy drains a server,
drops a killed one, and fails open while the database is down; Redis fails over; every process
stops with the layout. A request carries one id through HAProxy's log and the server. The layout
is reduced (two servers, one worker) to keep the run short.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from deploy.cluster import Cluster
from deploy.ports import Ports
from deploy.processes import wait_until
from tests.clients import http_json, open_ws, request
from tests.http import http_call
from tests.servers import ROOT, processes_in_groups, started_processes

pytestmark = pytest.mark.server

# Settings of the test run that must not reach the layout (it has its own database and Redis).
TEST_ONLY = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SECUREAI_TEST_DATABASE_NAME", "SECUREAI_TEST_RUN"}
EVENT_TYPES = {"status_update", "stage_transition", "progress_update", "completion_update", "error_update"}


def readyz(base: str, timeout: float = 10) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def worker_event(socket, timeout: float) -> dict:
    """The next event of the analyses stream written by a worker."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] in EVENT_TYPES and message["actor"].startswith("worker-"):
                return message


def prometheus_targets(cluster: Cluster) -> set[tuple[str, str, str]]:
    """(job, address, health) of each target, as the cluster's Prometheus reports them."""
    with urllib.request.urlopen(f"{cluster.prometheus_url}/api/v1/targets", timeout=5) as response:
        targets = json.load(response)["data"]["activeTargets"]
    return {(target["labels"]["job"], target["labels"]["instance"], target["health"]) for target in targets}


def expected_targets(cluster: Cluster) -> set[tuple[str, str, str]]:
    """Every server and every worker, up."""
    servers = {("secureai-server", f"127.0.0.1:{port}", "up") for port in cluster.ports.servers}
    return servers | {("secureai-worker", f"127.0.0.1:{port}", "up") for port in cluster.ports.worker_metrics}


async def test_the_cluster_serves_through_haproxy_and_stops_every_process(cluster_dir):
    cluster = Cluster(
        state_dir=cluster_dir, ports=Ports.free(servers=2, workers=1), env={"WORKER_DEMO_SPEED": "3"}, log=print
    )
    started = time.monotonic()
    await asyncio.to_thread(cluster.start)
    print(f"layout started in {time.monotonic() - started:.1f} s")
    try:
        assert readyz(cluster.url) == (200, {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}})
        # HAProxy writes header names in lower case.
        made_here = http_call("GET", f"{cluster.url}/healthz").headers["x-request-id"]
        kept = http_call("GET", f"{cluster.url}/healthz", headers={"X-Request-ID": "client-7"}).headers
        assert kept["x-request-id"] == "client-7"
        proxy_log = cluster.children["haproxy"].log_path

        def logged(request_id: str) -> bool:
            lines = proxy_log.read_text().splitlines()
            return any(f"{{{request_id}}}" in line and '"GET /healthz ' in line for line in lines)

        wait_until(lambda: logged(made_here) and logged("client-7"), 5, "HAProxy logs both ids")
        # The throttles count in the layout's Redis, reached through Sentinel like everything else.
        wrong = {"username": "analyst", "password": "not-the-password"}
        assert http_json("POST", f"{cluster.url}/api/token/", body=wrong)[0] == 401
        with redis.Redis(port=cluster.redis_ports[cluster.redis_primary()], socket_timeout=2) as layout_redis:
            assert layout_redis.keys("*:axes-*"), "no sign-in failure counted in the layout's Redis"
        status, tokens = http_json(
            "POST", f"{cluster.url}/api/token/", body={"username": "admin", "password": "admin-demo-pass"}
        )
        assert status == 200
        token = tokens["access"]
        _, page = http_json("GET", f"{cluster.url}/api/analyses/?limit=100", token)
        moving = [item["analysis_id"] for item in page["results"] if item["status"] in {"queued", "processing"}]
        assert moving, page

        wait_until(lambda: prometheus_targets(cluster) == expected_targets(cluster), 30, "Prometheus scrapes all")

        socket = await open_ws(cluster, token)
        for analysis_id in moving:
            await request(socket, {"type": "subscribe_request", "analysis_id": analysis_id}, "subscribe_success")
        event = await worker_event(socket, timeout=30)
        assert event["actor"] == "worker-1" and event["analysis_id"] in moving
        await socket.close()

        cluster.drain("server-1")
        assert cluster.server_state("server-1") == "DRAIN"
        cluster.make_ready("server-1")
        assert cluster.server_state("server-1").startswith("UP")

        cluster.kill_process("server-2")
        wait_until(lambda: cluster.server_state("server-2") == "DOWN", 10, "HAProxy takes the killed server out")
        assert readyz(cluster.url)[0] == 200

        # Every server unready at once (the database is down): HAProxy fails open to them.
        cluster.stop_process("postgres")
        wait_until(lambda: cluster.server_state("server-1") == "DOWN", 15, "HAProxy sees server-1 unready")
        # The probe waits for a database connection up to DATABASE_POOL_TIMEOUT.
        status, body = readyz(cluster.url, timeout=30)
        assert status == 503 and body["checks"]["database"] == "failed", body
        cluster.start_process("postgres")
        wait_until(lambda: cluster.server_state("server-1") == "UP", 20, "server-1 ready again")

        assert cluster.failover() == "redis-2"
        wait_until(lambda: readyz(cluster.url)[0] == 200, 15, "ready on the new Redis primary")
        cluster.restart_process("redis-1")  # the old primary comes back; Sentinel makes it a replica
        assert cluster.redis_primary() == "redis-2"
    finally:
        groups = {child.pid for child in cluster.children.values() if child.pid}
        await asyncio.to_thread(cluster.stop)
    assert not processes_in_groups(groups)


def test_scripts_cluster_prints_its_urls_and_stops_everything_on_ctrl_c(cluster_dir):
    base = Ports.free(servers=2, workers=1).haproxy
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY}
    env.update(
        CLUSTER_BASE_PORT=str(base),
        CLUSTER_SERVERS="2",
        CLUSTER_WORKERS="1",
        CLUSTER_DIR=str(cluster_dir),
        SECUREAI_VENV=str(Path(sys.executable).parent.parent),
    )
    log_path = cluster_dir / "script.log"
    with log_path.open("w") as log:
        script = subprocess.Popen(
            [str(ROOT / "scripts" / "cluster")], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    output = log_path.read_text
    url = f"http://127.0.0.1:{base}"
    try:
        wait_until(lambda: "cluster is running" in output() or script.poll() is not None, 150, "scripts/cluster starts")
        assert script.poll() is None, output()
        assert readyz(url)[0] == 200
        assert len(started_processes(script.pid)) >= 9  # itself, PostgreSQL, 5 Redis, 2 servers, a worker, HAProxy

        script.send_signal(signal.SIGINT)
        assert script.wait(60) == 0
        wait_until(lambda: not started_processes(script.pid), 10, "every process it started exits")
    finally:
        for pid in started_processes(script.pid):
            os.kill(pid, signal.SIGKILL)
        script.wait(5)
    text = output()
    for expected in ("/live/", "/admin/", "/api/docs/", "/ws/stats", f"127.0.0.1:{base + 1}/", "admin-demo-pass"):
        assert expected in text, expected
    assert f"Live status:     {url}/live/" in text and text.rstrip().endswith("Stopped\x1b[0m")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/readyz", timeout=2)
