"""The processes of the local layout: each in its own process group, its output in a log file.

A process group per child lets a stop reach whatever the child started, and keeps a Ctrl-C in the
terminal from reaching the children directly: the cluster stops them itself, in order.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``predicate`` (exceptions count as not yet) until it holds; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # a dependency still starting answers with all sorts of errors
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(interval)


@dataclass
class Child:
    """One long-running process of the layout; it can be started again after a stop or a kill."""

    name: str
    kind: str
    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    # Ready to serve, once started (a check that may raise while it is not).
    ready: Callable[[], bool] = lambda: True
    # Run as this user when started by root (PostgreSQL refuses to run as root).
    user: str | None = None
    # The signal of a clean stop (PostgreSQL's fast shutdown is SIGINT; SIGTERM waits for clients).
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        as_user = {"user": self.user, "group": self.user, "extra_groups": []} if self._switch_user else {}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                **as_user,
            )

    @property
    def _switch_user(self) -> bool:
        return self.user is not None and os.geteuid() == 0

    def send(self, sig: int) -> None:
        """Send ``sig`` to the child's whole process group."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def signal_stop(self) -> None:
        if self.running:
            self.send(self.stop_signal)

    def wait_stopped(self, timeout: float) -> int | None:
        """Wait for the exit; kill the group when it takes longer. The exit code (None if never started)."""
        if self.process is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        # Whatever is left of the group (the child, or something it started) goes now.
        self.send(signal.SIGKILL)
        return self.process.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
        return self.stop_with(self.stop_signal, timeout)

    def kill(self) -> int | None:
        """SIGKILL, as a crash or the kernel's OOM killer would."""
        return self.stop_with(signal.SIGKILL)

    def stop_with(self, sig: int, timeout: float = 10.0) -> int | None:
        if self.running:
            self.send(sig)
        return self.wait_stopped(timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
