"""The workers' exporter: only the metrics token opens it, each scrape checks readiness, and run_worker
will not start it without a token."""

import json
import socket
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

from analyses.models import Analysis
from analyses.state_machine import Status
from analyses.tests.helpers import drive_to
from secureai.health import READY
from secureai.worker_exporter import start_worker_exporter
from tests.monitoring.scraping import families_in, get_metrics, new_metrics_token, sample_value
from tests.servers import free_port

TOKEN = new_metrics_token()


@pytest.fixture(scope="module")
def exporter() -> Iterator[ThreadingHTTPServer]:
    """One exporter for the module (stopping one takes half a second), reading the token TOKEN."""
    with override_settings(METRICS_TOKEN=TOKEN):
        server = start_worker_exporter(address="127.0.0.1", port=0)
        yield server
    server.shutdown()
    server.server_close()


def get(server: ThreadingHTTPServer, path: str = "/metrics", token: str | None = None) -> tuple[int, dict, bytes]:
    return get_metrics(f"http://127.0.0.1:{server.server_port}{path}", token)


def test_the_token_opens_the_metrics(exporter):
    status, headers, body = get(exporter, token=TOKEN)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert {"secureai_worker_jobs", "secureai_stalled_jobs", "secureai_transitions"} <= set(families_in(body))


@pytest.mark.django_db
def test_a_scrape_runs_the_readiness_checks_first(exporter):
    READY.set(0)
    _, _, body = get(exporter, token=TOKEN)
    assert sample_value(families_in(body), "secureai_ready") == 1


@pytest.mark.django_db
def test_a_worker_that_lost_redis_says_it_is_not_ready(exporter, dead_channel_layer):
    READY.set(1)
    status, _, body = get(exporter, token=TOKEN)
    assert status == 200
    assert sample_value(families_in(body), "secureai_ready") == 0


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_no_token_or_a_wrong_one_is_401_with_the_error_shape(exporter, token):
    status, headers, body = get(exporter, token=token)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert json.loads(body)["code"] == "not_authenticated"


def test_only_the_metrics_path_is_served(exporter):
    status, _, body = get(exporter, "/", token=TOKEN)
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
