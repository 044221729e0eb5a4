"""A server whose database cannot be reached answers 503 with Retry-After on every endpoint, never 500,
and recovers by itself once the database is back.

The server is a real daphne process whose DATABASE_URL names a PostgreSQL port nobody listens on;
credentials (JWTs, a session) are made in this process, on the test database, as a client would
hold them from before the outage.
"""

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from django.db import connection
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from conftest import PASSWORD, access_token_for
from tests.http import HttpAnswer, csrf_pair, http_call
from tests.servers import Server, daphne, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server]


def database_url(port: int) -> str:
    # The name does not matter: the test settings point NAME at the test database.
    return f"postgres://postgres@127.0.0.1:{port}/test"


def session_cookie(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def assert_api_unavailable(answer: HttpAnswer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:300])
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert body["code"] == "unavailable" and "database" in body["detail"]


def assert_page_unavailable(answer: HttpAnswer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:300])
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in answer.body


@pytest.fixture
def server_without_database() -> Iterator[Server]:
    with daphne(DATABASE_URL=database_url(free_port())) as server:
        yield server


def test_every_endpoint_answers_503_with_retry_after(
    server_without_database, owner, staff_user, status_changer, make_analysis
):
    server = server_without_database
    url = server.http_url
    analysis_id = str(make_analysis(owner).pk)
    owner_token, staff_token = access_token_for(owner), access_token_for(staff_user)
    refresh = str(RefreshToken.for_user(owner))

    api_calls = [
        ("POST", "/api/token/", None, {"username": owner.username, "password": PASSWORD}),
        ("POST", "/api/token/refresh/", None, {"refresh": refresh}),
        ("POST", "/api/token/blacklist/", None, {"refresh": refresh}),
        ("GET", "/api/analyses/", owner_token, None),
        ("POST", "/api/analyses/", owner_token, {"filename": "clip.mp4"}),
        ("GET", f"/api/analyses/{analysis_id}/", owner_token, None),
        ("POST", f"/api/analyses/{analysis_id}/transition/", access_token_for(status_changer), {"status": "queued"}),
        ("GET", f"/api/analyses/{analysis_id}/history/", owner_token, None),
        ("POST", f"/api/analyses/{analysis_id}/broadcast/", staff_token, None),
        ("POST", f"/ws/broadcast/{analysis_id}", staff_token, None),
        ("GET", "/ws/stats", staff_token, None),
        ("GET", "/api/realtime/stats/", staff_token, None),
    ]
    for method, path, token, body in api_calls:
        assert_api_unavailable(http_call(method, url + path, token=token, body=body))

    owner_session, staff_session = session_cookie(owner), session_cookie(staff_user)
    csrf_cookie, csrf_field = csrf_pair()
    sign_in = {"username": owner.username, "password": PASSWORD, **csrf_field}
    page_calls = [
        ("GET", "/live/", owner_session, None),
        ("GET", f"/live/{analysis_id}/", owner_session, None),
        ("POST", "/accounts/login/", csrf_cookie, sign_in),
        ("POST", "/admin/login/", csrf_cookie, {**sign_in, "username": staff_user.username}),
        ("GET", "/admin/", staff_session, None),
        ("GET", f"/admin/analyses/analysis/{analysis_id}/change/", staff_session, None),
    ]
    for method, path, cookies, form in page_calls:
        assert_page_unavailable(http_call(method, url + path, cookies=cookies, form=form))

    assert http_call("GET", url + "/healthz").status == 200
    ready = http_call("GET", url + "/readyz")
    assert ready.status == 503 and ready.json()["checks"]["database"] == "failed"


class SwitchableForwarder:
    """A TCP port that refuses connections until switched on, then forwards them to the real database."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None

    def switch_on(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@contextmanager
def database_behind_a_switch() -> Iterator[SwitchableForwarder]:
    settings = connection.settings_dict
    forwarder = SwitchableForwarder((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    try:
        yield forwarder
    finally:
        forwarder.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database reached over TCP (PostgreSQL)")
def test_the_server_recovers_by_itself_when_the_database_comes_back(owner):
    token = access_token_for(owner)
    with database_behind_a_switch() as database, daphne(DATABASE_URL=database_url(database.port)) as server:
        assert_api_unavailable(http_call("GET", f"{server.http_url}/api/analyses/", token=token))
        assert http_call("GET", f"{server.http_url}/readyz").status == 503

        database.switch_on()

        listed = http_call("GET", f"{server.http_url}/api/analyses/", token=token)
        assert listed.status == 200 and listed.json()["count"] == 0
        created = http_call("POST", f"{server.http_url}/api/analyses/", token=token, body={"filename": "back.mp4"})
        assert created.status == 201, created.body
        assert uuid.UUID(created.json()["analysis_id"])
        assert http_call("GET", f"{server.http_url}/readyz").status == 200
