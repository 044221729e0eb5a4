"""Scraping a process's /metrics over HTTP as Prometheus does, and reading the samples."""

import secrets
import urllib.error
import urllib.request

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

#: The metrics docs/protocol.md §6 names, as their families (counters without ``_total``) and types.
SECTION_6_METRICS = {
    "secureai_ws_connections": "gauge",
    "secureai_ws_subscriptions": "gauge",
    "secureai_ws_messages_sent": "counter",
    "secureai_ws_messages_received": "counter",
    "secureai_ws_closes": "counter",
    "secureai_delivery_latency_seconds": "histogram",
    "secureai_gap_fills": "counter",
    "secureai_replayed_events": "counter",
    "secureai_publish_failures": "counter",
    "secureai_transitions": "counter",
    "secureai_worker_jobs": "counter",
    "secureai_stalled_jobs": "counter",
}


def new_metrics_token() -> str:
    return secrets.token_urlsafe(32)


def get_metrics(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` with the bearer ``token``: status, headers and body, whatever the status."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def families_in(body: bytes) -> dict[str, Metric]:
    """The metric families of a text-format body, by name (counters without ``_total``)."""
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def scrape(url: str, token: str) -> dict[str, Metric]:
    """The metric families of a successful scrape."""
    status, _, body = get_metrics(url, token)
    assert status == 200, body
    return families_in(body)


def sample_value(families: dict[str, Metric], family: str, **labels: str) -> float:
    """The value of the sample of ``family`` (or of ``<family>_total``) with exactly ``labels``."""
    for sample in families[family].samples:
        if sample.name in (family, f"{family}_total") and sample.labels == labels:
            return sample.value
    raise LookupError(f"no {family}{labels} in the scrape")


def serves_metrics(url: str, token: str) -> bool:
    """True once ``url`` answers the token with 200 (False while nothing listens yet)."""
    try:
        return get_metrics(url, token)[0] == 200
    except OSError:
        return False
