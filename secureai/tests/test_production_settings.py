"""Production settings refuse to start with an unsafe value, naming the setting; a sound environment loads.

Each case imports the settings in a fresh interpreter that sees only the environment given.
"""

import secrets
import subprocess
import sys

import pytest

from analyses.worker.pipeline import NAMED_PIPELINES
from tests.servers import ROOT

SECRET_KEY = secrets.token_urlsafe(50)
JWT_SIGNING_KEY = secrets.token_urlsafe(50)
SOUND = {
    "SECRET_KEY": SECRET_KEY,
    "JWT_SIGNING_KEY": JWT_SIGNING_KEY,
    "ALLOWED_HOSTS": "status.example.com",
}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def import_production(**env: str | None) -> subprocess.CompletedProcess:
    """Import secureai.settings.production with the sound environment changed by ``env`` (None unsets)."""
    environment = {name: value for name, value in {**SOUND, **env}.items() if value is not None}
    return run_python("import secureai.settings.production", **environment)


def assert_refused(result: subprocess.CompletedProcess, sentence: str) -> None:
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: Refusing to start:" in result.stderr
    assert sentence in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off in production."),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set in production."),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must not contain '*' in production"),
        ({"ALLOWED_HOSTS": "status.example.com,*"}, "ALLOWED_HOSTS must not contain '*' in production"),
        ({"ALLOWED_HOSTS": "*.example.com"}, "ALLOWED_HOSTS must not contain '*' in production"),
        ({"SECRET_KEY": "k" * 49}, "SECRET_KEY must be at least 50 characters in production."),
        ({"JWT_SIGNING_KEY": None}, "JWT_SIGNING_KEY must be set to at least 50 characters in production"),
        ({"JWT_SIGNING_KEY": "j" * 49}, "JWT_SIGNING_KEY must be set to at least 50 characters in production"),
        ({"JWT_SIGNING_KEY": SECRET_KEY}, "JWT_SIGNING_KEY must differ from SECRET_KEY in production."),
        ({"WORKER_PIPELINE": "demo"}, "WORKER_PIPELINE must name your detector's steps in production"),
        (
            {"WORKER_PIPELINE": "detector.steps.validate,analyses.worker.demo_detector.detect_faces"},
            "WORKER_PIPELINE must name your detector's steps in production",
        ),
    ],
    ids=[
        "debug",
        "no-allowed-hosts",
        "star-host",
        "star-among-hosts",
        "star-pattern-host",
        "short-secret-key",
        "no-jwt-key",
        "short-jwt-key",
        "jwt-key-is-secret-key",
        "demo-pipeline-name",
        "demo-detector-step",
    ],
)
def test_production_refuses(env, sentence):
    assert_refused(import_production(**env), sentence)


@pytest.mark.parametrize("name", sorted(NAMED_PIPELINES))
def test_production_refuses_every_named_demo_pipeline_by_name_and_by_path(name):
    assert_refused(import_production(WORKER_PIPELINE=name), "WORKER_PIPELINE must name")
    steps_path = NAMED_PIPELINES[name]
    assert_refused(import_production(WORKER_PIPELINE=steps_path), "WORKER_PIPELINE must name")


def test_production_names_every_fault_at_once():
    result = import_production(DEBUG="true", SECRET_KEY="short", JWT_SIGNING_KEY=None)
    for setting in ("DEBUG", "SECRET_KEY", "JWT_SIGNING_KEY"):
        assert_refused(result, f"{setting} must")


def test_a_sound_production_environment_loads_without_demo_conveniences():
    result = run_python(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.DEMO_ALLOWED, s.SIMPLE_JWT['SIGNING_KEY'] == s.SECRET_KEY)",
        DJANGO_SETTINGS_MODULE="secureai.settings.production",
        **{**SOUND, "ALLOWED_HOSTS": ".example.com,status.internal", "WORKER_PIPELINE": "detector.steps.validate"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "['.example.com',", "'status.internal']", "False", "False"]


def test_the_asgi_module_defaults_to_the_production_settings():
    result = run_python(
        "import secureai.asgi, os; print(os.environ['DJANGO_SETTINGS_MODULE'])",
        **{**SOUND, "SECRET_KEY": "too-short"},
    )
    assert_refused(result, "SECRET_KEY must be at least 50 characters in production.")
    result = run_python("import secureai.asgi, os; print(os.environ['DJANGO_SETTINGS_MODULE'])", **SOUND)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "secureai.settings.production"
