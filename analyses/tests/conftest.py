"""Fixtures of the analyses tests: group listeners on the real layer, an admin client."""

from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from analyses.tests.helpers import GroupListener


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
