from django.urls import path

from . import testcases, views

FN = "functions/<str:function_id>"

urlpatterns = [
    path("functions", views.FunctionListView.as_view(), name="api-functions"),
    path("functions/preview", views.AdHocPreviewView.as_view(), name="api-preview"),
    path(FN, views.FunctionDetailView.as_view(), name="api-function"),
    path(f"{FN}/deploy", views.FunctionDeployView.as_view(), name="api-function-deploy"),
    path(f"{FN}/preview", views.FunctionPreviewView.as_view(), name="api-function-preview"),
    path(f"{FN}/versions", views.VersionListView.as_view(), name="api-function-versions"),
    path(f"{FN}/versions/<str:version_id>", views.VersionDetailView.as_view(), name="api-function-version"),
    path(f"{FN}/test-cases", testcases.TestCaseListView.as_view(), name="api-function-test-cases"),
    path(f"{FN}/test-cases/run", testcases.TestCaseRunView.as_view(), name="api-function-test-cases-run"),
    path(
        f"{FN}/test-cases/<str:case_id>",
        testcases.TestCaseDetailView.as_view(),
        name="api-function-test-case",
    ),
]
