"""Canary deploys and the post-deploy watch through the pipeline's delivery, embedded mode, with
the real sandbox: the split by messageId, fallback, the automatic rule, promote, abort, audit."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from catalog.choices import ResourceType
from runtime.canary import services as canary_services
from runtime.canary.choices import CanaryKind, CanaryStatus
from runtime.canary.models import Canary
from runtime.canary.split import bucket_of, takes_new
from runtime.models import FunctionInstance
from runtime.pipeline.delivery import deliver
from runtime.services import function_save_and_deploy
from tests.factories import FunctionFactory, InstanceFactory
from workspaces.choices import AuditAction
from workspaces.models import AuditEvent

from .conftest import code, events, sink_hits

pytestmark = pytest.mark.django_db


def deliver_all(instance, items, chunk=25):
    for start in range(0, len(items), chunk):
        deliver(instance_id=instance.pk, events=items[start : start + chunk])


def start(instance, version, owner, percent=30, **kwargs):
    kwargs.setdefault("max_events", 100_000)
    return canary_services.canary_start(
        instance=instance, version=version, percent=percent, requested_by=owner, **kwargs
    )


def test_the_split_is_stable_and_close_to_the_percentage(dest, owner):
    instance, _, _, v3 = dest
    canary = start(instance, v3, owner, percent=20)
    ids = [e["messageId"] for e in events(5000)]
    chosen = [m for m in ids if takes_new(canary, m)]
    assert 0.17 < len(chosen) / len(ids) < 0.23
    assert chosen == [m for m in ids if takes_new(canary, m)]  # the same event, the same arm
    assert all(0 <= bucket_of(m) < 10000 for m in ids[:100])


def test_a_canary_sends_its_share_to_the_new_version_each_event_once(dest, owner, sink):
    instance, v1, _, v3 = dest
    canary = start(instance, v3, owner, percent=30)
    batch = events(120)
    deliver_all(instance, batch)
    hits = sink_hits(sink)
    assert sorted(h["id"] for h in hits) == sorted(e["messageId"] for e in batch)
    by_id = {h["id"]: h["v"] for h in hits}
    for event in batch:
        assert by_id[event["messageId"]] == ("v3" if takes_new(canary, event["messageId"]) else "v1")
    figures = canary_services.canary_figures(canary_id=canary.pk)
    assert figures["new"]["events"] + figures["base"]["events"] == 120
    assert figures["new"]["errors"] == figures["base"]["errors"] == 0
    assert figures["new"]["p95Ms"] is not None
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1


def test_a_failing_canary_is_rolled_back_without_anyone_and_loses_nothing(dest, owner, sink):
    instance, v1, v2, _ = dest
    canary = start(instance, v2, owner, percent=50)
    batch = events(400)
    deliver_all(instance, batch)
    canary.refresh_from_db()
    assert canary.status == CanaryStatus.ROLLED_BACK
    assert canary.decided_by is None and "Error rate" in canary.reason
    assert canary.figures["new"]["events"] >= 50 and canary.figures["new"]["errorRate"] > 5
    assert canary.figures["base"]["errorRate"] == 0
    # Every event reached the sink once: the canary's failures ran the current version instead.
    counts = Counter(h["id"] for h in sink_hits(sink))
    assert set(counts) == {e["messageId"] for e in batch} and set(counts.values()) == {1}
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1
    audit = AuditEvent.objects.get(action=AuditAction.CANARY_ROLLED_BACK)
    assert audit.actor is None and audit.data["figures"]["new"]["errors"] > 0
    # After the decision every event runs v1.
    later = events(30)
    deliver_all(instance, later)
    assert {h["v"] for h in sink_hits(sink)[-30:]} == {"v1"}


def test_promote_deploys_the_canary_version(dest, owner, sink, django_capture_on_commit_callbacks):
    instance, _, _, v3 = dest
    canary = start(instance, v3, owner)
    with django_capture_on_commit_callbacks(execute=True):
        canary_services.canary_promote(canary=canary, decided_by=owner)
    instance = FunctionInstance.objects.get(pk=instance.pk)
    assert instance.deployed_version == v3
    # A promotion is not watched again, and deciding twice is refused.
    assert not Canary.objects.filter(instance=instance, status=CanaryStatus.ACTIVE).exists()
    with pytest.raises(ValidationError):
        canary_services.canary_abort(canary=canary, decided_by=owner)
    assert AuditEvent.objects.filter(action=AuditAction.CANARY_PROMOTED, actor=owner).count() == 1


def test_abort_sends_everything_back_to_the_current_version(dest, owner, sink):
    instance, v1, _, v3 = dest
    canary = start(instance, v3, owner, percent=50)
    canary_services.canary_abort(canary=canary, decided_by=owner)
    deliver_all(instance, events(40))
    assert {h["v"] for h in sink_hits(sink)} == {"v1"}
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1
    assert AuditEvent.objects.filter(action=AuditAction.CANARY_ABORTED, actor=owner).exists()


def test_a_canary_promotes_itself_when_its_event_count_is_reached(
    dest, owner, sink, django_capture_on_commit_callbacks
):
    instance, _, _, v3 = dest
    canary = start(instance, v3, owner, percent=50, max_events=200)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(instance, events(220))
    canary.refresh_from_db()
    assert canary.status == CanaryStatus.PROMOTED and canary.decided_by is None
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v3


def test_a_plain_deploy_is_watched_and_rolled_back(dest, owner, sink, django_capture_on_commit_callbacks):
    instance, v1, _, _ = dest
    function = instance.function
    from .conftest import THROWS_20

    with django_capture_on_commit_callbacks(execute=True):
        result = function_save_and_deploy(function=function, author=owner, code=code("v4", THROWS_20))
    watch = Canary.objects.get(instance=instance, status=CanaryStatus.ACTIVE)
    assert watch.kind == CanaryKind.WATCH and watch.version == result.version
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(FunctionInstance.objects.get(pk=instance.pk), events(150))
    watch.refresh_from_db()
    assert watch.status == CanaryStatus.ROLLED_BACK
    instance = FunctionInstance.objects.get(pk=instance.pk)
    assert instance.deployed_version == v1 and instance.previous_version == result.version
    assert AuditEvent.objects.filter(action=AuditAction.ROLLED_BACK, object_id=instance.public_id).exists()


def test_a_plain_deploy_three_times_slower_is_rolled_back_by_its_watch(
    dest, owner, sink, settings, django_capture_on_commit_callbacks
):
    from runtime.canary import baseline

    baseline._local.clear()
    settings.CANARY_MIN_EVENTS = 10
    instance, v1, _, _ = dest
    deliver_all(instance, events(30), chunk=10)  # v1's own latency, kept for the next watch
    slow = code("v6", "await new Promise((resolve) => setTimeout(resolve, 300));")
    with django_capture_on_commit_callbacks(execute=True):
        result = function_save_and_deploy(function=instance.function, author=owner, code=slow)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(FunctionInstance.objects.get(pk=instance.pk), events(20), chunk=10)
    watch = Canary.objects.get(instance=instance, version=result.version)
    assert watch.status == CanaryStatus.ROLLED_BACK, watch.reason
    assert watch.reason.startswith("p95 latency")
    base = watch.figures["base"]
    assert base["latencyEvents"] >= 30 and base["p95Ms"] * 3 < watch.figures["new"]["p95Ms"]
    assert base["errorRate"] in (0, None)  # not an error-rate decision
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v1


def test_a_healthy_deploy_passes_its_watch(dest, owner, sink, settings, django_capture_on_commit_callbacks):
    instance, _, _, _ = dest
    settings.CANARY_WATCH_S = 60
    with django_capture_on_commit_callbacks(execute=True):
        result = function_save_and_deploy(function=instance.function, author=owner, code=code("v5"))
    deliver_all(FunctionInstance.objects.get(pk=instance.pk), events(60))
    watch = Canary.objects.get(instance=instance)
    assert watch.status == CanaryStatus.ACTIVE
    FunctionInstance.objects.filter(pk=instance.pk).update(
        deployed_at=watch.created_at - timedelta(seconds=120)
    )
    assert canary_services.canaries_sweep() == 1
    watch.refresh_from_db()
    assert watch.status == CanaryStatus.ENDED
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == result.version


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"percent": 0}, "percent"),
        ({"percent": 51}, "percent"),
        ({"percent": 10, "max_events": None}, "durationSeconds"),
        ({"percent": 10, "duration_s": 5}, "durationSeconds"),
    ],
)
def test_bad_canary_requests_are_refused(dest, owner, kwargs, field):
    instance, _, _, v3 = dest
    kwargs.setdefault("max_events", 1000)
    with pytest.raises(ValidationError) as exc:
        canary_services.canary_start(instance=instance, version=v3, requested_by=owner, **kwargs)
    assert field in exc.value.message_dict
    assert not Canary.objects.exists()


def test_a_canary_needs_another_version_of_a_destination(dest, owner, workspace, tracking_source):
    instance, v1, _, _ = dest
    with pytest.raises(ValidationError):
        start(instance, v1, owner)
    insert = FunctionFactory(workspace=workspace, resource_type=ResourceType.INSERT_SOURCE)
    other = InstanceFactory(function=insert, source=tracking_source)
    with pytest.raises(ValidationError):
        start(other, insert.latest_version, owner)


def test_api_canary_start_promote_abort(
    dest, api_as, owner, functions_admin, outsider, django_capture_on_commit_callbacks
):
    instance, _, _, v3 = dest
    url = f"/api/function-instances/{instance.public_id}/canary"
    body = {"versionId": v3.public_id, "percent": 20, "durationSeconds": 3600, "rules": {"errorPoints": 10}}
    assert api_as(functions_admin).post(url, body, format="json").status_code == 403
    assert api_as(outsider).get(url).status_code == 404
    answer = api_as(owner).post(url, body, format="json")
    assert answer.status_code == 200, answer.content
    canary = answer.json()["data"]["canary"]
    assert (canary["status"], canary["percent"], canary["rules"]["errorPoints"]) == ("ACTIVE", 20, 10)
    assert api_as(owner).get(url).json()["data"]["canary"]["id"] == canary["id"]
    bad = api_as(owner).post(url, {**body, "percent": 60}, format="json")
    assert bad.status_code == 422 and "percent" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        promoted = api_as(owner).post(f"{url}/promote", {}, format="json")
    assert promoted.json()["data"]["canary"]["status"] == "PROMOTED"
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version == v3
    assert api_as(owner).post(f"{url}/abort", {}, format="json").status_code == 422


def test_the_latency_baseline_is_kept_per_version_in_redis(monkeypatch, settings, redis_url):
    import time

    from runtime.canary import baseline
    from runtime.pipeline import store

    settings.PIPELINE_REDIS_URL = redis_url
    settings.PIPELINE_KEY_PREFIX = "fp-test-safechange-latency"
    monkeypatch.setattr(store, "buffered", lambda: True)
    now = time.time()
    for key in store.client().scan_iter(f"{settings.PIPELINE_KEY_PREFIX}:*"):
        store.client().delete(key)
    baseline.note(instance_id=7, version_id=1, histogram={"5": 3, "10": 1})
    baseline.note(instance_id=7, version_id=1, histogram={"5": 2})
    baseline.note(instance_id=7, version_id=2, histogram={"500": 9})  # another version: not mixed in
    kept = baseline.histogram_between(instance_id=7, version_id=1, since=now - 3600, until=now + 1)
    assert kept == {"5": 5, "10": 1}
    assert 0 < store.client().ttl(baseline._key(7, 1, int(now // baseline.SLOT_S))) <= baseline.KEEP_S
    assert baseline.histogram_between(instance_id=7, version_id=1, since=now - 7200, until=now - 3600) == {}
