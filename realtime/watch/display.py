"""How the watch client shows what it learns: live progress bars, or one JSON event per line."""

import json
import sys
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from .tracker import Track

STATUS_STYLE = {
    "pending": "dim",
    "queued": "cyan",
    "processing": "blue",
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
}


class Display(Protocol):
    def event(self, track: Track, event: dict[str, Any]) -> None: ...
    def info(self, text: str) -> None: ...
    def close(self, tracks: list[Track]) -> None: ...


class JsonLines:
    """Each accepted event as its docs/protocol.md §2 body on one line of stdout; notes go to stderr."""

    def event(self, track: Track, event: dict[str, Any]) -> None:
        body = {key: value for key, value in event.items() if key not in {"type", "replay"}}
        sys.stdout.write(json.dumps(body, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def info(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def close(self, tracks: list[Track]) -> None:
        pass


class Bars:
    """One rich progress bar per analysis, with its status, stage and latest message."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.fields[name]}", style="bold"),
            BarColumn(bar_width=30),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[state]}"),
            console=Console(log_path=False),
        )
        self.tasks: dict[str, TaskID] = {}
        self.progress.start()

    def _task(self, track: Track) -> TaskID:
        if track.analysis_id not in self.tasks:
            name = (track.filename or track.analysis_id)[:32]
            self.tasks[track.analysis_id] = self.progress.add_task("", total=100, name=f"{name:<32}", state="")
        return self.tasks[track.analysis_id]

    def event(self, track: Track, event: dict[str, Any]) -> None:
        style = STATUS_STYLE.get(track.status, "")
        state = f"[{style}]{track.status}[/]"
        if track.stage:
            state += f" · {track.stage.replace('_', ' ')}"
        if track.error:
            state += f" · {track.error['code']}"
        elif track.result:
            state += f" · {track.result['verdict']} ({track.result['confidence']:.0%})"
        elif track.message:
            state += f" · [dim]{track.message[:50]}[/]"
        if track.retry_count:
            state += f" · retry {track.retry_count}/{track.max_retries}"
        self.progress.update(self._task(track), completed=track.progress, state=state)

    def info(self, text: str) -> None:
        self.progress.console.log(text)

    def close(self, tracks: list[Track]) -> None:
        self.progress.stop()
