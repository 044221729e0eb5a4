"""Rotating SECRET_KEY: with the old key in SECRET_KEY_FALLBACKS, signed-in people stay signed in."""

import secrets

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY = secrets.token_urlsafe(50), secrets.token_urlsafe(50)


def signed_in_client(user) -> Client:
    with override_settings(SECRET_KEY=OLD_KEY):
        client = Client()
        client.force_login(user)
    return client


def test_a_new_key_with_the_old_one_as_fallback_keeps_sessions(owner):
    client = signed_in_client(owner)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        assert client.get("/live/").status_code == 200


def test_a_new_key_alone_signs_everyone_out_of_the_pages(owner):
    client = signed_in_client(owner)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        response = client.get("/live/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
