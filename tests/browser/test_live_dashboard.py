"""/live/ in a real browser: rows change in place as events arrive, new analyses appear, the filter works."""

import time

from playwright.sync_api import expect

from analyses.state_machine import Stage, Status

from .conftest import BROWSER_TEST, api_transition, transition, wait_live

pytestmark = BROWSER_TEST


def row(page, analysis):
    return page.locator(f'tr[data-analysis-id="{analysis.pk}"]')


def test_a_worker_transition_over_the_api_updates_the_row_in_place(
    server, signed_in, owner, status_changer, make_analysis
):
    analysis = make_analysis(owner, "interview.mp4")
    transition(analysis, status=Status.QUEUED)
    page = signed_in(owner)
    wait_live(page)
    page.evaluate("window.loadMarker = 'still the same page'")
    line = row(page, analysis)
    expect(line.locator(".badge")).to_have_text("queued")

    api_transition(server, status_changer, analysis, {"status": "processing", "stage": "face_detection"})
    expect(line.locator(".badge")).to_have_text("processing", timeout=1000)
    expect(line.locator('[data-field="stage"]')).to_have_text("face detection", timeout=1000)

    started = time.monotonic()
    api_transition(server, status_changer, analysis, {"progress": 45, "message": "Detected 3 faces"})
    expect(line.locator("progress")).to_have_attribute("value", "45", timeout=1000)
    assert time.monotonic() - started < 1.0
    expect(line.locator('[data-field="progress-text"]')).to_have_text("45 %")

    api_transition(
        server,
        status_changer,
        analysis,
        {"status": "completed", "result": {"verdict": "authentic", "confidence": 0.97}},
    )
    expect(line.locator(".badge")).to_have_text("completed", timeout=1000)
    expect(line.locator("progress")).to_have_attribute("value", "100")
    expect(line.locator('[data-field="stage"]')).to_have_text("—")
    assert page.evaluate("window.loadMarker") == "still the same page"
    assert page.locator("tr[data-analysis-id]").count() == 1


def test_a_new_analysis_appears_without_a_reload_and_is_followed(signed_in, owner, make_analysis):
    older = make_analysis(owner, "older.mp4")
    page = signed_in(owner)
    wait_live(page)
    page.evaluate("window.loadMarker = 1")

    created = make_analysis(owner, "fresh-upload.mp4")
    fresh = row(page, created)
    expect(fresh).to_be_visible()
    expect(fresh.locator(".badge")).to_have_text("pending")
    # Newest first: the new row is on top.
    expect(page.locator("tr[data-analysis-id]").first).to_have_attribute("data-analysis-id", str(created.pk))

    transition(created, status=Status.QUEUED)
    transition(created, status=Status.PROCESSING, stage=Stage.FRAME_EXTRACTION, progress=20)
    expect(fresh.locator(".badge")).to_have_text("processing")
    expect(fresh.locator("progress")).to_have_attribute("value", "20")
    expect(fresh.locator('[data-field="link"]')).to_have_attribute("href", f"/live/{created.pk}/")
    expect(row(page, older)).to_be_visible()
    assert page.evaluate("window.loadMarker") == 1


def test_the_status_filter_follows_live_changes(signed_in, owner, make_analysis):
    waiting = make_analysis(owner, "waiting.mp4")
    moving = make_analysis(owner, "moving.mp4")
    page = signed_in(owner)
    wait_live(page)

    page.get_by_label("Status").select_option("queued")
    expect(row(page, waiting)).to_be_hidden()
    expect(row(page, moving)).to_be_hidden()
    expect(page.locator("[data-empty]")).to_be_visible()
    assert page.url.endswith("?status=queued")

    transition(moving, status=Status.QUEUED)
    expect(row(page, moving)).to_be_visible()
    expect(row(page, waiting)).to_be_hidden()
    expect(page.locator("[data-row-count]")).to_have_text("1 shown")

    page.get_by_label("Status").select_option("")
    expect(row(page, waiting)).to_be_visible()


def test_staff_see_the_owner_column(signed_in, owner, staff_user, make_analysis):
    make_analysis(owner, "alice-file.mp4")
    page = signed_in(staff_user)
    expect(page.get_by_role("columnheader", name="Owner")).to_be_visible()
    expect(page.locator('tr[data-analysis-id] [data-field="owner"]')).to_have_text("alice")

    own = signed_in(owner)
    expect(own.get_by_role("columnheader", name="Owner")).to_have_count(0)
