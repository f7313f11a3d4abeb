"""Version history: labels LATEST / DEPLOYED, diffs between any two versions, restore."""

import pytest
from django.core.exceptions import ValidationError

from catalog import selectors
from catalog.models import FunctionVersion
from catalog.services import function_save, function_version_restore
from runtime.models import Deployment, FunctionInstance
from runtime.selectors import function_versions
from tests.factories import InstanceFactory
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent

SETTINGS_V1 = [
    {"label": "Endpoint", "type": "STRING"},
    {"label": "API Key", "type": "STRING", "sensitive": True},
]
SETTINGS_V2 = [
    {"label": "Endpoint", "type": "STRING", "required": True},
    {"label": "Region", "type": "STRING"},
]


@pytest.fixture
def history(function, owner):
    """v1 (factory), v2 and v3 saved by the owner; v2 and v3 differ in code and settings."""
    v2 = function_save(
        function=function, author=owner, code=function.code + "\n// two\n", settings=SETTINGS_V1
    )
    v3 = function_save(
        function=function, author=owner, code=function.code + "\n// three\n", settings=SETTINGS_V2
    )
    function.refresh_from_db()
    return function, v2, v3


def labels_by_number(function):
    return {v.number: v.labels for v in function_versions(function=function)}


def test_every_save_is_a_version_with_author_and_schema(history, owner):
    function, v2, v3 = history
    versions = function_versions(function=function)
    assert [v.number for v in versions] == [3, 2, 1]
    assert v3.author == owner and v3.code.endswith("// three\n")
    assert [s["name"] for s in v3.settings_schema] == ["endpoint", "region"]
    assert v2.public_id != v3.public_id


def test_labels_latest_and_deployed_per_instance(history, source, other_source):
    function, v2, v3 = history
    InstanceFactory(function=function, source=source, deployed_version=v2)
    assert labels_by_number(function) == {3: ["LATEST"], 2: ["DEPLOYED"], 1: []}
    InstanceFactory(function=function, source=other_source, deployed_version=v3)
    assert labels_by_number(function) == {3: ["LATEST", "DEPLOYED"], 2: ["DEPLOYED"], 1: []}


def test_diff_code_and_settings(history):
    _, v2, v3 = history
    diff = selectors.version_diff(old=v2, new=v3)
    assert "-// two" in diff.code and "+// three" in diff.code
    assert diff.code.startswith("--- v2\n+++ v3\n")
    assert [s["name"] for s in diff.settings_added] == ["region"]
    assert [s["name"] for s in diff.settings_removed] == ["apiKey"]
    assert diff.settings_changed == [
        {"name": "endpoint", "changes": {"required": {"before": False, "after": True}}}
    ]
    assert diff.as_dict()["from"] == v2.public_id


def test_diff_in_reverse_and_of_identical_versions(history):
    function, v2, v3 = history
    backwards = selectors.version_diff(old=v3, new=v2)
    assert "+// two" in backwards.code
    assert [s["name"] for s in backwards.settings_added] == ["apiKey"]
    assert selectors.version_diff(old=v3, new=v3).unchanged
    assert not backwards.unchanged


def test_diff_refuses_versions_of_two_functions(history, second_function):
    _, v2, _ = history
    with pytest.raises(ValueError):
        selectors.version_diff(old=v2, new=second_function.latest_version)


def test_version_get_by_public_id_or_number(history):
    function, v2, _ = history
    assert selectors.version_get(function=function, version_id=v2.public_id) == v2
    assert selectors.version_get(function=function, version_id="2") == v2
    with pytest.raises(FunctionVersion.DoesNotExist):
        selectors.version_get(function=function, version_id="ksuid-of-nothing")


def test_restore_makes_a_new_latest_and_deploys_nothing(
    history, instance, owner, django_capture_on_commit_callbacks
):
    function, v2, v3 = history
    running = FunctionInstance.objects.get(pk=instance.pk).deployed_version_id
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        restored = function_version_restore(function=function, version=v2, author=owner)
    function.refresh_from_db()
    assert restored.number == 4 and restored.restored_from == v2
    assert function.latest_version == restored
    assert (restored.code, restored.settings_schema) == (v2.code, v2.settings_schema)
    assert function.code == v2.code
    assert [d.name for d in function.setting_defs.all()] == ["endpoint", "apiKey"]
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version_id == running
    assert callbacks == [] and not Deployment.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.RESTORED)
    assert event.version_id == restored.public_id and event.data["restored_from"] == v2.public_id
    assert selectors.version_diff(old=v2, new=restored).unchanged


def test_restore_refuses_a_version_of_another_function(history, second_function, owner):
    function, _, _ = history
    with pytest.raises(ValidationError):
        function_version_restore(function=function, version=second_function.latest_version, author=owner)
    assert function.versions.count() == 3
