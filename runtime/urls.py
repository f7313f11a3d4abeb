"""Public endpoints: source webhooks (/hooks/...), the Tracking API (/v1/...) and the request
inspector (/inspect/...)."""

from django.urls import path, re_path

from . import views
from .inspector.views import inspect

urlpatterns = [
    path("hooks/<str:token>", views.webhook, name="source-webhook"),
    path("inspect/<str:token>", inspect, name="request-inspector"),
    path("inspect/<str:token>/<path:rest>", inspect, name="request-inspector-path"),
    re_path(
        r"^v1/(?P<kind>identify|track|page|screen|group|alias|batch|import)$",
        views.tracking,
        name="tracking-api",
    ),
]
