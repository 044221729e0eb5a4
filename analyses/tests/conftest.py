"""Fixtures of the analyses tests: group listeners on the real layer, a dead layer, an admin client."""

from collections.abc import Callable, Iterator

import pytest
from channels.layers import channel_layers
from django.test import Client, override_settings

from analyses.tests.helpers import DEAD_CHANNEL_LAYERS, GroupListener


@pytest.fixture
def listen() -> Iterator[Callable[..., GroupListener]]:
    """``listen(analysis_id)`` subscribes a fresh channel to that analysis's group; all are closed after."""
    listeners: list[GroupListener] = []

    def make(analysis_id) -> GroupListener:
        listener = GroupListener.for_analysis(analysis_id)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


@pytest.fixture
def dead_channel_layer() -> Iterator[None]:
    """The app's channel layer points at a closed port for the duration of the test."""
    channel_layers.backends = {}
    with override_settings(CHANNEL_LAYERS=DEAD_CHANNEL_LAYERS):
        channel_layers.backends = {}
        yield
    channel_layers.backends = {}


@pytest.fixture
def superuser(make_user):
    user = make_user("root", staff=True)
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def admin_client_for() -> Callable[..., Client]:
    """A Django test client logged in (session) as the given user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
