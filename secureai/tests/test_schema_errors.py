"""The OpenAPI schema documents every error status each endpoint answers, each as {"code", "detail"}."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

EXPECTED = {
    ("post", "/api/token/"): {"200", "400", "401", "415", "429", "503"},
    ("post", "/api/token/refresh/"): {"200", "400", "401", "415", "503"},
    ("post", "/api/token/blacklist/"): {"200", "400", "401", "415", "503"},
    ("get", "/api/analyses/"): {"200", "400", "401", "503"},
    ("post", "/api/analyses/"): {"201", "400", "401", "403", "415", "429", "503"},
    ("get", "/api/analyses/{analysis_id}/"): {"200", "401", "404", "503"},
    ("post", "/api/analyses/{analysis_id}/transition/"): {"200", "400", "401", "403", "404", "409", "415", "503"},
    ("get", "/api/analyses/{analysis_id}/history/"): {"200", "400", "401", "404", "503"},
    ("post", "/api/analyses/{analysis_id}/broadcast/"): {"202", "401", "403", "404", "503"},
    ("post", "/ws/broadcast/{analysis_id}"): {"202", "401", "403", "404", "503"},
    ("get", "/ws/stats"): {"200", "401", "403", "503"},
    ("get", "/api/realtime/stats/"): {"200", "401", "403", "503"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return Client().get("/api/schema/?format=json").json()


def test_every_operation_documents_the_statuses_it_answers(schema):
    documented = {
        (method, path): set(operation["responses"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == EXPECTED


def test_request_bodies_are_json_only(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)


def test_a_form_body_is_refused_with_415(api_client, owner):
    response = api_client(owner).post("/api/analyses/", {"filename": "clip.mp4"}, format="multipart")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_every_error_has_the_error_shape_and_throttles_and_outages_name_retry_after(schema):
    assert schema["components"]["schemas"]["ErrorOutput"]["required"] == ["code", "detail"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status >= "400":
                    content = response["content"]["application/json"]["schema"]
                    assert content == {"$ref": "#/components/schemas/ErrorOutput"}, (method, path, status)
                    assert response["description"], (method, path, status)
                retry_after = response.get("headers", {}).get("Retry-After")
                assert (retry_after is not None) == (status in ("429", "503")), (method, path, status)
                if retry_after:
                    assert retry_after["required"] and retry_after["schema"] == {"type": "integer"}
