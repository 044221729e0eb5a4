"""Settings come from the environment and refuse nonsense loudly."""

import ipaddress
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from secureai.settings.env import env_bool, env_float, env_int, env_list, env_networks
from tests.servers import ROOT


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("off", False), ("", False)])
def test_env_bool(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is expected


def test_env_bool_refuses_other_words(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be true or false"):
        env_bool("FLAG")


def test_numbers(monkeypatch):
    monkeypatch.setenv("COUNT", "12")
    monkeypatch.setenv("RATE", "2.5")
    assert env_int("COUNT", 1) == 12 and env_float("RATE", 1.0) == 2.5
    assert env_int("UNSET_COUNT", 7) == 7
    monkeypatch.setenv("COUNT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="COUNT must be an integer"):
        env_int("COUNT", 1)


def test_env_list(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, b.example ,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_env_networks(monkeypatch):
    monkeypatch.setenv("PROXIES", "10.0.0.5, 10.1.0.0/16, ::1")
    assert env_networks("PROXIES") == [
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("::1/128"),
    ]
    monkeypatch.setenv("PROXIES", "10.0.0.5, proxy.internal")
    with pytest.raises(ImproperlyConfigured, match=r"PROXIES must list IP addresses or networks, not 'proxy\.internal"):
        env_networks("PROXIES")


def load_settings(module: str, expression: str = "settings.DEBUG", **env: str) -> subprocess.CompletedProcess:
    """Load ``module`` in a fresh process with only ``env``; print ``expression`` (repr for non-strings)."""
    base_env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": module, **env}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({expression})",
        ],
        cwd=ROOT,
        env=base_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_base_settings_need_a_secret_key():
    result = load_settings("secureai.settings.base")
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_for():
    result = load_settings("secureai.settings.base", SECRET_KEY="k")
    assert result.returncode == 0 and result.stdout.strip() == "False"


def test_secret_key_fallbacks_come_from_the_environment():
    result = load_settings(
        "secureai.settings.base", "settings.SECRET_KEY_FALLBACKS", SECRET_KEY="new", SECRET_KEY_FALLBACKS="old,older"
    )
    assert result.returncode == 0 and result.stdout.strip() == "['old', 'older']", result.stderr
