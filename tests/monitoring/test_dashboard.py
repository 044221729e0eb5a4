"""The Grafana dashboard charts only what the processes export (or ``up``), in PromQL that Prometheus parses."""

import json
import re

import pytest
import yaml
from prometheus_client import REGISTRY

import analyses.metrics
import realtime.metrics
import secureai.health
from tests.servers import ROOT

from .prometheus_config import promtool
from .scraping import SECTION_6_METRICS

DASHBOARD = ROOT / "deploy" / "grafana" / "secureai-dashboard.json"
METRIC_MODULES = (analyses.metrics, realtime.metrics, secureai.health)  # imported: their metrics are registered
#: PromQL words that look like names but select nothing.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    panels += [inner for panel in panels for inner in panel.get("panels", [])]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def exported_names() -> set[str]:
    """Every series name the registry exports: families and their samples (_total, _bucket, _sum, _count...)."""
    return {name for family in REGISTRY.collect() for name in (family.name, *(s.name for s in family.samples))}


def selected_names(expr: str) -> set[str]:
    """The metric names an expression selects: what is left without strings, matchers, ranges, groupings,
    function calls and keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\b[a-zA-Z_]\w*\s*\(", "(", text)
    return set(re.findall(r"[a-zA-Z_:][\w:]*", text)) - KEYWORDS


def test_the_name_finder_sees_through_promql():
    expr = 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="a", le!="1"}[5m]))) / on (job) y or vector(0)'
    assert selected_names(expr) == {"x_bucket", "y"}


def test_every_panel_queries_exported_metrics_or_up():
    known = exported_names() | {"up"}
    assert expressions()
    for expr in expressions():
        names = selected_names(expr)
        assert names and names <= known, f"{expr}: {names - known or 'no metric'}"


def test_every_metric_of_the_contract_and_readiness_is_charted():
    charted = {name for expr in expressions() for name in selected_names(expr)}
    for family in [*SECTION_6_METRICS, "secureai_ready"]:
        assert any(name == family or name.startswith(f"{family}_") for name in charted), family


@pytest.mark.server
def test_every_expression_is_valid_promql(prometheus_tools, tmp_path):
    rules = [{"record": f"dashboard:panel_{n}", "expr": expr} for n, expr in enumerate(expressions())]
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in promtool(
        prometheus_tools, "check", "rules", "dashboard.yml", cwd=tmp_path
    )
