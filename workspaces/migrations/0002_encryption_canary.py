from django.db import migrations

PLAINTEXT = "functions-platform-canary"


def create_canary(apps, schema_editor):
    canary_model = apps.get_model("workspaces", "EncryptionCanary")
    if not canary_model.objects.exists():
        canary_model.objects.create(value=PLAINTEXT)


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_canary, migrations.RunPython.noop)]
