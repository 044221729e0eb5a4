"""Stats reported per process through Redis with a time-to-live, summed on read."""

import asyncio

import pytest

from realtime.stats import ProcessStats, StatsReporter, process_reports, summarize
from realtime.wire import Frame
from secureai.redis_clients import redis_client


def report(connections: int, analyses: list[str]) -> dict:
    stats = ProcessStats()
    stats.sent(Frame.of({"type": "status_update"}), 10)
    for kind in ("ping_request", "subscribe_request", "invalid"):
        stats.received(kind)
    stats.error("invalid_json")
    return stats.report(
        connections=connections, authenticated=connections - 1, subscriptions=len(analyses), analyses=set(analyses)
    )


def test_summarize_sums_processes_and_counts_distinct_analyses():
    body = summarize([report(3, ["a", "b"]), report(2, ["b", "c"])])
    assert body["connections"] == {"total": 5, "authenticated": 3}
    assert body["subscriptions"] == {"total": 4, "analyses": 3}
    assert body["messages"] == {"sent": 20, "received": 6}
    assert body["errors"] == 2
    assert len(body["processes"]) == 2
    assert set(body["processes"][0]) == {
        "id",
        "connections",
        "subscriptions",
        "messages_sent",
        "messages_received",
        "errors",
        "started_at",
        "updated_at",
    }


async def test_a_process_that_stops_reporting_drops_out(settings):
    settings.REALTIME = {**settings.REALTIME, "STATS_TTL": 1}
    alive = report(1, ["x"])
    reporter = StatsReporter(alive["id"])
    await reporter.publish(alive)
    ids = [r["id"] for r in await asyncio.to_thread(process_reports)]
    assert alive["id"] in ids
    await asyncio.sleep(1.5)
    ids = [r["id"] for r in await asyncio.to_thread(process_reports)]
    assert alive["id"] not in ids
    await reporter.withdraw()


async def test_a_redis_that_forgot_the_process_is_noticed_at_the_next_report():
    """A restarted or emptied Redis lost the groups the process joined: the report says so, once."""
    first = report(1, ["x"])
    reporter = StatsReporter(first["id"])
    assert await reporter.publish(first) is False  # the first report sets the marker
    assert await reporter.publish(first) is False
    client = redis_client()
    try:
        assert client.delete(reporter._marker_key) == 1  # what FLUSHALL or a restart without data does
    finally:
        client.close()
    assert await reporter.publish(first) is True
    assert await reporter.publish(first) is False
    await reporter.withdraw()


async def test_a_report_that_cannot_reach_redis_marks_since_when(settings):
    """The hub closes its sockets once Redis has been out of reach long enough; the clock starts at
    the first failed report of a run and stops at the next one that goes through."""
    reachable, settings.REDIS_URL = settings.REDIS_URL, "redis://127.0.0.1:1/0"  # nothing listens there
    reporter = StatsReporter(report(0, [])["id"])
    assert reporter.unreachable_since is None
    assert await reporter.publish(report(0, [])) is False
    first_failure = reporter.unreachable_since
    assert first_failure is not None
    await reporter.publish(report(0, []))
    assert reporter.unreachable_since == first_failure
    settings.REDIS_URL = reachable
    reporter._client = None  # reconnect with the settings as they are now, as after a restart
    assert await reporter.publish(report(0, [])) is False
    assert reporter.unreachable_since is None
    await reporter.withdraw()


@pytest.mark.django_db
def test_stats_endpoint_is_staff_only(api_client, staff_user, owner):
    assert api_client(None).get("/ws/stats").status_code == 401
    assert api_client(owner).get("/api/realtime/stats/").status_code == 403
    response = api_client(staff_user).get("/ws/stats")
    assert response.status_code == 200 and set(response.json()) == {
        "connections",
        "subscriptions",
        "messages",
        "errors",
        "processes",
    }
