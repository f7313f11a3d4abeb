import django.db.models.deletion
from django.db import migrations, models


def previous_versions_backfill(apps, schema_editor):
    """The version each instance ran before its current one: the newest succeeded deployment of
    another version, else the version it was connected with (the audit trail's `connected`)."""
    FunctionInstance = apps.get_model("runtime", "FunctionInstance")
    Deployment = apps.get_model("runtime", "Deployment")
    FunctionVersion = apps.get_model("catalog", "FunctionVersion")
    AuditEvent = apps.get_model("workspaces", "AuditEvent")
    for instance in FunctionInstance.objects.exclude(deployed_version=None).iterator():
        earlier = (
            Deployment.objects.filter(instance=instance, status="SUCCEEDED")
            .exclude(version_id=instance.deployed_version_id)
            .order_by("-finished_at", "-id")
            .values_list("version_id", flat=True)
            .first()
        )
        if earlier is None:
            connected = (
                AuditEvent.objects.filter(action="connected", object_id=instance.public_id)
                .values_list("version_id", flat=True)
                .first()
            )
            version = FunctionVersion.objects.filter(public_id=connected, function_id=instance.function_id).first()
            if version is not None and version.pk != instance.deployed_version_id:
                earlier = version.pk
        if earlier is not None:
            FunctionInstance.objects.filter(pk=instance.pk).update(previous_version_id=earlier)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("workspaces", "0003_audit_rolled_back"),
        ("runtime", "0005_request_inspector"),
    ]

    operations = [
        migrations.AddField(
            model_name="functioninstance",
            name="previous_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="catalog.functionversion",
            ),
        ),
        migrations.RunPython(previous_versions_backfill, migrations.RunPython.noop),
    ]
