"""The log's two formats (LOG_FORMAT) and the ids each line carries."""

import logging
import math
import re
import uuid
from datetime import UTC, datetime

import pytest
from django.conf import settings

from secureai.logs import bind_log_ids, log_ids, scoped_log_ids
from secureai.tests.test_settings import load_settings

logger = logging.getLogger("secureai.tests.log_format")

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_a_json_line_has_time_level_logger_message_and_nothing_else_unasked(service_log):
    log = service_log("json")
    logger.warning("%d clips waiting", 3)
    (line,) = log.records()
    assert list(line) == ["time", "level", "logger", "message"]
    assert line["level"] == "WARNING" and line["logger"] == logger.name and line["message"] == "3 clips waiting"
    assert ISO_UTC.fullmatch(line["time"]), line["time"]
    written = datetime.fromisoformat(line["time"])
    assert written.utcoffset().total_seconds() == 0 and abs((datetime.now(UTC) - written).total_seconds()) < 5


def test_a_json_line_carries_the_exception_and_the_stack(service_log):
    log = service_log("json")
    try:
        raise ValueError("the detector fell over")
    except ValueError:
        logger.exception("Step crashed")
    logger.info("Where am I", stack_info=True)
    crashed, where = log.records()
    assert crashed["message"] == "Step crashed" and crashed["level"] == "ERROR"
    assert crashed["exception"].startswith("Traceback (most recent call last):")
    assert crashed["exception"].endswith("ValueError: the detector fell over")
    assert "exception" not in where and where["stack"].startswith("Stack (most recent call last):")
    assert "test_a_json_line_carries_the_exception_and_the_stack" in where["stack"]


def test_extra_fields_that_are_json_scalars_are_kept_and_never_replace_the_fixed_ones(service_log):
    log = service_log("json")
    extra = {"status_code": 409, "ratio": 0.5, "retried": True, "stage": "face_detection"}
    logger.info("Refused", extra={**extra, "request": object(), "nan": math.nan, "level": "forged", "ids": [1]})
    (line,) = log.records()
    assert line == {"time": line["time"], "level": "INFO", "logger": logger.name, "message": "Refused", **extra}


def test_the_ids_of_the_context_are_on_each_line_while_bound_and_gone_after(service_log):
    log = service_log("json")
    analysis_id = uuid.uuid4()
    with log_ids(request_id="req-1"):
        logger.info("request")
        with log_ids(analysis_id=analysis_id):
            logger.info("analysis")
            bind_log_ids(connection_id="conn-1")
            logger.info("connection")
        logger.info("request again")
    logger.info("none")
    request, analysis, connection, request_again, none = log.records()
    assert request["request_id"] == "req-1" and "analysis_id" not in request
    assert analysis["analysis_id"] == str(analysis_id) and analysis["request_id"] == "req-1"
    assert connection["connection_id"] == "conn-1"
    assert {"analysis_id", "connection_id"}.isdisjoint(request_again) and request_again["request_id"] == "req-1"
    assert {"request_id", "analysis_id", "connection_id"}.isdisjoint(none)
    assert list(analysis)[4:] == ["request_id", "analysis_id"]  # the ids come right after the message


def test_an_id_given_as_extra_wins_over_the_context(service_log):
    log = service_log("json")
    with log_ids(connection_id="from-context"):
        logger.info("Closing", extra={"connection_id": "from-call"})
    assert log.records()[0]["connection_id"] == "from-call"


async def test_ids_bound_inside_a_scoped_coroutine_end_with_it(service_log):
    log = service_log("json")

    @scoped_log_ids
    async def handle(analysis_id: str) -> None:
        bind_log_ids(analysis_id=analysis_id)
        logger.info("handling")

    bind_log_ids(connection_id="socket-1")  # this test's task is the socket
    await handle("a-1")
    logger.info("between requests")
    handling, between = log.records()
    assert handling["analysis_id"] == "a-1" and handling["connection_id"] == "socket-1"
    assert "analysis_id" not in between and between["connection_id"] == "socket-1"


def test_the_plain_format_stays_as_it_was(service_log):
    log = service_log("plain")
    with log_ids(request_id="req-1"):
        logger.warning("Readiness check %s failed", "redis")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING secureai\.tests\.log_format: Readiness check redis failed\n",
        log.text,
    ), log.text


def test_every_handler_adds_the_ids_then_redacts():
    for name, handler in settings.LOGGING["handlers"].items():
        assert handler["filters"][-2:] == ["log_ids", "redact"], name
    console = next(handler for handler in logging.getLogger().handlers if handler.name == "console")
    assert [type(each).__name__ for each in console.filters] == ["LogIdsFilter", "RedactFilter"]


@pytest.mark.parametrize(("raw", "formatter"), [(None, "plain"), ("json", "json"), (" JSON ", "json")])
def test_log_format_chooses_the_formatter_of_the_one_handler(raw, formatter):
    env = {"SECRET_KEY": "k"} | ({} if raw is None else {"LOG_FORMAT": raw})
    result = load_settings("secureai.settings.base", "settings.LOGGING['handlers']['console']['formatter']", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == formatter


def test_an_unknown_log_format_is_refused():
    result = load_settings("secureai.settings.base", SECRET_KEY="k", LOG_FORMAT="logfmt")
    assert result.returncode != 0
    assert "ImproperlyConfigured: LOG_FORMAT must be 'plain' or 'json', not 'logfmt'" in result.stderr
