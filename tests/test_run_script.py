"""scripts/run from a fresh clone: it serves, the demo moves, and Ctrl-C leaves nothing running."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, started_processes
from tests.workers import wait_until

pytestmark = pytest.mark.server

# Settings of the test run that must not leak into the demo (it has its own database and key).
TEST_ONLY = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SECRET_KEY", "SECUREAI_TEST_DATABASE_NAME", "SECUREAI_TEST_RUN"}


def get_json(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def admin_token(base: str) -> str:
    body = json.dumps({"username": "admin", "password": "admin-demo-pass"}).encode()
    request = urllib.request.Request(f"{base}/api/token/", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access"]


def demo_seqs(base: str, token: str) -> int:
    return sum(item["seq"] for item in get_json(f"{base}/api/analyses/?limit=200", token)["results"])


def test_run_serves_the_moving_demo_and_stops_everything_on_ctrl_c(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY}
    env.update(
        PORT=str(port),
        SECUREAI_VENV=str(Path(sys.executable).parent.parent),
        CHANNEL_LAYER_PREFIX=f"secureai-run-{os.getpid()}",
    )
    log = (tmp_path / "run.log").open("w")
    script = subprocess.Popen(
        ["scripts/run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/healthz") or script.poll() is not None, 90, "/healthz answers")
        assert script.poll() is None, (tmp_path / "run.log").read_text()
        token = admin_token(base)
        start = demo_seqs(base, token)
        wait_until(lambda: demo_seqs(base, token) > start + 3, 60, "the demo analyses move")
        assert len(started_processes(script.pid)) >= 3  # the script, daphne and the worker

        script.send_signal(signal.SIGINT)
        assert script.wait(30) == 0
        wait_until(lambda: not started_processes(script.pid), 10, "every process it started exits")
        assert not _answers(f"{base}/healthz")
    finally:
        for pid in started_processes(script.pid):
            os.kill(pid, signal.SIGKILL)
        script.wait(5)
    output = (tmp_path / "run.log").read_text()
    for expected in ("/live/", "/admin/", "/api/docs/", "analyst-demo-pass", "admin-demo-pass", "Stopped"):
        assert expected in output
    assert (clone / "var" / "secret_key").exists()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False
