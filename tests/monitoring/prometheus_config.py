"""promtool to check the deployment's Prometheus files, and the alert rules they hold."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.prometheus import ALERTS, PROMETHEUS_DIR, load_yaml


@dataclass(frozen=True)
class PrometheusTools:
    """Where the prometheus and promtool binaries are."""

    prometheus: Path
    promtool: Path


def alert_rules() -> dict[str, dict]:
    """The alerting rules of alerts.yml, by alert name."""
    return {rule["alert"]: rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule}


def promtool(tools: PrometheusTools, *args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    """Run promtool in ``cwd``; its output, or a failure that shows it."""
    result = subprocess.run([tools.promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output
