"""System checks with stable ids for configuration a running platform depends on.

functions_platform.E001  missing or malformed FIELD_ENCRYPTION_KEY
functions_platform.E002  the encryption key cannot decrypt the stored canary (wrong key)
functions_platform.E003  the sandbox's Node.js 24 missing, of another major version, or without isolated-vm
functions_platform.E004  the Celery broker URL cannot be parsed
functions_platform.W001  workers run apart (a broker, not eager) but the cache is per process
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from runtime.sandbox import engine_problem

BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp", "memory", "sqs", "sentinel"}


@register()
def encryption_key_check(app_configs=None, **kwargs):
    problem = settings.FIELD_ENCRYPTION_KEY_PROBLEM
    if problem:
        return [
            Error(
                problem,
                hint="Generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`; list older keys after it to rotate.",
                id="functions_platform.E001",
            )
        ]
    return []


@register()
def encryption_canary_check(app_configs=None, **kwargs):
    # django-encrypted-model-fields returns the ciphertext itself when the key is wrong, so a
    # known value is decrypted at start-up to catch a swapped key before secrets are rewritten.
    if settings.FIELD_ENCRYPTION_KEY_PROBLEM:
        return []
    from workspaces.models import EncryptionCanary

    try:
        canary = EncryptionCanary.objects.first()
    except DatabaseError:
        return []  # not migrated yet: nothing stored, nothing to check
    if canary is None or canary.value == EncryptionCanary.PLAINTEXT:
        return []
    return [
        Error(
            "FIELD_ENCRYPTION_KEY cannot decrypt the stored encryption canary: stored secrets "
            "would be unreadable and re-encrypted garbage on save.",
            hint="Put the key the data was encrypted with in FIELD_ENCRYPTION_KEY "
            "(a new key first, the old one after it, to rotate).",
            id="functions_platform.E002",
        )
    ]


@register()
def node_check(app_configs=None, **kwargs):
    problem = engine_problem(settings.NODE_BINARY or None)
    if problem:
        return [
            Error(
                f"{problem}; functions cannot be validated or executed.",
                hint="`make node` installs the pinned Node.js 24 (runtime/node/engine) and builds "
                "isolated-vm against it; NODE_BINARY may point at another Node.js 24.x.",
                id="functions_platform.E003",
            )
        ]
    return []


@register()
def broker_url_check(app_configs=None, **kwargs):
    url = settings.CELERY_BROKER_URL
    if not url:
        return []
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        return [_broker_error(f"cannot be parsed: {exc}")]
    scheme = parts.scheme.split("+")[0]
    if scheme not in BROKER_SCHEMES:
        return [_broker_error(f"has an unsupported scheme {parts.scheme!r}")]
    if scheme in {"redis", "rediss", "amqp", "amqps", "pyamqp"} and not parts.hostname:
        return [_broker_error("has no host")]
    return []


def _broker_error(what: str) -> Error:
    return Error(
        f"CELERY_BROKER_URL {what}.",
        hint="Use a URL such as redis://127.0.0.1:6379/0.",
        id="functions_platform.E004",
    )


@register()
def shared_cache_check(app_configs=None, **kwargs):
    # Rate limits and failed-authentication counts live in the cache: a per-process cache
    # lets every web process grant the full limit on its own.
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.CELERY_TASK_ALWAYS_EAGER or not backend.endswith(("LocMemCache", "DummyCache")):
        return []
    return [
        Warning(
            "The cache is local to each process while the platform runs with a broker.",
            hint="Set REDIS_URL (or CACHE_URL) so rate limits hold across processes.",
            id="functions_platform.W001",
        )
    ]
