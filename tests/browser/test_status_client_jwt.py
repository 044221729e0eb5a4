"""status-client.js as a frontend app uses it: no session, an access JWT in the subprotocol,
and a fresh token handed over when the server warns that the current one expires."""

from datetime import timedelta

from playwright.sync_api import Page
from rest_framework_simplejwt.tokens import AccessToken

from analyses.state_machine import Status
from conftest import access_token_for

from .conftest import BROWSER_TEST, transition

pytestmark = BROWSER_TEST

START_APP = """async ([token, freshToken, analysisId]) => {
    const { StatusClient } = await import("/static/realtime/status-client.js");
    const app = { events: [], states: [], refreshed: 0, authenticated: [] };
    window.app = app;
    const client = new StatusClient({
        token,
        refreshToken: async () => { app.refreshed += 1; return freshToken; },
    });
    app.client = client;
    client.on("state", ({ state }) => app.states.push(state));
    client.on("event", (event, { replay }) => app.events.push([event.seq, event.status, replay]));
    client.on("authenticated", (message) => app.authenticated.push(message.user));
    client.on("connected", (message) => {
        app.user = message.user;
        app.authenticatedAtConnect = message.authenticated;
    });
    client.subscribe(analysisId, { sinceSeq: 0 });
    client.connect();
}"""


def app_page(contexts, server) -> Page:
    """A page with no session at all, on the service's origin (as an app served from it would be)."""
    page = contexts().new_page()
    page.goto(f"{server.http_url}/healthz")
    return page


def test_an_app_follows_an_analysis_with_a_jwt_and_no_session(contexts, server, owner, make_analysis):
    analysis = make_analysis(owner, "app.mp4")
    transition(analysis, status=Status.QUEUED)
    page = app_page(contexts, server)
    page.evaluate(START_APP, [access_token_for(owner), "unused", str(analysis.pk)])
    page.wait_for_function("window.app.events.length === 2")
    assert page.evaluate("window.app.user") == "alice"
    assert page.evaluate("window.app.authenticatedAtConnect") is True
    # since_seq 0: both existing events are replayed.
    assert page.evaluate("window.app.events") == [[1, "pending", True], [2, "queued", True]]

    transition(analysis, status=Status.CANCELLED)
    page.wait_for_function("window.app.events.length === 3")
    assert page.evaluate("window.app.events[2]") == [3, "cancelled", False]
    # The token never shows in the URL.
    assert "token" not in page.evaluate("window.app.client.url")


def test_token_expiring_asks_the_app_for_a_fresh_token_and_sends_it(contexts, server, owner, make_analysis):
    analysis = make_analysis(owner, "expiring.mp4")
    short = AccessToken.for_user(owner)
    short.set_exp(lifetime=timedelta(seconds=45))  # inside the server's warning window at once
    page = app_page(contexts, server)
    page.evaluate(START_APP, [str(short), access_token_for(owner), str(analysis.pk)])
    page.wait_for_function("window.app.refreshed === 1", timeout=15_000)
    page.wait_for_function("window.app.authenticated.length === 1")
    assert page.evaluate("window.app.authenticated") == ["alice"]
    assert page.evaluate("window.app.client.state") == "live"
