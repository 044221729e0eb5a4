"""Creating analyses is limited per user and minute (THROTTLE_CREATE_PER_MINUTE); listing is not."""

import pytest
from django.conf import settings
from django.test import override_settings

from analyses.models import Analysis

pytestmark = pytest.mark.django_db


def create(client, filename: str = "clip.mp4"):
    return client.post("/api/analyses/", {"filename": filename}, format="json")


def test_the_default_limit():
    assert settings.THROTTLE_CREATE_PER_MINUTE == 120


@override_settings(THROTTLE_CREATE_PER_MINUTE=3)
def test_creation_past_the_limit_answers_429_and_writes_nothing(api_client, owner, other_user):
    client = api_client(owner)
    for number in range(3):
        assert create(client, f"clip-{number}.mp4").status_code == 201

    response = create(client, "one-too-many.mp4")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and "Expected available in" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Analysis.objects.filter(owner=owner).count() == 3
    # Listing is not creation, and the limit is each user's own.
    for _ in range(5):
        assert client.get("/api/analyses/").status_code == 200
    assert create(api_client(other_user)).status_code == 201


@override_settings(THROTTLE_CREATE_PER_MINUTE=3)
def test_malformed_creation_requests_count_too(api_client, owner):
    client = api_client(owner)
    for _ in range(3):
        assert client.post("/api/analyses/", {"filename": 7}, format="json").status_code == 400
    assert create(client).status_code == 429
    assert not Analysis.objects.exists()


@override_settings(THROTTLE_CREATE_PER_MINUTE=1)
def test_creation_goes_through_while_redis_is_unreachable(unreachable_cache, api_client, owner, caplog):
    client = api_client(owner)
    assert create(client).status_code == 201
    assert create(client).status_code == 201
    assert "Creation throttle skipped: Redis cannot be reached" in caplog.text
