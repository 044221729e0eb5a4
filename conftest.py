"""Fixtures shared by every app's tests: users of each role, JWT clients, analyses."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from analyses.models import Analysis
from analyses.services import analysis_create
from secureai.redis_clients import redis_client
from tests.servers import cluster_state_dir

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def real_redis() -> None:
    """The suite runs on the real Redis channel layer; without it, fail loudly rather than skip."""
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    try:
        client = redis_client()
        client.ping()
        client.close()
    except redis.RedisError as error:
        target = settings.REDIS_SENTINELS or settings.REDIS_URL
        pytest.exit(f"The tests need Redis at {target}: {error}", returncode=3)


@pytest.fixture(autouse=True)
def fresh_throttle_counts() -> None:
    """Each test starts with no sign-in failures or creations on record.

    They live in the real Redis under this run's cache prefix (shared with the servers the tests
    start), and users of one test run reuse the ids of another's.
    """
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def unreachable_cache() -> Iterator[None]:
    """The cache (throttle counts) points at a closed port; axes' handler is rebuilt on it, and back after."""
    dead = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    # Changing AXES_HANDLER (even to itself) makes axes build its handler, and so its cache, anew.
    with override_settings(CACHES=dead, AXES_HANDLER=settings.AXES_HANDLER):
        yield


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(username: str, *, staff: bool = False, perms: tuple[str, ...] = (), active: bool = True) -> User:
        user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=staff)
        user.is_active = active
        user.save()
        for codename in perms:
            user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="analyses"))
        return User.objects.get(pk=user.pk)  # fresh, so the permission cache is empty

    return make


@pytest.fixture
def owner(make_user) -> User:
    return make_user("alice")


@pytest.fixture
def other_user(make_user) -> User:
    return make_user("bob")


@pytest.fixture
def staff_user(make_user) -> User:
    return make_user("stella", staff=True)


@pytest.fixture
def status_changer(make_user) -> User:
    """A worker account: may change (and so read) every analysis's status, not staff."""
    return make_user("worker-1", perms=("change_analysis_status",))


@pytest.fixture
def all_viewer(make_user) -> User:
    return make_user("victor", perms=("view_all_analyses",))


def access_token_for(user: User) -> str:
    """An access token as sign-in would issue it; made directly, so no refresh token is recorded
    (that is a database write, which async tests may not make)."""
    return str(AccessToken.for_user(user))


@pytest.fixture
def api_client() -> Callable[[User | None], APIClient]:
    """An API client that sends a real JWT access token for ``user`` (none for anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
        return client

    return make


@pytest.fixture
def make_analysis(db) -> Callable[..., Analysis]:
    def make(owner: User, filename: str = "interview.mp4", **kwargs) -> Analysis:
        return analysis_create(owner=owner, filename=filename, **kwargs)

    return make


#: A channel layer whose Redis is a closed port.
DEAD_CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 1}],
            "prefix": "secureai-dead",
        },
    }
}


@pytest.fixture
def dead_channel_layer() -> Iterator[None]:
    """The app's channel layer points at a closed port for the duration of the test."""
    channel_layers.backends = {}
    with override_settings(CHANNEL_LAYERS=DEAD_CHANNEL_LAYERS):
        channel_layers.backends = {}
        yield
    channel_layers.backends = {}


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    with cluster_state_dir() as path:
        yield path


def pytest_report_header(config) -> list[str]:
    return [f"database: {os.environ.get('DATABASE_URL') or 'SQLite'}; redis: {settings.REDIS_URL}"]
