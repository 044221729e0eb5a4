"""The Prometheus files of deploy/: promtool accepts the config and the rules, and the alert tests pass."""

import pytest

from deploy.prometheus import ALERT_TESTS, ALERTS, JOBS, TEMPLATE, load_yaml, write_prometheus_config

from .prometheus_config import alert_rules, promtool
from .scraping import new_metrics_token

SEVERITIES = {"critical", "warning"}


@pytest.mark.server
def test_the_config_template_passes_promtool_check_config(prometheus_tools, tmp_path):
    config = write_prometheus_config(tmp_path, token=new_metrics_token())
    output = promtool(prometheus_tools, "check", "config", str(config), cwd=tmp_path)
    assert "SUCCESS: 1 rule files found" in output


@pytest.mark.server
def test_the_alert_rules_pass_promtool_check_rules(prometheus_tools):
    output = promtool(prometheus_tools, "check", "rules", ALERTS.name)
    assert f"SUCCESS: {len(alert_rules())} rules found" in output


@pytest.mark.server
def test_the_alert_unit_tests_pass(prometheus_tools):
    assert "SUCCESS" in promtool(prometheus_tools, "test", "rules", ALERT_TESTS.name)


def test_every_alert_is_tested_firing_and_not_firing():
    firing, quiet = set(), set()
    for case in load_yaml(ALERT_TESTS)["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == set(alert_rules()) and quiet == set(alert_rules())


def test_every_alert_waits_has_a_severity_and_says_what_happened():
    for name, rule in alert_rules().items():
        assert rule.get("for"), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_each_job_scrapes_metrics_with_the_token_from_a_file():
    jobs = {job["job_name"]: job for job in load_yaml(TEMPLATE)["scrape_configs"]}
    assert set(jobs) == set(JOBS)
    for job in jobs.values():
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"]["type"] == "Bearer" and job["authorization"]["credentials_file"]
