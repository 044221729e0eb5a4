"""The delivery rule of docs/protocol.md §3 for one socket and one analysis: in seq order, once, no gap.

A stream remembers the last seq it delivered. A live event is sent when it is the next one,
dropped when it was already delivered, and otherwise starts a catch-up from history; while a
catch-up (or the replay of a subscribe) runs, live events only raise the seq to catch up to.
"""

import asyncio
from dataclasses import dataclass
from enum import Enum, auto


class Admission(Enum):
    SEND = auto()  # the next event: send it now
    DROP = auto()  # already delivered
    HOLD = auto()  # a catch-up is running and will deliver it
    CATCH_UP = auto()  # a gap: start a catch-up from history


@dataclass(slots=True, eq=False)
class Stream:
    analysis_id: str
    last_seq: int = 0
    catching_up: bool = True  # a new stream starts in its subscribe replay
    confirmed: bool = False  # access checked and subscribe_success sent
    wanted: int = 0
    task: asyncio.Task | None = None

    def admit(self, seq: int) -> Admission:
        if self.catching_up:
            self.wanted = max(self.wanted, seq)
            return Admission.HOLD
        if seq <= self.last_seq:
            return Admission.DROP
        if seq == self.last_seq + 1:
            self.last_seq = seq
            return Admission.SEND
        self.catching_up = True
        self.wanted = seq
        return Admission.CATCH_UP

    def needs_catch_up(self, latest_seq: int) -> bool:
        """After a heartbeat read ``latest_seq`` from the database: is something missing?"""
        if self.catching_up or latest_seq <= self.last_seq:
            return False
        self.catching_up = True
        self.wanted = latest_seq
        return True

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
