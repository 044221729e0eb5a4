"""Fixtures of the project-level tests."""

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from tests.monitoring.scraping import new_metrics_token


@pytest.fixture
def metrics_token(settings) -> str:
    """A fresh METRICS_TOKEN setting for the test."""
    settings.METRICS_TOKEN = new_metrics_token()
    return settings.METRICS_TOKEN


class ServiceLog:
    """What the service's configured log handler writes, in one of the formats of LOG_FORMAT."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self) -> list[dict]:
        """Every line, each of which must be one JSON object."""
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def service_log() -> Iterator[Callable[[str], ServiceLog]]:
    """``service_log("json")``: the settings' console handler (with its filters) writes to a buffer
    in that format for the rest of the test."""
    handler = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    stream, formatter = handler.stream, handler.formatter

    def capture(log_format: str) -> ServiceLog:
        config = settings.LOGGING["formatters"][log_format]
        handler.setFormatter(import_string(config["()"])() if "()" in config else logging.Formatter(config["format"]))
        buffer = io.StringIO()
        handler.setStream(buffer)
        return ServiceLog(buffer)

    yield capture
    handler.setStream(stream)
    handler.setFormatter(formatter)
