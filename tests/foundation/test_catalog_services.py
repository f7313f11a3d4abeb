import pytest
from django.core.exceptions import ValidationError

from catalog.choices import ResourceType
from catalog.models import FunctionVersion
from catalog.services import function_create, function_save, function_version_restore
from catalog.starters import starter_code
from runtime.sandbox.django import sandbox

KIND = {
    "SOURCE": "source",
    "DESTINATION": "destination",
    "INSERT_DESTINATION": "insert_destination",
    "INSERT_SOURCE": "insert_source",
}


@pytest.mark.parametrize("resource_type", ResourceType.values)
def test_create_fills_the_template_of_each_type(workspace, owner, resource_type):
    function = function_create(
        workspace=workspace, resource_type=resource_type, display_name=f"T {resource_type}", created_by=owner
    )
    assert function.code == starter_code(resource_type)
    prefix = {
        "SOURCE": "sfnc_",
        "DESTINATION": "dfn_",
        "INSERT_DESTINATION": "ifnd_",
        "INSERT_SOURCE": "ifns_",
    }[resource_type]
    assert function.public_id.startswith(prefix)
    assert function.latest_version.number == 1
    handlers = set(sandbox().check(function.code, KIND[resource_type]).handlers)
    if resource_type == "SOURCE":
        assert handlers == {"onRequest"}
    else:
        assert {"onTrack", "onIdentify", "onGroup", "onPage", "onScreen", "onAlias", "onDelete"} <= handlers


def test_destination_template_posts_with_basic_auth_and_retries(workspace):
    function = function_create(workspace=workspace, resource_type="DESTINATION", display_name="D")
    assert "RetryError" in function.code and "btoa" in function.code
    assert [d.name for d in function.setting_defs.all()] == ["endpoint", "apiKey"]


def test_source_template_emits_track_from_request_json(workspace):
    function = function_create(workspace=workspace, resource_type="SOURCE", display_name="S")
    result = sandbox().run(_source_request(function.code, {"event": "Signed Up", "userId": "u1"}))
    assert result.status == "success", result.error
    assert [(e["type"], e["event"], e["userId"]) for e in result.events] == [("track", "Signed Up", "u1")]


def _source_request(code, body):
    from runtime.sandbox import SandboxRequest

    return SandboxRequest(
        code=code,
        kind="source",
        settings={},
        payload={
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "query": {},
            "body": body,
        },
    )


def test_every_save_makes_a_version(workspace, owner):
    function = function_create(
        workspace=workspace, resource_type="DESTINATION", display_name="D", created_by=owner
    )
    code = "async function onTrack(event) { return 1 }"
    v2 = function_save(function=function, author=owner, code=code)
    v3 = function_save(function=function, author=owner, description="same code, new description")
    assert [v.number for v in FunctionVersion.objects.filter(function=function)] == [3, 2, 1]
    assert v2.code == v3.code == code
    function.refresh_from_db()
    assert function.latest_version == v3 and function.description.startswith("same code")
    assert v3.author == owner


def test_save_snapshots_the_settings_schema(workspace):
    function = function_create(
        workspace=workspace, resource_type="DESTINATION", display_name="D", settings=[]
    )
    version = function_save(function=function, settings=[{"label": "API Key", "sensitive": True}])
    assert version.settings_schema[0]["name"] == "apiKey"
    assert function.versions.get(number=1).settings_schema == []


def test_restore_copies_an_old_version_into_a_new_latest(workspace):
    function = function_create(workspace=workspace, resource_type="DESTINATION", display_name="D")
    first = function.latest_version
    function_save(function=function, code="function onTrack() {}")
    restored = function_version_restore(function=function, version=first)
    assert restored.number == 3 and restored.code == first.code and restored.restored_from == first


def test_syntax_error_names_line_and_column(workspace):
    code = "async function onTrack(event) {\n  return event.;\n}\n"
    with pytest.raises(ValidationError) as exc:
        function_create(workspace=workspace, resource_type="DESTINATION", display_name="Bad", code=code)
    message = exc.value.message_dict["code"][0]
    assert message.startswith("SyntaxError") and "line 2" in message and "column" in message


def test_missing_handler_is_rejected(workspace):
    with pytest.raises(ValidationError) as exc:
        function_create(
            workspace=workspace,
            resource_type="SOURCE",
            display_name="No handler",
            code="async function onTrack(event) {}",
        )
    assert "onRequest" in exc.value.message_dict["code"][0]


def test_sloppy_mode_code_is_accepted(workspace):
    code = "counter = 0\nasync function onTrack(event) { counter++; undeclared = counter }"
    function = function_create(workspace=workspace, resource_type="DESTINATION", display_name="S", code=code)
    assert function.code == code


def test_save_with_invalid_code_changes_nothing(workspace):
    function = function_create(workspace=workspace, resource_type="DESTINATION", display_name="D")
    with pytest.raises(ValidationError):
        function_save(function=function, code="function (")
    function.refresh_from_db()
    assert function.versions.count() == 1 and function.code == function.latest_version.code


def test_duplicate_display_name_in_a_workspace(workspace, other_workspace):
    function_create(workspace=workspace, resource_type="DESTINATION", display_name="Same")
    function_create(workspace=other_workspace, resource_type="DESTINATION", display_name="Same")
    with pytest.raises(ValidationError) as exc:
        function_create(workspace=workspace, resource_type="SOURCE", display_name="Same")
    assert exc.value.message_dict["display_name"] == [
        "A function named 'Same' already exists in this workspace."
    ]


def test_code_calling_its_own_webhook_is_rejected(workspace, settings):
    code = f"async function onRequest() {{ await fetch('{settings.PUBLIC_BASE_URL}/hooks/x') }}"
    with pytest.raises(ValidationError) as exc:
        function_create(workspace=workspace, resource_type="SOURCE", display_name="Loop", code=code)
    assert "originating source" in exc.value.message_dict["code"][0]


def test_batch_max_count_is_bounded(workspace):
    with pytest.raises(ValidationError) as exc:
        function_create(
            workspace=workspace, resource_type="DESTINATION", display_name="B", batch_max_count=401
        )
    assert "batch_max_count" in exc.value.message_dict
