"""Every example of the AsyncAPI document is valid under its schema and shaped like what the code sends.

The event body and the snapshot are compared with ``analyses.payloads`` for a real analysis taken
through every kind of event, so the document cannot drift from the wire.
"""

import pytest

from analyses.models import Analysis
from analyses.payloads import analysis_snapshot, event_body, snapshot_at_event
from analyses.services import analysis_create
from analyses.state_machine import EventType

from .asyncapi_document import (
    component_messages,
    declared_properties,
    document,
    examples_of,
    live_every_kind_of_event,
    payload_errors,
    schema_errors,
)


def message_examples():
    for name, message in component_messages().items():
        for example in message.get("examples", []):
            yield pytest.param(name, example["payload"], id=f"{name}/{example['name']}")


@pytest.mark.parametrize(("message_name", "payload"), list(message_examples()))
def test_the_example_is_valid_under_its_payload_schema(message_name, payload):
    assert payload_errors(message_name, payload) == []
    undeclared = set(payload) - declared_properties(component_messages()[message_name]["payload"])
    assert not undeclared, f"keys the schema does not name: {sorted(undeclared)}"


def test_every_message_has_an_example():
    assert [name for name, message in component_messages().items() if not message.get("examples")] == []


def test_the_examples_of_the_shared_schemas_are_valid():
    checked = 0
    for name, schema in document()["components"]["schemas"].items():
        for example in schema.get("examples", []):
            assert schema_errors(name, example) == [], (name, example)
            checked += 1
    assert checked >= 6


def test_a_wrong_example_is_caught():
    """The check above can fail: a seq written as a string, or a key the schema does not name."""
    good = component_messages()["stage_transition"]["examples"][0]["payload"]
    assert payload_errors("stage_transition", {**good, "seq": "7"}) != []
    assert payload_errors("stage_transition", {**good, "event": "progress_update"}) != []
    assert "sequence" not in declared_properties(component_messages()["stage_transition"]["payload"])


@pytest.fixture
def lived_analysis(owner) -> Analysis:
    analysis = analysis_create(owner=owner, filename="interview.mp4", media_url="https://media.example.com/i.mp4")
    live_every_kind_of_event(analysis.pk)
    return Analysis.objects.select_related("owner").get(pk=analysis.pk)


@pytest.mark.django_db
def test_real_events_and_snapshots_are_valid_under_the_document(lived_analysis):
    events = list(lived_analysis.events.order_by("seq"))
    assert {event.event for event in events} == set(EventType)
    for event in events:
        body = event_body(event)
        assert schema_errors("EventBody", body) == [], body
        assert payload_errors(event.event, {"type": event.event, **body}) == [], body
        assert payload_errors(event.event, {"type": event.event, **body, "replay": True}) == [], body
        snapshot = snapshot_at_event(lived_analysis, event)
        assert schema_errors("Snapshot", snapshot) == [], snapshot
    assert schema_errors("Snapshot", analysis_snapshot(lived_analysis)) == []


@pytest.mark.django_db
def test_every_example_event_body_has_the_keys_of_a_real_one(lived_analysis):
    real = set(event_body(lived_analysis.events.order_by("seq").last()))
    examples = list(examples_of("EventBody"))
    # The shared schema's, one per event message at least, and the history's.
    assert len(examples) >= len(EventType) + 2
    for where, example in examples:
        assert set(example) == real, f"{where}: missing {real - set(example)}, extra {set(example) - real}"


@pytest.mark.django_db
def test_every_example_snapshot_has_the_keys_of_a_real_one(lived_analysis):
    real = set(analysis_snapshot(lived_analysis))
    examples = list(examples_of("Snapshot"))
    # The shared schema's, and those of status_response, analysis_created and status_snapshot.
    assert len(examples) >= 4
    for where, example in examples:
        assert set(example) == real, f"{where}: missing {real - set(example)}, extra {set(example) - real}"
