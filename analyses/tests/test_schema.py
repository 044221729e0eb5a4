"""/api/schema/ is a valid OpenAPI 3 document of §4 that matches what the API renders; /api/docs/ works offline."""

import re

import pytest
from django.test import Client
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from analyses.payloads import analysis_snapshot, event_body
from analyses.tests.helpers import drive_to

pytestmark = pytest.mark.django_db

API_PATHS = {
    "/api/analyses/",
    "/api/analyses/{analysis_id}/",
    "/api/analyses/{analysis_id}/transition/",
    "/api/analyses/{analysis_id}/history/",
    "/api/analyses/{analysis_id}/broadcast/",
    "/api/token/",
    "/api/token/refresh/",
}


@pytest.fixture
def schema() -> dict:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    return response.json()


def test_the_schema_validates_as_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)  # raises on an invalid document


def test_the_schema_documents_every_endpoint(schema):
    assert set(schema["paths"]) >= API_PATHS
    assert "post" in schema["paths"]["/api/analyses/{analysis_id}/transition/"]
    assert "get" in schema["paths"]["/api/analyses/{analysis_id}/history/"]


def test_the_schema_documents_the_contract_shapes(schema):
    transition = schema["paths"]["/api/analyses/{analysis_id}/transition/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(transition["responses"])
    history = schema["paths"]["/api/analyses/{analysis_id}/history/"]["get"]
    assert {p["name"] for p in history["parameters"] if p["in"] == "query"} >= {"since_seq", "limit"}
    components = schema["components"]["schemas"]
    statuses = next(
        s["enum"] for s in components.values() if set(s.get("enum", [])) >= {"pending", "processing", "cancelled"}
    )
    assert set(statuses) == {"pending", "queued", "processing", "completed", "failed", "cancelled"}


def test_the_yaml_schema_is_served_too():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3." in response.content


def test_the_docs_page_loads_without_any_external_url():
    client = Client()
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    urls += re.findall(r'https?://[^\s"\'<>)]+', html)
    external = [u for u in urls if u.startswith(("http://", "https://", "//")) and "127.0.0.1" not in u]
    assert external == [], external
    for cdn in ("cdn.", "jsdelivr", "unpkg", "cdnjs", "googleapis"):
        assert cdn not in html

    # The assets it names are served by this app.
    assets = [u for u in urls if u.startswith("/static/")]
    assert any(u.endswith(".js") for u in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.fixture
def analyses_in_every_shape(owner, make_analysis):
    """Analyses whose snapshots and events carry null and non-null stage, error and result."""
    return [
        make_analysis(owner),
        drive_to(make_analysis(owner), "processing"),
        drive_to(make_analysis(owner), "failed"),
        drive_to(make_analysis(owner), "completed"),
    ]


def _response_schema(schema: dict, component: str) -> dict:
    """A component schema that resolves its $refs against the whole document."""
    return {**schema["components"]["schemas"][component], "components": schema["components"]}


@pytest.mark.parametrize(
    ("component", "render"),
    [
        ("AnalysisSnapshot", lambda analysis: [analysis_snapshot(analysis)]),
        ("EventOutput", lambda analysis: [event_body(event) for event in analysis.events.all()]),
    ],
)
def test_the_rendered_payloads_are_what_the_schema_documents(schema, analyses_in_every_shape, component, render):
    """payloads.py renders; the serializers document: every rendered body validates, key for key."""
    documented = _response_schema(schema, component)
    for analysis in analyses_in_every_shape:
        for body in render(analysis):
            assert set(body) == set(documented["properties"]) == set(documented["required"])
            OAS31Validator(documented).validate(body)
