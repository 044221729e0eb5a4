"""The live admin in a real browser: staff edits reach the live pages at once, refused edits show why,
and the change list follows workers' progress without a reload."""

from playwright.sync_api import expect

from analyses.state_machine import Stage, Status

from .conftest import BROWSER_TEST, run_to_processing, transition, wait_live

pytestmark = BROWSER_TEST

ADMIN_PERMS = ("view_analysis", "change_analysis")


def change_page(analysis) -> str:
    return f"/admin/analyses/analysis/{analysis.pk}/change/"


def test_a_staff_edit_in_the_admin_shows_at_once_on_the_owners_live_pages(signed_in, owner, make_user, make_analysis):
    staff = make_user("stella", staff=True, perms=ADMIN_PERMS)
    analysis = make_analysis(owner, "press-release.mp4")
    dashboard = signed_in(owner)
    detail = signed_in(owner, f"/live/{analysis.pk}/")
    wait_live(dashboard)
    wait_live(detail)

    admin = signed_in(staff, change_page(analysis))
    admin.locator("#id_status").select_option("queued")
    admin.locator("#id_message").fill("Queued by hand")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist .success")).to_be_visible()

    row = dashboard.locator(f'tr[data-analysis-id="{analysis.pk}"]')
    expect(row.locator(".badge")).to_have_text("queued", timeout=1000)
    last = detail.locator("[data-events] tr").last
    expect(last).to_have_attribute("data-seq", "2", timeout=1000)
    expect(last.locator('[data-field="actor"]')).to_have_text("stella")
    expect(last.locator('[data-field="message"]')).to_have_text("Queued by hand")


def test_an_illegal_edit_in_the_admin_shows_the_form_error(signed_in, owner, make_user, make_analysis):
    staff = make_user("stella", staff=True, perms=ADMIN_PERMS)
    analysis = make_analysis(owner, "draft.mp4")
    admin = signed_in(staff, change_page(analysis))
    admin.locator("#id_status").select_option("processing")
    admin.get_by_role("button", name="Save", exact=True).click()

    expect(admin.locator(".errornote")).to_be_visible()
    expect(admin.locator(".errorlist")).to_contain_text("Refused: pending -> processing is not an allowed transition.")
    analysis.refresh_from_db()
    assert analysis.status == Status.PENDING
    assert analysis.seq == 1


def test_the_change_list_and_change_page_follow_workers_live(signed_in, owner, make_user, make_analysis):
    staff = make_user("stella", staff=True, perms=ADMIN_PERMS)
    running = make_analysis(owner, "running.mp4")
    run_to_processing(running)
    waiting = make_analysis(owner, "waiting.mp4")

    changelist = signed_in(staff, "/admin/analyses/analysis/")
    wait_live(changelist)
    changelist.evaluate("window.loadMarker = 1")
    change = signed_in(staff, change_page(running))
    wait_live(change)

    transition(running, stage=Stage.FACE_DETECTION, progress=55)
    transition(waiting, status=Status.QUEUED)

    row = changelist.locator("#result_list tr", has=changelist.locator(f'input[value="{running.pk}"]'))
    expect(row.locator("td.field-status .badge")).to_have_text("processing")
    expect(row.locator("td.field-stage")).to_have_text("face detection")
    expect(row.locator("td.field-progress progress")).to_have_attribute("value", "55")
    other = changelist.locator("#result_list tr", has=changelist.locator(f'input[value="{waiting.pk}"]'))
    expect(other.locator("td.field-status .badge")).to_have_text("queued")
    assert changelist.evaluate("window.loadMarker") == 1

    panel = change.locator("[data-live-admin-object]")
    expect(panel.locator('[data-field="progress"]')).to_have_attribute("value", "55")
    expect(panel.locator('[data-field="seq"]')).to_have_text("4")
    # Untouched form fields follow the analysis, so a save does not undo the worker's change.
    expect(change.locator("#id_stage")).to_have_value("face_detection")
    expect(change.locator("#id_progress")).to_have_value("55")

    change.locator("#id_progress").fill("70")
    transition(running, progress=60)
    expect(panel.locator('[data-field="progress"]')).to_have_attribute("value", "60")
    expect(change.locator("#id_progress")).to_have_value("70")
    expect(panel.locator("[data-live-admin-notice]")).to_contain_text("while you were editing")


def test_the_change_list_announces_new_analyses(signed_in, owner, make_user, make_analysis):
    staff = make_user("stella", staff=True, perms=ADMIN_PERMS)
    make_analysis(owner, "already-here.mp4")
    changelist = signed_in(staff, "/admin/analyses/analysis/")
    wait_live(changelist)
    notice = changelist.locator("[data-live-admin-new]")
    expect(notice).to_be_hidden()

    make_analysis(owner, "brand-new.mp4")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("1 new analysis since this page loaded")
    make_analysis(owner, "another.mp4")
    expect(notice).to_contain_text("2 new analyses")

    notice.locator("a").click()
    expect(changelist.locator("#result_list")).to_contain_text("brand-new.mp4")
    expect(changelist.locator("[data-live-admin-new]")).to_be_hidden()
