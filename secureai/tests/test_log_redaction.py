"""No token reaches a log line: every shape, in the message, its arguments, extra fields, the
exception and the stack, in both formats."""

import logging
import traceback

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from secureai.log_redaction import REDACTED, RedactFilter, redact
from secureai.logs import log_ids

logger = logging.getLogger("secureai.tests.log_redaction")


def access_token() -> str:
    token = AccessToken()
    token["user_id"] = "7"
    return str(token)


ACCESS = access_token()
REFRESH = str(RefreshToken())
UNSIGNED = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ1c2VyX2lkIjoiNyJ9."  # alg none: an empty signature
OPAQUE = "Zm9vYmFy-metrics_token-8d1f"  # a token that is no JWT (METRICS_TOKEN, say)

#: The shapes the redaction knows: a line with a place for the secret, and the secret.
SHAPES = {
    "jwt": ("signed in with {} today", ACCESS),
    "refresh jwt": ("refresh={}", REFRESH),
    "unsigned jwt": ("token {} now", UNSIGNED),
    "url-encoded jwt": ("%7B%22t%22%3A%22{}%22%7D", ACCESS),
    "query token": ("GET /ws/status/?token={}&since=3", OPAQUE),
    "encoded query token": ("next=%2Fws%3Ftoken%3D{}", OPAQUE),
    "bearer": ("Authorization: Bearer {}", OPAQUE),
    "bearer jwt": ("Authorization: Bearer {}", ACCESS),
    "lower-case bearer": ("'HTTP_AUTHORIZATION': 'bearer {}'", OPAQUE),
    "subprotocol": ("Sec-WebSocket-Protocol: secureai.jwt.v1, {}", OPAQUE),
    "subprotocol jwt": ("secureai.jwt.v1, {}", ACCESS),
    "subprotocol list": ("['secureai.jwt.v1', '{}']", OPAQUE),
    "subprotocol bytes": ("b'secureai.jwt.v1,{}'", OPAQUE),
    "session cookie": ("Cookie: theme=dark; sessionid={}", OPAQUE),
    "csrf cookie": ("Cookie: csrftoken={}; theme=dark", OPAQUE),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_is_redacted_and_what_is_around_it_stays(shape):
    line, secret = SHAPES[shape]
    logged = line.format(REDACTED)
    assert redact(line.format(secret)) == logged
    assert redact(logged) == logged  # redacting twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "rest_framework_simplejwt.token_blacklist.models could not be loaded",
        "Listening on TCP address 127.0.0.1:8000, ::1",
        "analyses.worker.loop: w-1 took 0b6c3d0e-5f7e-4c49-9d4c-2f1c2b1e5e71 (attempt 2)",
        "every key.value.pair and version 1.2.3",
        "Channel layer receive failed; retrying in 0.5 s",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


def write_everywhere(secret_text: str) -> None:
    """The secret in a message, in an argument, in an extra field, in an exception, in a stack."""
    logger.warning(f"literal {secret_text}")
    logger.warning("argument %s", secret_text)
    logger.warning("field", extra={"detail": secret_text})
    try:
        raise RuntimeError(secret_text)
    except RuntimeError:
        logger.exception("exception")
    logger.warning("stack", stack_info=True)


@pytest.mark.parametrize("log_format", ["json", "plain"])
@pytest.mark.parametrize("shape", SHAPES)
def test_no_shape_reaches_a_line_from_any_place(service_log, log_format, shape):
    line, secret = SHAPES[shape]
    log = service_log(log_format)
    write_everywhere(line.format(secret))
    assert secret not in log.text
    assert log.text.count(REDACTED) >= (4 if log_format == "json" else 3)  # plain shows no extra field
    if log_format == "json":
        literal, argument, field, exception, stack = log.records()
        assert REDACTED in literal["message"] and REDACTED in argument["message"] and REDACTED in field["detail"]
        assert REDACTED in exception["exception"] and "RuntimeError" in exception["exception"]
        assert "write_everywhere" in stack["stack"]


def test_a_secret_in_the_source_line_of_a_stack_is_redacted(service_log):
    log = service_log("json")
    logger.info("here", stack_info=True, extra={"why": f"Bearer {OPAQUE}"})  # this very line is in the stack
    (line,) = log.records()
    assert OPAQUE not in log.text and "Bearer [redacted]" in line["stack"] and line["why"] == "Bearer [redacted]"


def test_an_id_shaped_like_a_token_is_redacted(service_log):
    log = service_log("json")
    with log_ids(request_id=UNSIGNED):
        logger.info("odd id")
    assert log.records()[0]["request_id"] == REDACTED


def record_of(message: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logger.makeRecord(logger.name, logging.ERROR, __file__, 1, message, args, exc_info)


def test_arguments_that_do_not_fit_the_message_are_still_redacted():
    # Logged for real, pytest's own handler would fail the test over the format; the filter does not.
    clean = RedactFilter().filter(record_of("one %s and %s", f"Bearer {OPAQUE}"))  # one argument short
    assert clean.getMessage() == "one %s and %s ('Bearer [redacted]',)"


def test_other_handlers_get_the_record_as_it_was_logged():
    """The filter hands its handler a copy; pytest's own handlers (and any other) see the original."""
    error = ValueError(ACCESS)
    try:
        raise error
    except ValueError:
        record = record_of("with %s", ACCESS, exc_info=(ValueError, error, error.__traceback__))
    clean = RedactFilter().filter(record)
    assert clean is not record
    assert clean.getMessage() == f"with {REDACTED}" and clean.exc_info is None
    assert clean.exc_text.endswith(f"ValueError: {REDACTED}")
    assert record.getMessage() == f"with {ACCESS}" and record.exc_info[1] is error
    assert ACCESS in "".join(traceback.format_exception(*record.exc_info))
