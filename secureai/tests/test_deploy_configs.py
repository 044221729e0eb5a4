"""The files in deploy/ pass their tools' own checkers, and the Redis layout fails over under the app.

HAProxy checks its rendered configuration (``haproxy -c``, warnings counted as errors) and logs no
query string (where a WebSocket token may be), systemd verifies the units, and a real primary,
replica and three Sentinels lose their primary to SIGKILL while the app's channel layer and Redis
clients, configured through Sentinel, keep working.
"""

import asyncio
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import redis
from channels_redis.core import RedisChannelLayer

from deploy.cluster import MASTER_NAME, Cluster, find_binary
from deploy.ports import Ports
from secureai.redis_clients import async_redis_client, channel_layer_host, redis_client
from tests.servers import ROOT

UNITS = ROOT / "deploy" / "systemd"


def test_haproxy_accepts_the_rendered_config(cluster_dir):
    cluster = Cluster(state_dir=cluster_dir, ports=Ports.free(servers=3, workers=1))
    config = cluster_dir / "haproxy.cfg"
    config.write_text(cluster.haproxy_config())
    # -dW: any warning fails the check too.
    result = subprocess.run([find_binary("haproxy"), "-dW", "-c", "-f", str(config)], capture_output=True, text=True)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout
    for server, port in zip(cluster.server_names, cluster.ports.servers, strict=True):
        assert f"server {server} 127.0.0.1:{port}" in config.read_text()


@pytest.mark.server
def test_haproxy_logs_requests_without_their_query_string(cluster_dir):
    """A WebSocket handshake may carry ?token=<JWT>; HAProxy's log keeps the path only."""
    cluster = Cluster(state_dir=cluster_dir, ports=Ports.free(servers=1, workers=1))
    config = cluster_dir / "haproxy.cfg"
    config.write_text(cluster.haproxy_config())
    cluster.haproxy_socket.parent.mkdir(parents=True, exist_ok=True)
    haproxy = subprocess.Popen([find_binary("haproxy"), "-db", "-f", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:  # its stats page answers once it listens
            try:
                urllib.request.urlopen(cluster.haproxy_stats_url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "HAProxy did not start"
                time.sleep(0.1)
        # No server runs: HAProxy answers 503 itself once its retries are spent, and logs the request.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{cluster.url}/ws/status/?token=secret-jwt-value", timeout=30)
    finally:
        haproxy.terminate()
        _, log = haproxy.communicate(timeout=10)
    assert '"GET /ws/status/ HTTP/1.1"' in log, log
    assert "secret-jwt-value" not in log and "token=" not in log, log


def test_haproxy_refuses_a_broken_config(cluster_dir):
    """The check above can fail: the same config with a typo in one keyword does not pass."""
    config = cluster_dir / "haproxy.cfg"
    good = Cluster(state_dir=cluster_dir, ports=Ports.free(servers=1, workers=1)).haproxy_config()
    config.write_text(good.replace("balance leastconn", "balance leastconnections"))
    result = subprocess.run([find_binary("haproxy"), "-dW", "-c", "-f", str(config)], capture_output=True, text=True)
    assert result.returncode != 0 and "balance only supports" in result.stderr


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package; scripts/test installs it)")
    return path


@pytest.mark.parametrize("unit", ["secureai-server@.service", "secureai-worker@.service"])
def test_systemd_verifies_the_units(unit, tmp_path):
    """Verified as installed: /srv/secureai and its virtualenv point at this checkout and its Python."""
    text = (UNITS / unit).read_text()
    text = text.replace("/srv/secureai/.venv", sys.prefix).replace("/srv/secureai", str(ROOT))
    (tmp_path / unit).write_text(text)
    result = subprocess.run([systemd_analyze(), "verify", unit], cwd=tmp_path, capture_output=True, text=True)
    print(result.stdout, result.stderr)
    # verify prints unknown keys and bad values as warnings and still exits 0: none may appear.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_systemd_verify_catches_a_broken_unit(tmp_path):
    unit = "secureai-server@.service"
    text = (UNITS / unit).read_text().replace("/srv/secureai/.venv", sys.prefix).replace("/srv/secureai", str(ROOT))
    (tmp_path / unit).write_text(text.replace("KillSignal=SIGTERM", "KillSignal=SIGTERM\nDrainWindow=30"))
    result = subprocess.run([systemd_analyze(), "verify", unit], cwd=tmp_path, capture_output=True, text=True)
    assert "Unknown key 'DrainWindow'" in result.stderr


PROBE = """
import django
django.setup()
from django.test import Client
for path in ("readyz", "healthz", "api/analyses/"):
    print(path, Client(HTTP_HOST="status.example").get(f"/{path}").status_code)
"""


def test_production_health_probes_answer_over_plain_http():
    """HAProxy checks /readyz over plain HTTP on loopback; production's HTTPS redirect must spare it."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "secureai.settings.production",
        "SECRET_KEY": "k" * 50,
        "JWT_SIGNING_KEY": "j" * 50,
        "ALLOWED_HOSTS": "status.example",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["readyz", "200", "healthz", "200", "api/analyses/", "301"]


@pytest.fixture
def redis_layout(cluster_dir):
    """A real primary, replica and three Sentinels (deploy/redis templates) on free loopback ports."""
    cluster = Cluster(state_dir=cluster_dir, ports=Ports.free(servers=1, workers=1))
    try:
        cluster.start_redis()
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.server
async def test_the_channel_layer_follows_a_sentinel_failover(redis_layout, settings):
    cluster = redis_layout
    sentinels = [("127.0.0.1", port) for port in cluster.ports.sentinels]
    settings.REDIS_SENTINELS, settings.REDIS_SENTINEL_MASTER = sentinels, MASTER_NAME
    layer = RedisChannelLayer(
        hosts=[channel_layer_host(redis_url="", sentinels=sentinels, master=MASTER_NAME)], prefix="failover-test"
    )
    sync_client, async_client = redis_client(), async_redis_client()
    channel = await layer.new_channel()
    await layer.group_add("watchers", channel)
    await layer.group_send("watchers", {"type": "before.failover"})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "before.failover"
    assert sync_client.set("written-before", "1") and await async_client.get("written-before") == b"1"
    # The replica has every write so far before the primary goes.
    first_primary = cluster.redis_primary()
    await asyncio.to_thread(redis.Redis(port=cluster.ports.redis[0]).wait, 1, 2000)

    killed_at = time.monotonic()
    cluster.kill_process(first_primary)
    message = await until_it_works(lambda: group_round_trip(layer, channel), timeout=60)
    recovered = time.monotonic() - killed_at
    print(f"\nchannel layer working again {recovered:.1f} s after SIGKILL of the primary (no restart)")

    assert message["type"] == "after.failover"
    assert cluster.redis_primary() != first_primary
    # The same clients, not new ones, follow the failover too; the group survived on the replica.
    assert sync_client.get("written-before") == b"1"
    assert await until_it_works(lambda: async_client.set("written-after", "1"), timeout=10)
    sync_client.close()
    await async_client.aclose()
    await layer.flush()


async def group_round_trip(layer: RedisChannelLayer, channel: str) -> dict:
    await layer.group_send("watchers", {"type": "after.failover"})
    return await asyncio.wait_for(layer.receive(channel), 5)


async def until_it_works(attempt, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await attempt()
        except (redis.RedisError, OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
