"""Concurrent deployments of one instance on PostgreSQL: the newest request wins even when an
older one is half-way through its switch (the instance row lock orders them)."""

import os
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from catalog.models import FunctionVersion
from runtime import services
from runtime.choices import DeploymentStatus
from runtime.models import Deployment, FunctionInstance
from tests.factories import FunctionFactory, InstanceFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("REQUIRE_SERVICES=1 but the tests do not run on PostgreSQL (set DATABASE_URL)")
        pytest.skip("row locks need PostgreSQL (set DATABASE_URL)")


def pending(function, instance, number):
    version = FunctionVersion.objects.create(
        function=function, number=number, code=function.code + f"\n// {number}\n"
    )
    return Deployment.objects.create(instance=instance, version=version)


def in_thread(target):
    def run():
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_older_deployment_paused_mid_switch_does_not_win(monkeypatch):
    function = FunctionFactory(workspace=WorkspaceFactory(slug="race"))
    instance = InstanceFactory(function=function)
    older = pending(function, instance, 2)
    paused, release = threading.Event(), threading.Event()
    real_now, calls = timezone.now, {"older": 0}

    def now_pausing_the_older_run():
        # The 2nd clock read of the older run happens after its newer-request check, under
        # the instance lock and before the switch: hold it there.
        if threading.current_thread() is older_thread:
            calls["older"] += 1
            if calls["older"] == 2:
                paused.set()
                release.wait(10)
        return real_now()

    monkeypatch.setattr(services.timezone, "now", now_pausing_the_older_run)
    older_thread = in_thread(lambda: services.deployment_apply(deployment_id=older.pk))
    assert paused.wait(10)
    newer = pending(function, instance, 3)
    newer_thread = in_thread(lambda: services.deployment_apply(deployment_id=newer.pk))
    newer_thread.join(2)  # without the lock the newer run would finish here, then lose
    release.set()
    older_thread.join(10)
    newer_thread.join(10)
    assert FunctionInstance.objects.get(pk=instance.pk).deployed_version_id == newer.version_id
    statuses = dict(Deployment.objects.values_list("pk", "status"))
    assert statuses == {older.pk: DeploymentStatus.SUCCEEDED, newer.pk: DeploymentStatus.SUCCEEDED}
