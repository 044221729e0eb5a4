"""Sign-in throttling on the token endpoint and the sign-in form: per username and client address, in Redis."""

import ipaddress
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def obtain(username: str, password: str, address: str = "127.0.0.1", **headers: str):
    return APIClient(REMOTE_ADDR=address, headers=headers).post(
        "/api/token/", {"username": username, "password": password}, format="json"
    )


def form_sign_in(username: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def fail_api(username: str, times: int, address: str = "127.0.0.1", **headers: str) -> None:
    for _ in range(times):
        response = obtain(username, "wrong-password", address, **headers)
        assert response.status_code == 401 and response.json()["code"] == "no_active_account", response.content


def assert_api_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled" and "Too many failed sign-ins" in response.json()["detail"]
    assert response["Retry-After"] == str(settings.THROTTLE_SIGNIN_WINDOW)


def test_the_defaults():
    assert settings.THROTTLE_SIGNIN_FAILURES == 10 and settings.THROTTLE_SIGNIN_WINDOW == 300
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def test_after_ten_failures_the_token_endpoint_answers_429_even_to_the_right_password(owner, other_user):
    fail_api(owner.username, 10)

    assert_api_throttled(obtain(owner.username, PASSWORD))
    assert_api_throttled(obtain(owner.username, "wrong-password"))
    # Someone else's failures hold back nobody else: not another user at the same address,
    # not the same user at another address.
    assert obtain(other_user.username, PASSWORD).status_code == 200
    assert obtain(owner.username, PASSWORD, address="10.9.8.7").status_code == 200


def test_nine_failures_do_not_lock_and_a_success_does_not_count(owner):
    fail_api(owner.username, 9)
    assert obtain(owner.username, PASSWORD).status_code == 200
    fail_api(owner.username, 1)
    assert_api_throttled(obtain(owner.username, PASSWORD))


def test_the_sign_in_form_answers_a_429_page_after_ten_failures(owner, other_user):
    for _ in range(10):
        response = form_sign_in(owner.username, "wrong-password")
        assert response.status_code == 200 and b"alert--error" in response.content

    response = form_sign_in(owner.username, PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == "300"
    assert b"Too many attempts" in response.content and b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in response.wsgi_request.session
    assert form_sign_in(other_user.username, PASSWORD).status_code == 302


def test_failures_on_the_form_and_the_api_add_up(owner):
    for _ in range(5):
        assert form_sign_in(owner.username, "wrong-password").status_code == 200
    fail_api(owner.username, 5)
    assert form_sign_in(owner.username, PASSWORD).status_code == 429
    assert_api_throttled(obtain(owner.username, PASSWORD))


def test_the_admin_sign_in_is_throttled_too(make_user):
    make_user("root", staff=True)
    fail_api("root", 10)
    response = Client().post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 429 and response["Retry-After"] == "300"


@override_settings(THROTTLE_SIGNIN_WINDOW=1, AXES_COOLOFF_TIME=timedelta(seconds=1))
def test_the_lock_ends_when_the_window_has_passed_since_the_last_failure(owner):
    fail_api(owner.username, 10)
    assert obtain(owner.username, PASSWORD).status_code == 429
    time.sleep(1.2)
    assert obtain(owner.username, PASSWORD).status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_limit_is_a_setting(owner):
    fail_api(owner.username, 3)
    assert obtain(owner.username, PASSWORD).status_code == 429


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(owner):
    # Without trusted proxies, an attacker rotating X-Forwarded-For is still one address.
    for hop in range(10):
        fail_api(owner.username, 1, **{"X-Forwarded-For": f"203.0.113.{hop}"})
    assert_api_throttled(obtain(owner.username, PASSWORD, **{"X-Forwarded-For": "198.51.100.1"}))


@override_settings(TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32")])
def test_behind_a_trusted_proxy_each_forwarded_client_counts_alone(owner):
    fail_api(owner.username, 10, **{"X-Forwarded-For": "203.0.113.5"})

    assert_api_throttled(obtain(owner.username, PASSWORD, **{"X-Forwarded-For": "203.0.113.5"}))
    assert obtain(owner.username, PASSWORD, **{"X-Forwarded-For": "203.0.113.6"}).status_code == 200
    # A client cannot pose as another by writing the header itself: the proxy appends the real one.
    assert_api_throttled(obtain(owner.username, PASSWORD, **{"X-Forwarded-For": "203.0.113.6, 203.0.113.5"}))


def test_sign_in_goes_through_unthrottled_while_redis_is_unreachable(unreachable_cache, owner, caplog):
    started = time.monotonic()
    response = obtain(owner.username, "wrong-password")
    assert response.status_code == 401 and response.json()["code"] == "no_active_account"
    assert obtain(owner.username, PASSWORD).status_code == 200
    assert form_sign_in(owner.username, PASSWORD).status_code == 302
    assert time.monotonic() - started < 10
    assert "Redis cannot be reached" in caplog.text
