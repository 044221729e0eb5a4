"""The service's log lines: plain for people, or one JSON object per line (``LOG_FORMAT=json``),
each carrying the ids of what it is about. Tokens are kept out by ``secureai.log_redaction``.

The ids live in context variables: ``request_id`` for an HTTP request (``secureai.request_ids``),
``connection_id`` for a WebSocket's lifetime and ``analysis_id`` while one analysis is handled (a
socket's request, an HTTP view with one in its URL, a worker's job). A context follows the code
into the threads asgiref runs it on and into the tasks it starts, and each socket is one task, so
an id bound there is on every line that work logs and on no other. ``LogIdsFilter`` copies them
onto each record, ``JsonFormatter`` writes them.
"""

import functools
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LOG_IDS = ("request_id", "connection_id", "analysis_id")
_ids: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in LOG_IDS}

#: What every record has; anything else on a record was given as ``extra`` (or by a filter).
RECORD_FIELDS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {"message", "asctime"}


def bind_log_ids(**ids: object) -> None:
    """Put these ids (``request_id``, ``connection_id``, ``analysis_id``) on every line logged from
    here on in the current context; None leaves an id as it is."""
    for name, value in ids.items():
        if value is not None:
            _ids[name].set(str(value))


@contextmanager
def log_ids(**ids: object) -> Iterator[None]:
    """Bind these ids inside the block; on leaving it every id is as it was, those bound inside too."""
    tokens = [(var, var.set(var.get())) for var in _ids.values()]
    try:
        bind_log_ids(**ids)
        yield
    finally:
        for var, token in tokens:
            var.reset(token)


def scoped_log_ids[**P, R](function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Run a coroutine function inside ``log_ids()``: the ids it binds end with the call."""

    @functools.wraps(function)
    async def scoped(*args: P.args, **kwargs: P.kwargs) -> R:
        with log_ids():
            return await function(*args, **kwargs)

    return scoped


def extra_fields(record: logging.LogRecord) -> Iterator[tuple[str, Any]]:
    """The record's fields beyond the standard ones: its ids and what was given as ``extra``."""
    return ((name, value) for name, value in vars(record).items() if name not in RECORD_FIELDS)


class LogIdsFilter(logging.Filter):
    """Adds the current context's ids to each record; an id given as ``extra`` wins.

    Django logs a request's 4xx and 5xx line (``django.request``) after the middleware has
    returned, with the request on the record; its ids are then taken from the request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        of_request = getattr(getattr(record, "request", None), "log_ids", None) or {}
        for name, var in _ids.items():
            if getattr(record, name, None) is None:
                value = var.get() or of_request.get(name)
                if value is not None:
                    setattr(record, name, value)
        return True


def _utc(created: float) -> str:
    """ISO 8601 in UTC to the millisecond, with ``Z``."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time (ISO 8601, UTC), level, logger, message, the
    ids present, other ``extra`` fields that are JSON scalars, and the exception or stack if any.

    Other objects on a record (Django puts the request there) are left out: their text is noise at
    best and may carry what a log must not.
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in LOG_IDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        for name, value in extra_fields(record):
            if _json_scalar(value):
                line.setdefault(name, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line)
