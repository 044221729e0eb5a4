"""A client process of the benchmark: many WebSocket connections on one asyncio loop.

Started by the harness (``python -m bench.client``) and driven over stdin/stdout (``bench.control``).
Each socket follows one analysis. The process stamps every event with ``time.time()`` as it
arrives, checks per socket that seqs come in order without duplicates, and at ``collect`` turns
the stamps into latencies against the send or commit times the harness passes in.
"""

import asyncio
import contextlib
import json
import resource
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from .control import serve_async

EVENT_TYPES = frozenset({"status_update", "stage_transition", "progress_update", "error_update", "completion_update"})
JWT_SUBPROTOCOL = "secureai.jwt.v1"


@dataclass(slots=True, eq=False)
class Socket:
    index: int
    analysis: int  # index into the harness's list of analyses
    ws: ClientConnection | None = None
    last_seq: int = 0
    gaps: int = 0  # an event past the next one expected
    repeats: int = 0  # an event at or below the last one seen: a duplicate or out of order
    heartbeats: int = 0
    close_code: int | None = None
    task: asyncio.Task | None = field(default=None, repr=False)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Client:
    def __init__(self) -> None:
        self.sockets: list[Socket] = []
        self.analysis_of: dict[str, int] = {}
        self.receipts: list[tuple[int, int, float]] = []  # (socket index, seq, arrival time)
        self.recording = False
        self.received = 0
        self.window_started = (0.0, 0.0)
        self.handshake_ms: list[float] = []  # of the sockets opened by the last ``open``

    # --- opening ---------------------------------------------------------------------------
    async def open(
        self,
        url: str,
        analysis_ids: list[str],
        sockets: list[int],
        token: str | None = None,
        concurrency: int = 32,
        open_timeout: float = 60,
    ) -> dict[str, Any]:
        """Open one socket per entry of ``sockets`` (an analysis index each) to ``url``/<analysis id>/.

        At most ``concurrency`` handshakes are in flight; each socket's handshake time runs from its
        TCP connect to the socket being ready (ours: authenticated and subscribed).
        """
        self.handshake_ms = []
        self.analysis_of = {analysis_id: index for index, analysis_id in enumerate(analysis_ids)}
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        new = [Socket(len(self.sockets) + offset, analysis) for offset, analysis in enumerate(sockets)]
        self.sockets.extend(new)
        outcomes = await asyncio.gather(
            *(
                self._open_one(socket, f"{url}/ws/status/{analysis_ids[socket.analysis]}/", token, gate, open_timeout)
                for socket in new
            )
        )
        failures: dict[str, int] = {}
        for outcome in outcomes:
            if outcome is not None:
                failures[outcome] = failures.get(outcome, 0) + 1
        return {
            "opened": sum(outcome is None for outcome in outcomes),
            "failures": failures,
            "seconds": time.monotonic() - started,
            "handshake_ms": self.handshake_ms,
        }

    async def _open_one(
        self, socket: Socket, url: str, token: str | None, gate: asyncio.Semaphore, timeout: float
    ) -> str | None:
        async with gate:
            started = time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    protocols = [Subprotocol(JWT_SUBPROTOCOL), Subprotocol(token)] if token else None
                    ws = await connect(url, subprotocols=protocols, compression=None, ping_interval=None)
                    if token:
                        await self._await_subscription(socket, ws)
            except ConnectionClosed as closed:
                return f"closed {closed.rcvd.code if closed.rcvd else 'without a frame'}"
            except TimeoutError:
                return "timeout"
            except Exception as error:
                return type(error).__name__
        self.handshake_ms.append(round(1000 * (time.monotonic() - started), 3))
        socket.ws = ws
        socket.task = asyncio.create_task(self._read(socket))
        return None

    async def _await_subscription(self, socket: Socket, ws: ClientConnection) -> None:
        """Our service: connection_established (authenticated), then subscribe_success of the URL's analysis."""
        established = json.loads(await ws.recv())
        if established.get("type") != "connection_established" or not established.get("authenticated"):
            raise RuntimeError(f"not authenticated: {established}")
        while True:
            message = json.loads(await ws.recv())
            if message.get("type") == "subscribe_success":
                socket.last_seq = message["seq"]
                return
            if message.get("type") == "error":
                raise RuntimeError(f"subscribe refused: {message}")

    async def warm_up(self, url: str, analysis_ids: list[str], count: int, token: str | None = None) -> dict[str, Any]:
        """Open ``count`` sockets to the first analysis and close them again, keeping nothing."""
        gate = asyncio.Semaphore(count)
        sockets = [Socket(-1, 0) for _ in range(count)]
        url = f"{url}/ws/status/{analysis_ids[0]}/"
        failures = await asyncio.gather(*(self._open_one(socket, url, token, gate, 60) for socket in sockets))
        for socket in sockets:
            if socket.ws is not None:
                await socket.ws.close()
                await socket.task
        return {"failures": [failure for failure in failures if failure]}

    # --- receiving ---------------------------------------------------------------------------
    async def _read(self, socket: Socket) -> None:
        ws = socket.ws
        try:
            async for text in ws:
                arrived = time.time()
                message = json.loads(text)
                kind = message.get("type")
                if kind in EVENT_TYPES:
                    self._on_event(socket, message["seq"], arrived)
                elif kind == "heartbeat":
                    socket.heartbeats += 1
        except ConnectionClosed:
            pass
        finally:
            socket.close_code = ws.close_code if ws.close_code is not None else 1006

    def _on_event(self, socket: Socket, seq: int, arrived: float) -> None:
        if seq <= socket.last_seq:
            socket.repeats += 1
        else:
            if seq != socket.last_seq + 1:
                socket.gaps += 1
            socket.last_seq = seq
        if self.recording:
            self.receipts.append((socket.index, seq, arrived))
            self.received += 1

    # --- the measurement window --------------------------------------------------------------
    async def reset(self) -> dict[str, Any]:
        """Start a window: forget earlier receipts and counters (not the seqs each socket has seen)."""
        self.receipts = []
        self.received = 0
        for socket in self.sockets:
            socket.gaps = socket.repeats = 0
        self.recording = True
        self.window_started = (time.monotonic(), cpu_seconds())
        return {}

    async def count(self) -> dict[str, Any]:
        return {"received": self.received}

    async def collect(self, events: list[list]) -> dict[str, Any]:
        """Latencies and per-socket counts of the window, against ``events`` ([analysis, seq, sent time])."""
        self.recording = False
        wall = time.monotonic() - self.window_started[0]
        cpu = cpu_seconds() - self.window_started[1]
        sent_at = {(analysis, seq): when for analysis, seq, when in events}
        seen: list[set[int]] = [set() for _ in self.sockets]
        latencies: list[float] = []
        stray = 0
        for index, seq, arrived in self.receipts:
            socket = self.sockets[index]
            when = sent_at.get((socket.analysis, seq))
            if when is None:
                stray += 1
                continue
            if seq in seen[index]:
                continue
            seen[index].add(seq)
            latencies.append(round((arrived - when) * 1000, 3))
        return {
            "latencies_ms": latencies,
            "unique": [[socket.analysis, len(seen[socket.index])] for socket in self.sockets if socket.ws],
            "gaps": sum(socket.gaps for socket in self.sockets),
            "repeats": sum(socket.repeats for socket in self.sockets),
            "stray": stray,
            "open": sum(socket.ws is not None and socket.close_code is None for socket in self.sockets),
            "close_codes": self._close_codes(),
            "cpu_seconds": cpu,
            "wall_seconds": wall,
        }

    async def status(self) -> dict[str, Any]:
        live = [socket for socket in self.sockets if socket.ws is not None and socket.close_code is None]
        return {
            "open": len(live),
            "close_codes": self._close_codes(),
            "min_heartbeats": min((socket.heartbeats for socket in live), default=0),
        }

    def _close_codes(self) -> dict[str, int]:
        codes: dict[str, int] = {}
        for socket in self.sockets:
            if socket.close_code is not None:
                codes[str(socket.close_code)] = codes.get(str(socket.close_code), 0) + 1
        return codes

    async def close(self) -> dict[str, Any]:
        live = [socket for socket in self.sockets if socket.ws is not None and socket.close_code is None]
        # Gently: a relay discards one group membership per closing socket, and a burst of thousands
        # runs it out of Redis connections.
        gate = asyncio.Semaphore(32)

        async def close_one(socket: Socket) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(socket.ws.close(), 5)

        await asyncio.gather(*(close_one(socket) for socket in live))
        return {"closed": len(live)}


async def main() -> None:
    client = Client()
    await serve_async(
        {
            "open": client.open,
            "warm_up": client.warm_up,
            "reset": client.reset,
            "count": client.count,
            "collect": client.collect,
            "status": client.status,
            "close": client.close,
        }
    )
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
