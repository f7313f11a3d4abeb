"""Segment's cursor pagination: `pagination.count` and `pagination.cursor` in the query string.

Segment's TypeScript SDK sends the bracket form (`pagination[count]=10`); both are accepted.
Cursors are opaque base64 offsets (Segment's own look like `Mw==`). The response carries
`pagination: {current, next, previous, totalEntries}`.
"""

from __future__ import annotations

import base64
import binascii

from workspaces.ids import int_param

from .exceptions import UnprocessableEntity

DEFAULT_COUNT = 200
MAX_COUNT = 1000
# 18 digits: what the published cursor pattern allows, and well inside PostgreSQL's OFFSET.
MAX_OFFSET = 10**18 - 1


def _param(request, name: str):
    query = request.query_params
    return query.get(f"pagination.{name}", query.get(f"pagination[{name}]"))


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The offset a cursor stands for; 422 unless it is one we could have written (a number
    in ASCII digits that the database's OFFSET can take)."""
    try:
        offset = int_param(
            base64.b64decode(cursor.encode(), validate=True).decode("ascii"), max_value=MAX_OFFSET
        )
    except (binascii.Error, UnicodeError, ValueError):
        offset = None
    if offset is None:
        raise UnprocessableEntity({"pagination.cursor": ["Invalid cursor."]})
    return offset


def page_params(request) -> tuple[int, int]:
    """(offset, count) from the query string; 422 naming the parameter when invalid."""
    raw_count = _param(request, "count")
    count = DEFAULT_COUNT if raw_count in (None, "") else (int_param(raw_count) or 0)
    if not 1 <= count <= MAX_COUNT:
        raise UnprocessableEntity({"pagination.count": [f"Must be an integer from 1 to {MAX_COUNT}."]})
    raw_cursor = _param(request, "cursor")
    offset = decode_cursor(raw_cursor) if raw_cursor else 0
    return offset, count


def paginate(request, queryset) -> tuple[list, dict]:
    """One page of `queryset` (ordered) and the `pagination` object describing it."""
    offset, count = page_params(request)
    total = queryset.count()
    items = list(queryset[offset : offset + count])
    info = {
        "current": encode_cursor(offset),
        "next": encode_cursor(offset + count) if offset + count < total else None,
        "previous": encode_cursor(max(0, offset - count)) if offset > 0 else None,
        "totalEntries": total,
    }
    return items, info
