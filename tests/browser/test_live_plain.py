"""Plain and accessible: static files from daphne itself, nothing from elsewhere, phone width,
status readable without colour, progress bars that assistive technology can read."""

import urllib.request

from playwright.sync_api import expect

from analyses.state_machine import Stage, Status

from .conftest import BROWSER_TEST, PHONE, run_to_processing, transition, wait_live

pytestmark = BROWSER_TEST

STATIC = [
    "realtime/status-client.js",
    "realtime/live-ui.js",
    "realtime/live-dashboard.js",
    "realtime/live-detail.js",
    "realtime/live-admin.js",
    "realtime/live.css",
    "realtime/live-components.css",
]


def test_daphne_serves_the_static_files_itself(server):
    for name in STATIC:
        with urllib.request.urlopen(f"{server.http_url}/static/{name}", timeout=5) as response:
            assert response.status == 200
            kind = "text/javascript" if name.endswith(".js") else "text/css"
            assert response.headers["Content-Type"].startswith(kind), (name, response.headers["Content-Type"])
            # Apps on other origins may import the client module: module scripts need CORS.
            assert response.headers["Access-Control-Allow-Origin"] == "*"
    # The admin's own files come the same way.
    with urllib.request.urlopen(f"{server.http_url}/static/admin/css/base.css", timeout=5) as response:
        assert response.status == 200


def test_pages_load_nothing_from_elsewhere(signed_in, server, owner, staff_user, make_analysis):
    analysis = make_analysis(owner)
    page = signed_in(owner)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda socket: requested.append(socket.url))
    page.reload()
    wait_live(page)
    page.goto(f"{server.http_url}/live/{analysis.pk}/")
    wait_live(page)
    origins = {url.split("/")[2] for url in requested}
    assert origins == {f"127.0.0.1:{server.port}"}, requested
    for html in (page.content(),):
        assert "cdn" not in html.lower()


def test_phone_width_needs_no_sideways_scrolling(signed_in, owner, make_analysis):
    analysis = make_analysis(owner, "a-rather-long-file-name-from-a-phone-camera-2026-11-26.mp4")
    run_to_processing(analysis, Stage.FACE_DETECTION, 40)
    for path in ("/live/", f"/live/{analysis.pk}/"):
        page = signed_in(owner, path, viewport=PHONE)
        wait_live(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.locator("progress").first.is_visible()
        page.close()


def test_status_and_progress_are_readable_without_colour(signed_in, owner, make_analysis):
    analysis = make_analysis(owner, "accessible.mp4")
    run_to_processing(analysis, Stage.FRAME_EXTRACTION, 30)
    page = signed_in(owner)
    wait_live(page)
    row = page.locator(f'tr[data-analysis-id="{analysis.pk}"]')
    expect(row.locator(".badge")).to_have_text("processing")
    bar = page.get_by_role("progressbar", name="Progress of accessible.mp4")
    expect(bar).to_have_attribute("value", "30")
    expect(bar).to_have_attribute("max", "100")
    transition(analysis, progress=65)
    expect(bar).to_have_attribute("value", "65")
    expect(page.locator("[data-announcer]")).to_be_attached()
    transition(analysis, status=Status.CANCELLED)
    expect(page.locator("[data-announcer]")).to_have_text("accessible.mp4 is now cancelled")
