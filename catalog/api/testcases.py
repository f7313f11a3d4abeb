"""Saved test cases under /functions/{functionId}/test-cases: list, create, get, update, delete,
and run (all of them, or the chosen ones, with the saved code or code sent along).

Reading needs read access to the function; writing and running (code with egress) need
Functions Admin on it. Encrypted setting values are write-only and per user: a response names
the ones the caller has set, never a value.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from catalog import selectors
from catalog.models import TestCase
from catalog.testcases import (
    secret_names_set,
    testcase_create,
    testcase_delete,
    testcase_run,
    testcase_update,
)
from functions_platform.api.schema import (
    PAGINATION_PARAMETERS,
    StatusSerializer,
    StrictSerializer,
    envelope,
    page_envelope,
    responses,
)

from .views import FunctionScopedView


class TestCaseSerializer(serializers.Serializer):
    __test__ = False

    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    payload = serializers.JSONField()
    settings = serializers.DictField(source="setting_values")
    encryptedSettingsSet = serializers.SerializerMethodField(
        help_text="Encrypted settings you have a value for in this test case (values are never returned)."
    )
    expectation = serializers.DictField()
    createdBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_encryptedSettingsSet(self, case) -> list[str]:
        return secret_names_set(case, self.context.get("user"))

    def get_createdBy(self, case) -> str | None:
        return case.created_by.get_username() if case.created_by else None


class CreateTestCaseSerializer(StrictSerializer):
    __test__ = False

    name = serializers.CharField(max_length=120)
    payload = serializers.JSONField(
        help_text="An event, a list of events (onBatch), or {method, headers, query, body}."
    )
    settings = serializers.DictField(required=False, default=dict)
    expectation = serializers.DictField(
        required=False, default=dict, help_text="{status, errorType, events, output, requests}, all optional."
    )


class UpdateTestCaseSerializer(StrictSerializer):
    __test__ = False

    name = serializers.CharField(max_length=120, required=False)
    payload = serializers.JSONField(required=False)
    settings = serializers.DictField(required=False)
    expectation = serializers.DictField(required=False)


class RunTestCasesSerializer(StrictSerializer):
    code = serializers.CharField(required=False, trim_whitespace=False, help_text="Default: the saved code.")
    testCaseIds = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False)


class TestCaseResultSerializer(serializers.Serializer):
    __test__ = False

    id = serializers.CharField()
    name = serializers.CharField()
    passed = serializers.BooleanField()
    failures = serializers.ListField(child=serializers.CharField())
    result = serializers.DictField()
    diff = serializers.ListField(child=serializers.DictField(), allow_null=True)


class TestRunSerializer(serializers.Serializer):
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = TestCaseResultSerializer(many=True)


TestCaseEnvelope = envelope("TestCase", testCase=TestCaseSerializer())
TestCaseListEnvelope = page_envelope("TestCaseList", "testCases", TestCaseSerializer)
TestRunEnvelope = envelope("TestRun", testRun=TestRunSerializer())
DeleteEnvelope = envelope("DeleteTestCaseStatus", status=StatusSerializer().fields["status"])


class TestCaseScopedView(FunctionScopedView):
    __test__ = False

    def out(self, case: TestCase) -> dict:
        return TestCaseSerializer(case, context={"user": self.user}).data

    def case(self, function, case_id: str) -> TestCase:
        return self.get_in_scope(selectors.testcases_for_function(function=function), public_id=case_id)


class TestCaseListView(TestCaseScopedView):
    @extend_schema(
        operation_id="listFunctionTestCases",
        parameters=PAGINATION_PARAMETERS,
        responses=responses(TestCaseListEnvelope),
    )
    def get(self, request, function_id):
        function = self.function(function_id)
        return self.respond_page("testCases", selectors.testcases_for_function(function=function), self.out)

    @extend_schema(
        operation_id="createFunctionTestCase",
        request=CreateTestCaseSerializer,
        responses=responses(TestCaseEnvelope),
    )
    def post(self, request, function_id):
        function = self.function_to_admin(function_id)
        data = self.input(CreateTestCaseSerializer)
        case = testcase_create(
            function=function,
            name=data["name"],
            payload=data["payload"],
            setting_values=data["settings"],
            expectation=data["expectation"],
            user=self.user,
        )
        return self.respond({"testCase": self.out(case)})


class TestCaseDetailView(TestCaseScopedView):
    @extend_schema(operation_id="getFunctionTestCase", responses=responses(TestCaseEnvelope))
    def get(self, request, function_id, case_id):
        return self.respond({"testCase": self.out(self.case(self.function(function_id), case_id))})

    @extend_schema(
        operation_id="updateFunctionTestCase",
        request=UpdateTestCaseSerializer,
        responses=responses(TestCaseEnvelope),
    )
    def patch(self, request, function_id, case_id):
        case = self.case(self.function_to_admin(function_id), case_id)
        data = self.input(UpdateTestCaseSerializer)
        case = testcase_update(
            test_case=case,
            user=self.user,
            name=data.get("name"),
            payload=data.get("payload"),
            setting_values=data.get("settings"),
            expectation=data.get("expectation"),
        )
        return self.respond({"testCase": self.out(case)})

    @extend_schema(operation_id="deleteFunctionTestCase", responses=responses(DeleteEnvelope))
    def delete(self, request, function_id, case_id):
        testcase_delete(test_case=self.case(self.function_to_admin(function_id), case_id))
        return self.respond({"status": "SUCCESS"})


class TestCaseRunView(TestCaseScopedView):
    @extend_schema(
        operation_id="runFunctionTestCases",
        request=RunTestCasesSerializer,
        responses=responses(TestRunEnvelope, extra=(503,)),
    )
    def post(self, request, function_id):
        function = self.function_to_admin(function_id)
        data = self.input(RunTestCasesSerializer)
        cases = selectors.testcases_for_function(function=function)
        if "testCaseIds" in data:
            cases = [self.case(function, case_id) for case_id in data["testCaseIds"]]
        outcomes = [testcase_run(test_case=c, user=self.user, code=data.get("code")) for c in cases]
        passed = sum(1 for o in outcomes if o.passed)
        return self.respond(
            {
                "testRun": {
                    "passed": passed,
                    "failed": len(outcomes) - passed,
                    "results": [o.to_dict() for o in outcomes],
                }
            }
        )
