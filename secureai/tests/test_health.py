"""/healthz answers while the process lives; /readyz checks the database and the real channel layer."""

import time

import pytest
from channels.layers import channel_layers
from django.test import Client, override_settings

from conftest import DEAD_CHANNEL_LAYERS

pytestmark = pytest.mark.django_db


def test_healthz():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_the_database_and_redis_up():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}}


def test_readyz_is_503_when_the_channel_layer_is_down(dead_channel_layer):
    started = time.monotonic()
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "channel_layer": "failed"}}
    assert time.monotonic() - started < 10  # a probe must answer, not hang


def test_readyz_recovers_when_the_layer_comes_back(dead_channel_layer_then_real):
    assert Client().get("/readyz").status_code == 503
    dead_channel_layer_then_real()
    assert Client().get("/readyz").status_code == 200


@pytest.fixture
def dead_channel_layer_then_real():
    """Start with a dead layer; calling the fixture's value restores the real one."""
    override = override_settings(CHANNEL_LAYERS=DEAD_CHANNEL_LAYERS)
    channel_layers.backends = {}
    override.enable()
    channel_layers.backends = {}
    state = {"enabled": True}

    def restore() -> None:
        override.disable()
        channel_layers.backends = {}
        state["enabled"] = False

    yield restore
    if state["enabled"]:
        restore()


def test_the_probes_need_no_credentials(owner):
    for path in ("/healthz", "/readyz"):
        response = Client().get(path)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
