"""The demo's accounts and analyses: what ``seed_demo`` creates and ``run_worker --demo`` adds to.

Every account gets its documented password again on each run, so the printed credentials are
always the ones that work. Not for a production database.
"""

import random
from dataclasses import dataclass

from django.contrib.auth.models import Permission, User
from django.db import transaction

from .models import Analysis
from .services import analysis_create, analysis_transition
from .state_machine import Change, Status


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    superuser: bool = False
    worker: bool = False


ACCOUNTS = (
    DemoAccount("analyst", "analyst-demo-pass", "analyst: sees and creates their own analyses"),
    DemoAccount("analyst2", "analyst2-demo-pass", "second analyst: cannot see the first one's analyses"),
    DemoAccount("admin", "admin-demo-pass", "staff superuser: the admin, every analysis", superuser=True),
    DemoAccount("worker", "worker-demo-pass", "worker account: may change any analysis's status", worker=True),
)
ANALYST_NAMES = ("analyst", "analyst2")
DEMO_FILES = (
    ("analyst", "press-briefing-2026-11-24.mp4"),
    ("analyst", "ceo-voicemail-forward.mp4"),
    ("analyst", "campaign-ad-final-cut.mov"),
    ("analyst2", "bodycam-0193.mp4"),
    ("analyst2", "interview-raw-take-3.mkv"),
    ("analyst2", "viral-clip-repost.webm"),
)
EXTRA_NAMES = ("news-segment", "zoom-recording", "livestream-excerpt", "witness-statement", "product-launch")


def ensure_account(account: DemoAccount) -> User:
    user, _ = User.objects.get_or_create(username=account.username)
    user.email = f"{account.username}@example.com"
    user.is_active = True
    user.is_staff = user.is_superuser = account.superuser
    user.set_password(account.password)
    user.save()
    if account.worker:
        permission = Permission.objects.get(codename="change_analysis_status", content_type__app_label="analyses")
        user.user_permissions.add(permission)
    return user


def queue_new(*, owner: User, filename: str) -> Analysis:
    """Create an analysis and put it in the queue, both through the services."""
    with transaction.atomic():
        analysis = analysis_create(owner=owner, filename=filename)
        return analysis_transition(
            analysis_id=analysis.pk,
            change=Change(status=Status.QUEUED, message="Queued for analysis"),
            actor=owner.get_username(),
        ).analysis


@transaction.atomic
def seed_demo() -> tuple[list[DemoAccount], list[Analysis]]:
    """Create the accounts and queue each demo file not yet there; running it again adds nothing."""
    users = {account.username: ensure_account(account) for account in ACCOUNTS}
    created = [
        queue_new(owner=users[owner], filename=filename)
        for owner, filename in DEMO_FILES
        if not Analysis.objects.filter(owner=users[owner], filename=filename).exists()
    ]
    return list(ACCOUNTS), created


def demo_queue_one() -> Analysis | None:
    """Queue one more demo analysis for a demo analyst, so the live pages keep moving."""
    owner = User.objects.filter(username=random.choice(ANALYST_NAMES)).first()
    if owner is None:
        return None
    number = Analysis.objects.count() + 1
    return queue_new(owner=owner, filename=f"{random.choice(EXTRA_NAMES)}-{number:03d}.mp4")
