"""The pipeline's fixtures (a tracking source, sink destinations) and the API clients."""

from tests.api.conftest import api, api_as, token_for  # noqa: E402, F401
from tests.pipeline.conftest import (  # noqa: F401
    _fast_retries,
    destination,
    sink,
    source_function_instance,
    tracking_source,
)
