"""The benchmark harness end to end in its smallest mode: both targets, a few sockets, 2 s of load."""

import json
import subprocess
import sys

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.server


def test_the_harness_measures_both_targets_and_ours_loses_nothing(tmp_path):
    report = tmp_path / "performance.md"
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(report)], cwd=ROOT, check=True, timeout=120
    )

    results = json.loads(report.with_suffix(".json").read_text())
    (window,) = results["latency"].values()
    ours, relay = window["ours"], window["relay"]
    assert ours["expected_deliveries"] >= 100
    assert ours["received"] == ours["expected_deliveries"]
    assert (ours["lost"], ours["repeats"], ours["gaps"], ours["stray"]) == (0, 0, 0, 0)
    for figures in (ours, relay):
        assert figures["open"]["opened"] == figures["sockets"]
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert figures["deliveries_per_second"] > 0
    text = report.read_text()
    assert "| ours | relay | ours / relay |" in text
    assert "Zero loss at every rate (ours): **met**" in text
