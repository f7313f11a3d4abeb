"""The process's sandbox, configured from Django settings: the package's only Django import.

The request inspector's standing fetch answer rules and the receiver of what they capture
are apps' code, so they reach this module as hooks: ``RuntimeConfig.ready()`` registers them
(web, worker, management commands and tests all run it) before anything calls ``sandbox()``.
Importing the inspector here instead would make a circle (catalog.validation -> this module
-> runtime.inspector -> runtime.models -> catalog.validation).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from .facade import Sandbox, get_sandbox
from .limits import SandboxLimits
from .protocol import SandboxRequest

NO_HOOKS = "the sandbox's hooks are not registered: RuntimeConfig.ready() has not run"

_hooks: dict[str, Callable | None] = {"fetch_answers": None, "on_captured": None}


def sandbox_hooks_set(
    *,
    fetch_answers: Callable[[], list[dict]],
    on_captured: Callable[[SandboxRequest, list[dict]], object],
) -> None:
    """Registers where the sandbox gets its standing fetch answer rules (called each time a
    sandbox is made) and who receives the fetches they answered (``Sandbox(on_captured=...)``)."""
    _hooks["fetch_answers"] = fetch_answers
    _hooks["on_captured"] = on_captured


def sandbox() -> Sandbox:
    """This process's Node sandbox host, started lazily (one per web or worker process).

    Fetches to the platform's request inspector are answered by the host and recorded by the
    registered hook. Raises RuntimeError when no hooks are registered (Django not set up).
    """
    fetch_answers, on_captured = _hooks["fetch_answers"], _hooks["on_captured"]
    if fetch_answers is None or on_captured is None:
        raise RuntimeError(NO_HOOKS)
    return get_sandbox(
        node_binary=settings.NODE_BINARY,
        egress_allow=settings.FUNCTIONS_EGRESS_ALLOW,
        limits=SandboxLimits.from_mapping(
            settings.FUNCTIONS_SANDBOX_LIMITS, max_warm=settings.FUNCTIONS_MAX_WARM
        ),
        fetch_answers=fetch_answers(),
        on_captured=on_captured,
    )
