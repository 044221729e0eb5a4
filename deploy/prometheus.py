"""The Prometheus files of deploy/prometheus made ready to run: the template with real targets, the
alert rules beside it, and the token file, laid out in one folder as a deployment lays them out."""

import shutil
from pathlib import Path

import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parent / "prometheus"
TEMPLATE = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts_test.yml"
#: The scrape jobs, one per kind of process.
JOBS = ("secureai-server", "secureai-worker")


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def write_prometheus_config(
    directory: Path, *, token: str, targets: dict[str, list[str]] | None = None, interval: str | None = None
) -> Path:
    """Write the template (with ``targets`` per job and every interval set to ``interval``, if given), the
    alert rules and the token file into ``directory``; return the config's path."""
    config = load_yaml(TEMPLATE)
    for job in config["scrape_configs"]:
        if targets is not None:
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        token_file = directory / job["authorization"]["credentials_file"]
        token_file.write_text(token)
        token_file.chmod(0o600)
    if interval is not None:
        config["global"].update(scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval)
    shutil.copy(ALERTS, directory / ALERTS.name)
    path = directory / TEMPLATE.name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
