"""The sandbox's limits as one value: ``SandboxLimits``.

Standard library only (no Django). The defaults live in ``runtime/node/lib/limits.json``,
which the Node host reads too, so each default is stated once; ``Sandbox(limits=...)``
passes the whole set to the host as the ``SANDBOX_LIMITS`` environment variable. Each
limit, its unit and what a user sees when it is hit: docs/sandbox.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from .engine import HOST_DIR

LIMITS_FILE = os.path.join(HOST_DIR, "lib", "limits.json")
with open(LIMITS_FILE, encoding="utf-8") as _f:
    DEFAULTS: dict[str, int] = json.load(_f)


@dataclass(frozen=True)
class SandboxLimits:
    """Every limit of the sandbox host (units in the names); see docs/sandbox.md."""

    memory_mb: int = DEFAULTS["memory_mb"]
    host_memory_mb: int = DEFAULTS["host_memory_mb"]
    warm_memory_mb: int = DEFAULTS["warm_memory_mb"]
    max_warm: int = DEFAULTS["max_warm"]
    default_timeout_ms: int = DEFAULTS["default_timeout_ms"]
    max_timeout_ms: int = DEFAULTS["max_timeout_ms"]
    check_timeout_ms: int = DEFAULTS["check_timeout_ms"]
    batch_event_allowance_ms: int = DEFAULTS["batch_event_allowance_ms"]
    stuck_ms: int = DEFAULTS["stuck_ms"]
    max_payload_bytes: int = DEFAULTS["max_payload_bytes"]
    max_depth: int = DEFAULTS["max_depth"]
    max_log_lines: int = DEFAULTS["max_log_lines"]
    max_log_line_bytes: int = DEFAULTS["max_log_line_bytes"]
    max_output_bytes: int = DEFAULTS["max_output_bytes"]
    max_intl_objects: int = DEFAULTS["max_intl_objects"]
    max_timers: int = DEFAULTS["max_timers"]
    max_timer_starts: int = DEFAULTS["max_timer_starts"]
    min_interval_ms: int = DEFAULTS["min_interval_ms"]
    fetch_timeout_ms: int = DEFAULTS["fetch_timeout_ms"]
    fetch_max_bytes: int = DEFAULTS["fetch_max_bytes"]
    fetch_max_calls: int = DEFAULTS["fetch_max_calls"]
    fetch_sockets_per_instance: int = DEFAULTS["fetch_sockets_per_instance"]
    fetch_sockets_total: int = DEFAULTS["fetch_sockets_total"]
    hash_max_bytes: int = DEFAULTS["hash_max_bytes"]
    host_work_ms: int = DEFAULTS["host_work_ms"]
    host_work_bytes: int = DEFAULTS["host_work_bytes"]
    crypto_max_bytes: int = DEFAULTS["crypto_max_bytes"]
    pbkdf2_max_iterations: int = DEFAULTS["pbkdf2_max_iterations"]
    zlib_max_bytes: int = DEFAULTS["zlib_max_bytes"]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"sandbox limit {f.name} must be a non-negative integer, not {value!r}")

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any] | None, **overrides: Any) -> SandboxLimits:
        """Limits from a mapping such as the FUNCTIONS_SANDBOX_LIMITS setting (unknown keys raise)."""
        values = dict(mapping or {})
        values.update(overrides)
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown sandbox limits: {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))
