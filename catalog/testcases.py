"""Saved test cases: writes (create, update, delete) and runs (one case, all of a function's,
and the check Save & Deploy makes first). A run is one sandbox call in a fresh isolate, as the
editor's Run; its expectation is checked by catalog.testcase_checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from runtime.sandbox import SandboxUnavailable
from workspaces import permissions
from workspaces.choices import AuditAction
from workspaces.services import audit_record

from .choices import ResourceType
from .models import Function, TestCase, TestCaseSecret
from .services import function_test_run, named_save
from .testcase_checks import expectation_check, expectation_validate, io_diff

MAX_CASES = 50  # per function: Save & Deploy runs them all, one after the other
MAX_PAYLOAD_BYTES = 256 * 1024
SOURCE_KEYS = {"method", "headers", "query", "body", "url"}
DUPLICATE = "A test case named {name!r} already exists for this function."


def _payload_validate(resource_type: str, payload) -> None:
    if len(json.dumps(payload)) > MAX_PAYLOAD_BYTES:
        raise ValidationError({"payload": f"At most {MAX_PAYLOAD_BYTES // 1024} KiB."})
    if resource_type == ResourceType.SOURCE:
        if not isinstance(payload, dict) or set(payload) - SOURCE_KEYS:
            raise ValidationError({"payload": "A webhook request: {method, headers, query, body}."})
        for key in ("headers", "query"):
            if not isinstance(payload.get(key, {}), dict):
                raise ValidationError({"payload": f"{key} must be an object."})
    elif not isinstance(payload, dict | list):
        raise ValidationError({"payload": "An event object, or a list of events for onBatch."})


def _split_values(function: Function, values) -> tuple[dict, dict]:
    """Plain values and encrypted ones (by the function's schema): the latter never go to
    TestCase.setting_values."""
    if not isinstance(values, dict):
        raise ValidationError({"settings": "An object of setting values."})
    secret_names = set(function.setting_defs.filter(sensitive=True).values_list("name", flat=True))
    plain = {k: v for k, v in values.items() if k not in secret_names}
    secret = {k: v for k, v in values.items() if k in secret_names and v not in ("", None)}
    return plain, secret


def _clean_and_save(case: TestCase) -> None:
    case.name = (case.name or "").strip()
    siblings = TestCase.objects.filter(function_id=case.function_id)
    named_save(case, siblings=siblings, field="name", message=DUPLICATE)


def _secret_merge(case: TestCase, user, secret: dict, cleared: set[str]) -> None:
    row, _ = TestCaseSecret.objects.get_or_create(test_case=case, user=user)
    kept = json.loads(row.encrypted_settings or "{}")
    kept = {k: v for k, v in {**kept, **secret}.items() if k not in cleared}
    row.encrypted_settings = json.dumps(kept)
    row.save(update_fields=["encrypted_settings"])


@transaction.atomic
def testcase_create(
    *, function: Function, name: str, payload, setting_values=None, expectation=None, user=None
) -> TestCase:
    """Save a named input (and optional expectation) with a function.

    Encrypted settings' values are kept encrypted and only for `user`. Raises ValidationError
    for a bad payload or expectation, a duplicate name, or more than MAX_CASES cases.
    """
    if function.test_cases.count() >= MAX_CASES:
        raise ValidationError({"name": f"A function keeps at most {MAX_CASES} test cases."})
    _payload_validate(function.resource_type, payload)
    plain, secret = _split_values(function, setting_values or {})
    case = TestCase(
        function=function,
        name=name,
        payload=payload,
        setting_values=plain,
        expectation=expectation_validate(expectation or {}, function.resource_type),
        created_by=user if getattr(user, "pk", None) else None,
    )
    _clean_and_save(case)
    if secret and getattr(user, "pk", None):
        _secret_merge(case, user, secret, set())
    return case


@transaction.atomic
def testcase_update(
    *, test_case: TestCase, user, name=None, payload=None, setting_values=None, expectation=None
) -> TestCase:
    """Change the given fields of a test case. In `setting_values`, an encrypted setting left
    empty keeps `user`'s stored value and null clears it; other users' values are untouched."""
    case = TestCase.objects.select_for_update().get(pk=test_case.pk)
    if name is not None:
        case.name = name
    if payload is not None:
        _payload_validate(case.function.resource_type, payload)
        case.payload = payload
    if expectation is not None:
        case.expectation = expectation_validate(expectation, case.function.resource_type)
    if setting_values is not None:
        plain, secret = _split_values(case.function, setting_values)
        case.setting_values = plain
        secret_names = set(case.function.setting_defs.filter(sensitive=True).values_list("name", flat=True))
        cleared = {k for k, v in setting_values.items() if v is None and k in secret_names}
        if getattr(user, "pk", None) and (secret or cleared):
            _secret_merge(case, user, secret, cleared)
    _clean_and_save(case)
    return case


@transaction.atomic
def testcase_delete(*, test_case: TestCase) -> None:
    """Delete a test case and every user's encrypted values for it."""
    test_case.delete()


# --- runs --------------------------------------------------------------------------------------


@dataclass
class CaseOutcome:
    """One case's run: passed or not, why not, the sandbox result and the input-vs-output diff."""

    case: TestCase
    passed: bool
    failures: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    diff: list[dict] | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.case.public_id,
            "name": self.case.name,
            "passed": self.passed,
            "failures": self.failures,
            "result": self.result,
            "diff": self.diff,
        }


def secret_values(case: TestCase, user) -> dict:
    """`user`'s encrypted setting values for `case` (decrypted: only for a sandbox call)."""
    if not getattr(user, "pk", None):
        return {}
    row = TestCaseSecret.objects.filter(test_case=case, user=user).first()
    return json.loads(row.encrypted_settings or "{}") if row else {}


def secret_names_set(case: TestCase, user) -> list[str]:
    """Names of the encrypted settings `user` has a value for (never the values)."""
    return sorted(secret_values(case, user))


def _missing(schema: list[dict], values: dict) -> list[str]:
    empty = (None, "", [], {})
    return [
        f"{s.get('label') or s['name']} is required"
        for s in schema
        if s.get("required") and s.get("type") != "BOOLEAN" and values.get(s["name"]) in empty
    ]


def _sandbox(function: Function, code: str, payload, values: dict) -> dict:
    if function.resource_type == ResourceType.SOURCE:  # the request envelope, as the test pane sends it
        payload = {
            "method": str(payload.get("method") or "POST").upper(),
            "headers": payload.get("headers") or {"Content-Type": "application/json"},
            "query": payload.get("query") or {},
            "body": payload.get("body", {}),
            **({"url": payload["url"]} if payload.get("url") else {}),
        }
    try:
        result = function_test_run(
            code=code,
            resource_type=function.resource_type,
            payload=payload,
            settings=values,
            timeout_ms=function.timeout_ms,
        )
        return result.to_dict()
    except SandboxUnavailable as exc:
        return {"status": "error", "error": {"type": "SandboxUnavailable", "message": str(exc), "stack": ""}}


def testcase_run(*, test_case: TestCase, user, code: str | None = None, schema=None) -> CaseOutcome:
    """Run one case with `code` (default: the saved code) and check its expectation. `schema`
    (default: the saved one) says which settings exist and which are required."""
    function = test_case.function
    schema = schema if schema is not None else [d.as_schema() for d in function.setting_defs.all()]
    declared = {s["name"] for s in schema}
    values = {
        k: v
        for k, v in {**test_case.setting_values, **secret_values(test_case, user)}.items()
        if k in declared
    }
    missing = _missing(schema, values)
    if missing:
        error = {"type": "", "message": "; ".join(missing), "stack": ""}
        return CaseOutcome(test_case, False, missing, {"status": "error", "error": error})
    result = _sandbox(function, code if code is not None else function.code, test_case.payload, values)
    failures = expectation_check(test_case.expectation, result)
    return CaseOutcome(
        test_case,
        not failures,
        failures,
        result,
        io_diff(function.resource_type, test_case.payload, result),
    )


def testcases_run(*, function: Function, user, code: str | None = None, schema=None) -> list[CaseOutcome]:
    """Run every test case of `function` (Run all; Save & Deploy's check), in name order."""
    cases = list(function.test_cases.select_related("function"))
    return [testcase_run(test_case=case, user=user, code=code, schema=schema) for case in cases]


# --- the check every deploy makes first ---------------------------------------------------------


class TestCasesFailed(ValidationError):
    """Raised by deploy_gate: the deploy is refused because saved test cases failed.

    `failed` holds the failed CaseOutcomes, `total` how many cases ran and `may_override`
    whether the user could have deployed anyway (a Workspace Owner)."""

    def __init__(self, failed: list[CaseOutcome], total: int, may_override: bool):
        self.failed, self.total, self.may_override = failed, total, may_override
        reasons = "; ".join(f"“{o.case.name}”: {o.failures[0]}" for o in failed[:5])
        more = " Workspace Owners may deploy anyway (audited)." if may_override else ""
        super().__init__(
            f"Not deployed: {len(failed)} of {total} test cases failed. {reasons}.{more}",
            code="tests_failed",
        )


def deploy_gate(
    *, function: Function, user, code: str, schema=None, override: bool = False
) -> list[CaseOutcome]:
    """Run the function's saved test cases against the code about to be deployed (the admin's
    Save & Deploy and the API's deploy both call this before anything is written).

    Returns [] when every case passed, or the failed outcomes when a Workspace Owner asked to
    `override` (the caller audits them with deploy_override_audit once deployed). Raises
    TestCasesFailed otherwise.
    """
    outcomes = testcases_run(function=function, user=user, code=code, schema=schema)
    failed = [o for o in outcomes if not o.passed]
    if not failed:
        return []
    may_override = permissions.is_owner(user, function.workspace)
    if may_override and override:
        return failed
    raise TestCasesFailed(failed, len(outcomes), may_override)


def deploy_override_audit(
    *, function: Function, user, version, overridden: list[CaseOutcome], mode: str = ""
) -> None:
    """Audit a deploy a Workspace Owner made although test cases failed (nothing when none did)."""
    if not overridden:
        return
    audit_record(
        workspace=function.workspace,
        actor=user,
        action=AuditAction.DEPLOYED,
        obj=function,
        version_id=version.public_id,
        data={
            "testCasesFailed": [{"name": o.case.name, "failures": o.failures} for o in overridden],
            **({"mode": mode} if mode else {}),
        },
    )


# Their names start with "test": never collected as tests where a test module imports them.
for _service in (
    testcase_create,
    testcase_update,
    testcase_delete,
    testcase_run,
    testcases_run,
    TestCasesFailed,
):
    _service.__test__ = False
