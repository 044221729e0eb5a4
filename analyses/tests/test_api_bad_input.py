"""Malformed requests on every endpoint: a 400 or 404 ``{"code", "detail"}`` and nothing changed."""

import json

import pytest
from rest_framework.test import APIClient

from analyses.tests.helpers import ERROR, RESULT, Counts, api_paths, assert_error_body, drive_to

pytestmark = pytest.mark.django_db

MALFORMED_JSON = ['{"status": ', "{'status': 'queued'}", "{status: queued}", '{"progress": 5,}', "nul", "\x00"]
NOT_AN_OBJECT = ["[]", '["status", "queued"]', '"queued"', "5", "null", "true"]

BAD_TRANSITIONS = {
    "progress as a string": {"progress": "5"},
    "progress as true": {"progress": True},
    "progress as a fraction": {"progress": 50.5},
    "progress -1": {"progress": -1},
    "progress 101": {"progress": 101},
    "progress null": {"progress": None},
    "unknown status": {"status": "bogus"},
    "status in capitals": {"status": "PROCESSING"},
    "status as a number": {"status": 3},
    "status null": {"status": None},
    "unknown stage": {"stage": "bogus"},
    "stage as a number": {"stage": 2},
    "message of 2001 chars": {"message": "m" * 2001},
    "message as a number": {"message": 5},
    "transition_id of 101 chars": {"progress": 50, "transition_id": "t" * 101},
    "transition_id as a number": {"progress": 50, "transition_id": 7},
    "transition_id empty": {"progress": 50, "transition_id": ""},
    "error as a string": {"status": "failed", "error": "boom"},
    "error without detail": {"status": "failed", "error": {"code": "x"}},
    "error with an extra key": {"status": "failed", "error": {**ERROR, "trace": "..."}},
    "error with an empty code": {"status": "failed", "error": {"code": "", "detail": "d"}},
    "error code of 65 chars": {"status": "failed", "error": {"code": "c" * 65, "detail": "d"}},
    "result verdict unknown": {"status": "completed", "result": {"verdict": "fake", "confidence": 0.5}},
    "result confidence 1.5": {"status": "completed", "result": {"verdict": "authentic", "confidence": 1.5}},
    "result confidence as a string": {"status": "completed", "result": {"verdict": "authentic", "confidence": "0.5"}},
    "result confidence true": {"status": "completed", "result": {"verdict": "authentic", "confidence": True}},
    "result without confidence": {"status": "completed", "result": {"verdict": "authentic"}},
    "completed without result": {"status": "completed"},
    "failed without error": {"status": "failed"},
    "unknown field": {"progress": 50, "percent": 50},
    "read-only field": {"progress": 50, "retry_count": 0},
    "empty object": {},
    "only a transition_id": {"transition_id": "t-1"},
    "only a result": {"result": RESULT},
}

BAD_CREATES = {
    "no filename": {},
    "empty filename": {"filename": ""},
    "blank filename": {"filename": "   "},
    "filename of 256 chars": {"filename": "f" * 256},
    "filename as a number": {"filename": 5},
    "filename null": {"filename": None},
    "filename as a list": {"filename": ["a.mp4"]},
    "media_url not a URL": {"filename": "a.mp4", "media_url": "not a url"},
    "media_url as a number": {"filename": "a.mp4", "media_url": 5},
    "media_url too long": {"filename": "a.mp4", "media_url": "https://example.com/" + "x" * 2000},
    "unknown field": {"filename": "a.mp4", "owner": "bob"},
    "a status": {"filename": "a.mp4", "status": "completed"},
}

BAD_HISTORY_QUERIES = [
    "limit=0",
    "limit=501",
    "limit=abc",
    "limit=-1",
    "limit=1.5",
    "since_seq=-1",
    "since_seq=abc",
    "since_seq=1e3",
]

MALFORMED_IDS = ["not-a-uuid", "123", "0" * 32 + "0", "3f2b5c1e-0000-0000-0000-00000000000g", "%20"]


@pytest.fixture
def processing(owner, make_analysis):
    """A processing analysis (face_detection, 40%): most well-formed changes would be accepted."""
    return drive_to(make_analysis(owner), "processing")


@pytest.fixture
def changer_client(status_changer, api_client) -> APIClient:
    return api_client(status_changer)


def post_raw(client: APIClient, path: str, raw: str):
    return client.generic("POST", path, raw.encode(), content_type="application/json")


class TestTransition:
    @pytest.mark.parametrize("body", list(BAD_TRANSITIONS.values()), ids=list(BAD_TRANSITIONS))
    def test_bad_body(self, body, processing, changer_client):
        before = Counts.take(processing)
        response = changer_client.post(api_paths(processing.pk)["transition"], body, format="json")
        assert_error_body(response, 400, "invalid")
        assert Counts.take(processing) == before

    @pytest.mark.parametrize("raw", MALFORMED_JSON + NOT_AN_OBJECT)
    def test_body_that_is_not_a_json_object(self, raw, processing, changer_client):
        before = Counts.take(processing)
        response = post_raw(changer_client, api_paths(processing.pk)["transition"], raw)
        assert_error_body(response, 400, "invalid")
        assert Counts.take(processing) == before

    def test_the_limits_themselves_are_accepted(self, processing, changer_client):
        """The boundaries sit exactly where the contract puts them."""
        path = api_paths(processing.pk)["transition"]
        for body in (
            {"message": "m" * 2000},
            {"progress": 100, "transition_id": "t" * 100},
            {"status": "failed", "error": {"code": "c" * 64, "detail": "d" * 2000}},
        ):
            response = changer_client.post(path, body, format="json")
            assert response.status_code == 200, (body, response.json())

    def test_bad_input_is_reported_by_field(self, processing, changer_client):
        body = changer_client.post(
            api_paths(processing.pk)["transition"], {"progress": "5", "stage": "bogus"}, format="json"
        ).json()
        assert "progress" in body["detail"] and "stage" in body["detail"]


class TestCreate:
    @pytest.mark.parametrize("body", list(BAD_CREATES.values()), ids=list(BAD_CREATES))
    def test_bad_body(self, body, owner, api_client):
        before = Counts.take()
        response = api_client(owner).post("/api/analyses/", body, format="json")
        assert_error_body(response, 400, "invalid")
        assert Counts.take() == before

    @pytest.mark.parametrize("raw", MALFORMED_JSON + NOT_AN_OBJECT)
    def test_body_that_is_not_a_json_object(self, raw, owner, api_client):
        before = Counts.take()
        assert_error_body(post_raw(api_client(owner), "/api/analyses/", raw), 400, "invalid")
        assert Counts.take() == before

    def test_a_filename_of_255_chars_is_accepted(self, owner, api_client):
        response = api_client(owner).post("/api/analyses/", {"filename": "f" * 255}, format="json")
        assert response.status_code == 201
        assert response.json()["filename"] == "f" * 255


class TestHistory:
    @pytest.mark.parametrize("query", BAD_HISTORY_QUERIES)
    def test_bad_query(self, query, processing, owner, api_client):
        response = api_client(owner).get(f"{api_paths(processing.pk)['history']}?{query}")
        assert_error_body(response, 400, "invalid")


class TestList:
    @pytest.mark.parametrize("query", ["status=bogus", "status=PENDING"])
    def test_bad_status_filter(self, query, owner, make_analysis, api_client):
        make_analysis(owner)
        assert_error_body(api_client(owner).get(f"/api/analyses/?{query}"), 400, "invalid")


@pytest.mark.parametrize("endpoint", ["retrieve", "transition", "history", "broadcast", "ws_broadcast"])
@pytest.mark.parametrize("analysis_id", MALFORMED_IDS)
def test_a_malformed_id_in_the_path_is_404(endpoint, analysis_id, staff_user, owner, make_analysis, api_client):
    make_analysis(owner)
    before = Counts.take()
    client = api_client(staff_user)
    path = api_paths(analysis_id)[endpoint]
    if endpoint in ("retrieve", "history"):
        response = client.get(path)
    else:
        response = client.post(path, {"status": "queued"}, format="json")
    assert_error_body(response, 404, "not_found")
    assert Counts.take() == before


class TestTokens:
    @pytest.mark.parametrize(
        "body",
        [{}, {"username": "alice"}, {"password": "correct-horse-battery"}, {"username": None, "password": None}],
    )
    def test_obtain_without_credentials(self, body, owner):
        assert_error_body(APIClient().post("/api/token/", body, format="json"), 400, "invalid")

    @pytest.mark.parametrize("raw", [*MALFORMED_JSON, "[]", '"alice"'])
    def test_obtain_with_a_body_that_is_not_a_json_object(self, raw, owner):
        assert_error_body(post_raw(APIClient(), "/api/token/", raw), 400, "invalid")

    @pytest.mark.parametrize("body", [{}, {"refresh": None}, {"refresh": ""}])
    def test_refresh_without_a_token(self, body):
        assert_error_body(APIClient().post("/api/token/refresh/", body, format="json"), 400, "invalid")

    @pytest.mark.parametrize("raw", [*MALFORMED_JSON, "[]"])
    def test_refresh_with_a_body_that_is_not_a_json_object(self, raw):
        assert_error_body(post_raw(APIClient(), "/api/token/refresh/", raw), 400, "invalid")


def test_unknown_api_paths_answer_json_404(owner, api_client):
    for path in ("/api/nothing-here/", "/api/analyses/a/b/c/d/", "/ws/broadcast/"):
        response = api_client(owner).get(path)
        assert response.status_code == 404
        body = json.loads(response.content)
        assert set(body) == {"code", "detail"}


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=501", "limit=-3", "offset=-1", "offset=x"])
def test_list_pagination_refuses_malformed_limits(api_client, owner, make_analysis, query):
    make_analysis(owner)
    response = api_client(owner).get(f"/api/analyses/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and query.split("=")[0] in response.json()["detail"]


@pytest.mark.django_db
def test_list_pagination_accepts_its_bounds(api_client, owner, make_analysis):
    for n in range(3):
        make_analysis(owner, f"{n}.mp4")
    body = api_client(owner).get("/api/analyses/?limit=2&offset=1").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"] is None and body["previous"]
    assert len(api_client(owner).get("/api/analyses/?limit=500").json()["results"]) == 3
