"""Django's own PostgreSQL connection pool, sized from the environment and refused when nonsensical."""

from django.core.exceptions import ImproperlyConfigured

# While PostgreSQL is away the pool retries with a doubling delay, for this long, and then gives
# up until the next request asks again (starting over at 1 s). psycopg_pool's default, 5 minutes,
# lets the delay grow past a minute: a database back after a long outage would sit unused that
# long. This bounds the wait to a few seconds.
RECONNECT_TIMEOUT = 5.0


def database_pool_options(*, min_size: int, max_size: int, timeout: float, conn_max_age: int) -> dict:
    """The ``OPTIONS["pool"]`` of a PostgreSQL database (psycopg_pool.ConnectionPool arguments).

    Each process keeps its own pool: ``max_size`` times the number of server and worker processes
    must stay under PostgreSQL's ``max_connections``. ``timeout`` is how long a request waits for
    a connection: a process runs its database work on a few threads, so it rarely waits for a free
    one; it waits this long when PostgreSQL cannot be reached, before failing.
    """
    if conn_max_age:
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE keeps a connection per thread and cannot be combined with the pool; "
            "unset it, or turn the pool off with DATABASE_POOL=false."
        )
    if not 0 <= min_size <= max_size or max_size < 1:
        raise ImproperlyConfigured(
            f"The pool needs 0 <= DATABASE_POOL_MIN_SIZE <= DATABASE_POOL_MAX_SIZE and a max of at least 1, "
            f"not {min_size} and {max_size}."
        )
    if timeout <= 0:
        raise ImproperlyConfigured(f"DATABASE_POOL_TIMEOUT must be a positive number of seconds, not {timeout}.")
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout, "reconnect_timeout": RECONNECT_TIMEOUT}
