"""Brute force: failed authentication is throttled per client address (API tokens, write keys,
webhook tokens, the admin login) with 429 and Retry-After; counts live in the shared cache, so
they hold across processes, and a success costs no cache call."""

import base64
import json
import os
import subprocess
import sys
import uuid
from types import SimpleNamespace
from unittest import mock

import pytest
from django.urls import reverse

from functions_platform import throttle
from functions_platform.api import throttling
from functions_platform.api.throttling import TokenRateThrottle
from tests.factories import FunctionFactory, InstanceFactory, SourceFactory
from workspaces.services import access_token_create

LIMIT = 3


@pytest.fixture
def limits(settings):
    settings.AUTH_FAILURE_LIMIT = LIMIT
    settings.AUTH_FAILURE_WINDOW_S = 60
    settings.AUTH_LOCKOUT_S = 30
    throttle.forget()
    yield settings
    throttle.forget()


@pytest.fixture
def address():
    """An address of its own per test, so counts never leak between tests."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def bearer(secret, address):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}", "REMOTE_ADDR": address}


def test_bad_api_tokens_end_in_429_for_that_address_only(client, limits, owner, workspace, address):
    _, good = access_token_create(workspace=workspace, user=owner, name="good")
    for _ in range(LIMIT):
        assert client.get("/api/functions", **bearer("sgp_wrongwrongwrong", address)).status_code == 401
    refused = client.get("/api/functions", **bearer("sgp_wrongwrongwrong", address))
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    # Refused means refused: a right guess from that address learns nothing.
    assert client.get("/api/functions", **bearer(good, address)).status_code == 429
    assert client.get("/api/functions", **bearer(good, "192.0.2.200")).status_code == 200


def test_the_refusal_ends_after_the_lockout(client, limits, owner, workspace, address):
    _, good = access_token_create(workspace=workspace, user=owner, name="good")
    for _ in range(LIMIT + 1):
        client.get("/api/functions", **bearer("sgp_wrongwrongwrong", address))
    assert client.get("/api/functions", **bearer(good, address)).status_code == 429
    later = throttle.time.time() + 31
    with mock.patch.object(throttle.time, "time", return_value=later):
        assert client.get("/api/functions", **bearer(good, address)).status_code == 200


def test_requests_without_credentials_are_not_counted(client, limits, address):
    for _ in range(LIMIT * 3):
        assert client.get("/api/functions", REMOTE_ADDR=address).status_code == 401
        assert (
            client.post("/v1/track", "{}", content_type="application/json", REMOTE_ADDR=address).status_code
            == 401
        )


def track(write_key, address, client):
    body = {"type": "track", "event": "E", "userId": "u"}
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    return client.post(
        "/v1/track",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
        REMOTE_ADDR=address,
    )


def test_bad_write_keys_end_in_429(client, limits, workspace, address):
    source = SourceFactory(workspace=workspace)
    for _ in range(LIMIT):
        assert track("not-a-key", address, client).status_code == 401
    refused = track("not-a-key", address, client)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "rate_limited"
    assert track(source.write_key, address, client).status_code == 429
    assert track(source.write_key, "192.0.2.201", client).status_code == 200


def test_bad_webhook_tokens_end_in_429_but_a_disabled_source_is_not_a_guess(
    client, limits, workspace, address
):
    hook = InstanceFactory(
        function=FunctionFactory(workspace=workspace, resource_type="SOURCE"), enabled=False
    )
    hook.source.enabled = False
    hook.source.save()
    for _ in range(LIMIT * 2):  # a sender retrying into a disabled source is not guessing
        assert (
            client.post(
                f"/hooks/{hook.source.webhook_token}",
                "{}",
                content_type="application/json",
                REMOTE_ADDR=address,
            ).status_code
            == 404
        )
    for _ in range(LIMIT):
        assert (
            client.post(
                "/hooks/guessed-token", "{}", content_type="application/json", REMOTE_ADDR=address
            ).status_code
            == 404
        )
    refused = client.post("/hooks/guessed-token", "{}", content_type="application/json", REMOTE_ADDR=address)
    assert refused.status_code == 429 and refused.has_header("Retry-After")


def test_bad_test_webhook_tokens_end_in_429(client, db, limits, address):
    for _ in range(LIMIT):
        assert (
            client.post(
                "/hooks/test/guessed", "{}", content_type="application/json", REMOTE_ADDR=address
            ).status_code
            == 404
        )
    refused = client.post("/hooks/test/guessed", "{}", content_type="application/json", REMOTE_ADDR=address)
    assert refused.status_code == 429 and refused.has_header("Retry-After")


def test_success_costs_no_cache_call(client, limits, owner, workspace, address):
    source = SourceFactory(workspace=workspace)
    _, good = access_token_create(workspace=workspace, user=owner, name="good")
    with mock.patch.object(throttle, "cache") as shared:
        assert track(source.write_key, address, client).status_code == 200
        assert client.get("/api/functions", **bearer(good, address)).status_code == 200
    assert shared.method_calls == []


def test_behind_a_trusted_proxy_the_forwarded_address_counts(settings):
    request = SimpleNamespace(
        META={"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}
    )
    settings.TRUSTED_PROXY_COUNT = 0
    assert throttle.client_address(request) == "10.0.0.1"  # a client can forge the header
    settings.TRUSTED_PROXY_COUNT = 1
    assert throttle.client_address(request) == "203.0.113.9"  # what our proxy saw


# --- admin login (django-axes) ----------------------------------------------------------------


def login(client, username, password, address):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_admin_login_locks_the_address_out(client, settings, owner, address):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert login(client, "owner", "wrong", address).status_code == 200
    locked = login(client, "owner", "wrong", address)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "Too many failed logins" in locked.content.decode()
    # The right password does not get through the lockout either.
    assert login(client, "owner", "pw-for-tests-1", address).status_code == 429
    assert "_auth_user_id" not in client.session
    assert login(client, "owner", "pw-for-tests-1", "192.0.2.202").status_code == 302


def test_a_successful_login_clears_the_failures(client, settings, owner, address):
    settings.AXES_FAILURE_LIMIT = 3
    login(client, "owner", "wrong", address)
    login(client, "owner", "wrong", address)
    assert login(client, "owner", "pw-for-tests-1", address).status_code == 302
    client.logout()
    for _ in range(2):
        assert login(client, "owner", "wrong", address).status_code == 200


# --- shared across processes --------------------------------------------------------------------

CHILD = """
import json, sys
import django
django.setup()
from types import SimpleNamespace
from django.test.utils import override_settings
from functions_platform import throttle
from functions_platform.api import throttling
from functions_platform.api.throttling import TokenRateThrottle
args = json.loads(sys.argv[1])
# Both processes count in the same time window, whatever the clock says meanwhile.
throttle.time.time = throttling.clock = lambda: args["now"]
with override_settings(CACHES=args["caches"], AUTH_FAILURE_LIMIT=args["limit"]):
    request = SimpleNamespace(META={"REMOTE_ADDR": args["address"]})
    for _ in range(args["failures"]):
        try:
            throttle.failure(request)
        except throttle.Throttled:
            pass
    token = SimpleNamespace(prefix="sgp_shared", pk=args["token_pk"])
    for _ in range(args["calls"]):
        TokenRateThrottle().allow_request(SimpleNamespace(auth=token), None)
"""


@pytest.fixture
def redis_cache(settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is required")
        pytest.skip("needs Redis (REDIS_URL)")
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    settings.CACHES = caches
    return caches


def test_counts_hold_across_processes(redis_cache, limits, address):
    """Another process's failures and calls count here: the throttle and the per-token rate limit
    both count in the shared cache (Redis in production)."""
    now = throttle.time.time()
    args = {
        "now": now,
        "caches": redis_cache,
        "limit": LIMIT,
        "address": address,
        "failures": LIMIT,
        "token_pk": 7,
        "calls": 5,
    }
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "functions_platform.settings_test"}
    subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], check=True, env=env, timeout=60)

    frozen = [
        mock.patch.object(throttle.time, "time", return_value=now),
        mock.patch.object(throttling, "clock", return_value=now),
    ]
    with frozen[0], frozen[1]:
        with pytest.raises(throttle.Throttled):  # this process's first failure is over the limit
            throttle.failure(SimpleNamespace(META={"REMOTE_ADDR": address}))
        request = SimpleNamespace(auth=SimpleNamespace(prefix="sgp_shared", pk=7))
        TokenRateThrottle().allow_request(request, None)
    assert request.rate_limit["consumed"] == 6
