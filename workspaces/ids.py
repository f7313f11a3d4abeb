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


# The largest value a BigAutoField primary key (and any integer column) can hold.
MAX_DB_INT = 2**63 - 1


def int_param(value, *, max_value: int = MAX_DB_INT) -> int | None:
    """`value` as a non-negative integer when it is one written in ASCII digits and fits the
    database, else None. str.isdigit() alone accepts "²" and "١" (int() then raises) and any
    length (the database then overflows), so ids from URLs and bodies go through here."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(max_value)):
        return None
    number = int(text)
    return number if number <= max_value else None
