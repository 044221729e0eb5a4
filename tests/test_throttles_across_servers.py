"""Throttles count in Redis, so two server processes behind one balancer enforce one limit together."""

import pytest

from conftest import PASSWORD, access_token_for
from tests.http import csrf_pair, http_call
from tests.servers import daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server]


def test_sign_in_failures_and_creations_add_up_over_two_server_processes(owner, other_user):
    with daphne(THROTTLE_CREATE_PER_MINUTE="3") as first, daphne(THROTTLE_CREATE_PER_MINUTE="3") as second:
        for server in (first, second) * 5:
            wrong = {"username": owner.username, "password": "wrong-password"}
            answer = http_call("POST", f"{server.http_url}/api/token/", body=wrong)
            assert answer.status == 401, answer.body

        right = {"username": owner.username, "password": PASSWORD}
        refused = http_call("POST", f"{first.http_url}/api/token/", body=right)
        assert refused.status == 429 and refused.headers["Retry-After"] == "300"
        assert refused.json()["code"] == "throttled"
        csrf_cookie, csrf_field = csrf_pair()
        page = http_call(
            "POST", f"{second.http_url}/accounts/login/", cookies=csrf_cookie, form={**right, **csrf_field}
        )
        assert page.status == 429 and page.headers["Retry-After"] == "300"
        assert b"Too many attempts" in page.body
        other = {"username": other_user.username, "password": PASSWORD}
        assert http_call("POST", f"{second.http_url}/api/token/", body=other).status == 200

        token = access_token_for(owner)
        for server in (first, second, first):
            created = http_call("POST", f"{server.http_url}/api/analyses/", token=token, body={"filename": "a.mp4"})
            assert created.status == 201, created.body
        throttled = http_call("POST", f"{second.http_url}/api/analyses/", token=token, body={"filename": "b.mp4"})
        assert throttled.status == 429 and throttled.json()["code"] == "throttled"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert http_call("GET", f"{second.http_url}/api/analyses/", token=token).json()["count"] == 3
