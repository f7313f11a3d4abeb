from django.urls import path

from . import views

urlpatterns = [
    path("sources", views.SourceListView.as_view(), name="api-sources"),
    path("sources/<str:source_id>", views.SourceDetailView.as_view(), name="api-source"),
]
