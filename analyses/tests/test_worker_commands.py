"""seed_demo: idempotent accounts with working credentials, and queued demo analyses; demo commands
refuse where the settings do not allow the demo (production)."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings

from analyses.demo_data import ACCOUNTS, DEMO_FILES, demo_queue_one
from analyses.models import Analysis
from analyses.selectors import can_change_status, can_read_all
from analyses.tests.history_checks import assert_history_legal
from analyses.worker.embedded import start_embedded_worker

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_accounts_and_queued_analyses_once():
    first = seed()
    second = seed()

    for account in ACCOUNTS:
        assert account.username in first and account.password in second
        assert authenticate(username=account.username, password=account.password) is not None
    assert Analysis.objects.count() == len(DEMO_FILES)
    assert set(Analysis.objects.values_list("status", flat=True)) == {"queued"}
    for analysis in Analysis.objects.all():
        assert_history_legal(analysis)
    users = {user.username: user for user in User.objects.all()}
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert can_change_status(users["worker"]) and not users["worker"].is_staff
    assert not can_read_all(users["analyst"]) and not can_read_all(users["analyst2"])


def test_demo_mode_queues_one_more_analysis_for_a_demo_analyst():
    seed()
    analysis = demo_queue_one()
    assert analysis.status == "queued" and analysis.owner.username in {"analyst", "analyst2"}


@override_settings(DEMO_ALLOWED=False)
def test_seed_demo_refuses_where_the_demo_is_not_allowed():
    with pytest.raises(CommandError, match="seed_demo creates accounts with published passwords"):
        seed()
    assert not User.objects.exists() and not Analysis.objects.exists()


@override_settings(DEMO_ALLOWED=False)
def test_run_worker_demo_refuses_where_the_demo_is_not_allowed():
    with pytest.raises(CommandError, match="--demo runs the demonstration detector"):
        call_command("run_worker", "--demo")
    assert not Analysis.objects.exists()


@override_settings(DEMO_ALLOWED=False)
def test_the_single_process_demo_refuses_where_the_demo_is_not_allowed():
    with pytest.raises(ImproperlyConfigured, match="single-process demo runs the demonstration detector"):
        start_embedded_worker()
