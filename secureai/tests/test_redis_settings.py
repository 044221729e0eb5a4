"""Redis settings: Sentinel or a URL, timeouts chosen for the channel layer, bad values refused."""

import ast

import pytest
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

from secureai.redis_clients import (
    CHANNEL_LAYER_SOCKET_TIMEOUT,
    CONNECT_TIMEOUT,
    MAX_CONNECTIONS,
    channel_layer_host,
    parse_sentinels,
    redis_client,
)
from secureai.tests.test_settings import load_settings

LAYER_HOST = "settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]"


def test_parse_sentinels():
    entries = ["127.0.0.1:26379", "[::1]:26380", "sentinel-c.internal:26381"]
    assert parse_sentinels(entries) == [("127.0.0.1", 26379), ("::1", 26380), ("sentinel-c.internal", 26381)]


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.1:", ":26379", "sentinel:port", "sentinel:70000"])
def test_parse_sentinels_refuses_what_is_not_host_port(entry):
    with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINELS entries must be host:port"):
        parse_sentinels([entry])


def test_the_channel_layer_goes_through_sentinel_when_both_are_set():
    result = load_settings(
        "secureai.settings.base",
        LAYER_HOST,
        SECRET_KEY="k",
        REDIS_SENTINELS="127.0.0.1:26380, 127.0.0.1:26381,127.0.0.1:26382",
        REDIS_SENTINEL_MASTER="secureai",
    )
    assert result.returncode == 0, result.stderr
    host = ast.literal_eval(result.stdout.strip())
    assert host["sentinels"] == [("127.0.0.1", 26380), ("127.0.0.1", 26381), ("127.0.0.1", 26382)]
    assert host["master_name"] == "secureai" and "address" not in host
    assert host["sentinel_kwargs"]["socket_connect_timeout"] == CONNECT_TIMEOUT
    assert host["socket_timeout"] == CHANNEL_LAYER_SOCKET_TIMEOUT


def test_the_throttles_cache_goes_through_sentinel_when_it_is_set():
    cache = "settings.CACHES['default']['OPTIONS']"
    through_sentinel = load_settings(
        "secureai.settings.base", cache, SECRET_KEY="k", REDIS_SENTINELS="127.0.0.1:26380", REDIS_SENTINEL_MASTER="m"
    )
    assert ast.literal_eval(through_sentinel.stdout.strip())["pool_class"] == "secureai.redis_clients.SentinelCachePool"
    plain = load_settings("secureai.settings.base", cache, SECRET_KEY="k")
    assert "pool_class" not in ast.literal_eval(plain.stdout.strip())


def test_the_channel_layer_uses_redis_url_without_sentinel():
    result = load_settings("secureai.settings.base", LAYER_HOST, SECRET_KEY="k", REDIS_URL="redis://127.0.0.1:6390/2")
    assert result.returncode == 0, result.stderr
    host = ast.literal_eval(result.stdout.strip())
    assert host["address"] == "redis://127.0.0.1:6390/2" and "sentinels" not in host


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_SENTINELS": "127.0.0.1:26380"},
        {"REDIS_SENTINEL_MASTER": "secureai"},
        {"REDIS_SENTINELS": "127.0.0.1", "REDIS_SENTINEL_MASTER": "secureai"},
    ],
)
def test_half_a_sentinel_configuration_refuses_to_start(env):
    result = load_settings("secureai.settings.base", SECRET_KEY="k", **env)
    assert result.returncode != 0
    assert "REDIS_SENTINELS" in result.stderr.splitlines()[-1]


def test_layer_timeouts_keep_idle_receives_alive_and_bursts_connected():
    """redis-py 8's defaults (5 s socket timeout, 100 connections) broke idle sockets and bursts."""
    for host in (
        channel_layer_host(redis_url="redis://127.0.0.1:6379/0", sentinels=[], master=""),
        channel_layer_host(redis_url="", sentinels=[("127.0.0.1", 26379)], master="secureai"),
    ):
        # channels-redis blocks up to brpop_timeout in BZPOPMIN on every receive.
        assert host["socket_timeout"] >= 3 * RedisChannelLayer.brpop_timeout
        assert host["max_connections"] == MAX_CONNECTIONS >= 1000
        assert host["socket_connect_timeout"] <= 5 and host["health_check_interval"] > 0


def test_the_app_client_reaches_the_configured_redis(settings):
    client = redis_client()
    try:
        assert client.ping()
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 5.0
    finally:
        client.close()
