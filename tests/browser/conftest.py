"""The browser harness: headless Chromium (Debian's, never a downloaded one) against a real daphne.

daphne runs on the test database and the real Redis, started by tests.servers; the tests write
through the transition service (or the REST API) in this process, and the post-save signal
publishes over Redis to daphne, exactly as a worker's change would. Data must be committed for
daphne to see it, hence ``transaction=True`` on every browser test.
"""

import json
import os
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from analyses.models import Analysis
from analyses.services import analysis_transition
from analyses.state_machine import Change, Stage, Status
from conftest import PASSWORD, access_token_for
from tests.servers import Server, start_daphne

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}

#: Every browser test module starts with ``pytestmark = BROWSER_TEST``.
BROWSER_TEST = [pytest.mark.browser, pytest.mark.server, pytest.mark.django_db(transaction=True)]


def start_server(port: int | None = None) -> Server:
    """daphne for the browser tests; it keeps Django's async-safety checks on (see below)."""
    return start_daphne(port, DJANGO_ALLOW_ASYNC_UNSAFE="")


@pytest.fixture(scope="package", autouse=True)
def orm_beside_playwright() -> Iterator[None]:
    """Let the tests use the ORM while Playwright's sync API runs.

    Playwright keeps an event loop running in the test thread, and Django refuses ORM calls
    whenever a loop runs in the calling thread. Only this test process is exempted, and only for
    this package; the daphne under test runs with the checks on.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def playwright_instance(django_db_setup) -> Iterator[Playwright]:
    # The test database first: Playwright's loop would make Django refuse to create it.
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def server(django_db_setup, django_db_blocker) -> Iterator[Server]:
    """One daphne for the session, on the test database pytest-django created."""
    daphne = start_server()
    yield daphne
    daphne.stop()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """New, isolated browser contexts (one per signed-in person); all closed after the test."""
    opened: list[BrowserContext] = []

    def new_context(viewport: dict | None = None) -> BrowserContext:
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield new_context
    for context in opened:
        context.close()


@pytest.fixture
def signed_in(contexts, server: Server) -> Callable[..., Page]:
    """A page of a user who signed in through the real login page, then opened ``path``."""

    def sign_in(user: User, path: str = "/live/", viewport: dict | None = None) -> Page:
        page = contexts(viewport).new_page()
        page.goto(f"{server.http_url}/accounts/login/?next={path}")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.http_url}{path}")
        return page

    return sign_in


def wait_live(page: Page) -> None:
    """Wait until the page's client is connected and the server has confirmed its subscriptions.

    Only then is a change committed by the test sure to reach the page live: the `analyses` feed
    has no replay, so an analysis created before the feed subscription is answered would reach
    the page through the dashboard's catch-up request instead.
    """
    page.locator('[data-connection][data-state="live"]').wait_for()
    page.wait_for_function(
        "() => window.secureaiLive.client.state === 'live' && window.secureaiLive.client.pendingSubscriptions === 0"
    )


def page_states(page: Page) -> list[str]:
    return page.evaluate("window.secureaiLive.states")


def transition(analysis: Analysis, actor: str = "worker-1", **change) -> None:
    """Commit a change in this process; daphne hears of it over Redis, as from any worker."""
    analysis_transition(analysis_id=analysis.pk, change=Change(**change), actor=actor)


def api_transition(server: Server, user: User, analysis: Analysis, body: dict) -> dict:
    """POST /api/analyses/<id>/transition/ on daphne with the user's JWT, as a worker does."""
    request = urllib.request.Request(
        f"{server.http_url}/api/analyses/{analysis.pk}/transition/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {access_token_for(user)}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def run_to_processing(analysis: Analysis, stage: Stage = Stage.UPLOAD_VALIDATION, progress: int = 0) -> None:
    transition(analysis, status=Status.QUEUED)
    transition(analysis, status=Status.PROCESSING, stage=stage, progress=progress)
