from django.contrib import admin
from django.urls import include, path

from catalog.views import test_webhook
from runtime.metrics import metrics_view

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("functions_platform.api.urls")),
    # Before runtime.urls, which owns /hooks/<token>.
    path("hooks/test/<str:token>", test_webhook, name="function-test-webhook"),
    path("", include("runtime.urls")),
]
