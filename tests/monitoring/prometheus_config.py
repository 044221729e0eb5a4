"""The deployment's Prometheus files, made ready to run (the template with real targets and a token
file), and promtool to check them."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.servers import ROOT

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
TEMPLATE = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts_test.yml"
JOBS = ("secureai-server", "secureai-worker")


@dataclass(frozen=True)
class PrometheusTools:
    """Where the prometheus and promtool binaries are."""

    prometheus: Path
    promtool: Path


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def write_prometheus_config(
    directory: Path, *, token: str, targets: dict[str, list[str]] | None = None, interval: str | None = None
) -> Path:
    """Write the template (with ``targets`` per job and every interval set to ``interval``, if given), the
    alert rules and the token file into ``directory``, as a deployment lays them out; return the config."""
    config = load_yaml(TEMPLATE)
    for job in config["scrape_configs"]:
        if targets is not None:
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        (directory / job["authorization"]["credentials_file"]).write_text(token)
    if interval is not None:
        config["global"].update(scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval)
    shutil.copy(ALERTS, directory / ALERTS.name)
    path = directory / TEMPLATE.name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def alert_rules() -> dict[str, dict]:
    """The alerting rules of alerts.yml, by alert name."""
    return {rule["alert"]: rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule}


def promtool(tools: PrometheusTools, *args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    """Run promtool in ``cwd``; its output, or a failure that shows it."""
    result = subprocess.run([tools.promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output
