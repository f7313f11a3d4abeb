"""Stored code with `\\r\\n` (or `\\r`) line endings gets `\\n`, as every write path now stores it:
a one-line change made through the API no longer diffs as the whole file against a version saved
in the admin."""

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Replace


def normalise(apps, schema_editor):
    lf = Replace(Replace("code", Value("\r\n"), Value("\n")), Value("\r"), Value("\n"))
    for name in ("Function", "FunctionVersion"):
        model = apps.get_model("catalog", name)
        model.objects.filter(code__contains="\r").update(code=lf)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
