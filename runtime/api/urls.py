from django.urls import path

from . import views

INSERT = "insert-function-instances"
INSTANCE = "function-instances/<str:instance_id>"

urlpatterns = [
    path(INSERT, views.InsertInstanceListView.as_view(), name="api-insert-instances"),
    path(f"{INSERT}/<str:instance_id>", views.InsertInstanceDetailView.as_view(), name="api-insert-instance"),
    path(
        "functions/<str:function_id>/instances",
        views.FunctionInstanceListView.as_view(),
        name="api-function-instances",
    ),
    path(INSTANCE, views.FunctionInstanceDetailView.as_view(), name="api-instance"),
    path(f"{INSTANCE}/errors", views.InstanceErrorsView.as_view(), name="api-instance-errors"),
    path(f"{INSTANCE}/rollback", views.InstanceRollbackView.as_view(), name="api-instance-rollback"),
    path(f"{INSTANCE}/metrics", views.InstanceMetricsView.as_view(), name="api-instance-metrics"),
    path("sources/<str:source_id>/drops", views.SourceDropsView.as_view(), name="api-source-drops"),
]
