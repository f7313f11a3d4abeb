"""Everything under /api: the apps' endpoints, the OpenAPI schema and an offline Swagger UI."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import not_found

urlpatterns = [
    path("", include("catalog.api.urls")),
    path("", include("runtime.api.urls")),
    path("", include("workspaces.api.urls")),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Unknown paths answer in the API's envelope, not with Django's HTML page.
    re_path(r"^.*$", not_found),
]
