"""/api/schema/ is a valid OpenAPI 3 document of §4; /api/docs/ works offline (no CDN)."""

import re

import pytest
from django.test import Client
from openapi_spec_validator import validate

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
