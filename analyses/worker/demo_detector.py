"""A demonstration detector: the six stages with realistic timing, messages, failures and verdicts.

It inspects nothing. Everything it "finds" comes from a random generator seeded by the
analysis id (the verdict, the same on every attempt) and by the attempt (whether and where it
fails), so runs are reproducible and a retry can succeed where the first attempt failed.
``settings.WORKER``: ``DEMO_SPEED`` divides every duration, ``DEMO_FAILURE_RATE`` is the chance
that an attempt fails, ``DEMO_SEED`` changes every outcome at once.
"""

import random
from dataclasses import dataclass

from django.conf import settings

from analyses.state_machine import STAGE_ORDER, Stage, Verdict

from .pipeline import JobContext, StepFailed, step

#: Seconds each stage takes at speed 1; about 15 s an analysis.
DURATIONS = {
    Stage.UPLOAD_VALIDATION: 1.0,
    Stage.FRAME_EXTRACTION: 3.0,
    Stage.FACE_DETECTION: 3.0,
    Stage.DEEPFAKE_INFERENCE: 5.0,
    Stage.RESULT_AGGREGATION: 1.5,
    Stage.REPORT_GENERATION: 1.5,
}
FAILURES = {
    Stage.UPLOAD_VALIDATION: ("unsupported_media", "The upload is not a video stream that can be decoded."),
    Stage.FRAME_EXTRACTION: ("frame_extraction_failed", "The decoder stopped at a corrupt keyframe."),
    Stage.FACE_DETECTION: ("face_detection_failed", "No face found in any sampled frame; the video may be too dark."),
    Stage.DEEPFAKE_INFERENCE: ("inference_failed", "The detection model ran out of memory on this resolution."),
    Stage.RESULT_AGGREGATION: ("aggregation_failed", "The per-frame scores disagree too much to be combined."),
    Stage.REPORT_GENERATION: ("report_generation_failed", "The report could not be written to storage."),
}
TICKS = 3
#: The steps below in stage order: what ``WORKER_PIPELINE=demo`` and ``run_worker --demo`` run.
DEMO_PIPELINE = tuple(
    f"{__name__}.{name}"
    for name in (
        "validate_upload",
        "extract_frames",
        "detect_faces",
        "run_inference",
        "aggregate_results",
        "generate_report",
    )
)


@dataclass(frozen=True)
class Plan:
    """What this attempt will "find"."""

    frames: int
    faces: int
    fail_at: Stage | None
    verdict: Verdict
    confidence: float


def plan_for(context: JobContext) -> Plan:
    if "plan" not in context.data:
        seed = settings.WORKER["DEMO_SEED"]
        video = random.Random(f"{seed}:{context.analysis_id}")
        attempt = random.Random(f"{seed}:{context.analysis_id}:{context.attempt}")
        fails = attempt.random() < settings.WORKER["DEMO_FAILURE_RATE"]
        context.data["plan"] = Plan(
            frames=video.randrange(90, 900),
            faces=video.randrange(1, 5),
            fail_at=attempt.choice(STAGE_ORDER) if fails else None,
            verdict=video.choices(list(Verdict), weights=[5, 4, 1])[0],
            confidence=round(video.uniform(0.55, 0.99), 2),
        )
    return context.data["plan"]


def work(context: JobContext, stage: Stage, messages: list[str]) -> None:
    """Spend the stage's time in ticks, reporting progress; fail half-way if the plan says so."""
    plan = plan_for(context)
    pause = DURATIONS[stage] / max(settings.WORKER["DEMO_SPEED"], 1e-6) / TICKS
    for tick in range(1, TICKS + 1):
        context.sleep(pause)
        if plan.fail_at == stage and tick == 2:
            raise StepFailed(*FAILURES[stage])
        context.progress(tick / TICKS, messages[tick - 1] if tick - 1 < len(messages) else None)


@step(Stage.UPLOAD_VALIDATION, weight=DURATIONS[Stage.UPLOAD_VALIDATION])
def validate_upload(context: JobContext) -> None:
    work(context, Stage.UPLOAD_VALIDATION, [f"Checked the container of {context.claim.filename}", "Codec supported"])


@step(Stage.FRAME_EXTRACTION, weight=DURATIONS[Stage.FRAME_EXTRACTION])
def extract_frames(context: JobContext) -> None:
    frames = plan_for(context).frames
    work(context, Stage.FRAME_EXTRACTION, [f"Extracted {frames // 3} frames", f"Extracted {frames} frames"])


@step(Stage.FACE_DETECTION, weight=DURATIONS[Stage.FACE_DETECTION])
def detect_faces(context: JobContext) -> None:
    plan = plan_for(context)
    work(
        context,
        Stage.FACE_DETECTION,
        ["Scanning frames for faces", f"Detected {plan.faces} faces in {plan.frames} frames"],
    )


@step(Stage.DEEPFAKE_INFERENCE, weight=DURATIONS[Stage.DEEPFAKE_INFERENCE])
def run_inference(context: JobContext) -> None:
    faces = plan_for(context).faces
    work(context, Stage.DEEPFAKE_INFERENCE, [f"Scoring face track {n} of {faces}" for n in range(1, faces + 1)])


@step(Stage.RESULT_AGGREGATION, weight=DURATIONS[Stage.RESULT_AGGREGATION])
def aggregate_results(context: JobContext) -> None:
    plan = plan_for(context)
    work(context, Stage.RESULT_AGGREGATION, ["Combining per-frame scores"])
    context.set_result(plan.verdict, plan.confidence)


@step(Stage.REPORT_GENERATION, weight=DURATIONS[Stage.REPORT_GENERATION])
def generate_report(context: JobContext) -> None:
    plan = plan_for(context)
    work(context, Stage.REPORT_GENERATION, [f"Verdict: {plan.verdict} ({plan.confidence:.0%})", "Report written"])
