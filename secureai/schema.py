"""The OpenAPI schema's error answers: every one ``{"code", "detail"}``, and none left out.

Views document the errors of their own logic (``error_responses(400, 404)`` in their
``extend_schema``). The ones that follow from a view's configuration alone are added here for
every view, so no view repeats them and none forgets them:

- 503, with ``Retry-After``: any view may find the database unreachable (secureai.errors);
- 401: a view with authenticators refuses bad credentials;
- 403: a staff-only view refuses others, and session authentication refuses an unsafe request
  without its CSRF token;
- 415: an operation with a request body takes JSON only;
- 429, with ``Retry-After``: a throttled view's POST.
"""

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, IsAdminUser

from analyses.api.serializers import ErrorOutput

ERROR_DESCRIPTIONS = {
    400: "Malformed request: a wrong type, an unknown value, a missing or unknown field.",
    401: "Missing, invalid or expired credentials.",
    403: "Signed in, but not allowed to do this.",
    404: "No such analysis, or not one you may read.",
    409: "Well-formed, but the status rules (or a concurrent change) forbid it.",
    415: "The body is not JSON (Content-Type application/json).",
    429: "Too many requests: wait Retry-After seconds.",
    503: "The database cannot be reached: retry after Retry-After seconds.",
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    required=True,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """``extend_schema(responses=...)`` entries for these error statuses."""
    return {status: OpenApiResponse(ErrorOutput, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error answers that follow from each view's configuration."""

    def get_override_parameters(self) -> list:
        return [*super().get_override_parameters(), RETRY_AFTER]

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for status, response in error_responses(*self._configured_error_statuses()).items():
            responses.setdefault(str(status), self._get_response_for_code(response, str(status), direction=direction))
        return dict(sorted(responses.items()))

    def _configured_error_statuses(self) -> list[int]:
        authenticators = self.view.get_authenticators()
        statuses = [503]
        if authenticators:
            statuses.append(401)
        if any(isinstance(permission, IsAdminUser) for permission in self.view.get_permissions()) or (
            self.method not in SAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators)
        ):
            statuses.append(403)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            statuses.append(415)
        if self.method == "POST" and self.view.get_throttles():
            statuses.append(429)
        return statuses
