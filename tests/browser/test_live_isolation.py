"""A user never sees another user's analysis on any live page, not even for a moment."""

from playwright.sync_api import expect

from analyses.state_machine import Status

from .conftest import BROWSER_TEST, transition, wait_live

pytestmark = BROWSER_TEST


def test_no_page_shows_another_users_analysis(signed_in, owner, other_user, make_analysis):
    mine = make_analysis(other_user, "bobs-own.mp4")
    alices = make_analysis(owner, "alices-secret.mp4")
    page = signed_in(other_user)
    wait_live(page)
    page.evaluate(
        """() => {
            window.secureaiLive.received = [];
            window.secureaiLive.client.on("message", (m) => window.secureaiLive.received.push(JSON.stringify(m)));
        }"""
    )
    expect(page.locator(f'tr[data-analysis-id="{mine.pk}"]')).to_be_visible()
    expect(page.locator(f'tr[data-analysis-id="{alices.pk}"]')).to_have_count(0)

    # Alice's new analysis and its changes: nothing reaches Bob's page.
    alices_new = make_analysis(owner, "alices-new.mp4")
    transition(alices_new, status=Status.QUEUED)
    transition(alices, status=Status.QUEUED)
    # Bob's own new analysis does arrive, so by then Alice's would have arrived too.
    bobs_new = make_analysis(other_user, "bobs-new.mp4")
    expect(page.locator(f'tr[data-analysis-id="{bobs_new.pk}"]')).to_be_visible()
    expect(page.locator(f'tr[data-analysis-id="{alices_new.pk}"]')).to_have_count(0)
    expect(page.locator("tr[data-analysis-id]")).to_have_count(2)
    received = "\n".join(page.evaluate("window.secureaiLive.received"))
    assert "bobs-new.mp4" in received  # the recording works: Bob's own news is in it
    assert "alices" not in received
    assert str(alices.pk) not in received and str(alices_new.pk) not in received
    assert "alices" not in page.content()

    response = page.goto(page.url.replace("/live/", f"/live/{alices.pk}/"))
    assert response.status == 404
    assert "alices" not in page.content()


def test_every_live_page_needs_a_signed_in_user(contexts, server, owner, make_analysis):
    analysis = make_analysis(owner)
    page = contexts().new_page()
    for path in ("/live/", f"/live/{analysis.pk}/"):
        page.goto(f"{server.http_url}{path}")
        assert page.url == f"{server.http_url}/accounts/login/?next={path}"
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_password_is_refused_on_the_login_page(contexts, server, owner):
    page = contexts().new_page()
    page.goto(f"{server.http_url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")


def test_signing_out_ends_the_live_session(signed_in, owner, server):
    page = signed_in(owner)
    wait_live(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.http_url}/accounts/login/")
    page.goto(f"{server.http_url}/live/")
    assert "/accounts/login/" in page.url
