"""GET /api/asyncapi.yaml and /api/asyncapi.json: one public document in two forms, linked from /api/docs/."""

import pytest
import yaml
from django.test import Client

from realtime.asyncapi import DOCUMENT_PATH


def test_the_yaml_is_the_file():
    response = Client().get("/api/asyncapi.yaml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml"
    assert response.content == DOCUMENT_PATH.read_bytes()


def test_the_json_is_the_same_document():
    client = Client()
    as_json = client.get("/api/asyncapi.json")
    as_yaml = client.get("/api/asyncapi.yaml")

    assert as_json.status_code == 200
    assert as_json["Content-Type"] == "application/json"
    document = as_json.json()
    assert document == yaml.safe_load(as_yaml.content)
    assert document["asyncapi"] == "3.0.0"
    assert {channel["address"] for channel in document["channels"].values()} == {
        "/ws/status/",
        "/ws/status/{analysis_id}/",
    }


@pytest.mark.parametrize("path", ["/api/asyncapi.yaml", "/api/asyncapi.json"])
def test_only_reading_is_allowed(path):
    client = Client()
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405
    assert client.get(path).content == client.get(path).content


@pytest.mark.django_db
def test_the_api_docs_link_to_the_document():
    schema = Client().get("/api/schema/?format=json").json()
    description = schema["info"]["description"]
    assert "(/api/asyncapi.yaml)" in description and "(/api/asyncapi.json)" in description
