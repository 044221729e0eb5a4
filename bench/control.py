"""The harness talks to its client and producer processes in JSON lines over stdin and stdout.

The harness writes ``{"cmd": name, ...arguments}``; the child answers with one line,
``{"ok": true, ...result}`` or ``{"ok": false, "error": "..."}``. Logs go to stderr.
"""

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

LINE_LIMIT = 1 << 28  # answers carry every latency of a scenario


class ChildError(RuntimeError):
    """A child process refused a command or died."""


class Child:
    """A child process of the harness, started with ``python -m module``."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(cls, name: str, module: str, *args: str, env: dict[str, str]) -> "Child":
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=LINE_LIMIT,
        )
        return cls(name, process)

    async def call(self, cmd: str, timeout: float = 60, **arguments: Any) -> dict[str, Any]:
        async with self._lock:
            if self.process.returncode is not None:
                raise ChildError(f"{self.name} exited with {self.process.returncode}")
            self.process.stdin.write(json.dumps({"cmd": cmd, **arguments}).encode() + b"\n")
            await self.process.stdin.drain()
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            except TimeoutError:
                raise ChildError(f"{self.name} did not answer {cmd!r} within {timeout:.0f} s") from None
        if not line:
            await self.process.wait()
            raise ChildError(f"{self.name} exited with {self.process.returncode} during {cmd!r}")
        answer = json.loads(line)
        if not answer.pop("ok"):
            raise ChildError(f"{self.name} failed {cmd!r}: {answer['error']}")
        return answer

    async def stop(self, timeout: float = 10) -> None:
        if self.process.returncode is None:
            try:
                self.process.stdin.close()
                await asyncio.wait_for(self.process.wait(), timeout)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.process.kill()
                await self.process.wait()


def _answer(result: dict[str, Any] | None = None, error: str | None = None) -> None:
    line = json.dumps({"ok": True, **(result or {})} if error is None else {"ok": False, "error": error})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _failure() -> str:
    traceback.print_exc(file=sys.stderr)
    return traceback.format_exc(limit=3).strip().splitlines()[-1]


def serve_sync(handlers: dict[str, Callable[..., dict[str, Any] | None]]) -> None:
    """Answer commands one by one with blocking handlers (Django's ORM wants a thread without a loop)."""
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _answer(handlers[request.pop("cmd")](**request))
        except Exception:
            _answer(error=_failure())


async def serve_async(handlers: dict[str, Callable[..., Awaitable[dict[str, Any] | None]]]) -> None:
    """Answer commands one by one with coroutine handlers, while other tasks run on the loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(sys.stdin.fileno(), "rb"))
    while line := await reader.readline():
        request = json.loads(line)
        try:
            _answer(await handlers[request.pop("cmd")](**request))
        except Exception:
            _answer(error=_failure())
