"""The address of the client behind a request, for limits that count per client.

Behind a reverse proxy every request comes from the proxy's address, and the client's own is in
``X-Forwarded-For``, which proxies append to. That header is only as honest as whoever wrote
it: a client can send one of its own. So it is read only when the request comes from an address
in ``TRUSTED_PROXIES``, and from the right: each trusted hop names the one before it, and the
first hop that is not a trusted proxy is the client. With no trusted proxies (the default) the
header is ignored and the client is the peer address.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_address(request: HttpRequest) -> str:
    """The client's IP address: the peer, or the last untrusted hop of X-Forwarded-For behind trusted proxies."""
    address = request.META.get("REMOTE_ADDR", "")
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    while forwarded and _is_trusted_proxy(address):
        hop = forwarded.pop()
        try:
            address = str(ipaddress.ip_address(hop))
        except ValueError:
            break  # a malformed hop: the trusted proxy that passed it on is the best we know
    return address
