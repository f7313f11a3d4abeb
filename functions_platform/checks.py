"""System checks with stable ids for configuration a running platform depends on.

functions_platform.E001  missing or malformed FIELD_ENCRYPTION_KEY
functions_platform.E002  the encryption key cannot decrypt the stored canary (wrong key)
functions_platform.E003  the sandbox's Node.js 24 missing, of another major version, or without isolated-vm
functions_platform.E004  the Celery broker URL cannot be parsed
functions_platform.E005  SECRET_KEY is not set
functions_platform.W001  workers run apart (a broker, not eager) but the cache is per process

Celery workers and beat run these checks too, before they take any work (process_preflight,
called from functions_platform/celery.py), plus two that only a worker needs:
functions_platform.E006  the broker does not answer within WORKER_BROKER_WAIT_S
functions_platform.E007  the sandbox host cannot start and run a function (workers only)
A failing check prints its id and message and the process exits with status 1, so a
supervisor or `docker compose` shows why instead of a worker that fails every task.
"""

import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import ERROR, CheckMessage, Error, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from runtime.sandbox import Sandbox, SandboxLimits, SandboxRequest, engine_problem
from workspaces.models import EncryptionCanary

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


@register()
def secret_key_check(app_configs=None, **kwargs):
    # Django reads SECRET_KEY lazily, so without this a worker would start and only fail
    # (or sign with nothing) when a task first needs it.
    try:
        if settings.SECRET_KEY:
            return []
    except ImproperlyConfigured:  # Django's own refusal of an empty key
        pass
    return [
        Error(
            "SECRET_KEY is not set.",
            hint="Put a long random value in SECRET_KEY (`make` writes one into .env for local use).",
            id="functions_platform.E005",
        )
    ]


# --- worker and beat start-up ------------------------------------------------------------------


def broker_reachable_check(app, wait_s: float) -> list[CheckMessage]:
    """E006 unless the broker of Celery `app` answers within `wait_s` seconds (a few attempts)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=max(1.0, wait_s / 3))
            return []
        except Exception as exc:  # noqa: BLE001  (any failure to connect means "unreachable")
            if time.monotonic() >= deadline:
                return [
                    Error(
                        f"The Celery broker at {_masked(settings.CELERY_BROKER_URL)} did not answer "
                        f"within {wait_s:g} s: {exc}",
                        hint="Start the broker (Redis) or fix CELERY_BROKER_URL; "
                        "WORKER_BROKER_WAIT_S sets how long a starting process waits for it.",
                        id="functions_platform.E006",
                    )
                ]
            time.sleep(0.5)


def sandbox_start_check() -> list[CheckMessage]:
    """E007 unless a throwaway sandbox host starts and runs a one-line function."""
    probe = SandboxRequest(
        code="async function onTrack(event) { return event.event }",
        kind="destination",
        payload={"type": "track", "event": "preflight"},
        settings={},
        instance_key=None,
        timeout_ms=10000,
    )
    # Not this process's shared sandbox: a worker's pool children are forked from here and
    # must each start their own host. Two tries: one host killed from outside is not a
    # sandbox that cannot start.
    for _ in range(2):
        try:
            with Sandbox(
                node_binary=settings.NODE_BINARY or None,
                limits=SandboxLimits.from_mapping(settings.FUNCTIONS_SANDBOX_LIMITS),
            ) as box:
                result = box.run(probe)
        except Exception as exc:  # noqa: BLE001
            problem = f"{type(exc).__name__}: {exc}"
        else:
            problem = None if result.status == "success" else f"{result.error}"
        if problem is None:
            return []
    return [
        Error(
            f"The sandbox host could not start and run a function: {problem}",
            hint="Run `make node` (Node.js 24 and isolated-vm); docs/sandbox.md lists the requirements.",
            id="functions_platform.E007",
        )
    ]


def process_preflight(app, role: str) -> None:
    """Run the system checks for a starting worker or beat of Celery `app`; exit 1 on an error."""
    problems = [m for m in run_checks() if m.level >= ERROR and not m.is_silenced()]
    if not problems and not settings.CELERY_TASK_ALWAYS_EAGER:
        problems += broker_reachable_check(app, settings.WORKER_BROKER_WAIT_S)
    if not problems and role == "worker" and settings.WORKER_SANDBOX_CHECK:
        problems += sandbox_start_check()
    if problems:
        lines = [f"celery {role} refuses to start: {len(problems)} problem(s) found"]
        lines += [str(m) for m in problems]
        print("\n".join(lines), file=sys.stderr, flush=True)
        raise SystemExit(1)


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
