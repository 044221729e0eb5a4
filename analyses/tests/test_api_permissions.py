"""Who may do what on every HTTP endpoint of docs/protocol.md §4, and which tokens count."""

import uuid
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from analyses.models import Analysis, StatusEvent
from analyses.tests.helpers import Counts, api_paths, assert_error_body, drive_to

pytestmark = pytest.mark.django_db

ROLES = ["owner", "other", "staff", "changer", "viewer", "anonymous"]

# What each role gets on an analysis owned by "owner" (docs/protocol.md §4).
EXPECTED = {
    "retrieve": {"owner": 200, "other": 404, "staff": 200, "changer": 200, "viewer": 200, "anonymous": 401},
    "transition": {"owner": 403, "other": 404, "staff": 200, "changer": 200, "viewer": 403, "anonymous": 401},
    "history": {"owner": 200, "other": 404, "staff": 200, "changer": 200, "viewer": 200, "anonymous": 401},
    "broadcast": {"owner": 403, "other": 404, "staff": 202, "changer": 403, "viewer": 403, "anonymous": 401},
    "ws_broadcast": {"owner": 403, "other": 404, "staff": 202, "changer": 403, "viewer": 403, "anonymous": 401},
}
METHOD = {"retrieve": "get", "transition": "post", "history": "get", "broadcast": "post", "ws_broadcast": "post"}
BODY = {"transition": {"status": "queued"}}


@pytest.fixture
def users(owner, other_user, staff_user, status_changer, all_viewer):
    return {
        "owner": owner,
        "other": other_user,
        "staff": staff_user,
        "changer": status_changer,
        "viewer": all_viewer,
        "anonymous": None,
    }


def call(client: APIClient, endpoint: str, analysis_id) -> object:
    path = api_paths(analysis_id)[endpoint]
    return getattr(client, METHOD[endpoint])(path, BODY.get(endpoint), format="json")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(EXPECTED))
def test_analysis_endpoints(endpoint, role, users, owner, make_analysis, api_client):
    analysis = make_analysis(owner)
    before = Counts.take(analysis)

    response = call(api_client(users[role]), endpoint, analysis.pk)

    expected = EXPECTED[endpoint][role]
    assert response.status_code == expected, (endpoint, role, response.content)
    if expected >= 400:
        assert_error_body(response, expected)
        assert Counts.take(analysis) == before
    elif endpoint == "transition":
        assert response.json()["status"] == "queued"
        assert StatusEvent.objects.get(analysis=analysis, seq=2).actor == users[role].username
    else:
        assert response.json()["analysis_id"] == str(analysis.pk)


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("owner", {"owner"}),
        ("other", {"other"}),
        ("staff", {"owner", "other"}),
        ("changer", {"owner", "other"}),
        ("viewer", {"owner", "other"}),
    ],
)
def test_list_shows_only_what_the_user_may_read(role, sees, users, make_analysis, api_client):
    mine = {name: make_analysis(users[name], filename=f"{name}.mp4") for name in ("owner", "other")}

    response = api_client(users[role]).get("/api/analyses/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == len(sees)
    assert {item["analysis_id"] for item in body["results"]} == {str(mine[name].pk) for name in sees}


def test_list_is_newest_first_filtered_and_paginated(owner, make_analysis, api_client, staff_user):
    made = [make_analysis(owner, filename=f"{i}.mp4") for i in range(5)]
    drive_to(made[1], "queued")
    drive_to(made[3], "queued")
    client = api_client(owner)

    everything = client.get("/api/analyses/").json()
    assert [item["filename"] for item in everything["results"]] == ["4.mp4", "3.mp4", "2.mp4", "1.mp4", "0.mp4"]
    queued = client.get("/api/analyses/?status=queued").json()
    assert [item["filename"] for item in queued["results"]] == ["3.mp4", "1.mp4"]
    page = client.get("/api/analyses/?limit=2&offset=1").json()
    assert page["count"] == 5
    assert [item["filename"] for item in page["results"]] == ["3.mp4", "2.mp4"]
    assert page["next"] and page["previous"]


def test_anonymous_cannot_list(api_client):
    assert_error_body(api_client(None).get("/api/analyses/"), 401, "not_authenticated")


@pytest.mark.parametrize("role", ROLES)
def test_create(role, users, api_client):
    before = Analysis.objects.count()

    response = api_client(users[role]).post("/api/analyses/", {"filename": "upload.mp4"}, format="json")

    if role == "anonymous":
        assert_error_body(response, 401)
        assert Analysis.objects.count() == before
        return
    assert response.status_code == 201
    body = response.json()
    assert (body["owner"], body["status"], body["seq"], body["filename"]) == (
        users[role].username,
        "pending",
        1,
        "upload.mp4",
    )
    event = StatusEvent.objects.get(analysis_id=body["analysis_id"])
    assert (event.seq, event.actor, event.previous_status) == (1, users[role].username, None)


@pytest.mark.parametrize("endpoint", list(EXPECTED))
def test_someone_elses_analysis_and_a_missing_one_get_the_same_404(
    endpoint, owner, other_user, staff_user, make_analysis, api_client
):
    analysis = make_analysis(owner)
    outsider = api_client(other_user)

    theirs = call(outsider, endpoint, analysis.pk)
    missing = call(outsider, endpoint, uuid.uuid4())
    malformed = call(outsider, endpoint, "not-a-uuid")
    missing_for_staff = call(api_client(staff_user), endpoint, uuid.uuid4())

    body = assert_error_body(theirs, 404, "not_found")
    for response in (missing, malformed, missing_for_staff):
        assert response.status_code == 404
        assert response.content == theirs.content
    assert str(analysis.pk) not in body["detail"]


class TestTokens:
    def test_obtain_and_use_a_pair(self, owner):
        client = APIClient()
        pair = client.post("/api/token/", {"username": "alice", "password": "correct-horse-battery"}, format="json")
        assert pair.status_code == 200
        assert set(pair.json()) >= {"access", "refresh"}

        client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.json()['access']}")
        assert client.get("/api/analyses/").status_code == 200

        refreshed = APIClient().post("/api/token/refresh/", {"refresh": pair.json()["refresh"]}, format="json")
        assert refreshed.status_code == 200
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
        assert client.get("/api/analyses/").status_code == 200

    @pytest.mark.parametrize("role", ["owner", "other", "staff", "changer", "viewer"])
    def test_every_role_can_obtain_a_pair(self, role, users):
        response = APIClient().post(
            "/api/token/", {"username": users[role].username, "password": "correct-horse-battery"}, format="json"
        )
        assert response.status_code == 200

    def test_a_wrong_password_is_401(self, owner):
        response = APIClient().post("/api/token/", {"username": "alice", "password": "wrong"}, format="json")
        assert_error_body(response, 401)
        assert "access" not in response.json()

    def test_an_inactive_user_gets_no_pair(self, make_user):
        make_user("ghost", active=False)
        response = APIClient().post(
            "/api/token/", {"username": "ghost", "password": "correct-horse-battery"}, format="json"
        )
        assert_error_body(response, 401)

    def test_an_access_token_is_not_a_refresh_token(self, owner):
        access = str(AccessToken.for_user(owner))
        assert_error_body(APIClient().post("/api/token/refresh/", {"refresh": access}, format="json"), 401)

    def test_a_tampered_refresh_token_is_refused(self, owner):
        refresh = tamper(str(RefreshToken.for_user(owner)))
        assert_error_body(APIClient().post("/api/token/refresh/", {"refresh": refresh}, format="json"), 401)


def tamper(token: str) -> str:
    """The token with one character of its signature changed (not the last, whose low bits may be unused)."""
    head, payload, signature = token.split(".")
    index = len(signature) // 2
    swapped = "A" if signature[index] != "A" else "B"
    return ".".join([head, payload, signature[:index] + swapped + signature[index + 1 :]])


def expired_access_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=30))
    return str(token)


@pytest.fixture
def bad_credentials(owner, make_user):
    ghost = make_user("ghost", perms=("change_analysis_status",), active=False)
    return {
        "expired": f"Bearer {expired_access_token(owner)}",
        "tampered": f"Bearer {tamper(str(AccessToken.for_user(owner)))}",
        "refresh_as_access": f"Bearer {RefreshToken.for_user(owner)}",
        "inactive_user": f"Bearer {AccessToken.for_user(ghost)}",
        "garbage": "Bearer not.a.jwt",
        "deleted_user": None,  # filled in by the test
    }


@pytest.mark.parametrize(
    "kind", ["expired", "tampered", "refresh_as_access", "inactive_user", "garbage", "deleted_user"]
)
@pytest.mark.parametrize("endpoint", ["list", *EXPECTED])
def test_refused_tokens_get_401(kind, endpoint, bad_credentials, owner, make_user, make_analysis):
    analysis = make_analysis(owner)
    header = bad_credentials[kind]
    if kind == "deleted_user":
        gone = make_user("gone", staff=True)
        header = f"Bearer {AccessToken.for_user(gone)}"
        gone.delete()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    before = Counts.take(analysis)

    response = client.get("/api/analyses/") if endpoint == "list" else call(client, endpoint, analysis.pk)

    assert_error_body(response, 401)
    assert Counts.take(analysis) == before


def test_the_tokens_themselves_are_otherwise_valid(owner):
    """The refused tokens above fail for the stated reason: the untouched ones work."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    assert client.get("/api/analyses/").status_code == 200
    fresh = AccessToken.for_user(owner)
    fresh.set_exp(lifetime=timedelta(seconds=30))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {fresh}")
    assert client.get("/api/analyses/").status_code == 200
