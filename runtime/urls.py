"""Public ingest endpoints: source webhooks (/hooks/...) and the Tracking API (/v1/...)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("hooks/<str:token>", views.webhook, name="source-webhook"),
    re_path(
        r"^v1/(?P<kind>identify|track|page|screen|group|alias|batch|import)$",
        views.tracking,
        name="tracking-api",
    ),
]
