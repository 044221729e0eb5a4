"""The watch client's bookkeeping: each event once and in order, gaps held back, outcomes and exit codes."""

from realtime.watch.http import token_expiry
from realtime.watch.tracker import EXIT_FAILED, EXIT_OK, Track, exit_code


def event(seq: int, status: str = "processing", **fields) -> dict:
    previous = fields.pop("previous_status", "processing")
    return {"seq": seq, "status": status, "previous_status": previous, "progress": seq, "retry_count": 0, **fields}


def test_duplicates_are_dropped_and_a_gap_holds_later_events_back():
    track = Track("a1")
    assert [e["seq"] for e in track.accept(event(1, "pending"))] == [1]
    assert track.accept(event(1, "pending")) == []
    assert track.accept(event(3)) == [] and track.has_gap
    assert [e["seq"] for e in track.accept(event(2))] == [2, 3]
    assert not track.has_gap and track.last_seq == 3 and track.accept(event(3)) == []


def test_outcomes_and_exit_codes():
    done, lost, retrying, given_up = Track("a", max_retries=1), Track("b", max_retries=1), Track("c"), Track("d")
    done.accept(event(1, "completed", result={"verdict": "authentic", "confidence": 0.9}))
    lost.accept(event(1, "failed", retry_count=1, error={"code": "x", "detail": "y"}))
    retrying.accept(event(1, "failed", retry_count=0, error={"code": "x", "detail": "y"}))
    given_up.accept(event(1, "cancelled", previous_status="failed"))

    outcomes = (done.outcome, lost.outcome, retrying.outcome, given_up.outcome)
    assert outcomes == ("completed", "failed", None, "cancelled")
    assert exit_code([done]) == EXIT_OK
    assert exit_code([done, lost]) == EXIT_FAILED
    assert exit_code([given_up]) == EXIT_FAILED


def test_token_expiry_is_read_from_the_payload():
    assert token_expiry("x.eyJleHAiOiAxNzAwMDAwMDAwfQ.y") == 1_700_000_000
    assert token_expiry("not a token") is None
