"""What the watch client knows of each analysis: its seq cursor, its state, and how it ended.

Pure bookkeeping, no I/O: events go in (live, replayed or fetched from history, in any order,
possibly twice), and each comes out once, in seq order; a missing seq holds the later ones back
until history fills the gap.
"""

from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

EVENT_TYPES = frozenset({"status_update", "stage_transition", "progress_update", "error_update", "completion_update"})


@dataclass
class Track:
    analysis_id: str
    filename: str = ""
    max_retries: int = 3
    status: str = "pending"
    stage: str | None = None
    progress: int = 0
    retry_count: int = 0
    message: str = ""
    error: dict[str, str] | None = None
    result: dict[str, Any] | None = None
    last_seq: int = 0
    cancelled_after_failure: bool = False
    held: dict[int, dict[str, Any]] = field(default_factory=dict)
    history_pending: bool = False

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> "Track":
        return cls(
            analysis_id=snapshot["analysis_id"],
            filename=snapshot.get("filename", ""),
            max_retries=snapshot.get("max_retries", 3),
        )

    @property
    def outcome(self) -> str | None:
        """``completed``, ``cancelled`` or ``failed`` (for good) once nothing will change it; else None."""
        if self.status in {"completed", "cancelled"}:
            return self.status
        if self.status == "failed" and self.retry_count >= self.max_retries:
            return "failed"
        return None

    @property
    def succeeded(self) -> bool:
        return self.outcome == "completed" or (self.outcome == "cancelled" and not self.cancelled_after_failure)

    @property
    def has_gap(self) -> bool:
        return bool(self.held)

    def accept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The events that are new and now in order, oldest first; duplicates give nothing."""
        seq = event["seq"]
        if seq <= self.last_seq or seq in self.held:
            return []
        self.held[seq] = event
        accepted = []
        while self.last_seq + 1 in self.held:
            accepted.append(self._apply(self.held.pop(self.last_seq + 1)))
        return accepted

    def _apply(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] == "cancelled" and event.get("previous_status") == "failed":
            self.cancelled_after_failure = True
        self.status, self.stage, self.progress = event["status"], event.get("stage"), event.get("progress", 0)
        self.retry_count = event.get("retry_count", self.retry_count)
        self.message = event.get("message") or self.message
        self.error, self.result = event.get("error"), event.get("result")
        self.last_seq = event["seq"]
        return event


def exit_code(tracks: list[Track]) -> int:
    """0 when every analysis ended well; 1 when one failed for good or was cancelled after failing."""
    return EXIT_OK if all(track.succeeded for track in tracks) else EXIT_FAILED
