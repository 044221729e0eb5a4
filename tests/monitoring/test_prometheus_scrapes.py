"""A real Prometheus, configured from deploy/prometheus, scrapes a real daphne and a real worker."""

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from analyses.tests.worker_checks import FAST_WORKER_ENV
from deploy.prometheus import JOBS, write_prometheus_config
from tests.servers import daphne, free_port, wait_for_http
from tests.workers import wait_until, workers

from .prometheus_config import PrometheusTools, alert_rules
from .scraping import new_metrics_token

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


@contextmanager
def prometheus(tools: PrometheusTools, config: Path, data: Path) -> Iterator[str]:
    """Prometheus on a free loopback port with its data in ``data``; yields its URL."""
    port = free_port()
    with open(data.with_suffix(".log"), "w") as log:
        process = subprocess.Popen(
            [
                tools.prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/-/ready", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def api(url: str, path: str, **params: str) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}/api/v1/{path}{query}", timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


#: lastEvaluation of a rule Prometheus has not evaluated yet.
NEVER = "0001-01-01T00:00:00Z"


def query_by_job(url: str, promql: str) -> dict[str, float]:
    return {row["metric"]["job"]: float(row["value"][1]) for row in api(url, "query", query=promql)["result"]}


def target_health(url: str) -> dict[str, str]:
    return {target["labels"]["job"]: target["health"] for target in api(url, "targets")["activeTargets"]}


def alerting_rules(url: str) -> list[dict]:
    return [rule for group in api(url, "rules", type="alert")["groups"] for rule in group["rules"]]


def test_prometheus_scrapes_every_server_and_worker_and_evaluates_the_alerts(prometheus_tools, tmp_path):
    token, worker_port = new_metrics_token(), free_port()
    worker_env = {**FAST_WORKER_ENV, "METRICS_TOKEN": token, "WORKER_METRICS_PORT": str(worker_port)}
    with daphne(METRICS_TOKEN=token) as server, workers("w-scraped", **worker_env):
        targets = {"secureai-server": [f"127.0.0.1:{server.port}"], "secureai-worker": [f"127.0.0.1:{worker_port}"]}
        config = write_prometheus_config(tmp_path, token=token, targets=targets, interval="1s")
        with prometheus(prometheus_tools, config, tmp_path / "data") as url:
            try:
                wait_until(lambda: target_health(url) == dict.fromkeys(JOBS, "up"), 30, "every target up")
            except TimeoutError as error:
                raise AssertionError(api(url, "targets")["activeTargets"]) from error
            wait_until(lambda: query_by_job(url, "up"), 10, "up is queryable")
            assert query_by_job(url, "up") == dict.fromkeys(JOBS, 1.0)
            assert query_by_job(url, "secureai_ready") == dict.fromkeys(JOBS, 1.0)

            wait_until(lambda: all(r["lastEvaluation"] != NEVER for r in alerting_rules(url)), 10, "alerts evaluated")
            rules = {rule["name"]: (rule["health"], rule["state"]) for rule in alerting_rules(url)}
            assert rules == dict.fromkeys(alert_rules(), ("ok", "inactive"))
