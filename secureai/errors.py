"""Error answers outside DRF's own: JSON ``{"code", "detail"}`` under /api/ and /ws/, pages elsewhere.

``handler404`` and ``handler500`` (named in ``secureai.urls``) and one middleware that turns two
known failures of any view into their proper answers instead of a 500:

- the database cannot be reached (refused connection, pool timeout, lost connection): 503 with
  ``Retry-After``, ``{"code": "unavailable"}`` for API clients, a plain page for people. DRF
  views reach here too: DRF's exception handler passes on what is not an API error, which
  includes a database failure during JWT authentication.
- a sign-in refused by the sign-in throttle (``secureai.signin_throttle``) on a form: the 429
  page with ``Retry-After``. Through the API, DRF answers it itself.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin
from django.views import defaults

from .signin_throttle import SignInThrottled

logger = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/ws/")
#: Seconds a client should wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER = 5
UNAVAILABLE_DETAIL = "The service cannot reach its database. Try again shortly."


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def is_database_unavailable(exc: BaseException) -> bool:
    """A failure to reach or keep a database connection (which Django wraps in these two classes)."""
    return isinstance(exc, (OperationalError, InterfaceError))


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the JSON error shape; people get Django's page."""
    if wants_json(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"code": "internal_error", "detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After. The page uses no request context: that would look up the user, in the database."""
    if wants_json(request):
        response = JsonResponse({"code": "unavailable", "detail": UNAVAILABLE_DETAIL}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"detail": UNAVAILABLE_DETAIL}), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def sign_in_throttled(request: HttpRequest, exc: SignInThrottled) -> HttpResponse:
    response = HttpResponse(
        render_to_string("429.html", {"detail": str(exc.detail), "retry_after": exc.wait}, request=request),
        status=429,
    )
    response["Retry-After"] = str(exc.wait)
    return response


class ExceptionResponseMiddleware(MiddlewareMixin):
    """Answers a view's database failure with 503 and a throttled sign-in form with 429."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exception)
            return database_unavailable(request)
        if isinstance(exception, SignInThrottled):
            return sign_in_throttled(request, exception)
        return None
