"""Fixtures of the monitoring tests: Debian's Prometheus and promtool, installed when missing."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .prometheus_config import PrometheusTools

INSTALL_HINT = "apt-get install prometheus (Debian's package gives prometheus and promtool)"


def _found() -> PrometheusTools | None:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    return PrometheusTools(Path(prometheus), Path(promtool)) if prometheus and promtool else None


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    """Prometheus and promtool; installs Debian's package as root when missing, and fails (never skips) otherwise."""
    tools = _found()
    if tools is not None:
        return tools
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"The monitoring tests need prometheus and promtool on PATH: {INSTALL_HINT}", pytrace=False)
    install = ("install", "-y", "-qq", "--no-install-recommends", "prometheus")
    result = _apt_get(*install)
    if result.returncode != 0:  # a stale package list: refresh it once and try again
        _apt_get("update", "-qq")
        result = _apt_get(*install)
    tools = _found()
    if tools is None:
        pytest.fail(f"Could not install Prometheus ({INSTALL_HINT}):\n{result.stdout}{result.stderr}", pytrace=False)
    return tools
