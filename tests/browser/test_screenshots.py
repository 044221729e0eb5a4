"""The pages as people see them, at desktop and phone width.

Every run renders them (so a page that breaks its layout fails here); the images are kept only
when SCREENSHOTS_DIR names a folder, which is how scripts/screenshots refreshes docs/screenshots/.
"""

import os
from pathlib import Path

import pytest

from analyses.state_machine import Stage, Status

from .conftest import BROWSER_TEST, PHONE, run_to_processing, transition, wait_live

pytestmark = BROWSER_TEST


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def demo_analyses(owner, make_analysis) -> dict:
    """One analysis in each kind of state, with a realistic history."""
    pending = make_analysis(owner, "town-hall-q3.mp4")
    queued = make_analysis(owner, "customer-call-0412.wav")
    transition(queued, status=Status.QUEUED)

    failed = make_analysis(owner, "dashcam-clip.mp4")
    run_to_processing(failed)
    transition(failed, status=Status.FAILED, error={"code": "decode_error", "detail": "The video stream is corrupt"})

    finished = make_analysis(owner, "ceo-statement-final.mp4", media_url="https://media.example.com/ceo-statement.mp4")
    run_to_processing(finished)
    for stage, progress, message in [
        (Stage.FRAME_EXTRACTION, 20, "Extracted 240 frames"),
        (Stage.FACE_DETECTION, 40, "Detected 1 face in 236 frames"),
        (Stage.DEEPFAKE_INFERENCE, 75, "Model ensemble finished"),
        (Stage.RESULT_AGGREGATION, 90, None),
        (Stage.REPORT_GENERATION, 95, "Report written"),
    ]:
        transition(finished, stage=stage, progress=progress, message=message)
    transition(finished, status=Status.COMPLETED, result={"verdict": "manipulated", "confidence": 0.94})

    running = make_analysis(owner, "interview-raw-footage.mov")
    run_to_processing(running)
    transition(running, stage=Stage.FRAME_EXTRACTION, progress=15, message="Extracting frames")
    transition(running, stage=Stage.FACE_DETECTION, progress=35, message="Detected 3 faces in 120 frames")
    transition(running, stage=Stage.DEEPFAKE_INFERENCE, progress=55)
    return {"pending": pending, "queued": queued, "failed": failed, "finished": finished, "running": running}


def test_screenshots_of_the_live_pages(signed_in, make_user, make_analysis, shots):
    analyst = make_user("analyst")
    analyses = demo_analyses(analyst, make_analysis)

    page = signed_in(analyst)
    wait_live(page)
    page.screenshot(path=shots / "dashboard.png", full_page=True)

    for name in ("finished", "running"):
        page.goto(page.url.split("/live/")[0] + f"/live/{analyses[name].pk}/")
        wait_live(page)
        page.screenshot(path=shots / f"detail-{name}.png", full_page=True)

    phone = signed_in(analyst, viewport=PHONE)
    wait_live(phone)
    phone.screenshot(path=shots / "dashboard-phone.png", full_page=True)
    phone.goto(phone.url + f"{analyses['running'].pk}/")
    wait_live(phone)
    phone.screenshot(path=shots / "detail-running-phone.png", full_page=True)

    staff = make_user("stella", staff=True, perms=("view_analysis", "change_analysis"))
    admin = signed_in(staff, "/admin/analyses/analysis/")
    wait_live(admin)
    admin.screenshot(path=shots / "admin-changelist.png")
    assert len(list(shots.glob("*.png"))) == 6

    for png in shots.glob("*.png"):
        assert png.stat().st_size > 10_000
