"""Django's connection pool: on for PostgreSQL, sized from the environment, off on request or SQLite."""

import ast

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client

from secureai.settings.database import RECONNECT_TIMEOUT, database_pool_options
from secureai.tests.test_settings import load_settings

POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
OPTIONS = "settings.DATABASES['default']['OPTIONS']"


def database_options(**env: str) -> dict:
    result = load_settings("secureai.settings.base", OPTIONS, SECRET_KEY="k", **env)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def test_postgresql_gets_the_pool_with_the_default_sizes():
    assert database_options(DATABASE_URL=POSTGRES)["pool"] == {
        "min_size": 2,
        "max_size": 20,
        "timeout": 5.0,
        "reconnect_timeout": RECONNECT_TIMEOUT,
    }


def test_pool_sizes_come_from_the_environment():
    options = database_options(
        DATABASE_URL=POSTGRES, DATABASE_POOL_MIN_SIZE="0", DATABASE_POOL_MAX_SIZE="5", DATABASE_POOL_TIMEOUT="2.5"
    )
    assert options["pool"] == {"min_size": 0, "max_size": 5, "timeout": 2.5, "reconnect_timeout": RECONNECT_TIMEOUT}


def test_the_pool_can_be_turned_off():
    assert "pool" not in database_options(DATABASE_URL=POSTGRES, DATABASE_POOL="false")


def test_sqlite_is_unchanged():
    options = database_options(DATABASE_URL="sqlite:////tmp/secureai-pool-test.sqlite3")
    assert "pool" not in options and options["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"min_size": 5, "max_size": 2, "timeout": 10.0, "conn_max_age": 0}, "DATABASE_POOL_MIN_SIZE <= "),
        ({"min_size": 0, "max_size": 0, "timeout": 10.0, "conn_max_age": 0}, "a max of at least 1"),
        ({"min_size": -1, "max_size": 2, "timeout": 10.0, "conn_max_age": 0}, "0 <= DATABASE_POOL_MIN_SIZE"),
        (
            {"min_size": 2, "max_size": 20, "timeout": 0.0, "conn_max_age": 0},
            "DATABASE_POOL_TIMEOUT must be a positive",
        ),
        ({"min_size": 2, "max_size": 20, "timeout": 10.0, "conn_max_age": 60}, "cannot be combined with the pool"),
    ],
)
def test_nonsensical_pool_settings_are_refused(sizes, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_pool_options(**sizes)


def test_settings_refuse_persistent_connections_beside_the_pool():
    result = load_settings("secureai.settings.base", SECRET_KEY="k", DATABASE_URL=POSTGRES, DATABASE_CONN_MAX_AGE="60")
    assert result.returncode != 0 and "cannot be combined with the pool" in result.stderr
    without_pool = database_options(DATABASE_URL=POSTGRES, DATABASE_CONN_MAX_AGE="60", DATABASE_POOL="false")
    assert "pool" not in without_pool


def test_settings_refuse_a_bad_pool_size_at_start():
    result = load_settings("secureai.settings.base", SECRET_KEY="k", DATABASE_URL=POSTGRES, DATABASE_POOL_MAX_SIZE="x")
    assert result.returncode != 0 and "DATABASE_POOL_MAX_SIZE must be an integer" in result.stderr


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's; this run uses SQLite")
@pytest.mark.django_db(transaction=True)
def test_requests_borrow_and_return_pooled_connections():
    pool = connection.pool
    assert pool is not None
    for _ in range(3):
        assert Client().get("/readyz").status_code == 200
    connection.close()
    stats = pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"] >= 1  # every connection went back to the pool
