"""FunctionVersion.handlers: the handler names a version's code defines, stored at save time
from the sandbox's check (catalog.services). Versions saved before the field existed are
filled by a regex over their code instead: the check would need the sandbox host inside a
migration, and the regex is what delivery used to detect onBatch with until now."""

import re

from django.db import migrations, models

HANDLERS = ("onRequest", "onTrack", "onIdentify", "onPage", "onScreen", "onGroup", "onAlias", "onDelete", "onBatch")
BATCH = 500


def _defined(code: str) -> list[str]:
    return [h for h in HANDLERS if re.search(rf"\bfunction\s+{h}\s*\(|\b{h}\s*=", code)]


def backfill(apps, schema_editor):
    FunctionVersion = apps.get_model("catalog", "FunctionVersion")
    rows = []
    for version in FunctionVersion.objects.only("pk", "code").iterator(chunk_size=BATCH):
        version.handlers = _defined(version.code)
        rows.append(version)
        if len(rows) == BATCH:
            FunctionVersion.objects.bulk_update(rows, ["handlers"])
            rows = []
    FunctionVersion.objects.bulk_update(rows, ["handlers"])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_test_cases")]

    operations = [
        migrations.AddField(
            model_name="functionversion",
            name="handlers",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
