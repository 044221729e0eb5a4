"""The watch client's WebSocket loop: subscribe, follow, fill gaps, refresh the token, reconnect.

A broken connection is retried with exponential backoff and full jitter; on reconnect every
unfinished analysis is resubscribed with ``since_seq`` set to the last seq shown, so the stream
resumes without a gap or a duplicate (the tracker drops any duplicate that slips through).
"""

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from .display import Display
from .http import Api, ApiError
from .tracker import EVENT_TYPES, EXIT_UNREACHABLE, EXIT_USAGE, Track, exit_code

SUBPROTOCOL = "secureai.jwt.v1"
HISTORY_LIMIT = 500
MIN_RENEW_INTERVAL = 5.0
#: Close codes after which reconnecting cannot help (docs/protocol.md §3).
FATAL_CLOSES = {4400: "protocol violation", 4413: "message too big"}


class Fatal(Exception):
    """Stop watching with this exit code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass
class Options:
    analysis_id: str | None
    follow: bool
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    give_up_after: float = 300.0
    refresh_margin: float = 60.0


class Watcher:
    def __init__(self, api: Api, display: Display, options: Options) -> None:
        self.api, self.display, self.options = api, display, options
        self.tracks: dict[str, Track] = {}
        self.token_expiring = asyncio.Event()
        self.established = False

    # --- the outer loop ---------------------------------------------------------------------

    async def run(self) -> int:
        failures, down_since = 0, None
        while True:
            self.established = False
            try:
                if self.api.access is None:
                    await self.call(self.api.log_in)
                if self.options.analysis_id:
                    await self.refresh_tracks()
                outcome = await self.connect_once()
                if outcome is not None:
                    return outcome
                failures, down_since = 0, None  # the token was renewed: reconnect at once
            except Fatal as fatal:
                self.display.info(f"Giving up: {fatal}")
                return fatal.code
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, ApiError) as error:
                if isinstance(error, ApiError) and error.status in {400, 401, 403, 404}:
                    self.display.info(f"Refused: {error}")
                    return EXIT_USAGE
                if self.established:
                    failures, down_since = 0, None
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > self.options.give_up_after:
                    self.display.info(f"The server stayed unreachable for {self.options.give_up_after:.0f} s.")
                    return EXIT_UNREACHABLE
                delay = random.uniform(0, min(self.options.backoff_max, self.options.backoff_base * 2**failures))
                failures += 1
                self.display.info(f"No connection ({type(error).__name__}: {error}); retrying in {delay:.1f} s")
                await asyncio.sleep(delay)

    async def call(self, function: Any, *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)

    def finished(self) -> bool:
        if self.options.follow:
            return False
        return all(track.outcome is not None for track in self.tracks.values())

    def result(self) -> int:
        return exit_code(list(self.tracks.values()))

    async def refresh_tracks(self) -> None:
        """Learn the analyses to watch (and their max_retries) from the REST API."""
        if self.options.analysis_id:
            if self.options.analysis_id not in self.tracks:
                try:
                    snapshot = await self.call(self.api.analysis, self.options.analysis_id)
                except ApiError as error:
                    if error.status == 404:
                        raise Fatal(EXIT_USAGE, f"No analysis {self.options.analysis_id} is visible to you.") from None
                    raise
                self.tracks[snapshot["analysis_id"]] = Track.from_snapshot(snapshot)
            return
        for snapshot in await self.call(self.api.analyses):
            track = Track.from_snapshot(snapshot)
            over = snapshot["status"] in {"completed", "cancelled"} or (
                snapshot["status"] == "failed" and snapshot["retry_count"] >= snapshot["max_retries"]
            )
            if track.analysis_id not in self.tracks and not over:
                self.tracks[track.analysis_id] = track

    # --- one connection -----------------------------------------------------------------------

    def url(self) -> str:
        base = self.api.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/ws/status/"

    async def connect_once(self) -> int | None:
        """One connection until it closes; an exit code when watching is over, None to reconnect."""
        subprotocols = [Subprotocol(SUBPROTOCOL), Subprotocol(self.api.access or "")]
        try:
            socket = await connect(self.url(), origin=self.api.base_url, subprotocols=subprotocols, open_timeout=10)
        except InvalidStatus as refused:
            if refused.response.status_code in {401, 403}:
                raise Fatal(EXIT_USAGE, f"The server refused the handshake ({refused.response.status_code}).") from None
            raise
        async with socket:
            refresher = asyncio.create_task(self.keep_token_fresh(socket))
            try:
                return await self.follow(socket)
            except ConnectionClosed:
                pass
            finally:
                refresher.cancel()
        return await self.after_close(socket.close_code)

    async def after_close(self, code: int | None) -> None:
        if code in FATAL_CLOSES:
            raise Fatal(EXIT_UNREACHABLE, f"closed with {code}: {FATAL_CLOSES[code]}")
        if code == 4401:
            self.display.info("The server refused the token; getting a fresh one")
            if not await self.call(self.api.renew):
                raise Fatal(EXIT_USAGE, "The token expired and there is no way to renew it (give --user).")
            return None
        raise ConnectionError(f"closed with {code}")

    async def follow(self, socket: ClientConnection) -> int | None:
        hello = json.loads(await socket.recv())
        if hello.get("type") != "connection_established" or not hello.get("authenticated"):
            raise Fatal(EXIT_USAGE, f"Not authenticated: {hello}")
        self.established = True
        if not self.options.analysis_id:
            # The feed first, then the list: nothing created in between is missed.
            await self.send(socket, {"type": "subscribe_request", "feed": "analyses", "request_id": "feed"})
            await self.refresh_tracks()
        for track in list(self.tracks.values()):
            if track.outcome is None:
                await self.subscribe(socket, track)
        if self.finished():
            return self.result()
        async for raw in socket:
            await self.handle(socket, json.loads(raw))
            if self.finished():
                return self.result()
        return None

    async def send(self, socket: ClientConnection, message: dict[str, Any]) -> None:
        await socket.send(json.dumps(message))

    async def subscribe(self, socket: ClientConnection, track: Track) -> None:
        await self.send(
            socket,
            {
                "type": "subscribe_request",
                "analysis_id": track.analysis_id,
                "since_seq": track.last_seq,
                "request_id": f"subscribe:{track.analysis_id}",
            },
        )

    # --- messages -------------------------------------------------------------------------------

    async def handle(self, socket: ClientConnection, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in EVENT_TYPES:
            await self.take(socket, message.get("analysis_id", ""), [message])
        elif kind == "history_response":
            track = self.tracks.get(message.get("analysis_id", ""))
            if track is not None:
                track.history_pending = False
                await self.take(socket, track.analysis_id, message.get("events", []), more=message.get("has_more"))
        elif kind == "heartbeat":
            for analysis_id, latest in (message.get("subscriptions") or {}).items():
                track = self.tracks.get(analysis_id)
                if track is not None and latest > track.last_seq:
                    await self.fetch_history(socket, track)
        elif kind == "status_snapshot":
            snapshot = message.get("analysis") or {}
            track = self.tracks.get(snapshot.get("analysis_id", ""))
            if track is not None and snapshot.get("seq", 0) > track.last_seq:
                await self.fetch_history(socket, track)
        elif kind == "analysis_created":
            snapshot = message["analysis"]
            if snapshot["analysis_id"] not in self.tracks:
                track = self.tracks[snapshot["analysis_id"]] = Track.from_snapshot(snapshot)
                await self.subscribe(socket, track)
        elif kind == "token_expiring":
            self.token_expiring.set()
        elif kind == "error":
            await self.on_error(message)

    async def take(self, socket: ClientConnection, analysis_id: str, events: list, more: bool = False) -> None:
        track = self.tracks.get(analysis_id)
        if track is None:
            return
        for event in events:
            for accepted in track.accept(event):
                self.display.event(track, accepted)
        if track.outcome is not None:
            await self.send(socket, {"type": "unsubscribe_request", "analysis_id": analysis_id})
        elif track.has_gap or more:
            await self.fetch_history(socket, track)

    async def fetch_history(self, socket: ClientConnection, track: Track) -> None:
        if track.history_pending:
            return
        track.history_pending = True
        await self.send(
            socket,
            {
                "type": "history_request",
                "analysis_id": track.analysis_id,
                "since_seq": track.last_seq,
                "limit": HISTORY_LIMIT,
                "request_id": f"history:{track.analysis_id}",
            },
        )

    async def on_error(self, message: dict[str, Any]) -> None:
        request_id = message.get("request_id") or ""
        if message.get("code") == "not_found" and request_id.startswith("subscribe:"):
            analysis_id = request_id.split(":", 1)[1]
            if analysis_id == self.options.analysis_id:
                raise Fatal(EXIT_USAGE, f"No analysis {analysis_id} is visible to you.")
            self.tracks.pop(analysis_id, None)
        elif request_id.startswith("history:"):
            track = self.tracks.get(request_id.split(":", 1)[1])
            if track is not None:
                track.history_pending = False
        self.display.info(f"Server error {message.get('code')}: {message.get('detail')}")

    # --- the token ------------------------------------------------------------------------------

    async def keep_token_fresh(self, socket: ClientConnection) -> None:
        """Renew the access token before it expires, or when the server warns, and hand it over."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.token_expiring.wait(), self.renew_in())
            if not await self.call(self.api.renew):
                self.display.info("The token expires soon and cannot be renewed (give --user to allow it).")
                return
            await self.send(socket, {"type": "authenticate", "jwt_token": self.api.access})
            # A warning about the old token may still be on its way, and a token that lives less than
            # the server's warning period is warned about at once: let the timer decide for a moment.
            await asyncio.sleep(min(MIN_RENEW_INTERVAL, (self.renew_in() or MIN_RENEW_INTERVAL) / 2))
            self.token_expiring.clear()

    def renew_in(self) -> float | None:
        """Seconds until the token should be renewed: ``refresh_margin`` before it expires, or half-way."""
        left = self.api.seconds_left()
        if left is None:
            return None
        margin = self.options.refresh_margin
        return max(0.0, left - margin if left > 2 * margin else left / 2)
