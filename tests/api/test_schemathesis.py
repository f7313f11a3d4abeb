"""Fuzz every API operation from the live OpenAPI schema (in-process WSGI, bounded examples).

Every schemathesis check but one (see EXCLUDED), on valid and invalid data: no 5xx; documented
statuses, content types, headers and response bodies; invalid requests (negative data: a wrong
type, a value past a declared bound, a missing field, an unknown key) refused with a 4xx; calls
with a missing or wrong token refused. So the schema declares every constraint the API enforces.
"""

import pytest
import schemathesis
from django.core.signals import request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks

from workspaces.services import access_token_create

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = 8  # per operation and generation mode; derandomized, so the same run every time
# Every check schemathesis registers but one: positive_data_acceptance expects every
# schema-valid request to succeed, and some rules cannot be stated in OpenAPI: an instance's
# setting names come from its function's settings schema, code must compile, ids must exist.
# Those answers are 422/404 and are checked against the documented statuses like all others.
EXCLUDED = [checks.positive_data_acceptance]


@pytest.fixture
def fuzz_token(owner, workspace, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.AUTH_FAILURE_LIMIT = 1_000_000  # ignored_auth sends a wrong token on every call
    return access_token_create(workspace=workspace, user=owner, name="fuzz")[1]


@pytest.fixture
def real_ids(function, instance, source, second_function):
    """Ids of existing objects, swapped into half the generated paths so they reach real rows."""
    return {
        "functionId": function.public_id,
        "versionId": function.latest_version.public_id,
        "instanceId": instance.public_id,
        "sourceId": source.public_id,
    }


@pytest.fixture
def api_schema(db):
    # As Django's test client does: a WSGI request must not close the test's transaction.
    request_started.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)


def test_schema_lists_every_endpoint(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert "POST /api/functions/{functionId}/deploy" in labels
    assert "GET /api/insert-function-instances" in labels
    assert len(labels) >= 25


def test_fuzz_every_operation(api_schema, fuzz_token, real_ids):
    headers = {"Authorization": f"Bearer {fuzz_token}"}
    failures, calls = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:
            try:
                fuzz(operation, mode, headers, real_ids, calls)
            # Collect every operation's failures before reporting (several come as a group).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    # Some generated calls must have reached existing rows, not only 404s.
    assert any(status == 200 and "{" in label for label, status in calls)


def fuzz(operation, mode, headers, real_ids, calls):
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(case=operation.as_strategy(mode), use_real_ids=st.booleans())
    def run(case, use_real_ids):
        if use_real_ids and case.path_parameters:
            case.path_parameters = {
                name: real_ids.get(name, value) for name, value in case.path_parameters.items()
            }
        # A negative case may leave the token out on purpose (then the call must be refused).
        removed = mode == GenerationMode.NEGATIVE and "Authorization" not in (case.headers or {})
        response = case.call_and_validate(headers=None if removed else headers, excluded_checks=EXCLUDED)
        calls.append((case.operation.label, response.status_code))

    run()
