"""Revoking refresh tokens over HTTP: the blacklist endpoint, every way of changing a password, a deleted user."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-horse-battery-staple"


def sign_in(username: str, password: str = PASSWORD) -> dict:
    response = APIClient().post("/api/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post("/api/token/refresh/", {"refresh": token}, format="json")


def assert_refused(response, code: str = "token_not_valid") -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code and response.json()["detail"]


def test_a_blacklisted_refresh_token_can_no_longer_be_refreshed_or_blacklisted(owner):
    pair = sign_in(owner.username)
    assert refresh(pair["refresh"]).status_code == 200

    response = APIClient().post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200 and response.json() == {}
    assert_refused(refresh(pair["refresh"]))
    assert_refused(APIClient().post("/api/token/blacklist/", {"refresh": pair["refresh"]}, format="json"))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"refresh": "not-a-token"}, 401, "token_not_valid"),
        ({"refresh": 7}, 401, "token_not_valid"),
    ],
)
def test_the_blacklist_endpoint_refuses_what_is_not_a_refresh_token(owner, body, status, code):
    pair = sign_in(owner.username)
    for refused in (body, {"refresh": pair["access"]}) if status == 401 else (body,):
        response = APIClient().post("/api/token/blacklist/", refused, format="json")
        assert response.status_code == status and response.json()["code"] == code, response.content
    assert not BlacklistedToken.objects.exists()


def change_with_set_password(user: User, admin: Client) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def change_in_the_admin_user_form(user: User, admin: Client) -> None:
    response = admin.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302 and response["Location"] == f"/admin/auth/user/{user.pk}/change/"


def disable_in_the_admin_user_form(user: User, admin: Client) -> None:
    response = admin.post(f"/admin/auth/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"})
    assert response.status_code == 302 and response["Location"] == f"/admin/auth/user/{user.pk}/change/"


def change_own_with_the_password_change_view(user: User, admin: Client) -> None:
    client = Client()
    client.force_login(user)
    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


@pytest.mark.parametrize(
    "change_password",
    [
        change_with_set_password,
        change_in_the_admin_user_form,
        disable_in_the_admin_user_form,
        change_own_with_the_password_change_view,
    ],
)
def test_a_password_change_revokes_every_refresh_token_of_that_user_only(
    make_user, change_password: Callable[[User, Client], None]
):
    user = make_user("carol", staff=True)  # staff, so the admin's own password change page opens for her
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    admin = Client()
    admin.force_login(root)
    before = [sign_in("carol")["refresh"], sign_in("carol")["refresh"]]
    bystander = sign_in("root")["refresh"]

    change_password(User.objects.get(pk=user.pk), admin)

    for token in before:
        assert_refused(refresh(token))
    assert refresh(bystander).status_code == 200
    if change_password is not disable_in_the_admin_user_form:
        assert refresh(sign_in("carol", NEW_PASSWORD)["refresh"]).status_code == 200


def test_saving_a_user_without_a_new_password_keeps_the_tokens(owner):
    pair = sign_in(owner.username)
    owner.first_name = "Alice"
    owner.save()
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    Client().force_login(owner)  # updates last_login

    assert refresh(pair["refresh"]).status_code == 200
    assert not BlacklistedToken.objects.exists()


def test_a_refresh_token_of_a_deleted_user_gets_401_not_500(owner):
    pair = sign_in(owner.username)
    owner.delete()

    response = APIClient(raise_request_exception=False).post(
        "/api/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )

    assert_refused(response, code="no_active_account")
    assert OutstandingToken.objects.get().user is None


def test_a_refresh_token_of_a_deactivated_user_gets_401(owner):
    pair = sign_in(owner.username)
    owner.is_active = False
    owner.save()

    assert_refused(refresh(pair["refresh"]), code="no_active_account")
