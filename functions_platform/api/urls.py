"""Everything under /api: the apps' endpoints, the OpenAPI schema and an offline Swagger UI."""

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import api_index, not_found

urlpatterns = [
    path("", api_index, name="api-index"),
    path("", include("catalog.api.urls")),
    path("", include("runtime.api.urls")),
    path("", include("workspaces.api.urls")),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's script comes from a URL of its own (the split view: no inline script); its
    # React code adds <style> elements, so this one page allows inline styles.
    path(
        "docs",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    # Unknown paths answer in the API's envelope, not with Django's HTML page.
    re_path(r"^.*$", not_found),
]
