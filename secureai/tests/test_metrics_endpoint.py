"""GET /metrics in-process: each scrape refreshes the readiness gauge; who may read; the formats."""

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from secureai.health import READY
from tests.monitoring.scraping import families_in, new_metrics_token, sample_value

pytestmark = pytest.mark.django_db


def scrape(token: str, **headers: str):
    return Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


def ready_in(body: bytes) -> float:
    return sample_value(families_in(body), "secureai_ready")


def test_a_scrape_runs_the_readiness_checks_first(metrics_token):
    READY.set(0)
    response = scrape(metrics_token)
    assert response.status_code == 200
    assert ready_in(response.content) == 1


def test_a_process_that_lost_redis_still_answers_the_scrape_and_says_not_ready(metrics_token, dead_channel_layer):
    READY.set(1)
    response = scrape(metrics_token)
    assert response.status_code == 200
    assert ready_in(response.content) == 0


def test_readyz_sets_the_gauge_too(dead_channel_layer):
    READY.set(1)
    assert Client().get("/readyz").status_code == 503
    assert REGISTRY.get_sample_value("secureai_ready") == 0


def test_staff_may_read_with_a_session_and_others_may_not(make_user, staff_user):
    client = Client()
    client.force_login(make_user("nina"))
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    client.force_login(staff_user)
    assert client.get("/metrics").status_code == 200


def test_without_a_metrics_token_setting_no_bearer_token_opens_it(settings, staff_user, api_client):
    settings.METRICS_TOKEN = None
    for token in ("", "None", new_metrics_token()):
        assert scrape(token).status_code == 401
    assert api_client(staff_user).get("/metrics").status_code == 200


def test_a_refusal_is_the_api_error_shape_whatever_the_scraper_accepts(metrics_token):
    response = Client().get("/metrics", HTTP_ACCEPT="text/plain")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_the_text_format_by_default_and_openmetrics_when_asked(metrics_token):
    assert scrape(metrics_token)["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    openmetrics = scrape(metrics_token, HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert openmetrics.content.endswith(b"# EOF\n")
