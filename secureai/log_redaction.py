"""No token ever reaches a log line, whatever the format.

``RedactFilter`` sits on every handler (settings ``LOGGING``) and hands the handler a copy of the
record with the message (arguments merged in), every text field given as ``extra`` (the ids too),
the exception's text and the stack redacted; the original record is left to other handlers
(pytest's, in the tests) as it was. What is redacted, wherever it appears:

- anything shaped like a JWT: three or more base64url segments joined by dots, the first a
  JSON object (``{"``, or ``{`` and a blank, encodes as ``ey`` or ``ew``) and starting a word, so
  that dotted module names stay readable;
- the value after ``token=`` (``?token=``, ``access_token=``, ``METRICS_TOKEN=``, the CSRF
  cookie) and after ``sessionid=`` (the session cookie), or their URL-encoded ``%3D`` forms;
- the value after ``Bearer`` (the ``Authorization`` header);
- the token after ``secureai.jwt.v1,`` (the WebSocket subprotocol), quoted or not.
"""

import copy
import logging
import re

from secureai.logs import extra_fields

REDACTED = "[redacted]"

_B64URL = "[A-Za-z0-9_-]"


def _after(prefix: str, value: str) -> re.Pattern:
    """``value`` after ``prefix``, unless already redacted."""
    return re.compile(rf"(?i)({prefix})(?!{re.escape(REDACTED)}){value}")


# Each pattern keeps its first group (what names the secret) and replaces the rest.
_SECRETS = (
    # Where a word starts, or right after a %-escape (a URL-encoded JWT).
    re.compile(rf"()(?:(?<!{_B64URL})|(?<=%[0-9A-Fa-f]{{2}}))e[wy]{_B64URL}{{10,}}(?:\.{_B64URL}*){{2,}}"),
    _after("(?:token|sessionid)(?:=|%3D)", r"[^&\s#'\"<>,;]+"),
    _after(r"\bbearer\s+", r"[^\s,;'\"]+"),
    _after(r"secureai\.jwt\.v1['\"]?\s*,\s*b?['\"]?", r"[^\s,;'\"\])]+"),
)

#: Formats the exception of a record the filter redacts, as logging's own formatter would.
_TRACEBACKS = logging.Formatter()


def redact(text: str) -> str:
    """``text`` with every token shape listed in the module docstring replaced by ``[redacted]``."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # arguments that do not fit the format: keep both, they are redacted too
        return f"{record.msg} {record.args!r}"


class RedactFilter(logging.Filter):
    """Hands the handler a redacted copy of each record (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> logging.LogRecord:
        clean = copy.copy(record)
        clean.msg, clean.args = redact(_message(record)), None
        for name, value in extra_fields(record):
            if isinstance(value, str):
                setattr(clean, name, redact(value))
        if record.exc_info:
            # The text is made and redacted here, and the exception dropped from the copy, so no
            # formatter can write it out again unredacted.
            clean.exc_text, clean.exc_info = redact(_TRACEBACKS.formatException(record.exc_info)), None
        elif record.exc_text:
            clean.exc_text = redact(record.exc_text)
        if record.stack_info:
            clean.stack_info = redact(record.stack_info)
        return clean
