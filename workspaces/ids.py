"""Public identifiers shaped like Segment's (base62 ids, hex ids, KSUID-like version ids)."""

import secrets
import string
import time

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def hex24() -> str:
    return secrets.token_hex(12)


def ksuid() -> str:
    """A 27-character, time-ordered base62 id (a KSUID: 4-byte timestamp + 16 random bytes)."""
    epoch = int(time.time()) - 1_400_000_000
    value = int.from_bytes(epoch.to_bytes(4, "big") + secrets.token_bytes(16), "big")
    out = []
    while value:
        value, rem = divmod(value, 62)
        out.append(BASE62[rem])
    return "".join(reversed(out)).rjust(27, "0")


def source_id() -> str:
    return base62(22)


def write_key() -> str:
    return base62(32)


def webhook_token() -> str:
    return secrets.token_urlsafe(32)
