"""secureai_transitions_total counts every call of the transition service by its outcome."""

import uuid

import pytest

from analyses.models import Analysis
from analyses.services import analysis_transition
from analyses.state_machine import Change, Status, TransitionError
from analyses.tests.helpers import RESULT, drive_to
from analyses.tests.metric_checks import Counted

pytestmark = pytest.mark.django_db

QUEUE = Change(status=Status.QUEUED)


def transition(analysis_id, change: Change, transition_id: str | None = None) -> None:
    analysis_transition(analysis_id=analysis_id, change=change, actor="alice", transition_id=transition_id)


def test_an_applied_change_and_its_repeat_count_once_each(owner, make_analysis):
    analysis = make_analysis(owner)
    transitions = Counted("secureai_transitions_total")
    transition(analysis.pk, QUEUE, "t-1")
    assert transitions.changes() == {"applied": 1}
    transition(analysis.pk, QUEUE, "t-1")
    assert transitions.changes() == {"applied": 1, "repeated": 1}


def assert_refused_and_counted(analysis_id, change: Change, transition_id: str | None, outcome: str) -> None:
    seq = Analysis.objects.get(pk=analysis_id).seq
    transitions = Counted("secureai_transitions_total")
    with pytest.raises(TransitionError) as refused:
        transition(analysis_id, change, transition_id)
    assert refused.value.code == outcome
    assert transitions.changes() == {outcome: 1}
    assert Analysis.objects.get(pk=analysis_id).seq == seq


@pytest.mark.parametrize(
    ("status", "change", "outcome"),
    [
        (Status.PENDING, Change(status=Status.COMPLETED, result=RESULT), "invalid_transition"),
        (Status.PROCESSING, Change(status=Status.COMPLETED), "invalid"),  # completed needs a result
    ],
)
def test_a_refusal_counts_as_its_error_code_and_writes_nothing(owner, make_analysis, status, change, outcome):
    analysis = drive_to(make_analysis(owner), status)
    assert_refused_and_counted(analysis.pk, change, None, outcome)


def test_a_transition_id_reused_for_another_change_counts_as_conflict(owner, make_analysis):
    analysis = make_analysis(owner)
    transition(analysis.pk, QUEUE, "t-1")
    assert_refused_and_counted(analysis.pk, Change(status=Status.CANCELLED), "t-1", "conflict")


def test_a_missing_analysis_counts_as_not_found(db):
    transitions = Counted("secureai_transitions_total")
    with pytest.raises(Analysis.DoesNotExist):
        transition(uuid.uuid4(), QUEUE)
    assert transitions.changes() == {"not_found": 1}


def test_every_outcome_is_exported_before_it_happens():
    assert set(Counted("secureai_transitions_total").before) == {
        "applied",
        "repeated",
        "invalid",
        "invalid_transition",
        "conflict",
        "not_found",
    }
