"""The admin: status edits go through the rules, actions report per row, history is read-only."""

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.utils.html import escape

from analyses.models import Analysis, StatusEvent
from analyses.tests.helpers import ERROR, Counts, drive_to

pytestmark = pytest.mark.django_db


class FormFields(HTMLParser):
    """The name/value pairs a browser would submit from one form (no submit buttons)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox", "search"):
            self.fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data.lstrip("\n") if not self.fields[self._textarea] else data


def change_url(analysis: Analysis) -> str:
    return f"/admin/analyses/analysis/{analysis.pk}/change/"


def form_of(client, analysis: Analysis) -> dict[str, str]:
    response = client.get(change_url(analysis))
    assert response.status_code == 200
    parser = FormFields("analysis_form")
    parser.feed(response.content.decode())
    assert "status" in parser.fields and "events-TOTAL_FORMS" in parser.fields
    return parser.fields


def edit(client, analysis: Analysis, **changes):
    """Submit the change form as shown, with ``changes`` applied, like a person clicking Save."""
    data = form_of(client, analysis)
    data.update({key: str(value) for key, value in changes.items()})
    data["_save"] = "Save"
    return client.post(change_url(analysis), data)


@pytest.fixture
def root_client(superuser, admin_client_for):
    return admin_client_for(superuser)


@pytest.fixture
def staff_editor(make_user):
    """Staff, not superuser, with the model permissions the admin needs (the history inline wants its own)."""
    user = make_user("editor", staff=True)
    for codename in ("view_analysis", "change_analysis", "add_analysis", "view_statusevent"):
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="analyses"))
    return User.objects.get(pk=user.pk)


class TestIllegalEdits:
    @pytest.mark.parametrize(
        ("status", "changes", "rule"),
        [
            ("pending", {"status": "completed", "verdict": "authentic", "confidence": "0.9"}, "pending -> completed"),
            ("pending", {"status": "processing", "stage": "face_detection"}, "pending -> processing"),
            ("completed", {"status": "processing", "stage": "face_detection"}, "final state"),
            ("completed", {"progress": "50"}, "final state"),
            ("cancelled", {"status": "queued"}, "final state"),
            ("processing", {"stage": "upload_validation"}, "cannot go back"),
            ("processing", {"progress": "10"}, "Progress cannot go back"),
            ("processing", {"status": "completed"}, "requires a result"),
            ("processing", {"status": "failed"}, "requires an error"),
            ("queued", {"status": "failed", "error_code": "oops"}, "error must be"),
        ],
    )
    def test_shows_the_rule_as_a_form_error_and_changes_nothing(
        self, status, changes, rule, owner, make_analysis, root_client
    ):
        analysis = drive_to(make_analysis(owner), status)
        before = Counts.take(analysis)

        response = edit(root_client, analysis, **changes)

        assert response.status_code == 200  # the form again, not a redirect
        html = response.content.decode()
        assert "errornote" in html
        errors = " ".join(unescape(e) for e in re.findall(r'<ul class="errorlist[^"]*">(.*?)</ul>', html, re.S))
        assert "Refused:" in errors and rule in errors, errors
        assert escape(rule) in html
        assert Counts.take(analysis) == before

    def test_no_retry_once_the_limit_is_reached(self, owner, make_analysis, root_client):
        analysis = drive_to(make_analysis(owner, max_retries=0), "failed")
        before = Counts.take(analysis)
        response = edit(root_client, analysis, status="queued")
        assert response.status_code == 200
        assert "No retries left" in response.content.decode()
        assert Counts.take(analysis) == before


class TestLegalEdits:
    def test_writes_history_with_the_staff_username_as_actor(self, owner, make_analysis, root_client):
        analysis = make_analysis(owner)

        response = edit(root_client, analysis, status="queued", message="Queued by hand")

        assert response.status_code == 302
        analysis.refresh_from_db()
        assert (analysis.status, analysis.seq) == ("queued", 2)
        event = StatusEvent.objects.get(analysis=analysis, seq=2)
        assert (event.actor, event.status, event.previous_status, event.message) == (
            "root",
            "queued",
            "pending",
            "Queued by hand",
        )

    def test_a_staff_user_with_permissions_fails_an_analysis_with_an_error(
        self, owner, make_analysis, staff_editor, admin_client_for
    ):
        analysis = drive_to(make_analysis(owner), "processing")

        response = edit(
            admin_client_for(staff_editor),
            analysis,
            status="failed",
            error_code=ERROR["code"],
            error_detail=ERROR["detail"],
        )

        assert response.status_code == 302
        analysis.refresh_from_db()
        assert (analysis.status, analysis.error, analysis.stage) == ("failed", ERROR, None)
        last = analysis.events.order_by("-seq").first()
        assert (last.actor, last.event, last.error) == ("editor", "error_update", ERROR)

    def test_a_stage_forward_and_a_completion(self, owner, make_analysis, root_client):
        analysis = drive_to(make_analysis(owner), "processing")
        assert edit(root_client, analysis, stage="report_generation", progress="90").status_code == 302
        assert (
            edit(root_client, analysis, status="completed", verdict="inconclusive", confidence="0.5").status_code == 302
        )
        analysis.refresh_from_db()
        assert (analysis.status, analysis.progress, analysis.result) == (
            "completed",
            100,
            {"verdict": "inconclusive", "confidence": 0.5},
        )
        kinds = list(analysis.events.order_by("seq").values_list("event", "actor"))[-2:]
        assert kinds == [("stage_transition", "root"), ("completion_update", "root")]

    def test_saving_without_a_change_writes_nothing(self, owner, make_analysis, root_client):
        analysis = drive_to(make_analysis(owner), "processing")
        before = Counts.take(analysis)
        assert edit(root_client, analysis).status_code == 302
        assert Counts.take(analysis) == before

    def test_the_add_page_creates_through_the_service(self, owner, root_client):
        response = root_client.post(
            "/admin/analyses/analysis/add/",
            {"owner": owner.pk, "filename": "admin.mp4", "media_url": "", "max_retries": "2", "_save": "Save"},
        )
        assert response.status_code == 302
        analysis = Analysis.objects.get(filename="admin.mp4")
        assert (analysis.status, analysis.seq, analysis.max_retries) == ("pending", 1, 2)
        assert list(analysis.events.values_list("seq", "event", "status")) == [(1, "status_update", "pending")]


class TestHistoryInline:
    def test_the_change_page_shows_history_read_only_newest_first(self, owner, make_analysis, root_client):
        analysis = drive_to(make_analysis(owner), "completed")  # 4 events

        html = root_client.get(change_url(analysis)).content.decode()

        assert "History (newest first)" in html
        seqs = [int(n) for n in re.findall(r'<td class="field-seq">\s*<p>(\d+)</p>', html)]
        assert seqs == [4, 3, 2, 1]
        editable = re.findall(r'name="events-\d+-(\w+)"', html)
        assert set(editable) <= {"id", "analysis"}  # only the hidden keys, no editable event field
        assert "add-row" not in html and "events-0-DELETE" not in html

    def test_posting_event_fields_does_not_touch_history(self, owner, make_analysis, root_client):
        analysis = drive_to(make_analysis(owner), "processing")
        before = list(analysis.events.order_by("seq").values())

        response = edit(
            root_client,
            analysis,
            progress="60",
            **{"events-0-message": "rewritten", "events-0-status": "completed", "events-0-DELETE": "on"},
        )

        assert response.status_code == 302
        after = list(analysis.events.order_by("seq").values())
        assert after[: len(before)] == before
        assert len(after) == len(before) + 1


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def run_action(client, action: str, analyses: list[Analysis]):
    return client.post(
        "/admin/analyses/analysis/",
        {"action": action, "_selected_action": [str(a.pk) for a in analyses], "index": "0", "select_across": "0"},
    )


class TestActions:
    def test_cancel_selected_reports_each_row(self, owner, make_analysis, root_client):
        pending = make_analysis(owner, filename="pending.mp4")
        processing = drive_to(make_analysis(owner, filename="processing.mp4"), "processing")
        completed = drive_to(make_analysis(owner, filename="completed.mp4"), "completed")

        response = run_action(root_client, "cancel_selected", [pending, processing, completed])

        assert response.status_code == 302
        reported = {text.split(":")[0]: (level, text) for level, text in messages_of(response)}
        assert set(reported) == {"pending.mp4", "processing.mp4", "completed.mp4"}
        assert reported["pending.mp4"][0] == reported["processing.mp4"][0] == "success"
        assert "cancelled (event #2)" in reported["pending.mp4"][1]
        assert "cancelled (event #4)" in reported["processing.mp4"][1]
        assert reported["completed.mp4"][0] == "warning"
        assert "not cancelled" in reported["completed.mp4"][1] and "final state" in reported["completed.mp4"][1]
        statuses = {a.filename: a.status for a in Analysis.objects.all()}
        assert statuses == {"pending.mp4": "cancelled", "processing.mp4": "cancelled", "completed.mp4": "completed"}
        for analysis in (pending, processing):
            last = Analysis.objects.get(pk=analysis.pk).events.order_by("-seq").first()
            assert (last.actor, last.event, last.message) == ("root", "completion_update", "Cancelled by staff")

    def test_retry_selected_reports_each_row(self, owner, make_analysis, root_client):
        retryable = drive_to(make_analysis(owner, filename="retryable.mp4"), "failed")
        exhausted = drive_to(make_analysis(owner, filename="exhausted.mp4", max_retries=0), "failed")
        queued = drive_to(make_analysis(owner, filename="queued.mp4"), "queued")
        before = {a.pk: Counts.take(a) for a in (exhausted, queued)}

        response = run_action(root_client, "retry_selected", [retryable, exhausted, queued])

        reported = {text.split(":")[0]: (level, text) for level, text in messages_of(response)}
        assert reported["retryable.mp4"][0] == "success" and "retried" in reported["retryable.mp4"][1]
        assert reported["exhausted.mp4"][0] == "warning" and "No retries left" in reported["exhausted.mp4"][1]
        assert reported["queued.mp4"][0] == "warning" and "not retried" in reported["queued.mp4"][1]
        retryable.refresh_from_db()
        assert (retryable.status, retryable.retry_count, retryable.error) == ("queued", 1, None)
        assert {pk: Counts.take(Analysis.objects.get(pk=pk)).row for pk in before} == {
            pk: counts.row for pk, counts in before.items()
        }

    def test_a_staff_user_with_view_permission_only_cannot_cancel(
        self, owner, make_analysis, make_user, admin_client_for
    ):
        viewer = make_user("looker", staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_analysis"))
        analysis = make_analysis(owner)
        before = Counts.take(analysis)
        client = admin_client_for(viewer)

        changelist = client.get("/admin/analyses/analysis/").content.decode()
        assert 'value="rebroadcast_selected"' in changelist
        assert 'value="cancel_selected"' not in changelist and 'value="retry_selected"' not in changelist
        response = run_action(client, "cancel_selected", [analysis])

        assert response.status_code in (200, 302)
        assert Counts.take(analysis) == before


@pytest.mark.django_db(transaction=True)
def test_rebroadcast_selected_pushes_each_snapshot_and_writes_no_event(owner, make_analysis, root_client, listen):
    analyses = [
        make_analysis(owner, filename="a.mp4"),
        drive_to(make_analysis(owner, filename="b.mp4"), "processing"),
        drive_to(make_analysis(owner, filename="c.mp4"), "completed"),
    ]
    listeners = {a.pk: listen(a.pk) for a in analyses}
    events_before = StatusEvent.objects.count()

    response = run_action(root_client, "rebroadcast_selected", analyses)

    reported = sorted(messages_of(response))
    assert reported == [
        ("success", "a.mp4: broadcast at seq 1."),
        ("success", "b.mp4: broadcast at seq 3."),
        ("success", "c.mp4: broadcast at seq 4."),
    ]
    assert StatusEvent.objects.count() == events_before
    for analysis in analyses:
        message = listeners[analysis.pk].receive(timeout=5)
        assert message is not None
        assert message["type"] == "analysis.snapshot"
        assert (message["analysis"]["analysis_id"], message["analysis"]["seq"]) == (str(analysis.pk), analysis.seq)


@pytest.mark.django_db
def test_history_is_shown_to_staff_who_may_view_analyses(client, make_user, make_analysis, owner):
    viewer = make_user("auditor", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_analysis"))
    analysis = make_analysis(owner, "audited.mp4")
    client.force_login(viewer)
    page = client.get(f"/admin/analyses/analysis/{analysis.pk}/change/")
    assert page.status_code == 200
    assert "History (newest first)" in page.content.decode()
