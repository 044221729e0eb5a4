"""The stage work: a pipeline of pluggable steps, named by dotted paths in ``settings.WORKER["PIPELINE"]``.

``WORKER_PIPELINE=demo`` names the demonstration detector instead; a deployment names its own
detector's steps, and with none named the worker refuses to start.

A step is a :class:`Step`: the stage it belongs to, a weight (its share of the progress bar)
and a function of a :class:`JobContext`. The runner enters each step's stage, lets the step
report progress within its band, and ends with the result a step has set. A step signals a
failure of the work by raising :class:`StepFailed`; everything else about the analysis (events,
rules, retries) is the worker's business, not the step's.
"""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from analyses.state_machine import STAGE_ORDER, Change, Stage, TransitionError, Verdict

from .claiming import Claim


class StepFailed(Exception):
    """The work failed; ``code`` and ``detail`` become the analysis's error."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class JobInterrupted(Exception):
    """The worker must let go of the analysis before the pipeline ends."""


class WorkerStopping(JobInterrupted):
    """The worker was asked to stop."""


class ClaimLost(JobInterrupted):
    """Another writer changed the analysis under the worker: cancelled, or given to another worker."""


@dataclass(frozen=True)
class Step:
    stage: Stage
    run: Callable[["JobContext"], None]
    weight: float = 1.0
    name: str = ""


def step(stage: Stage, *, weight: float = 1.0) -> Callable[[Callable[["JobContext"], None]], Step]:
    """Declare a function as the pipeline step of ``stage``."""

    def wrap(function: Callable[[JobContext], None]) -> Step:
        return Step(stage=stage, run=function, weight=weight, name=function.__name__)

    return wrap


@dataclass
class JobContext:
    """What a step sees of its job: the analysis, a scratch dict shared by the steps, and ways to report."""

    claim: Claim
    stop: threading.Event
    lost: threading.Event
    data: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    stage: Stage = Stage.UPLOAD_VALIDATION
    progress_value: int = 0
    message: str = ""
    band: tuple[int, int] = (0, 100)

    @property
    def analysis_id(self) -> str:
        return str(self.claim.analysis_id)

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    def checkpoint(self) -> None:
        """Raise if the worker must let go; steps call it (through ``sleep``/``progress``) often."""
        if self.lost.is_set():
            raise ClaimLost(f"{self.claim.worker} no longer holds {self.analysis_id}")
        if self.stop.is_set():
            raise WorkerStopping(f"{self.claim.worker} is stopping")

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up at once when the worker is asked to stop."""
        self.stop.wait(max(0.0, seconds))
        self.checkpoint()

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far this step is (0..1), with an optional message for people."""
        self.checkpoint()
        low, high = self.band
        value = min(99, max(self.progress_value, low + int(max(0.0, min(1.0, fraction)) * (high - low))))
        new_message = message if message and message != self.message else None
        if value == self.progress_value and new_message is None:
            return
        self.send(Change(progress=value if value != self.progress_value else None, message=new_message))
        self.progress_value = value
        if new_message is not None:
            self.message = new_message

    def set_result(self, verdict: Verdict, confidence: float) -> None:
        self.result = {"verdict": Verdict(verdict).value, "confidence": round(float(confidence), 4)}

    def enter(self, stage: Stage, message: str | None) -> None:
        if stage == self.stage:
            return
        self.send(Change(stage=stage, progress=max(self.progress_value, self.band[0]), message=message))
        self.stage = stage
        self.progress_value = max(self.progress_value, self.band[0])
        if message:
            self.message = message

    def send(self, change: Change) -> None:
        try:
            self.claim.report(change)
        except TransitionError as error:
            if error.code == "invalid":
                raise  # a malformed report is the step's bug, not a lost claim
            raise ClaimLost(error.detail) from error


#: Pipelines known by name, each the dotted path of a tuple of step paths.
NAMED_PIPELINES = {"demo": "analyses.worker.demo_detector.DEMO_PIPELINE"}


@cache
def load_pipeline(paths: tuple[str, ...]) -> tuple[Step, ...]:
    """Import the steps and check that their stages come in the contract's order."""
    if len(paths) == 1 and paths[0] in NAMED_PIPELINES:
        paths = import_string(NAMED_PIPELINES[paths[0]])
    if not paths:
        raise ImproperlyConfigured(
            "WORKER_PIPELINE names no steps: set it to your detector's steps (dotted paths, in stage order), "
            "or to 'demo' for the demonstration detector."
        )
    steps = tuple(import_string(path) for path in paths)
    for path, item in zip(paths, steps, strict=True):
        if not isinstance(item, Step):
            raise TypeError(f"{path} is not a pipeline Step (declare it with @step(stage)).")
    order = [STAGE_ORDER.index(item.stage) for item in steps]
    if order != sorted(order):
        raise ValueError("The pipeline's steps must follow the stage order: " + ", ".join(s.stage for s in steps))
    return steps


def progress_bands(steps: Iterable[Step]) -> list[tuple[int, int]]:
    """Split 0..99 among the steps by weight; 100 is reserved for completion."""
    steps = list(steps)
    total = sum(item.weight for item in steps) or 1.0
    bands, done = [], 0.0
    for item in steps:
        start = int(99 * done / total)
        done += item.weight
        bands.append((start, int(99 * done / total)))
    return bands


def run_pipeline(steps: tuple[Step, ...], context: JobContext) -> dict[str, Any]:
    """Run every step in order and return the result; raises StepFailed or JobInterrupted."""
    for item, band in zip(steps, progress_bands(steps), strict=True):
        context.checkpoint()
        context.band = band
        context.enter(item.stage, f"{item.stage.replace('_', ' ').capitalize()} started")
        item.run(context)
        context.progress(1.0)
    if context.result is None:
        raise StepFailed("no_result", "The pipeline ended without a verdict.")
    return context.result
