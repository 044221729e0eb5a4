"""Fixtures shared by every app's tests: users of each role, JWT clients, analyses."""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from analyses.models import Analysis
from analyses.services import analysis_create
from secureai.redis_clients import redis_client

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
    return str(RefreshToken.for_user(user).access_token)


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


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """A state folder for deploy.cluster that the postgres user can reach (pytest's tmp_path is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="secureai-cluster-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pytest_report_header(config) -> list[str]:
    return [f"database: {os.environ.get('DATABASE_URL') or 'SQLite'}; redis: {settings.REDIS_URL}"]
