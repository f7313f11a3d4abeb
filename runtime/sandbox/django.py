"""The process's sandbox, configured from Django settings (the rest of runtime/sandbox/ has no Django)."""

from django.conf import settings

from ..inspector.services import captures_record, host_rules
from .facade import Sandbox, get_sandbox
from .limits import SandboxLimits


def sandbox() -> Sandbox:
    """This process's Node sandbox host, started lazily (one per web or worker process).

    Fetches to the platform's request inspector are answered by the host and recorded here.
    """
    return get_sandbox(
        node_binary=settings.NODE_BINARY,
        egress_allow=settings.FUNCTIONS_EGRESS_ALLOW,
        limits=SandboxLimits.from_mapping(
            settings.FUNCTIONS_SANDBOX_LIMITS, max_warm=settings.FUNCTIONS_MAX_WARM
        ),
        fetch_answers=host_rules(),
        on_captured=captures_record,
    )
