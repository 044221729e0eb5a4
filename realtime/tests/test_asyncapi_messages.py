"""The AsyncAPI document names every message type and error code the code knows, and no other."""

import pytest

from realtime.protocol import ALIASES, ERROR_CODES, REQUEST_TYPES, SERVER_TYPES, ProtocolError

from .asyncapi_document import component_messages, document, messages_by_action, resolve, type_values


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


def test_the_error_codes_are_the_protocols():
    documented = set(resolve(component_messages()["error"]["payload"])["properties"]["code"]["enum"])
    assert documented == ERROR_CODES, difference(set(ERROR_CODES), documented)


def test_no_other_error_code_can_be_sent():
    with pytest.raises(ValueError, match="not an error code"):
        ProtocolError("no_such_code", "?")
