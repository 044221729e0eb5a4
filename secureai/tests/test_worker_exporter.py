"""The workers' exporter: only the metrics token opens it, and run_worker will not start it without one."""

import json
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from prometheus_client.parser import text_string_to_metric_families

from analyses.models import Analysis
from analyses.state_machine import Status
from analyses.tests.helpers import drive_to
from secureai.worker_exporter import start_worker_exporter
from tests.servers import free_port


@pytest.fixture
def metrics_token(settings) -> str:
    settings.METRICS_TOKEN = secrets.token_urlsafe(32)
    return settings.METRICS_TOKEN


@pytest.fixture
def exporter(metrics_token) -> Iterator[ThreadingHTTPServer]:
    server = start_worker_exporter(address="127.0.0.1", port=0)
    yield server
    server.shutdown()
    server.server_close()


def get(server: ThreadingHTTPServer, path: str = "/metrics", token: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.server_port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_token_opens_the_metrics(exporter, metrics_token):
    status, headers, body = get(exporter, token=metrics_token)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"secureai_worker_jobs", "secureai_stalled_jobs", "secureai_transitions"} <= names


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_no_token_or_a_wrong_one_is_401_with_the_error_shape(exporter, token):
    status, headers, body = get(exporter, token=token)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert json.loads(body)["code"] == "not_authenticated"


def test_only_the_metrics_path_is_served(exporter, metrics_token):
    status, _, body = get(exporter, "/", token=metrics_token)
    assert status == 404
    assert json.loads(body)["code"] == "not_found"


def test_without_a_metrics_token_the_exporter_refuses_to_start(settings):
    settings.METRICS_TOKEN = None
    with pytest.raises(ImproperlyConfigured, match="METRICS_TOKEN"):
        start_worker_exporter(address="127.0.0.1", port=0)


@pytest.mark.django_db
def test_run_worker_with_a_metrics_port_and_no_token_stops_before_claiming_anything(settings, owner, make_analysis):
    settings.METRICS_TOKEN = None
    settings.WORKER = {**settings.WORKER, "METRICS_PORT": free_port()}
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    with pytest.raises(CommandError, match="METRICS_TOKEN"):
        call_command("run_worker", "--name", "w-exporter")
    assert Analysis.objects.get(pk=analysis.pk).status == Status.QUEUED


@pytest.mark.django_db
def test_run_worker_on_a_port_in_use_says_so(settings, metrics_token):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.WORKER = {**settings.WORKER, "METRICS_PORT": taken.getsockname()[1]}
        with pytest.raises(CommandError, match=r"Cannot serve metrics on 127\.0\.0\.1:\d+: .*in use"):
            call_command("run_worker", "--name", "w-exporter")
