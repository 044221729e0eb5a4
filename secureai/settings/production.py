"""Settings for a deployment behind TLS: every secret and host from the environment, and no unsafe value.

It refuses to start (ImproperlyConfigured, naming each setting at fault) with DEBUG on, no
ALLOWED_HOSTS or a ``*`` among them, a SECRET_KEY or JWT_SIGNING_KEY shorter than
MIN_KEY_LENGTH, the two keys equal, or the worker's demonstration detector.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_str

#: Django's own deployment check asks the same of SECRET_KEY.
MIN_KEY_LENGTH = 50
#: The worker's demonstration detector: its name in WORKER_PIPELINE, and the module of its steps.
DEMO_PIPELINE_NAME = "demo"
DEMO_DETECTOR_MODULE = "analyses.worker.demo_detector"


def _refusals(
    *, debug: bool, allowed_hosts: list[str], secret_key: str, jwt_signing_key: str, pipeline: list[str]
) -> list[str]:
    """One sentence for each unsafe value; none when the deployment may start."""
    refusals = []
    if debug:
        refusals.append("DEBUG must be off in production.")
    if not allowed_hosts:
        refusals.append("ALLOWED_HOSTS must be set in production.")
    if any("*" in host for host in allowed_hosts):
        refusals.append(
            "ALLOWED_HOSTS must not contain '*' in production: name the hosts "
            "(a leading dot, as in .example.com, matches a domain and its subdomains)."
        )
    if len(secret_key) < MIN_KEY_LENGTH:
        refusals.append(f"SECRET_KEY must be at least {MIN_KEY_LENGTH} characters in production.")
    if len(jwt_signing_key) < MIN_KEY_LENGTH:
        refusals.append(
            f"JWT_SIGNING_KEY must be set to at least {MIN_KEY_LENGTH} characters in production "
            "(a key of its own, so the two can be rotated apart)."
        )
    elif jwt_signing_key == secret_key:
        refusals.append("JWT_SIGNING_KEY must differ from SECRET_KEY in production.")
    if any(step == DEMO_PIPELINE_NAME or step.startswith(DEMO_DETECTOR_MODULE) for step in pipeline):
        refusals.append(
            "WORKER_PIPELINE must name your detector's steps in production, not the demonstration detector."
        )
    return refusals


_refused = _refusals(
    debug=DEBUG,  # noqa: F405
    allowed_hosts=ALLOWED_HOSTS if env_str("ALLOWED_HOSTS") else [],  # noqa: F405
    secret_key=SECRET_KEY,  # noqa: F405
    jwt_signing_key=env_str("JWT_SIGNING_KEY") or "",
    pipeline=WORKER["PIPELINE"],  # noqa: F405
)
if _refused:
    raise ImproperlyConfigured("Refusing to start: " + " ".join(_refused))

DEMO_ALLOWED = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# The load balancer's health checks reach each server over plain HTTP on loopback; a redirect
# would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"  # noqa: F405  (filled by collectstatic)
