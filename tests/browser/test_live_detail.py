"""/live/<id>/ in a real browser: the timeline gets each event once, in order, across broken sockets."""

from playwright.sync_api import expect

from analyses.state_machine import Stage, Status

from .conftest import BROWSER_TEST, page_states, run_to_processing, start_server, transition, wait_live

pytestmark = BROWSER_TEST


def timeline_seqs(page) -> list[int]:
    return [int(seq) for seq in page.locator("[data-events] tr").evaluate_all("rows => rows.map(r => r.dataset.seq)")]


def expect_timeline(page, last_seq: int) -> None:
    expect(page.locator("[data-events] tr").last).to_have_attribute("data-seq", str(last_seq))
    assert timeline_seqs(page) == list(range(1, last_seq + 1))


def test_each_event_is_appended_once_in_seq_order(signed_in, owner, make_analysis):
    analysis = make_analysis(owner, "board-meeting.mov")
    page = signed_in(owner, f"/live/{analysis.pk}/")
    wait_live(page)
    expect_timeline(page, 1)

    run_to_processing(analysis)  # seq 2, 3
    for stage, progress in [
        (Stage.FRAME_EXTRACTION, 20),
        (Stage.FACE_DETECTION, 40),
        (Stage.DEEPFAKE_INFERENCE, 60),
        (Stage.DEEPFAKE_INFERENCE, 75),
    ]:
        transition(analysis, stage=stage, progress=progress, message=f"{stage} at {progress}")
    expect_timeline(page, 7)

    last = page.locator("[data-events] tr").last
    expect(last.locator('[data-field="event"]')).to_have_text("progress update")
    expect(last.locator('[data-field="message"]')).to_have_text("deepfake_inference at 75")
    expect(last.locator('[data-field="actor"]')).to_have_text("worker-1")
    expect(page.locator("#snapshot-progress")).to_have_attribute("value", "75")
    expect(page.locator('[data-snapshot] [data-field="stage"]')).to_have_text("deepfake inference")

    transition(analysis, status=Status.COMPLETED, result={"verdict": "manipulated", "confidence": 0.91})
    expect_timeline(page, 8)
    expect(page.locator("[data-snapshot] .badge")).to_have_text("completed")
    expect(page.locator("[data-result]")).to_be_visible()
    expect(page.locator('[data-field="verdict"]')).to_have_text("manipulated")
    expect(page.locator('[data-field="confidence"]')).to_have_text("91 %")
    expect(page.locator("[data-error]")).to_be_hidden()
    assert page.evaluate("window.secureaiLive.client.stats.duplicatesDropped") >= 0


def test_a_failure_shows_its_error(signed_in, owner, make_analysis):
    analysis = make_analysis(owner, "clip.mp4")
    run_to_processing(analysis)
    page = signed_in(owner, f"/live/{analysis.pk}/")
    wait_live(page)
    transition(analysis, status=Status.FAILED, error={"code": "decoder_error", "detail": "Unreadable stream"})
    expect(page.locator("[data-error]")).to_be_visible()
    expect(page.locator('[data-field="error-code"]')).to_have_text("decoder_error")
    expect(page.locator("[data-events] tr").last.locator('[data-field="error"]')).to_have_text(
        "decoder_error: Unreadable stream"
    )
    expect(page.locator("[data-result]")).to_be_hidden()


def test_events_missed_while_the_server_restarts_arrive_once_in_order(server, signed_in, owner, make_analysis):
    analysis = make_analysis(owner, "restart.mp4")
    page = signed_in(owner, f"/live/{analysis.pk}/")
    wait_live(page)
    transition(analysis, status=Status.QUEUED)
    expect_timeline(page, 2)

    server.stop()
    try:
        expect(page.locator('[data-connection][data-state="reconnecting"]')).to_be_visible()
        transition(analysis, status=Status.PROCESSING)  # 3
        for progress in (10, 20, 30):  # 4, 5, 6
            transition(analysis, progress=progress)
    finally:
        # The session's server lives on, on the same port, whatever happened above.
        server.process = start_server(server.port).process

    expect(page.locator('[data-connection][data-state="live"]')).to_be_visible(timeout=20_000)
    expect_timeline(page, 6)
    transition(analysis, progress=40)  # 7, live again
    expect_timeline(page, 7)
    states = page_states(page)
    assert "reconnecting" in states
    assert states[-1] == "live"
    assert states.index("reconnecting") < len(states) - 1


def test_events_missed_while_the_socket_is_down_arrive_once_in_order(signed_in, owner, make_analysis):
    analysis = make_analysis(owner, "dropped.mp4")
    run_to_processing(analysis)
    page = signed_in(owner, f"/live/{analysis.pk}/")
    wait_live(page)
    expect_timeline(page, 3)

    page.evaluate("window.secureaiLive.client.simulateDrop({holdMs: 1500})")
    expect(page.locator('[data-connection][data-state="reconnecting"]')).to_be_visible()
    for progress in (15, 25, 35):
        transition(analysis, progress=progress)
    transition(analysis, stage=Stage.FACE_DETECTION)

    expect(page.locator('[data-connection][data-state="live"]')).to_be_visible()
    expect_timeline(page, 7)
    expect(page.locator("#snapshot-progress")).to_have_attribute("value", "35")
    assert page_states(page)[-2:] == ["reconnecting", "live"]


def test_a_gap_in_the_stream_is_filled_from_history(signed_in, owner, make_analysis):
    """An event that overtakes its predecessors (as a dropped layer message would) waits for them."""
    analysis = make_analysis(owner, "gap.mp4")
    run_to_processing(analysis)
    page = signed_in(owner, f"/live/{analysis.pk}/")
    wait_live(page)
    # Rewind the client's cursor as if events 2 and 3 had never arrived, then hand it event 4.
    transition(analysis, progress=50)
    expect_timeline(page, 4)
    page.evaluate(
        """(id) => {
            const client = window.secureaiLive.client;
            client._streams.get(id).lastSeq = 1;
            document.querySelectorAll('[data-events] tr').forEach((row) => { if (row.dataset.seq > 1) row.remove(); });
        }""",
        str(analysis.pk),
    )
    transition(analysis, progress=60)  # 5 arrives while the client believes it is at 1
    expect_timeline(page, 5)
    assert page.evaluate("window.secureaiLive.client.stats.gapsFilled") >= 1


def test_a_missing_analysis_and_someone_elses_get_the_same_404(signed_in, owner, other_user, make_analysis):
    theirs = make_analysis(other_user, "not-yours.mp4")
    page = signed_in(owner)
    response = page.goto(page.url.replace("/live/", f"/live/{theirs.pk}/"))
    assert response.status == 404
    theirs_html = page.locator("main").inner_html()
    assert "not-yours.mp4" not in page.content()

    response = page.goto(page.url.replace(str(theirs.pk), "00000000-0000-4000-8000-000000000000"))
    assert response.status == 404
    assert page.locator("main").inner_html() == theirs_html
    response = page.goto(page.url.replace("00000000-0000-4000-8000-000000000000", "not-a-uuid"))
    assert response.status == 404
    assert page.locator("main").inner_html() == theirs_html
