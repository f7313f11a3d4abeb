from django.urls import path

from . import views

FN = "functions/<str:function_id>"

urlpatterns = [
    path("functions", views.FunctionListView.as_view(), name="api-functions"),
    path("functions/preview", views.AdHocPreviewView.as_view(), name="api-preview"),
    path(FN, views.FunctionDetailView.as_view(), name="api-function"),
    path(f"{FN}/deploy", views.FunctionDeployView.as_view(), name="api-function-deploy"),
    path(f"{FN}/preview", views.FunctionPreviewView.as_view(), name="api-function-preview"),
    path(f"{FN}/versions", views.VersionListView.as_view(), name="api-function-versions"),
    path(f"{FN}/versions/<str:version_id>", views.VersionDetailView.as_view(), name="api-function-version"),
]
