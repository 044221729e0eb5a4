"""Every HTTP request has an id, on each line it logs and in its ``X-Request-ID`` response header.

The id comes from the request's own ``X-Request-ID`` (a proxy's or a client's, to follow one
request across services) when it is a sane value: at most 128 letters, digits and ``._:-``, and
nothing the log redaction would hide; otherwise a new one is made. The analysis id is the view's
``analysis_id`` URL argument when it is a UUID (any other text there would go into the logs as is).

The middleware comes first, so its ids cover the whole chain and every answer carries the header;
it is a plain sync middleware, which Django adapts where it runs async.
"""

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from secureai.log_redaction import redact
from secureai.logs import bind_log_ids, log_ids

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(request: HttpRequest) -> str:
    """The request's sane ``X-Request-ID``, or a new id."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    if _SANE_REQUEST_ID.fullmatch(offered) and redact(offered) == offered:
        return offered
    return uuid.uuid4().hex


def analysis_id_of(view_kwargs: dict[str, Any]) -> str | None:
    """The view's ``analysis_id`` URL argument, when it is a UUID."""
    raw = view_kwargs.get("analysis_id")
    try:
        return str(uuid.UUID(str(raw))) if raw is not None else None
    except ValueError:
        return None


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Kept on the request too: Django logs 4xx and 5xx answers after the middleware returned.
        request.log_ids = {"request_id": request_id_of(request)}
        with log_ids(**request.log_ids):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.log_ids["request_id"]
        return response

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict) -> None:
        analysis_id = analysis_id_of(view_kwargs)
        if analysis_id is not None:
            request.log_ids["analysis_id"] = analysis_id
            bind_log_ids(analysis_id=analysis_id)
