"""/metrics of a real daphne and of a real worker over HTTP: every metric, real traffic, who may read."""

import json
from collections.abc import Iterator

import pytest

from analyses.state_machine import Status
from analyses.tests.helpers import RESULT, drive_to
from analyses.tests.worker_checks import FAST_WORKER_ENV
from conftest import access_token_for
from tests.clients import http_json
from tests.servers import Server, daphne, free_port
from tests.workers import settled, stop_worker, wait_until, workers

from .scraping import SECTION_6_METRICS, get_metrics, new_metrics_token, sample_value, scrape, serves_metrics

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

TOKEN = new_metrics_token()


@pytest.fixture(scope="module")
def server(django_db_setup) -> Iterator[Server]:
    with daphne(METRICS_TOKEN=TOKEN) as server:
        yield server


def metrics_url(server: Server) -> str:
    return f"{server.http_url}/metrics"


def test_every_metric_of_the_contract_is_exported_with_its_type(server):
    families = scrape(metrics_url(server), TOKEN)
    assert {name: families[name].type for name in SECTION_6_METRICS} == SECTION_6_METRICS
    assert sample_value(families, "secureai_ready") == 1


def test_transitions_through_the_api_move_the_servers_transition_counter(server, owner, status_changer):
    status, analysis = http_json(
        "POST", f"{server.http_url}/api/analyses/", access_token_for(owner), {"filename": "a.mp4"}
    )
    assert status == 201, analysis
    transition_url = f"{server.http_url}/api/analyses/{analysis['analysis_id']}/transition/"
    worker = access_token_for(status_changer)
    before = scrape(metrics_url(server), TOKEN)

    assert http_json("POST", transition_url, worker, {"status": "queued"})[0] == 200
    status, refused = http_json("POST", transition_url, worker, {"status": "completed", "result": RESULT})
    assert (status, refused["code"]) == (409, "invalid_transition")

    after = scrape(metrics_url(server), TOKEN)
    moved = {
        outcome: sample_value(after, "secureai_transitions", outcome=outcome)
        - sample_value(before, "secureai_transitions", outcome=outcome)
        for outcome in ("applied", "repeated", "invalid", "invalid_transition", "conflict", "not_found")
    }
    assert moved == {
        "applied": 1,
        "repeated": 0,
        "invalid": 0,
        "invalid_transition": 1,
        "conflict": 0,
        "not_found": 0,
    }


def test_who_may_read_a_servers_metrics(server, owner, staff_user):
    refused = {
        "anonymous": (None, 401, "not_authenticated"),
        "a wrong token": (new_metrics_token(), 401, "token_not_valid"),
        "a signed-in analyst": (access_token_for(owner), 403, "permission_denied"),
    }
    for who, (token, expected_status, code) in refused.items():
        status, headers, body = get_metrics(metrics_url(server), token)
        assert (status, json.loads(body)["code"]) == (expected_status, code), who
        assert headers["Content-Type"] == "application/json", who
    for who, token in {"staff": access_token_for(staff_user), "the metrics token": TOKEN}.items():
        status, headers, _ = get_metrics(metrics_url(server), token)
        assert status == 200, who
        assert headers["Content-Type"].startswith("text/plain"), who


def test_a_workers_exporter_counts_the_job_it_completes(owner, make_analysis):
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_FAILURE_RATE": "0", "METRICS_TOKEN": TOKEN, "WORKER_METRICS_PORT": str(port)}
    with workers("w-metrics", **env) as (worker,):
        wait_until(lambda: serves_metrics(url, TOKEN), 20, "the worker serves its metrics")
        assert get_metrics(url)[0] == 401
        assert sample_value(scrape(url, TOKEN), "secureai_worker_jobs", outcome="completed") == 0

        analysis = drive_to(make_analysis(owner), Status.QUEUED)
        wait_until(lambda: settled(analysis), 30, "the worker completes the analysis")
        assert analysis.status == Status.COMPLETED
        families = scrape(url, TOKEN)
        assert sample_value(families, "secureai_worker_jobs", outcome="completed") == 1
        assert sample_value(families, "secureai_transitions", outcome="applied") >= 2  # processing .. completed
        assert stop_worker(worker) == 0
