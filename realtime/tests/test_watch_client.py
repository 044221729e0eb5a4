"""The watch client against live daphne and worker processes: every event once, in order, across a restart."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.utils import timezone

from analyses.state_machine import Status
from analyses.tests.helpers import drive_to
from analyses.tests.history_checks import assert_history_legal
from analyses.tests.worker_checks import FAST_WORKER_ENV
from conftest import PASSWORD
from tests.servers import ROOT, daphne, start_daphne
from tests.workers import wait_until, workers

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


class Watch:
    """``python -m realtime.watch --json`` in a child process, its stdout lines collected as they come."""

    def __init__(self, server_url: str, *args: str, stderr: Path | None = None) -> None:
        command = [sys.executable, "-m", "realtime.watch", "--url", server_url, "--json", "--give-up", "60", *args]
        errors = stderr.open("w") if stderr else None
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        self.lines: list[dict] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(json.loads(line))

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self.reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_every_event_once_in_order_across_a_server_restart(owner, make_analysis):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    server = start_daphne()
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_SPEED": "2", "WORKER_DEMO_FAILURE_RATE": "0"}  # about 8 s
    watch = Watch(server.http_url, "--user", owner.username, "--password", PASSWORD, "--analysis", str(analysis.pk))
    try:
        with workers("w-watched", **env):
            wait_until(lambda: len(watch.lines) >= 6, 30, "the watcher shows the first events")
            server.stop()
            down = timezone.now()
            time.sleep(1.5)  # the worker goes on writing events nobody pushes
            server = start_daphne(server.port)
            up = timezone.now()
            assert watch.wait(60) == 0
    finally:
        watch.kill()
        server.stop()

    events = assert_history_legal(analysis)
    assert analysis.status == Status.COMPLETED
    assert [line["seq"] for line in watch.lines] == [event.seq for event in events]
    assert watch.lines[-1]["status"] == "completed" and watch.lines[-1]["result"] == analysis.result
    assert all(line["analysis_id"] == str(analysis.pk) for line in watch.lines)
    assert any(down < event.timestamp < up for event in events), "no event was written while the server was down"


def test_exits_1_when_the_analysis_fails_for_good(owner, make_analysis):
    analysis = drive_to(make_analysis(owner, max_retries=0), Status.QUEUED)
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_FAILURE_RATE": "1"}
    with daphne() as server, workers("w-failing", **env):
        watch = Watch(server.http_url, "--user", owner.username, "--password", PASSWORD, "--analysis", str(analysis.pk))
        try:
            assert watch.wait(60) == 1
        finally:
            watch.kill()
    assert watch.lines[-1]["status"] == "failed" and watch.lines[-1]["retry_count"] == 0


def test_exits_2_for_an_analysis_the_user_may_not_read(owner, other_user, make_analysis):
    analysis = make_analysis(other_user)
    with daphne() as server:
        watch = Watch(server.http_url, "--user", owner.username, "--password", PASSWORD, "--analysis", str(analysis.pk))
        try:
            assert watch.wait(30) == 2
        finally:
            watch.kill()
        bad = Watch(server.http_url, "--user", owner.username, "--password", "wrong")
        try:
            assert bad.wait(30) == 2
        finally:
            bad.kill()
    assert watch.lines == []


def test_single_process_mode_pushes_the_embedded_workers_events_live(owner, make_analysis):
    """CHANNEL_LAYER=memory reaches only its own process: the worker runs inside daphne to be heard."""
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_SPEED": "3", "WORKER_DEMO_FAILURE_RATE": "0"}  # about 5 s
    started = time.monotonic()
    single_process = "secureai.single_process:application"
    with daphne(application=single_process, CHANNEL_LAYER="memory", WS_HEARTBEAT_INTERVAL="60", **env) as server:
        watch = Watch(server.http_url, "--user", owner.username, "--password", PASSWORD, "--analysis", str(analysis.pk))
        try:
            assert watch.wait(30) == 0
        finally:
            watch.kill()
    events = assert_history_legal(analysis)
    assert [line["seq"] for line in watch.lines] == [event.seq for event in events]
    assert time.monotonic() - started < 30  # live pushes, not the 60 s heartbeat's catch-up


def test_the_token_is_renewed_before_it_expires_without_dropping_the_connection(owner, make_analysis, tmp_path):
    analysis = drive_to(make_analysis(owner), Status.QUEUED)
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_SPEED": "1.5", "WORKER_DEMO_FAILURE_RATE": "0"}  # about 10 s
    with daphne(JWT_ACCESS_LIFETIME="8") as server, workers("w-slow", **env):
        watch = Watch(
            server.http_url,
            *("--user", owner.username, "--password", PASSWORD, "--analysis", str(analysis.pk)),
            stderr=tmp_path / "stderr",
        )
        try:
            assert watch.wait(60) == 0
        finally:
            watch.kill()
    assert [line["seq"] for line in watch.lines] == [event.seq for event in assert_history_legal(analysis)]
    assert (tmp_path / "stderr").read_text() == ""  # no 4401, no reconnect


def test_without_an_analysis_it_follows_every_unfinished_one_and_new_ones(owner, other_user, make_analysis):
    first = drive_to(make_analysis(owner, "first.mp4"), Status.QUEUED)
    drive_to(make_analysis(owner, "done.mp4"), Status.COMPLETED)
    drive_to(make_analysis(other_user, "not-mine.mp4"), Status.QUEUED)
    env = {**FAST_WORKER_ENV, "WORKER_DEMO_SPEED": "6", "WORKER_DEMO_FAILURE_RATE": "0"}
    with daphne() as server:
        watch = Watch(server.http_url, "--user", owner.username, "--password", PASSWORD)
        try:
            wait_until(lambda: len(watch.lines) >= 2, 30, "the watcher replays the first analysis")
            second = drive_to(make_analysis(owner, "second.mp4"), Status.QUEUED)
            with workers("w-all", **env):
                assert watch.wait(60) == 0
        finally:
            watch.kill()
    shown = {}
    for line in watch.lines:
        shown.setdefault(line["analysis_id"], []).append(line["seq"])
    assert set(shown) == {str(first.pk), str(second.pk)}
    for analysis in (first, second):
        assert shown[str(analysis.pk)] == [event.seq for event in assert_history_legal(analysis)]
