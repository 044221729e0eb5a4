"""A change sent again with the same transition_id is applied once and answered as the first time."""

import pytest

from analyses.tests.helpers import RESULT, Counts, assert_error_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def post_transition(status_changer, api_client):
    client = api_client(status_changer)

    def post(analysis, body):
        return client.post(f"/api/analyses/{analysis.pk}/transition/", body, format="json")

    return post


def test_the_same_transition_id_twice_writes_one_event_and_gives_the_same_body(
    owner, make_analysis, post_transition, listen
):
    analysis = make_analysis(owner)
    body = {"status": "queued", "message": "Queued by the uploader", "transition_id": "upload-42"}
    listener = listen(analysis.pk)

    first = post_transition(analysis, body)
    assert first.status_code == 200
    pushed = listener.receive(timeout=5)
    assert pushed is not None and pushed["event"]["seq"] == 2
    after_first = Counts.take(analysis)

    second = post_transition(analysis, body)

    assert second.status_code == 200
    assert second.content == first.content
    assert Counts.take(analysis) == after_first
    assert analysis.events.count() == 2
    listener.assert_silent()  # the repeat is not pushed again


def test_a_repeat_after_later_transitions_still_answers_as_the_first_time(owner, make_analysis, post_transition):
    analysis = make_analysis(owner)
    queue = {"status": "queued", "transition_id": "q-1"}
    first = post_transition(analysis, queue)
    assert post_transition(analysis, {"status": "processing", "transition_id": "p-1"}).status_code == 200
    assert post_transition(analysis, {"progress": 50}).status_code == 200
    complete = {"status": "completed", "result": RESULT, "transition_id": "c-1"}
    completed = post_transition(analysis, complete)
    assert completed.status_code == 200
    before = Counts.take(analysis)

    again = post_transition(analysis, queue)
    completed_again = post_transition(analysis, complete)

    assert again.status_code == 200
    assert again.content == first.content
    assert again.json()["status"] == "queued" and again.json()["seq"] == 2
    assert completed_again.status_code == 200
    assert completed_again.content == completed.content
    assert Counts.take(analysis) == before


@pytest.mark.parametrize(
    "different",
    [
        {"status": "cancelled", "transition_id": "t-1"},
        {"status": "queued", "message": "other words", "transition_id": "t-1"},
    ],
)
def test_the_same_transition_id_with_a_different_change_is_a_conflict(
    owner, make_analysis, post_transition, listen, different
):
    analysis = make_analysis(owner)
    assert post_transition(analysis, {"status": "queued", "transition_id": "t-1"}).status_code == 200
    before = Counts.take(analysis)
    listener = listen(analysis.pk)

    response = post_transition(analysis, different)

    assert_error_body(response, 409, "conflict")
    assert Counts.take(analysis) == before
    listener.assert_silent()


def test_a_transition_id_is_scoped_to_its_analysis(owner, make_analysis, post_transition):
    one, two = make_analysis(owner), make_analysis(owner)
    body = {"status": "queued", "transition_id": "same-id"}
    assert post_transition(one, body).json()["seq"] == 2
    assert post_transition(two, body).json()["seq"] == 2
    assert one.events.count() == two.events.count() == 2


def test_a_refused_change_does_not_use_up_its_transition_id(owner, make_analysis, post_transition):
    analysis = make_analysis(owner)
    refused = post_transition(analysis, {"status": "completed", "result": RESULT, "transition_id": "step-1"})
    assert_error_body(refused, 409, "invalid_transition")

    # Nothing was written for the refusal, so the id is still free for a change that is allowed.
    accepted = post_transition(analysis, {"status": "queued", "transition_id": "step-1"})
    assert accepted.status_code == 200
    assert accepted.json()["seq"] == 2
