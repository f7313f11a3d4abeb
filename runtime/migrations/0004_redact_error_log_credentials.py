"""Error logs written before credentials were redacted on write may hold a source function's
webhook URL (the request `url`) or a write key; replace them as error_log_record now does.

The logic is copied here on purpose: a migration must keep doing what it did when it was
written, whatever workspaces.redaction becomes.
"""

import json

from django.db import migrations

REDACTED = "[redacted]"
FIELDS = ("message", "stack", "input", "logs", "requests")


def _redact(value, secrets):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    found = [secret for secret in secrets if secret and secret in text]
    for secret in found:
        text = text.replace(secret, REDACTED)
    if not found:
        return value, False
    return (text if isinstance(value, str) else json.loads(text)), True


def redact_error_logs(apps, schema_editor):
    ErrorLog = apps.get_model("runtime", "ErrorLog")
    rows = ErrorLog.objects.select_related("instance__source").order_by("pk")
    for log in rows.iterator(chunk_size=500):
        secrets = [log.instance.source.webhook_token, log.instance.source.write_key]
        changed = []
        for name in FIELDS:
            value, redacted = _redact(getattr(log, name), secrets)
            if redacted:
                setattr(log, name, value)
                changed.append(name)
        if changed:
            log.save(update_fields=changed)


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0003_ingest_drops"),
        ("workspaces", "0002_encryption_canary"),
    ]

    operations = [migrations.RunPython(redact_error_logs, migrations.RunPython.noop)]
