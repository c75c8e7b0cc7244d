"""REST API for labelers and managers, under /api/ (schema at /api/schema/, docs at /api/docs/)."""

from django.urls import path

from annotate.api import views

urlpatterns = [
    path("token/", views.TokenApi.as_view(), name="api-token"),
    path("projects/", views.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<int:project_id>/next/", views.NextComparisonApi.as_view(), name="api-next"),
    path("projects/<int:project_id>/me/", views.MyStatsApi.as_view(), name="api-me"),
    path("projects/<int:project_id>/progress/", views.ProjectProgressApi.as_view(), name="api-progress"),
    path("projects/<int:project_id>/export/", views.ProjectExportApi.as_view(), name="api-export"),
    path(
        "projects/<int:project_id>/exports/<str:name>/<str:filename>",
        views.ExportFileApi.as_view(),
        name="api-export-file",
    ),
    path("assignments/<int:assignment_id>/", views.AssignmentDetailApi.as_view(), name="api-assignment"),
    path("assignments/<int:assignment_id>/judgment/", views.JudgmentCreateApi.as_view(), name="api-judgment"),
    path("assignments/<int:assignment_id>/skip/", views.AssignmentSkipApi.as_view(), name="api-skip"),
    path("judgments/undo/", views.JudgmentUndoApi.as_view(), name="api-undo"),
]
