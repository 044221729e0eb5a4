"""The AsyncAPI document as the tests read it: its messages by direction, validators for its schemas,
and a life of an analysis with every kind of event to hold them against.

Payload schemas are checked as the JSON Schema draft 7 that AsyncAPI schemas extend, with the
document registered whole so that its own ``#/components/...`` references resolve.
"""

from collections.abc import Iterator
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status
from realtime.asyncapi import DOCUMENT_PATH

DOCUMENT_URI = "urn:secureai:asyncapi"

#: Queued, started, a stage, progress, failure, retry, completion: every kind of event, seq 2 to 9.
EVERY_KIND_OF_EVENT = [
    Change(status=Status.QUEUED),
    Change(status=Status.PROCESSING),
    Change(stage=Stage.FACE_DETECTION, progress=40, message="Detected 3 faces in 120 frames"),
    Change(progress=55),
    Change(status=Status.FAILED, error={"code": "decode_error", "detail": "Frame 311 is corrupt."}),
    Change(status=Status.QUEUED),
    Change(status=Status.PROCESSING, stage=Stage.DEEPFAKE_INFERENCE),
    Change(status=Status.COMPLETED, result={"verdict": "manipulated", "confidence": 0.93}),
]


def live_every_kind_of_event(analysis_id: Any) -> None:
    """Commit EVERY_KIND_OF_EVENT to a new analysis, as a worker would."""
    for change in EVERY_KIND_OF_EVENT:
        analysis_transition(analysis_id=analysis_id, change=change, actor="worker-1")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT_PATH.read_text())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or what its local ``$ref`` (``#/components/...``) points to, followed to the end."""
    while "$ref" in node:
        reference = node["$ref"]
        node = document()
        for part in reference.removeprefix("#/").split("/"):
            node = node[part]
    return node


def component_messages() -> dict[str, dict[str, Any]]:
    return document()["components"]["messages"]


def messages_by_action(action: str) -> dict[str, dict[str, Any]]:
    """The messages of every operation with ``action`` (``send``: the client's, ``receive``: the server's), by name."""
    found = {}
    for operation in document()["operations"].values():
        if operation["action"] == action:
            for reference in operation["messages"]:
                message = resolve(reference)
                found[message["name"]] = message
    return found


def type_values(schema: dict[str, Any]) -> list[str]:
    """The values a payload schema allows for ``type``: its ``const``, or its ``enum`` in order."""
    schema = resolve(schema)
    values = []
    declared = schema.get("properties", {}).get("type")
    if declared is not None:
        values += [declared["const"]] if "const" in declared else declared["enum"]
    for branch in schema.get("allOf", []):
        values += type_values(branch)
    return values


def declared_properties(schema: dict[str, Any]) -> set[str]:
    """Every top-level property a schema names, through ``$ref`` and its ``allOf``/``oneOf``/``anyOf`` branches."""
    schema = resolve(schema)
    names = set(schema.get("properties", {}))
    for keyword in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(keyword, []):
            names |= declared_properties(branch)
    return names


@cache
def _validator(pointer: str) -> Draft7Validator:
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT7.create_resource(document()))
    return Draft7Validator(
        {"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER
    )


def _errors(pointer: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in _validator(pointer).iter_errors(instance)
    ]


def payload_errors(message_name: str, payload: Any) -> list[str]:
    """Why ``payload`` is not valid under the payload schema of the message ``message_name`` (empty if it is)."""
    return _errors(f"/components/messages/{message_name}/payload", payload)


def schema_errors(schema_name: str, instance: Any) -> list[str]:
    """Why ``instance`` is not valid under the shared schema ``schema_name`` (empty if it is)."""
    return _errors(f"/components/schemas/{schema_name}", instance)


def examples_of(schema_name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, value)`` for every example of a shared object schema: its own, and those inside messages.

    Inside a message it is the value of a property of that schema (or of an array of it), or the
    payload itself, less the properties its other branches add, when the payload extends it with allOf.
    """
    reference = f"#/components/schemas/{schema_name}"
    for index, example in enumerate(document()["components"]["schemas"][schema_name].get("examples", [])):
        yield f"components/schemas/{schema_name}/examples/{index}", example
    for name, message in component_messages().items():
        schema = resolve(message["payload"])
        branches = schema.get("allOf", [])
        extended = any(branch.get("$ref") == reference for branch in branches)
        own = declared_properties({"$ref": reference})
        added = set().union(*(declared_properties(b) for b in branches)) - own
        for example in message["examples"]:
            where, payload = f"{name}/{example['name']}", example["payload"]
            if extended:
                yield where, {key: value for key, value in payload.items() if key not in added}
            for key, declared in schema.get("properties", {}).items():
                if declared.get("$ref") == reference:
                    yield f"{where}/{key}", payload[key]
                elif declared.get("items", {}).get("$ref") == reference:
                    yield from ((f"{where}/{key}/{i}", item) for i, item in enumerate(payload[key]))


def reply_names(message_name: str) -> set[str]:
    """The names of the replies the document promises to the client message ``message_name``."""
    for operation in document()["operations"].values():
        names = [resolve(message)["name"] for message in operation["messages"]]
        if operation["action"] == "send" and "reply" in operation and names == [message_name]:
            return {resolve(message)["name"] for message in operation["reply"]["messages"]}
    raise KeyError(message_name)
