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

#: The shapes the redaction knows: (a text with a secret, the secret, the text as logged).
SHAPES = {
    "jwt": (f"signed in with {ACCESS} today", ACCESS, "signed in with [redacted] today"),
    "refresh jwt": (f"refresh={REFRESH}", REFRESH, "refresh=[redacted]"),
    "unsigned jwt": (f"token {UNSIGNED} now", UNSIGNED, "token [redacted] now"),
    "url-encoded jwt": (f"%7B%22t%22%3A%22{ACCESS}%22%7D", ACCESS, "%7B%22t%22%3A%22[redacted]%22%7D"),
    "query token": (f"GET /ws/status/?token={OPAQUE}&since=3", OPAQUE, "GET /ws/status/?token=[redacted]&since=3"),
    "encoded query token": (f"next=%2Fws%3Ftoken%3D{OPAQUE}", OPAQUE, "next=%2Fws%3Ftoken%3D[redacted]"),
    "bearer": (f"Authorization: Bearer {OPAQUE}", OPAQUE, "Authorization: Bearer [redacted]"),
    "bearer jwt": (f"Authorization: Bearer {ACCESS}", ACCESS, "Authorization: Bearer [redacted]"),
    "lower-case bearer": (
        f"'HTTP_AUTHORIZATION': 'bearer {OPAQUE}'",
        OPAQUE,
        "'HTTP_AUTHORIZATION': 'bearer [redacted]'",
    ),
    "subprotocol": (
        f"Sec-WebSocket-Protocol: secureai.jwt.v1, {OPAQUE}",
        OPAQUE,
        "Sec-WebSocket-Protocol: secureai.jwt.v1, [redacted]",
    ),
    "subprotocol jwt": (f"secureai.jwt.v1, {ACCESS}", ACCESS, "secureai.jwt.v1, [redacted]"),
    "subprotocol list": (f"['secureai.jwt.v1', '{OPAQUE}']", OPAQUE, "['secureai.jwt.v1', '[redacted]']"),
    "subprotocol bytes": (f"b'secureai.jwt.v1,{OPAQUE}'", OPAQUE, "b'secureai.jwt.v1,[redacted]'"),
    "cookies": (
        f"Cookie: csrftoken={OPAQUE}; sessionid={OPAQUE}",
        OPAQUE,
        "Cookie: csrftoken=[redacted]; sessionid=[redacted]",
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_is_redacted_and_what_is_around_it_stays(shape):
    text, _, logged = SHAPES[shape]
    assert redact(text) == logged
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
    text, secret, _ = SHAPES[shape]
    log = service_log(log_format)
    write_everywhere(text)
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
