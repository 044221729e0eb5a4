"""The servers under test: daphne with our application or with the relay, and what they cost.

Each server is a fresh ``python -m daphne`` process on 127.0.0.1; its memory is read from
/proc/<pid>/status (VmRSS) and its CPU time from /proc/<pid>/stat.
"""

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPLICATIONS = {"ours": "secureai.asgi:application", "relay": "bench.relay.asgi:application"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (/proc/<pid>/task/*/schedstat).

    On a busy machine this is the time other work took from the process: a window where it is large
    measured the machine as much as the code.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return total / 1e9


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Measured:
    """What servers under test cost, summed over their processes: one daphne, or a layout's servers."""

    @property
    def pids(self) -> tuple[int, ...]:
        raise NotImplementedError

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def runqueue_wait_seconds(self) -> float:
        return sum(runqueue_wait_seconds(pid) for pid in self.pids)

    def open_files(self) -> int:
        return sum(open_files(pid) for pid in self.pids)


@dataclass
class Server(Measured):
    target: str
    process: asyncio.subprocess.Process
    port: int

    @property
    def pids(self) -> tuple[int, ...]:
        return (self.process.pid,)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.returncode is None

    async def stop(self, timeout: float = 15) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_server(target: str, env: dict[str, str], log: Path, timeout: float = 60) -> Server:
    """Start daphne for ``target`` ("ours" or "relay") and wait until it accepts connections.

    Its output goes to ``log``: a relay losing its Redis connections under a burst of disconnects
    writes a traceback per socket, which would bury the harness's own progress lines.
    """
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "daphne",
            "-v",
            "0",  # no access log line per connection
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            APPLICATIONS[target],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    server = Server(target, process, port)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"{target} server exited with {process.returncode} before listening; see {log}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                await server.stop()
                raise TimeoutError(f"{target} server did not listen within {timeout:.0f} s; see {log}") from None
            await asyncio.sleep(0.1)
        else:
            writer.close()
            await writer.wait_closed()
            return server
