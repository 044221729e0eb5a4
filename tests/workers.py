"""Real ``manage.py run_worker`` processes on the test database, and waiting for analyses to settle."""

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from analyses.models import Analysis
from analyses.state_machine import Status
from tests.servers import ROOT, process_env


def start_worker(name: str, *, stderr: IO | None = None, **env: str) -> subprocess.Popen:
    """A worker process; its log goes to ``stderr`` (a file) when given."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--name", name], cwd=ROOT, env=process_env(**env), stderr=stderr
    )


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@contextmanager
def workers(*names: str, **env: str) -> Iterator[list[subprocess.Popen]]:
    processes = [start_worker(name, **env) for name in names]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.05)


def settled(analysis: Analysis) -> bool:
    """Completed or cancelled, or failed with no retry left: nothing will move it any more."""
    analysis.refresh_from_db()
    if analysis.status == Status.FAILED:
        return analysis.retry_count >= analysis.max_retries
    return analysis.status in {Status.COMPLETED, Status.CANCELLED}
