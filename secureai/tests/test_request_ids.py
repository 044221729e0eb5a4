"""Every HTTP request has an id, in its X-Request-ID answer and on the lines it logs, with the
analysis id of its URL; none of it outlives the request."""

import logging
import uuid

import pytest
from channels.testing import HttpCommunicator
from django.test import AsyncClient, Client

from secureai.request_threads import ThreadedASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

logger = logging.getLogger("secureai.tests.request_ids")

#: A JWT with no signature (alg none), short enough to pass for an id if nothing checked its shape.
UNSIGNED_JWT = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ1c2VyX2lkIjoiNyJ9."


def is_made_here(request_id: str) -> bool:
    return len(request_id) == 32 and int(request_id, 16) >= 0


def test_a_sane_request_id_is_answered_and_on_the_requests_lines_with_the_analysis_id(service_log, api_client, owner):
    log = service_log("json")
    analysis_id = uuid.uuid4()
    response = api_client(owner).get(f"/api/analyses/{analysis_id}/", headers={"X-Request-ID": "edge-7f3a:1.2_b"})
    assert response.status_code == 404 and response["X-Request-ID"] == "edge-7f3a:1.2_b"
    (line,) = log.records()
    assert line["logger"] == "django.request" and line["message"] == f"Not Found: /api/analyses/{analysis_id}/"
    assert line["request_id"] == "edge-7f3a:1.2_b" and line["analysis_id"] == str(analysis_id)


@pytest.mark.parametrize("offered", ["", "x" * 129, "two words", "<script>", "naïve", "a/b", UNSIGNED_JWT])
def test_an_odd_request_id_is_replaced_by_a_new_one_and_never_logged(service_log, offered):
    log = service_log("json")
    response = Client().get("/no/such/page/", headers={"X-Request-ID": offered})
    made = response["X-Request-ID"]
    assert response.status_code == 404 and is_made_here(made)
    (line,) = log.records()
    assert line["request_id"] == made
    assert not offered or offered not in log.text


def test_each_request_gets_its_own_id():
    client = Client()
    made = {client.get("/healthz")["X-Request-ID"] for _ in range(3)}
    assert len(made) == 3 and all(is_made_here(each) for each in made)


def test_answers_made_before_any_view_carry_the_id_too():
    """WhiteNoise answers static files from its middleware, after ours."""
    response = Client().get("/static/realtime/status-client.js", headers={"X-Request-ID": "static-1"})
    assert response.status_code == 200 and response["X-Request-ID"] == "static-1"


@pytest.mark.parametrize("path", ["/api/analyses/not-a-uuid/", f"/api/analyses/{'7' * 200}/"])
def test_an_analysis_id_that_is_no_uuid_is_not_logged_as_one(service_log, api_client, owner, path):
    log = service_log("json")
    assert api_client(owner).get(path).status_code == 404
    (line,) = log.records()
    assert "analysis_id" not in line and "request_id" in line


def test_the_ids_end_with_the_request(service_log, api_client, owner):
    log = service_log("json")
    api_client(owner).get(f"/api/analyses/{uuid.uuid4()}/")
    logger.info("after the request")
    during, after = log.records()
    assert {"request_id", "analysis_id"} <= during.keys()
    assert {"request_id", "analysis_id"}.isdisjoint(after)


async def test_the_server_handler_answers_the_id_and_keeps_it_to_the_request(service_log):
    """Through the ASGI handler daphne serves: the request runs on a request thread; the id must
    not leak back into the event loop's context when the thread's context is copied back."""
    log = service_log("json")
    handler = ThreadedASGIHandler()
    headers = [(b"host", b"127.0.0.1"), (b"x-request-id", b"loop-1")]
    response = await HttpCommunicator(handler, "GET", "/api/analyses/", headers=headers).get_response()
    assert response["status"] == 401 and (b"X-Request-ID", b"loop-1") in response["headers"]
    logger.info("back on the loop")
    unauthorized, back = log.records()
    assert unauthorized["message"] == "Unauthorized: /api/analyses/" and unauthorized["request_id"] == "loop-1"
    assert "request_id" not in back


async def test_django_s_own_async_handler_runs_the_middleware_too():
    """Where Django serves a request async (its own ASGI handler), it adapts the sync middleware."""
    response = await AsyncClient().get("/healthz", headers={"X-Request-ID": "async-1"})
    assert response.status_code == 200 and response["X-Request-ID"] == "async-1"
