"""Every API error as ``{"code", "detail"}``, so clients branch on one field."""

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from analyses.state_machine import TransitionError

TRANSITION_STATUS = {"invalid": status.HTTP_400_BAD_REQUEST}


def _sentence(detail: Any) -> str:
    """Flatten DRF's nested error detail into one readable sentence."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _sentence(value)
            parts.append(text if field in ("non_field_errors", "detail") else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(_sentence(item) for item in detail)
    return str(detail)


def json_error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, TransitionError):
        code = TRANSITION_STATUS.get(exc.code, status.HTTP_409_CONFLICT)
        return Response({"code": exc.code, "detail": exc.detail}, status=code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, (exceptions.ValidationError, exceptions.ParseError)):
        body = {"code": "invalid", "detail": _sentence(exc.detail)}
        if isinstance(exc.detail, dict):
            body["errors"] = exc.detail
    elif isinstance(exc.detail, dict) and "detail" in exc.detail:
        # simplejwt's InvalidToken nests its own detail and code.
        body = {"code": str(exc.detail.get("code", exc.default_code)), "detail": str(exc.detail["detail"])}
    else:
        body = {"code": getattr(exc.detail, "code", None) or exc.default_code, "detail": _sentence(exc.detail)}
    response.data = body
    return response
