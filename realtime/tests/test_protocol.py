"""Parsing client messages: aliases, defaults and the error code of each malformed message."""

import uuid

import pytest

from realtime.protocol import ProtocolError, parse_request

ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("alias", "full"),
    [
        ("status", "status_request"),
        ("subscribe", "subscribe_request"),
        ("unsubscribe", "unsubscribe_request"),
        ("ping", "ping_request"),
        ("history", "history_request"),
    ],
)
def test_aliases(alias, full):
    text = f'{{"type": "{alias}", "analysis_id": "{ID}"}}' if alias != "ping" else '{"type": "ping"}'
    assert parse_request(text).type == full


def test_history_defaults():
    request = parse_request(f'{{"type": "history", "analysis_id": "{ID}"}}')
    assert request.since_seq == 0 and request.limit == 100 and str(request.analysis_id) == ID


def test_subscribe_without_since_seq_means_live_only():
    assert parse_request(f'{{"type": "subscribe", "analysis_id": "{ID}"}}').since_seq is None


def test_timestamp_is_accepted_and_ignored():
    assert parse_request('{"type": "ping", "timestamp": "2026-01-01T00:00:00Z"}').type == "ping_request"


def test_request_id_and_token_are_kept():
    request = parse_request('{"type": "ping", "request_id": "r", "jwt_token": "t"}')
    assert request.request_id == "r" and request.jwt_token == "t"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{", "invalid_json"),
        ("null", "invalid_message"),
        ('{"type": null}', "invalid_message"),
        ('{"type": "nope"}', "unknown_type"),
        ('{"type": "history", "analysis_id": "zz"}', "invalid_analysis_id"),
        (f'{{"type": "history", "analysis_id": "{ID}", "since_seq": 1.5}}', "invalid_message"),
        (f'{{"type": "history", "analysis_id": "{ID}", "limit": "10"}}', "invalid_message"),
        ('{"type": "unsubscribe", "feed": 3}', "invalid_message"),
    ],
)
def test_errors(text, code):
    with pytest.raises(ProtocolError) as raised:
        parse_request(text)
    assert raised.value.code == code


def test_error_keeps_the_request_id_it_could_read():
    with pytest.raises(ProtocolError) as raised:
        parse_request('{"type": "nope", "request_id": "abc"}')
    assert raised.value.request_id == "abc"
