"""The AsyncAPI document of the WebSocket protocol (docs/protocol.md §3), served as YAML and as JSON.

``asyncapi.yaml`` beside this module is the one source, written by hand like the contract it
describes. The JSON form is the same document converted once per process, so the two answers never
differ and neither is rebuilt per request. Both are public, like the OpenAPI schema.
"""

import json
from functools import cache
from pathlib import Path

import yaml
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

DOCUMENT_PATH = Path(__file__).with_name("asyncapi.yaml")


@cache
def asyncapi_yaml() -> bytes:
    return DOCUMENT_PATH.read_bytes()


@cache
def asyncapi_json() -> bytes:
    return json.dumps(yaml.safe_load(asyncapi_yaml()), ensure_ascii=False, indent=2).encode()


@require_safe
def asyncapi_yaml_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(asyncapi_yaml(), content_type="application/yaml")


@require_safe
def asyncapi_json_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(asyncapi_json(), content_type="application/json")
