"""Fixtures of the project-level tests."""

import pytest

from tests.monitoring.scraping import new_metrics_token


@pytest.fixture
def metrics_token(settings) -> str:
    """A fresh METRICS_TOKEN setting for the test."""
    settings.METRICS_TOKEN = new_metrics_token()
    return settings.METRICS_TOKEN
