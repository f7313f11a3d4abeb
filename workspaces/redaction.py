"""Keep a source's credentials out of what its readers see.

A source's write key and a source function's webhook token authenticate whoever sends events;
only those who may manage the source see them (docs/access-control.md). Error logs are readable
by everyone who may read the instance, and they keep what a failed invocation saw: a webhook
request's URL (which holds the token), and whatever the function logged or emitted. Every
stored string that contains a credential of the instance's source gets it replaced.
"""

from __future__ import annotations

import json

REDACTED = "[redacted]"


def source_credentials(source) -> list[str]:
    """The secrets of `source` that must not appear in what its readers see."""
    return [secret for secret in (source.webhook_token, source.write_key) if secret]


def credentials_redact(value, credentials: list[str]):
    """`value` (a string or JSON-like data) with each credential replaced by REDACTED.

    Both kinds of credential are URL-safe base64 or base62, which JSON never escapes, so a
    replacement in the encoded text reaches every key and string at any depth.
    """
    if not credentials:
        return value
    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return value  # not storable as JSON either: the write that follows refuses it
    found = [secret for secret in credentials if secret in text]
    if not found:
        return value
    for secret in found:
        text = text.replace(secret, REDACTED)
    return text if isinstance(value, str) else json.loads(text)
