"""What "a running instance" and "a running source instance" are, stated once on the queryset."""

from runtime.models import FunctionInstance
from tests.factories import FunctionFactory, InstanceFactory


def test_running_means_enabled_and_deployed(db):
    running = InstanceFactory()
    InstanceFactory(enabled=False)
    InstanceFactory(deployed_version=None)
    assert list(FunctionInstance.objects.running()) == [running]


def test_running_sources_take_webhooks_on_an_enabled_source(db):
    hook = InstanceFactory(function=FunctionFactory(resource_type="SOURCE"))
    muted = InstanceFactory(function=FunctionFactory(resource_type="SOURCE"))
    muted.source.enabled = False
    muted.source.save(update_fields=["enabled"])
    InstanceFactory()  # a destination
    assert list(FunctionInstance.objects.running_sources()) == [hook]
