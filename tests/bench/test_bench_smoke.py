"""The benchmark harness end to end in its smallest mode: both targets, a few sockets, a few seconds each.

It publishes over HTTP as workers do (our transition API with a worker's JWT, the relay's publish
view), so it also checks that every event sent was committed and reached every socket.
"""

import json
import subprocess
import sys

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.server


def test_the_harness_measures_both_targets_over_http_and_ours_loses_nothing(tmp_path):
    report = tmp_path / "performance.md"
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(report)], cwd=ROOT, check=True, timeout=240
    )

    results = json.loads(report.with_suffix(".json").read_text())
    (sqlite,) = results["databases"].values()
    (window,) = sqlite["latency"].values()
    ours, relay = window["ours"], window["relay"]
    assert ours["via"] == relay["via"] == "rest"
    assert ours["producer_failures"] == relay["producer_failures"] == {}
    assert ours["expected_deliveries"] >= 100
    assert ours["received"] == ours["expected_deliveries"]
    assert (ours["lost"], ours["repeats"], ours["gaps"], ours["stray"]) == (0, 0, 0, 0)
    for figures in (ours, relay):
        assert figures["open"]["opened"] == figures["sockets"]
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert figures["deliveries_per_second"] > 0
    for target in ("ours", "relay"):
        (loop,) = sqlite["writes"][target]["loops"]
        assert loop["committed"] > 0 and loop["failures"] == {}
        assert 0 < loop["call_p50_ms"] <= loop["call_p99_ms"]
        connects = sqlite["connects"][target]
        assert connects["opened"] == connects["sockets"] == 20
        assert connects["timeouts"] == 0 and connects["failures"] == {}
        assert 0 < connects["handshake_p50_ms"] <= connects["handshake_p99_ms"]
        assert connects["kib_per_socket"] is not None
    text = report.read_text()
    assert "## SQLite" in text
    assert "| ours | relay | ours / relay |" in text
    assert "Zero loss at every rate (ours): **met**" in text
