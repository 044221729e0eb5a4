"""/metrics of a real daphne and of a real worker over HTTP: every metric, real traffic, who may read."""

import asyncio
import json
from collections.abc import Iterator

import pytest

from analyses.state_machine import Status
from analyses.tests.helpers import RESULT, drive_to
from analyses.tests.worker_checks import FAST_WORKER_ENV
from conftest import access_token_for
from tests.clients import ahttp_json, http_json, next_of_type, open_ws, request
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


async def test_socket_traffic_moves_the_read_path_metrics(server, owner, status_changer):
    """Real sockets and real transitions: connections, messages both ways, latency, replays, closes."""
    before = scrape(metrics_url(server), TOKEN)
    status, analysis = await ahttp_json(
        "POST", f"{server.http_url}/api/analyses/", access_token_for(owner), {"filename": "m.mp4"}
    )
    assert status == 201
    analysis_id = analysis["analysis_id"]
    watcher = await open_ws(server, access_token_for(owner))
    late = await open_ws(server, access_token_for(owner))
    await request(watcher, {"type": "subscribe", "analysis_id": analysis_id}, "subscribe_success")
    worker = access_token_for(status_changer)
    for body in ({"status": "queued"}, {"status": "processing"}, {"progress": 10}):
        await ahttp_json("POST", f"{server.http_url}/api/analyses/{analysis_id}/transition/", worker, body)
    assert (await next_of_type(watcher, "progress_update"))["seq"] == 4
    # The late socket resumes from seq 1: three events replayed from history.
    await request(late, {"type": "subscribe", "analysis_id": analysis_id, "since_seq": 1}, "subscribe_success")
    assert [(await next_of_type(late, kind))["replay"] for kind in ("status_update", "status_update")] == [True, True]
    assert (await next_of_type(late, "progress_update"))["replay"] is True
    await watcher.send(json.dumps({"type": "nonsense"}))
    await next_of_type(watcher, "error")
    gauges = scrape(metrics_url(server), TOKEN)
    assert sample_value(gauges, "secureai_ws_connections") >= 2
    assert sample_value(gauges, "secureai_ws_subscriptions") >= 2
    await watcher.close()
    await late.close()
    await asyncio.sleep(0.5)

    after = scrape(metrics_url(server), TOKEN)

    def moved(family: str, **labels: str) -> float:
        return sample_value(after, family, **labels) - sample_value(before, family, **labels)

    assert moved("secureai_ws_messages_received", type="subscribe_request") == 2
    assert moved("secureai_ws_messages_received", type="invalid") == 1
    assert moved("secureai_ws_messages_sent", type="progress_update") >= 2
    assert moved("secureai_ws_messages_sent", type="connection_established") == 2
    assert moved("secureai_ws_messages_sent", type="error") == 1
    assert moved("secureai_replayed_events") == 3
    assert moved("secureai_ws_closes", code="1000") == 2
    assert deliveries_timed(after) - deliveries_timed(before) >= 3


def deliveries_timed(families) -> float:
    """How many deliveries the latency histogram has counted."""
    histogram = families["secureai_delivery_latency_seconds"]
    return next(sample.value for sample in histogram.samples if sample.name.endswith("_count"))
