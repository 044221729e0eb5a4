"""The client address behind reverse proxies: X-Forwarded-For only from trusted proxies, read from the right."""

import ipaddress

import pytest
from django.test import RequestFactory, override_settings

from secureai.client_address import client_address

PROXIES = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::1")]


def address(peer: str, forwarded: str | None = None) -> str:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return client_address(RequestFactory(REMOTE_ADDR=peer, headers=headers).get("/"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", None, "198.51.100.7"),
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # no trusted proxies: the header is ignored
    ],
)
def test_without_trusted_proxies_the_peer_is_the_client(peer, forwarded, expected):
    assert address(peer, forwarded) == expected


@override_settings(TRUSTED_PROXIES=PROXIES)
@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("10.0.0.5", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.5", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a client's own header, then the proxy's entry
        ("10.0.0.5", "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two trusted hops
        ("10.0.0.5", "10.0.0.8, 10.0.0.7", "10.0.0.8"),  # every hop trusted: the first one
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "not-an-address", "10.0.0.5"),  # a malformed hop: the proxy that passed it on
        ("10.0.0.5", " 2001:db8::5 ", "2001:db8::5"),
        ("fd00::1", "203.0.113.9", "203.0.113.9"),
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # not from a trusted proxy: the header is ignored
    ],
)
def test_behind_trusted_proxies_the_last_untrusted_hop_is_the_client(peer, forwarded, expected):
    assert address(peer, forwarded) == expected
