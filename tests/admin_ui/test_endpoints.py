"""The editor's JSON endpoints and admin forms: behaviour, permissions and forged requests."""

import json

import pytest
from django.urls import reverse

from catalog.models import CapturedRequest, Function
from catalog.services import function_create, function_save
from runtime.models import Deployment, FunctionInstance
from runtime.services import instance_create
from tests.factories import InstanceFactory

TEST_URL = "admin:catalog_function_test"
FORM = "application/x-www-form-urlencoded"


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def run_body(function=None, **overrides):
    body = {
        "code": "async function onTrack(event, settings) { console.log('hi', settings.apiKey);"
        " return event.event }",
        "resourceType": "DESTINATION",
        "payload": {"type": "track", "event": "Clicked"},
        "settings": {"apiKey": "k1"},
        "function": function.pk if function else None,
    }
    return {**body, **overrides}


# --- test webhook -----------------------------------------------------------------------------


def test_test_webhook_stores_json_and_answers_200(client, function):
    url = f"/hooks/test/{function.preview_token}?a=1"
    response = client.post(
        url, json.dumps({"hello": "world"}), content_type="application/json", HTTP_X_SIGNATURE="sig"
    )
    assert response.status_code == 200
    capture = CapturedRequest.objects.get(function=function)
    assert json.loads(capture.body) == {"hello": "world"}
    assert capture.headers["X-Signature"] == "sig" and capture.query == {"a": ["1"]}


def test_test_webhook_keeps_the_last_ten(client, function):
    for index in range(12):
        client.post(f"/hooks/test/{function.preview_token}", f"n={index}", content_type=FORM)
    bodies = list(CapturedRequest.objects.filter(function=function).values_list("body", flat=True))
    assert len(bodies) == 10 and bodies[0] == "n=11" and "n=1" not in bodies


def test_test_webhook_refuses_large_bodies_and_unknown_tokens(client, function):
    big = "x" * (512 * 1024 + 1)
    too_large = client.post(f"/hooks/test/{function.preview_token}", big, content_type="text/plain")
    assert too_large.status_code == 413
    assert client.post("/hooks/test/nope", {}).status_code == 404
    assert client.get(f"/hooks/test/{function.preview_token}").status_code == 405
    assert not CapturedRequest.objects.exists()


def test_capture_latest_parses_form_bodies(login, owner, function):
    login(owner).post(f"/hooks/test/{function.preview_token}", "email=a%40b.c", content_type=FORM)
    data = login(owner).get(reverse("admin:catalog_function_capture", args=[function.pk])).json()
    assert data["capture"]["body"] == {"email": "a@b.c"}


def test_capture_latest_needs_functions_admin(login, read_only, outsider, function):
    url = reverse("admin:catalog_function_capture", args=[function.pk])
    assert login(read_only).get(url).status_code == 403
    assert login(outsider).get(url).status_code == 404


# --- test runs --------------------------------------------------------------------------------


def test_run_returns_result_logs_and_value(login, owner, function):
    response = post_json(login(owner), reverse(TEST_URL), run_body(function))
    result = response.json()
    assert response.status_code == 200 and result["status"] == "success"
    assert result["returned"] == "Clicked" and result["logs"][0]["message"] == "hi k1"


def test_run_of_an_unsaved_function_needs_create_rights(login, owner, functions_admin_list, workspace):
    ok = post_json(login(owner), reverse(TEST_URL), run_body(workspace=workspace.pk))
    assert ok.status_code == 200 and ok.json()["status"] == "success"
    refused = post_json(login(functions_admin_list), reverse(TEST_URL), run_body(workspace=workspace.pk))
    assert refused.status_code == 403


def test_run_shows_errors_with_stack(login, owner, function):
    body = run_body(function, code="async function onTrack() { throw new ValidationError('bad') }")
    result = post_json(login(owner), reverse(TEST_URL), body).json()
    assert result["status"] == "error" and result["error"]["type"] == "ValidationError"
    assert result["error"]["message"] == "bad" and "onTrack" in result["error"]["stack"]


def test_run_with_an_array_runs_on_batch(login, owner, function):
    code = "async function onBatch(events) { return events.length }"
    body = run_body(function, code=code, payload=[{"type": "track"}, {"type": "track"}])
    result = post_json(login(owner), reverse(TEST_URL), body).json()
    assert result["returned"] == 2 and result["batch"] is True


@pytest.mark.parametrize("persona, status", [("read_only", 403), ("source_admin", 404), ("outsider", 404)])
def test_run_is_refused_without_functions_admin(login, personas, function, persona, status):
    response = post_json(login(personas[persona]), reverse(TEST_URL), run_body(function))
    assert response.status_code == status


def test_run_needs_csrf(owner, function):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert post_json(client, reverse(TEST_URL), run_body(function)).status_code == 403


def test_run_rejects_bad_bodies(login, owner, function):
    client = login(owner)
    assert client.post(reverse(TEST_URL), "nope", content_type="application/json").status_code == 400
    assert post_json(client, reverse(TEST_URL), run_body(function, code="")).status_code == 400


# --- recent events of a source ---------------------------------------------------------------


@pytest.fixture
def recorded(source, other_source):
    from django.core.cache import cache

    from runtime.pipeline.samples import samples_record

    cache.clear()
    samples_record(source.pk, [{"type": "track", "event": "Clicked", "writeKey": source.write_key}])
    samples_record(other_source.pk, [{"type": "page", "name": "Home"}])
    yield source
    cache.clear()


def samples_url(function):
    return reverse("admin:catalog_function_samples", args=[function.pk])


def test_samples_answer_the_recent_events_of_a_source(login, owner, read_only, function, recorded):
    for user in (owner, read_only):
        for key in (recorded.pk, recorded.public_id):
            response = login(user).get(samples_url(function), {"source": key})
            assert response.status_code == 200
            assert response.json() == {
                "source": {"id": recorded.public_id, "name": "Website"},
                "events": [{"type": "track", "event": "Clicked"}],
            }


def test_samples_are_refused_outside_the_users_scope(
    login, owner, outsider, functions_admin, function, foreign_function, recorded, other_workspace
):
    from tests.factories import SourceFactory

    # Outside the function's scope: 404 whatever the source.
    assert login(outsider).get(samples_url(function), {"source": recorded.pk}).status_code == 404
    # Functions Admin without any source role: the function is visible, the source is not.
    response = login(functions_admin).get(samples_url(function), {"source": recorded.pk})
    assert response.status_code == 404 and b"Clicked" not in response.content
    # A source of another workspace, a missing or unknown source, a function the user cannot see.
    foreign_source = SourceFactory(workspace=other_workspace, name="Theirs")
    assert login(owner).get(samples_url(function), {"source": foreign_source.pk}).status_code == 404
    assert login(outsider).get(samples_url(foreign_function), {"source": recorded.pk}).status_code == 404
    assert login(owner).get(samples_url(function), {"source": ""}).json()["sources"]  # the list
    assert login(owner).get(samples_url(function), {"source": "src_nope"}).status_code == 404
    assert login(owner).get(samples_url(foreign_function), {"source": recorded.pk}).status_code == 404


def test_editor_lists_the_sources_the_user_may_read(login, owner, functions_admin, function, recorded):
    url = reverse("admin:catalog_function_change", args=[function.pk])
    config = login(owner).get(url).context["fn_config"]
    assert config["samplesUrl"] == samples_url(function)
    assert [s["name"] for s in config["sampleSources"]] == ["Mobile", "Website"]
    assert login(functions_admin).get(url).context["fn_config"]["sampleSources"] == []
    # The same list as JSON, without ?source=.
    assert login(owner).get(samples_url(function)).json() == {"sources": config["sampleSources"]}
    assert login(functions_admin).get(samples_url(function)).json() == {"sources": []}


# --- versions, restore, deployments ----------------------------------------------------------


@pytest.fixture
def saved_function(workspace, owner):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Versions",
        code="async function onTrack(e) { return 1 }",
        created_by=owner,
    )
    function_save(function=function, author=owner, code="async function onTrack(e) { return 2 }")
    return function


def test_versions_page_shows_labels_and_both_diffs(login, read_only, saved_function):
    client = login(read_only)
    url = reverse("admin:catalog_function_versions", args=[saved_function.pk])
    split = client.get(url).content.decode()
    assert "LATEST" in split and "return 2" in split and "fn-diff-split" in split
    assert "fn-restore" not in split  # read-only: no restore control
    unified = client.get(url, {"mode": "unified"}).content.decode()
    assert "+async function onTrack(e) { return 2 }" in unified


def test_restore_makes_a_new_latest_version(login, owner, saved_function):
    v1 = saved_function.versions.get(number=1)
    response = login(owner).post(
        reverse("admin:catalog_function_restore", args=[saved_function.pk, v1.public_id])
    )
    assert response.status_code == 302
    saved_function.refresh_from_db()
    assert saved_function.latest_version.number == 3 and saved_function.latest_version.restored_from == v1


@pytest.mark.parametrize("persona, status", [("read_only", 403), ("outsider", 404)])
def test_forged_restore_is_refused(login, personas, saved_function, persona, status):
    v1 = saved_function.versions.get(number=1)
    url = reverse("admin:catalog_function_restore", args=[saved_function.pk, v1.public_id])
    assert login(personas[persona]).post(url).status_code == status
    assert saved_function.versions.count() == 2


def test_deployments_endpoint_lists_one_request(login, read_only, function, instance):
    Deployment.objects.create(instance=instance, version=function.latest_version)
    url = reverse("admin:catalog_function_deployments", args=[function.pk])
    data = login(read_only).get(url, {"version": function.latest_version.public_id}).json()
    assert data["deployments"][0]["instance"] == instance.name and data["done"] is False


# --- Save & Deploy through the admin form ---------------------------------------------------


def change_form(function, **extra):
    data = {
        "display_name": function.display_name,
        "description": "",
        "logo_url": "",
        "code": "// changed\n" + function.code,
        "batch_max_count": 20,
        "timeout_ms": 5000,
        "setting_defs-TOTAL_FORMS": 0,
        "setting_defs-INITIAL_FORMS": 0,
    }
    return {**data, **extra}


def test_save_and_deploy_to_chosen_instances(
    login, owner, function, instance, other_source, django_capture_on_commit_callbacks
):
    other = InstanceFactory(function=function, source=other_source, name="Other")
    v1 = function.latest_version
    url = reverse("admin:catalog_function_change", args=[function.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = login(owner).post(
            url,
            change_form(function, _deploy="1", deploy_target="chosen", deploy_instances=[instance.public_id]),
        )
    function.refresh_from_db()
    assert response.status_code == 302 and f"deployed={function.latest_version.public_id}" in response.url
    instance.refresh_from_db()
    other.refresh_from_db()
    assert instance.deployed_version == function.latest_version and other.deployed_version == v1


def test_save_and_deploy_needs_source_admin(login, functions_admin, function, instance):
    url = reverse("admin:catalog_function_change", args=[function.pk])
    response = login(functions_admin).post(url, change_form(function, _deploy="1"))
    assert response.status_code == 403
    assert function.versions.count() == 1 and not Deployment.objects.exists()


def test_forged_function_change_by_read_only_is_refused(login, read_only, function):
    url = reverse("admin:catalog_function_change", args=[function.pk])
    response = login(read_only).post(url, change_form(function, _deploy="1"))
    assert response.status_code == 403
    function.refresh_from_db()
    assert "// changed" not in function.code and function.versions.count() == 1


# --- read-only pages ----------------------------------------------------------------------------

SECRET = "sk_never_rendered_77"


@pytest.fixture
def secret_instance(workspace, source):
    function = function_create(
        workspace=workspace,
        resource_type="DESTINATION",
        display_name="Secretive",
        settings=[{"label": "API Key", "sensitive": True, "required": True}],
    )
    return instance_create(function=function, name="Secret", source=source, settings={"apiKey": SECRET})


def test_read_only_pages_have_no_edit_controls(login, read_only, secret_instance):
    client = login(read_only)
    function = secret_instance.function
    pages = [
        reverse("admin:catalog_function_changelist"),
        reverse("admin:catalog_function_change", args=[function.pk]),
        reverse("admin:catalog_function_versions", args=[function.pk]),
        reverse("admin:runtime_functioninstance_change", args=[secret_instance.pk]),
    ]
    for url in pages:
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert SECRET not in page, url
        for control in (
            'name="_save"',
            'id="fn-run"',
            'id="fn-save-deploy"',
            "fn-restore",
            "fn-connect",
            'id="fn-new-function"',
            'data-readonly="false"',
            'name="setting__apiKey"',
        ):
            assert control not in page, (url, control)
    assert client.get(reverse("admin:catalog_function_new")).status_code == 403


def test_forged_instance_change_by_read_only_is_refused(login, read_only, secret_instance):
    url = reverse("admin:runtime_functioninstance_change", args=[secret_instance.pk])
    response = login(read_only).post(url, {"name": "Hacked", "enabled": "", "setting__apiKey": "x"})
    assert response.status_code == 403
    secret_instance.refresh_from_db()
    assert secret_instance.name == "Secret" and secret_instance.secret_values() == {"apiKey": SECRET}


def test_forged_connect_by_read_only_is_refused(login, read_only, secret_instance, other_source):
    url = reverse("admin:runtime_functioninstance_add") + f"?function={secret_instance.function.pk}"
    response = login(read_only).post(
        url,
        {
            "function": secret_instance.function.pk,
            "name": "Mine",
            "source": other_source.pk,
            "setting__apiKey": "x",
        },
    )
    assert response.status_code == 403
    assert FunctionInstance.objects.count() == 1


def test_owner_instance_page_shows_tabs_but_not_the_secret(login, owner, secret_instance):
    page = login(owner).get(reverse("admin:runtime_functioninstance_change", args=[secret_instance.pk]))
    content = page.content.decode()
    assert 'id="fn-errors-tab"' in content and 'id="fn-delivery-chart"' in content
    assert SECRET not in content and 'name="setting__apiKey"' in content


def test_catalog_is_scoped_to_the_workspace(login, outsider, owner, function, foreign_function):
    page = login(owner).get(reverse("admin:catalog_function_changelist")).content.decode()
    assert function.display_name in page and foreign_function.display_name not in page


def test_functions_admin_list_sees_only_its_function(login, functions_admin_list, function, second_function):
    page = login(functions_admin_list).get(reverse("admin:catalog_function_changelist")).content.decode()
    assert function.display_name in page and second_function.display_name not in page
    assert Function.objects.count() == 2


def test_versions_page_compares_any_two_versions(login, owner, saved_function):
    function_save(function=saved_function, author=owner, code="async function onTrack(e) { return 3 }")
    url = reverse("admin:catalog_function_versions", args=[saved_function.pk])
    page = login(owner).get(url, {"old": "1", "new": "2", "mode": "unified"}).content.decode()
    assert (
        "Changes from v1 to v2" in page
        and "return 3" not in page
        and "+async function onTrack(e) { return 2 }" in page
    )
    assert login(owner).get(url, {"old": "nope"}).status_code == 404


def test_event_delivery_tab_shows_figures_and_chart(login, read_only, instance):
    from django.utils import timezone

    from runtime.models import DeliveryStat

    now = timezone.now().replace(second=0, microsecond=0)
    DeliveryStat.objects.create(
        instance=instance,
        bucket=now,
        delivered=7,
        retried=2,
        failed=1,
        rejected=2,
        filtered=3,
        latency={"50": 6, "100": 1},
    )
    DeliveryStat.objects.create(instance=instance, bucket=now - timezone.timedelta(hours=2), delivered=4)
    page = login(read_only).get(reverse("admin:runtime_functioninstance_change", args=[instance.pk]))
    content = page.content.decode()
    assert '<div class="fn-metric" id="fn-metric-delivered"><strong>11</strong>' in content
    assert '<div class="fn-metric" id="fn-metric-failed"><strong>3</strong>' in content  # failed + rejected
    assert '<div class="fn-metric" id="fn-metric-filtered"><strong>3</strong>' in content
    assert content.count('class="fn-bar-delivered"') == 2 and content.count('class="fn-bar-failed"') == 1
    assert "≤ 100 ms" in content  # p95 of 6 events ≤ 50 ms and 1 ≤ 100 ms
