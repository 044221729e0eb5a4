"""``LOG_FORMAT=json`` over real processes: every line a daphne or a worker writes to its log is
one JSON object, the lines of a request, a socket or a job carry its ids, and no token shows."""

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from analyses.state_machine import Status
from analyses.tests.helpers import drive_to
from analyses.tests.worker_checks import FAST_WORKER_ENV
from conftest import access_token_for
from tests.clients import ahttp_json, request
from tests.http import HttpAnswer, http_call
from tests.servers import Server, daphne
from tests.workers import settled, start_worker, stop_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server]


def json_lines(path: Path) -> list[dict]:
    """Every line of a log, each of which must be a JSON object with the fields every line has."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} of {path.name} is not JSON: {line!r}")
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        assert record["time"].endswith("Z"), line
        records.append(record)
    return records


def the_record(records: list[dict], **fields) -> dict:
    found = [record for record in records if fields.items() <= record.items()]
    assert len(found) == 1, (fields, records)
    return found[0]


async def closed_with(socket) -> int:
    with pytest.raises(ConnectionClosed):
        while True:
            await socket.recv()
    return socket.close_code


async def http(method: str, url: str, **kwargs):
    return await asyncio.to_thread(http_call, method, url, **kwargs)


async def make_requests(server: Server, owner_token: str, worker_token: str) -> dict:
    """A transition, a refused one, two 404s; what the test checks afterwards."""
    status, created = await ahttp_json("POST", f"{server.http_url}/api/analyses/", owner_token, {"filename": "a.mp4"})
    assert status == 201, created
    analysis_id = created["analysis_id"]
    transition = f"{server.http_url}/api/analyses/{analysis_id}/transition/"
    moved = await http("POST", transition, token=worker_token, body={"status": "queued"}, headers=traced("moved-1"))
    assert moved.status == 200 and request_id(moved) == "moved-1"
    refused = await http("POST", transition, token=worker_token, body={"status": "pending"}, headers=traced("no-2"))
    assert refused.status == 409 and request_id(refused) == "no-2"
    missing = await http("GET", f"{server.http_url}/no/such/page/?token={owner_token}", headers=traced("x" * 129))
    assert missing.status == 404 and len(request_id(missing)) == 32  # too long: a new one
    # A token where an analysis id goes: Django logs the path of the 404.
    misplaced = await http("GET", f"{server.http_url}/api/analyses/{owner_token}/", token=owner_token)
    assert misplaced.status == 404
    return {
        "analysis_id": analysis_id,
        "missing": request_id(missing),
        "misplaced": request_id(misplaced),
    }


def traced(request_id: str) -> dict[str, str]:
    return {"X-Request-ID": request_id}


def request_id(answer: HttpAnswer) -> str:
    """The answer's X-Request-ID (Twisted writes the name as X-Request-Id)."""
    return next(value for name, value in answer.headers.items() if name.lower() == "x-request-id")


async def open_sockets(server: Server, owner_token: str, other_token: str, analysis_id: str) -> dict:
    """Two sockets the server closes with 4401, so that it logs a line for each.

    The first signs in with ``?token=``, subscribes, then offers a forged token: the line comes
    after the subscribe, and has no analysis id. The second signs in with the subprotocol and
    offers another user's token in a subscribe: the line has that subscribe's analysis id.
    """
    async with connect(f"{server.ws_url}/ws/status/?token={owner_token}", origin=server.origin) as first:
        forger = await established(first)
        await request(first, {"type": "subscribe", "analysis_id": analysis_id}, "subscribe_success")
        await first.send(json.dumps({"type": "authenticate", "jwt_token": forged(owner_token)}))
        assert await closed_with(first) == 4401
    offered = [Subprotocol("secureai.jwt.v1"), Subprotocol(owner_token)]
    async with connect(f"{server.ws_url}/ws/status/", origin=server.origin, subprotocols=offered) as second:
        switcher = await established(second)
        await request(second, {"type": "ping"}, "pong")
        await second.send(json.dumps({"type": "subscribe", "analysis_id": analysis_id, "jwt_token": other_token}))
        assert await closed_with(second) == 4401
    return {"forger": forger, "switcher": switcher}


async def established(socket) -> str:
    """The socket's connection id, from its connection_established."""
    message = json.loads(await socket.recv())
    assert message["type"] == "connection_established" and message["authenticated"], message
    return message["connection_id"]


def forged(token: str) -> str:
    """The token with another signature."""
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


async def test_a_json_server_log_carries_ids_and_no_token(owner, other_user, status_changer, tmp_path):
    owner_token, other_token = access_token_for(owner), access_token_for(other_user)
    worker_token = access_token_for(status_changer)
    out, err = tmp_path / "daphne.out", tmp_path / "daphne.err"
    with (
        out.open("w") as stdout,
        err.open("w") as stderr,
        daphne(LOG_FORMAT="json", stdout=stdout, stderr=stderr) as server,
    ):
        seen = await make_requests(server, owner_token, worker_token)
        sockets = await open_sockets(server, owner_token, other_token, seen["analysis_id"])
    records = json_lines(err)

    refused = the_record(records, logger="django.request", request_id="no-2")
    assert refused["level"] == "WARNING" and refused["status_code"] == 409
    assert refused["analysis_id"] == seen["analysis_id"]
    assert refused["message"] == f"Conflict: /api/analyses/{seen['analysis_id']}/transition/"
    missing = the_record(records, logger="django.request", request_id=seen["missing"])
    assert missing["message"] == "Not Found: /no/such/page/" and "analysis_id" not in missing
    misplaced = the_record(records, logger="django.request", request_id=seen["misplaced"])
    assert misplaced["message"] == "Not Found: /api/analyses/[redacted]/" and "analysis_id" not in misplaced

    closing = "Closing the socket with 4401"
    forger = the_record(records, message=closing, connection_id=sockets["forger"])
    assert "analysis_id" not in forger and "request_id" not in forger
    switcher = the_record(records, message=closing, connection_id=sockets["switcher"])
    assert switcher["analysis_id"] == seen["analysis_id"] and "request_id" not in switcher

    assert out.read_text() == ""  # daphne's access log goes through logging too (secureai/server.py)
    for path in (err, out):
        text = path.read_text()
        for token in (owner_token, other_token, worker_token, forged(owner_token)):
            assert token not in text, path.name
            assert token.rsplit(".", 1)[1] not in text, f"a token's signature is in {path.name}"


def test_a_json_worker_log_carries_the_analysis_id(owner, make_analysis, tmp_path):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    err = tmp_path / "worker.err"
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_FAILURE_RATE": "0", "LOG_FORMAT": "json"}
    with err.open("w") as stderr:
        worker = start_worker("w-json", stderr=stderr, **env)
        try:
            wait_until(lambda: settled(analysis), 30, "the analysis is processed")
        finally:
            assert stop_worker(worker) == 0
    records = json_lines(err)
    took = the_record(records, logger="analyses.worker.loop", message=f"w-json took {analysis.pk} (attempt 1)")
    assert took["analysis_id"] == str(analysis.pk)
    started = the_record(records, message="Worker w-json started")
    assert "analysis_id" not in started
