from django.urls import path

from ..canary import api as canary_api
from ..deadletters import api as dead_letters
from ..replay import api as replay_api
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
    path(f"{INSTANCE}/canary", canary_api.InstanceCanaryView.as_view(), name="api-instance-canary"),
    path(
        f"{INSTANCE}/canary/promote",
        canary_api.CanaryPromoteView.as_view(),
        name="api-instance-canary-promote",
    ),
    path(f"{INSTANCE}/canary/abort", canary_api.CanaryAbortView.as_view(), name="api-instance-canary-abort"),
    path(f"{INSTANCE}/metrics", views.InstanceMetricsView.as_view(), name="api-instance-metrics"),
    path(f"{INSTANCE}/dead-letters", dead_letters.DeadLetterListView.as_view(), name="api-dead-letters"),
    path(
        f"{INSTANCE}/dead-letters/replay",
        dead_letters.DeadLetterReplayView.as_view(),
        name="api-dead-letters-replay",
    ),
    path(
        f"{INSTANCE}/dead-letters/replays",
        dead_letters.DeadLetterReplayListView.as_view(),
        name="api-dead-letter-replays",
    ),
    path(
        f"{INSTANCE}/dead-letters/replays/<int:replay_id>",
        dead_letters.DeadLetterReplayDetailView.as_view(),
        name="api-dead-letter-replay",
    ),
    path(
        "functions/<str:function_id>/replays",
        replay_api.FunctionReplayListView.as_view(),
        name="api-function-replays",
    ),
    path(
        "functions/<str:function_id>/replays/<str:replay_id>",
        replay_api.FunctionReplayDetailView.as_view(),
        name="api-function-replay",
    ),
    path("sources/<str:source_id>/drops", views.SourceDropsView.as_view(), name="api-source-drops"),
]
