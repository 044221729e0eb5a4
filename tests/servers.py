"""Real server processes for end-to-end tests: daphne and workers on the test database and Redis."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def cluster_state_dir() -> Iterator[Path]:
    """A state folder for deploy.cluster that the postgres user can reach (pytest's tmp_path is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="secureai-cluster-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: the test settings, pointed at pytest's test database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="secureai.settings.test",
        SECUREAI_TEST_DATABASE_NAME=str(connection.settings_dict["NAME"]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_daphne(
    port: int | None = None,
    *,
    application: str = "secureai.asgi:application",
    stdout: IO | None = None,
    stderr: IO | None = None,
    **env: str,
) -> Server:
    """Start daphne on 127.0.0.1 and wait until /healthz answers; its output goes to ``stdout``
    and ``stderr`` (files) when given."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), application],
        cwd=ROOT,
        env=process_env(**env),
        stdout=stdout,
        stderr=stderr,
    )
    server = Server(process, port)
    try:
        wait_for_http(f"{server.http_url}/healthz", process)
    except Exception:
        server.stop(signal.SIGKILL)
        raise
    return server


@contextmanager
def daphne(
    port: int | None = None,
    *,
    application: str = "secureai.asgi:application",
    stdout: IO | None = None,
    stderr: IO | None = None,
    **env: str,
):
    server = start_daphne(port, application=application, stdout=stdout, stderr=stderr, **env)
    try:
        yield server
    finally:
        server.stop()


def _live_processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, the /proc stat fields after the command name) of every process; zombies have finished."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            yield int(stat.parent.name), fields


def started_processes(leader: int) -> list[int]:
    """Every live process started under ``leader`` (same Unix session id)."""
    return [pid for pid, fields in _live_processes() if int(fields[3]) == leader]


def processes_in_groups(groups: set[int]) -> list[int]:
    """Every live process in one of these process groups."""
    return [pid for pid, fields in _live_processes() if int(fields[2]) in groups]
