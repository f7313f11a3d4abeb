"""Test settings: the real settings with fast hashing, eager Celery and loopback egress allowed.

Integration tests switch Celery to the real broker themselves (tests/integration)."""

from .settings import *  # noqa: F403
from .settings import STORAGES, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# Tests post to local HTTP servers standing in for third-party APIs.
FUNCTIONS_EGRESS_ALLOW = env("FUNCTIONS_EGRESS_ALLOW", default="127.0.0.1")
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# WhiteNoise indexes every static file (the editor's Monaco tree: thousands) when its middleware
# is built, and the test client builds the middleware chain for every test: ~0.4 s each.
# Autorefresh looks files up per request instead, through the same finders.
WHITENOISE_AUTOREFRESH = True
