"""daphne's access log goes through logging, so the redaction and LOG_FORMAT apply to it; it stays
quiet below WARNING."""

import logging

import daphne.cli

from secureai.server import LoggedAccessLog, access_log_through_logging

REQUEST = {
    "client": "127.0.0.1:5123",
    "method": "GET",
    "path": "/api/analyses/?token=abc.def",
    "status": 200,
    "size": 12,
}


def test_daphnes_command_line_builds_the_logged_access_log():
    built = daphne.cli.AccessLogGenerator
    try:
        access_log_through_logging()
        assert daphne.cli.AccessLogGenerator is LoggedAccessLog
    finally:
        daphne.cli.AccessLogGenerator = built


def test_access_lines_are_quiet_by_default_and_redacted_when_asked_for(service_log):
    log = service_log("json")
    access_log = LoggedAccessLog(stream=None)  # daphne hands it stdout; it never writes there
    access_log("http", "complete", REQUEST)
    assert log.text == ""
    access_logger = logging.getLogger("daphne.access")
    level = access_logger.level
    access_logger.setLevel(logging.INFO)
    try:
        access_log("http", "complete", REQUEST)
        access_log("websocket", "connected", {"client": "127.0.0.1:5124", "path": "/ws/status/"})
    finally:
        access_logger.setLevel(level)
    http, websocket = log.records()
    assert http["logger"] == "daphne.access" and http["level"] == "INFO"
    assert http["message"] == '127.0.0.1:5123 "GET /api/analyses/?token=[redacted]" 200 12'
    assert websocket["message"] == '127.0.0.1:5124 "WSCONNECT /ws/status/" - -'
