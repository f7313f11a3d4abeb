"""Python side of the JavaScript sandbox: the only code that talks to the Node host.

Standard library only (no Django, no app): one long-lived ``node --no-node-snapshot host.js``
child per process, started lazily and spoken to with newline-delimited JSON. The modules, by
concept (docs/sandbox.md):

- ``protocol``: ``SandboxRequest``, ``SandboxResult``, ``CheckResult``, ``SandboxUnavailable``,
  the function kinds and handlers, and how requests and replies are encoded;
- ``limits``: ``SandboxLimits``, every limit of the host as one value;
- ``engine``: where the pinned Node.js binary is and ``engine_problem()``;
- ``host``: the host process (spawn, readers, deadlines, replay after a crash);
- ``breaker``: the host's crash record and the circuit breaker that quarantines a function;
- ``facade``: the ``Sandbox`` the platform calls, and ``get_sandbox()``;
- ``django``: ``sandbox()``, this process's sandbox from Django settings (the one module that
  imports Django; import it as ``runtime.sandbox.django``, never from here).
"""

from .engine import ENGINE_NODE, HOST_DIR, NODE_MAJOR, engine_problem
from .facade import Sandbox, get_sandbox
from .limits import SandboxLimits
from .protocol import (
    EVENT_HANDLERS,
    KINDS,
    CheckResult,
    SandboxRequest,
    SandboxResult,
    SandboxUnavailable,
)

__all__ = [
    "ENGINE_NODE",
    "EVENT_HANDLERS",
    "HOST_DIR",
    "KINDS",
    "NODE_MAJOR",
    "CheckResult",
    "Sandbox",
    "SandboxLimits",
    "SandboxRequest",
    "SandboxResult",
    "SandboxUnavailable",
    "engine_problem",
    "get_sandbox",
]
