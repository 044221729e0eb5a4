"""The AsyncAPI document names every message type and error code the code knows, and no other."""

import ast
from pathlib import Path

import realtime
from realtime.protocol import ALIASES, REQUEST_TYPES, SERVER_TYPES

from .asyncapi_document import component_messages, document, messages_by_action, resolve, type_values

#: The calls that carry a WebSocket error code as their first argument (or as ``code=``).
ERROR_SENDERS = {"ProtocolError", "send_error", "error_reply"}


def difference(in_code: set[str], in_document: set[str]) -> str:
    return f"only in the code: {sorted(in_code - in_document)}; only in the document: {sorted(in_document - in_code)}"


def test_every_client_message_type_is_documented_and_no_other():
    documented = set(messages_by_action("send"))
    assert documented == REQUEST_TYPES, difference(REQUEST_TYPES, documented)


def test_every_alias_is_documented_with_the_message_it_stands_for():
    client = messages_by_action("send")
    documented = {alias: name for name, message in client.items() for alias in type_values(message["payload"])[1:]}
    assert documented == ALIASES, difference(set(ALIASES.items()), set(documented.items()))


def test_each_client_message_lists_its_full_type_first():
    for name, message in messages_by_action("send").items():
        assert type_values(message["payload"])[0] == name


def test_every_server_message_type_is_documented_and_no_other():
    documented = set(messages_by_action("receive"))
    assert documented == SERVER_TYPES, difference(SERVER_TYPES, documented)


def test_each_server_message_has_exactly_its_name_as_type():
    for name, message in messages_by_action("receive").items():
        assert type_values(message["payload"]) == [name]


def test_every_message_goes_one_way_and_is_used():
    client, server = set(messages_by_action("send")), set(messages_by_action("receive"))
    assert not client & server
    assert client | server == set(component_messages())
    for key, message in component_messages().items():
        assert message["name"] == key


def test_both_channels_carry_every_message_both_ways():
    for channel_id, channel in document()["channels"].items():
        carried = {resolve(message)["name"] for message in channel["messages"].values()}
        assert carried == REQUEST_TYPES | SERVER_TYPES, channel_id
        actions = {
            operation["action"]
            for operation in document()["operations"].values()
            if operation["channel"]["$ref"] == f"#/channels/{channel_id}"
        }
        assert actions == {"send", "receive"}, channel_id


def error_codes_in_code() -> set[str]:
    """The string codes the realtime modules pass to an error constructor or sender."""
    codes = set()
    for path in Path(realtime.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in ERROR_SENDERS:
                continue
            arguments = node.args[:1] + [keyword.value for keyword in node.keywords if keyword.arg == "code"]
            codes |= {a.value for a in arguments if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return codes


def test_the_error_codes_are_those_the_code_sends():
    in_code = error_codes_in_code()
    documented = set(resolve(component_messages()["error"]["payload"])["properties"]["code"]["enum"])
    assert documented == in_code, difference(in_code, documented)
