"""The delivery guarantee (docs/protocol.md §3, §5) under faults, under load, on the production layout.

Every fault runs while 200 subscribers follow 20 analyses through HAProxy and a producer posts
progress updates through HAProxy at about 60 a second. After each fault the producer stops and
every subscriber must hold exactly the history of each analysis it follows, [1..n], once each, in
order; and history must hold exactly the writes the producer had accepted. The tests share one
layout and run in file order; each leaves the whole layout running for the next.
"""

import signal
import time

import pytest
import redis

from deploy.cluster import Cluster
from deploy.processes import Child, wait_until
from tests.faults.conftest import PROXIED_SERVER, figures
from tests.faults.load import Load

pytestmark = [pytest.mark.faults, pytest.mark.server]

# WS_HEARTBEAT_INTERVAL's default, which the layout keeps: the longest a subscriber waits for an
# event that its server never got from Redis.
HEARTBEAT_INTERVAL = 25.0
# WS_REDIS_LOST_CLOSE_SECONDS's default: how long a server cut off from Redis keeps its sockets.
REDIS_LOST_CLOSE_SECONDS = 20.0
# Load before the fault, and after it, before the producer stops.
BEFORE_SECONDS = 3.0
AFTER_SECONDS = 6.0


def settle_and_record(load: Load, **measured: object) -> dict:
    """Wait for every subscriber to be complete; the fault's figures, kept for the report."""
    settled = load.settle(timeout=90)
    fault = load.figures(settled) | measured
    figures.append(fault)
    assert settled.subscribers_behind == 0, fault
    assert (settled.missing, settled.duplicates, settled.out_of_order) == (0, 0, 0), fault
    assert settled.history_not_written == 0, fault
    assert not fault["socket_errors"], fault
    assert fault["transitions_unfinished"] == 0, fault
    # Refusals the producer may see and resend: 503 (unavailable, with Retry-After), HAProxy's 502
    # and 504 when a server dies mid-request; never a 500.
    assert set(fault["transition_refusals"]) <= {"503", "502", "504"}, fault
    return fault


def test_a_server_cut_off_from_redis_is_taken_out_and_its_subscribers_move_and_lose_nothing(
    cluster: Cluster, redis_proxy: Child, load: Load
):
    """HAProxy takes it out at once; past WS_REDIS_LOST_CLOSE_SECONDS it closes its sockets with 1012
    and their clients resume on the other servers. Until then their events come from history at
    each heartbeat instead of from Redis."""
    with load.producing("one server cut off from Redis (it accepts, never answers)"):
        time.sleep(BEFORE_SECONDS)
        sockets_on_it = int(cluster.server_stats(PROXIED_SERVER)["scur"])
        redis_proxy.send(signal.SIGUSR1)
        cut_off = time.monotonic()
        wait_until(lambda: cluster.server_state(PROXIED_SERVER) == "DOWN", 30, f"HAProxy takes {PROXIED_SERVER} out")
        down_after = time.monotonic() - cut_off
        wait_until(
            lambda: int(cluster.server_stats(PROXIED_SERVER)["scur"]) == 0,
            REDIS_LOST_CLOSE_SECONDS + 30,
            f"the clients of {PROXIED_SERVER} move to the other servers",
        )
        moved_after = time.monotonic() - cut_off
        time.sleep(AFTER_SECONDS)
    fault = settle_and_record(
        load,
        down_in_haproxy_after_s=round(down_after, 1),
        sockets_moved_after_s=round(moved_after, 1),
        sockets_on_the_server=sockets_on_it,
    )
    assert sockets_on_it > 0 and not fault["transition_refusals"], fault
    assert fault["closes"].get("1012", 0) > 0 and set(fault["closes"]) == {"1012"}, fault
    assert moved_after >= REDIS_LOST_CLOSE_SECONDS, fault
    assert fault["complete_after_stop_s"] <= HEARTBEAT_INTERVAL + 5, fault
    redis_proxy.send(signal.SIGUSR2)
    wait_until(lambda: cluster.server_state(PROXIED_SERVER) == "UP", 30, f"{PROXIED_SERVER} back in")


def test_a_killed_server_loses_nothing(cluster: Cluster, load: Load):
    with load.producing("a server killed (SIGKILL)"):
        time.sleep(BEFORE_SECONDS)
        cluster.kill_process("server-1", signal.SIGKILL)
        time.sleep(AFTER_SECONDS)
    fault = settle_and_record(load)
    assert fault["closes"].get("1006", 0) > 0, fault
    cluster.start_process("server-1")


def test_a_rolling_restart_loses_nothing_and_refuses_no_write(cluster: Cluster, load: Load):
    with load.producing("a rolling restart: each server drained in HAProxy, stopped (SIGTERM), started"):
        time.sleep(BEFORE_SECONDS)
        for server in cluster.server_names:
            # docs/operations.md "Drain a server": HAProxy first, so no new socket lands on it.
            cluster.drain(server)
            time.sleep(1)
            cluster.restart_process(server)
            cluster.make_ready(server)
            wait_until(lambda server=server: cluster.server_state(server) == "UP", 30, f"{server} back in")
        time.sleep(AFTER_SECONDS)
    fault = settle_and_record(load)
    # 1012 for every socket; seen once on a saturated machine: some clients got 1006 instead (the
    # close frame lost with the connection), and lost nothing either.
    assert fault["closes"].get("1012", 0) > 0 and set(fault["closes"]) <= {"1012", "1006"}, fault
    assert not fault["transition_refusals"], fault


def test_a_redis_failover_refuses_no_write_and_loses_nothing(cluster: Cluster, load: Load):
    with load.producing("Redis primary killed, Sentinel fails over"):
        time.sleep(BEFORE_SECONDS)
        old_primary = cluster.redis_primary()
        cluster.kill_process(old_primary, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: cluster.redis_primary() != old_primary, 60, "Sentinel promotes the replica")
        promoted_after = time.monotonic() - killed
        time.sleep(AFTER_SECONDS)
    fault = settle_and_record(load, replica_promoted_after_s=round(promoted_after, 1))
    assert not fault["transition_refusals"], fault
    cluster.start_process(old_primary)  # back as a replica of the new primary


def test_redis_restarted_empty_refuses_no_write_and_loses_nothing(cluster: Cluster, load: Load):
    with load.producing("Redis emptied (FLUSHALL), then its primary restarted empty"):
        time.sleep(BEFORE_SECONDS)
        primary = cluster.redis_primary()
        with redis.Redis(port=cluster.redis_ports[primary]) as client:
            client.flushall()
        time.sleep(AFTER_SECONDS)
        cluster.restart_process(primary)
        time.sleep(AFTER_SECONDS)
    fault = settle_and_record(load)
    assert not fault["transition_refusals"], fault


def test_postgresql_stopped_answers_503_and_keeps_every_socket(cluster: Cluster, load: Load):
    with load.producing("PostgreSQL stopped for 10 s, then started"):
        time.sleep(BEFORE_SECONDS)
        cluster.stop_process("postgres")
        time.sleep(10)
        cluster.start_process("postgres")
        time.sleep(AFTER_SECONDS)
    fault = settle_and_record(load)
    assert fault["closes"] == {}, fault
    refusals = fault["transition_refusals"]
    assert refusals.get("503", 0) > 0, fault
