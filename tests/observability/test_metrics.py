"""/metrics in one process (embedded mode): who may scrape, and what the pipeline counts there.

The events run the whole pipeline eagerly on SQLite with the real sandbox; the figures are
read back from the scrape itself, as Prometheus would read them.
"""

import json

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from runtime import metrics
from tests.factories import InstanceFactory
from tests.pipeline.conftest import SINK_DESTINATION, make_function
from tests.pipeline.test_bad_input import basic

pytestmark = pytest.mark.django_db

THROWS = "async function onTrack(event) { throw new TypeError('no') }"
SLOW = "async function onTrack(event) { await new Promise(() => {}) }"


@pytest.fixture(autouse=True)
def _fresh_labels():
    metrics._labelled.clear()
    yield
    metrics._labelled.clear()


def scrape(client, **extra) -> dict:
    """{(name, frozenset(labels)): value} from GET /metrics."""
    response = client.get("/metrics", REMOTE_ADDR=extra.pop("addr", "127.0.0.1"), **extra)
    assert response.status_code == 200, response.content
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def track(client, source, body, path="/v1/track"):
    return client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )


# --- who may scrape ----------------------------------------------------------------------------


@pytest.mark.parametrize("addr", ["127.0.0.1", "127.0.0.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_may_scrape_without_a_token(client, addr):
    response = client.get("/metrics", REMOTE_ADDR=addr)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"fp_ingest_requests" in response.content


@pytest.mark.parametrize("addr", ["10.0.0.5", "192.168.1.2", "2001:db8::1", "", "not-an-ip"])
def test_other_addresses_are_refused_by_default(client, addr):
    response = client.get("/metrics", REMOTE_ADDR=addr, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403
    assert b"fp_" not in response.content


@override_settings(METRICS_TOKEN="s3cret-token", METRICS_ALLOW_NETWORKS=[])
def test_token_opens_the_endpoint_and_nothing_else_does(client):
    assert (
        client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code
        == 200
    )
    for header in ("Bearer wrong", "Bearer s3cret-token ", "s3cret-token", "Basic s3cret-token", ""):
        assert client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION=header).status_code == 403
    # With no network allowed, even this machine needs the token.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@override_settings(METRICS_ALLOW_NETWORKS=["10.1.0.0/16", "garbage", "fd00::/8"])
def test_allowed_networks(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00::7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


# --- what is counted ---------------------------------------------------------------------------


def test_ingest_answers_are_counted_by_endpoint_and_status(client, tracking_source, destination, sink):
    before = scrape(client)
    assert track(client, tracking_source, {"event": "A", "userId": "u"}).status_code == 200
    assert track(client, tracking_source, {"event": "A"}).status_code == 400  # no user id
    assert client.post("/v1/track", data="{}", content_type="application/json").status_code == 401
    assert client.post("/hooks/nope", data="{}", content_type="application/json").status_code == 404
    after = scrape(client)

    def delta(**labels):
        name = "fp_ingest_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(endpoint="track", status="200", outcome="accepted") == 1
    assert delta(endpoint="track", status="400", outcome="refused") == 1
    assert delta(endpoint="track", status="401", outcome="refused") == 1
    assert delta(endpoint="webhook", status="404", outcome="refused") == 1


def test_pipeline_stages_deliveries_latency_and_sandbox(
    client, workspace, tracking_source, destination, sink
):
    failing = InstanceFactory(
        function=make_function(workspace, THROWS, display_name="Thrower"),
        source=tracking_source,
        name="thrower",
    )
    before = scrape(client)
    batch = [{"type": "track", "event": f"e{i}", "userId": "u", "messageId": f"m-{i}"} for i in range(4)]
    batch.append({"type": "track", "event": "bad"})  # dropped at ingest: no user id
    assert track(client, tracking_source, {"batch": batch}, path="/v1/batch").status_code == 200
    after = scrape(client)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("fp_stage_events_total", stage="ingest", direction="in") == 5
    assert delta("fp_stage_events_total", stage="ingest", direction="out") == 4
    assert delta("fp_stage_events_total", stage="route", direction="out") == 8  # 4 events x 2 destinations
    assert delta("fp_stage_events_total", stage="delivery", direction="in") == 8
    assert delta("fp_stage_events_total", stage="delivery", direction="out") == 4
    ok = {"function": destination.function.public_id, "instance": destination.public_id}
    bad = {"function": failing.function.public_id, "instance": failing.public_id}
    assert delta("fp_delivery_events_total", outcome="delivered", **ok) == 4
    assert delta("fp_delivery_events_total", outcome="failed", **bad) == 4
    assert delta("fp_delivery_events_total", outcome="delivered", **bad) == 0
    assert delta("fp_delivery_latency_seconds_count", **ok) == 4
    assert delta("fp_delivery_latency_seconds_bucket", le="+Inf", **ok) == 4
    assert delta("fp_delivery_latency_seconds_count", **bad) == 0
    assert delta("fp_sandbox_calls_total", kind="destination", status="success") == 4
    assert delta("fp_sandbox_calls_total", kind="destination", status="error") == 4


@override_settings(METRICS_MAX_INSTANCES=1)
def test_instances_past_the_cap_fold_into_other(client, workspace, tracking_source, destination, sink):
    second = InstanceFactory(
        function=make_function(workspace, SINK_DESTINATION, display_name="Second"),
        source=tracking_source,
        name="second",
        settings={"url": sink.url_for("/sink")},
    )
    before = scrape(client)
    assert (
        track(client, tracking_source, {"event": "A", "userId": "u", "messageId": "cap-1"}).status_code == 200
    )
    after = scrape(client)
    delivered = {
        labels: v - before.get((name, labels), 0.0)
        for (name, labels), v in after.items()
        if name == "fp_delivery_events_total" and ("outcome", "delivered") in labels
    }
    instances = {dict(labels)["instance"] for labels, v in delivered.items() if v}
    assert len(instances) == 2
    assert "other" in instances
    assert instances - {"other"} <= {destination.public_id, second.public_id}


def test_timeouts_are_counted(client, workspace, tracking_source):
    function = make_function(workspace, SLOW, display_name="Slow", timeout_ms=300)
    InstanceFactory(function=function, source=tracking_source, name="slow")
    before = scrape(client)
    with override_settings(PIPELINE_EAGER_DELIVERY_RETRIES=0):
        assert track(client, tracking_source, {"event": "A", "userId": "u"}).status_code == 200
    after = scrape(client)
    timeouts = value(after, "fp_sandbox_timeouts_total", kind="destination") - value(
        before, "fp_sandbox_timeouts_total", kind="destination"
    )
    assert timeouts == 1


def test_source_function_runs_are_counted(client, source_function_instance, sink):
    before = scrape(client)
    body = {"items": [{"name": "a", "user": "u"}, {"name": "b", "user": "u"}]}
    url = f"/hooks/{source_function_instance.source.webhook_token}"
    assert client.post(url, data=json.dumps(body), content_type="application/json").status_code == 200
    after = scrape(client)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("fp_ingest_requests_total", endpoint="webhook", status="200") == 1
    assert delta("fp_stage_events_total", stage="source", direction="in") == 1
    assert delta("fp_stage_events_total", stage="source", direction="out") == 2
    assert delta("fp_sandbox_calls_total", kind="source", status="success") == 1
    assert delta("fp_stage_events_total", stage="delivery", direction="out") == 2


def test_deploys_are_counted_by_status(client, owner, workspace):
    from catalog.models import FunctionVersion
    from runtime.services import deployment_apply, deployment_request

    function = make_function(workspace, SINK_DESTINATION, display_name="Deployed")
    instance = InstanceFactory(function=function, name="d")
    good = FunctionVersion.objects.create(function=function, number=2, code=SINK_DESTINATION)
    broken = FunctionVersion.objects.create(function=function, number=3, code="function onTrack( {")
    before = scrape(client)
    for version in (good, broken):
        (deployment,) = deployment_request(
            function=function, version=version, instances=[instance], requested_by=owner
        )
        deployment_apply(deployment_id=deployment.pk)
        deployment_apply(deployment_id=deployment.pk)  # a redelivery settles nothing more
    after = scrape(client)
    for status in ("SUCCEEDED", "FAILED"):
        assert (
            value(after, "fp_deploys_total", status=status) - value(before, "fp_deploys_total", status=status)
            == 1
        )


def test_host_restarts_are_counted(client, tracking_source, destination, sink):
    import os
    import signal
    import time

    from runtime.sandbox.django import sandbox

    assert (
        track(client, tracking_source, {"event": "A", "userId": "u", "messageId": "hr-1"}).status_code == 200
    )
    pid = sandbox().pid
    assert pid
    before = scrape(client)
    os.kill(pid, signal.SIGKILL)  # the host this test process started
    deadline = time.monotonic() + 30
    while sandbox().pid == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (
        track(client, tracking_source, {"event": "A", "userId": "u", "messageId": "hr-2"}).status_code == 200
    )
    after = scrape(client)
    assert sandbox().pid not in (None, pid)
    restarts = value(after, "fp_sandbox_host_restarts_total") - value(
        before, "fp_sandbox_host_restarts_total"
    )
    assert restarts == 1
    assert (
        value(after, "fp_sandbox_calls_total", kind="destination", status="success")
        - value(before, "fp_sandbox_calls_total", kind="destination", status="success")
        == 1
    )  # the event after the restart was delivered


def test_memory_limits_are_counted(client, workspace, tracking_source):
    from tests.runtime.test_containment import FATAL_OOM

    # V8's fatal out-of-memory in the fill aborts the host: the call is charged MemoryLimit
    # and the host is replaced (a few seconds; more on a loaded machine).
    function = make_function(workspace, FATAL_OOM, display_name="Hog", timeout_ms=20000)
    InstanceFactory(function=function, source=tracking_source, name="hog")
    before = scrape(client)
    assert (
        track(client, tracking_source, {"event": "A", "userId": "u", "messageId": "oom-1"}).status_code == 200
    )
    after = scrape(client)
    memory = value(after, "fp_sandbox_memory_limits_total", kind="destination") - value(
        before, "fp_sandbox_memory_limits_total", kind="destination"
    )
    assert memory == 1
    assert value(after, "fp_sandbox_timeouts_total", kind="destination") == value(
        before, "fp_sandbox_timeouts_total", kind="destination"
    )
