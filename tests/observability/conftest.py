"""The pipeline's fixtures (a tracking source, sink destinations, a source function)."""

from tests.admin_ui.conftest import httpserver_listen_address  # noqa: F401
from tests.pipeline.conftest import (  # noqa: F401
    _fast_retries,
    destination,
    sink,
    source_function_instance,
    tracking_source,
)
