"""Manager pages: labeler quality and leaderboards (mounted at /quality/, managers only)."""

from django.urls import path

from annotate.quality import views

app_name = "quality"

urlpatterns = [
    path("", views.index, name="index"),
    path("projects/<int:project_id>/", views.project_quality, name="project"),
    path("projects/<int:project_id>/recompute/", views.recompute, name="recompute"),
    path("projects/<int:project_id>/labelers/<int:labeler_id>/exclude/", views.exclude, name="exclude"),
    path("projects/<int:project_id>/labelers/<int:labeler_id>/reinstate/", views.reinstate, name="reinstate"),
    path("projects/<int:project_id>/gold/", views.gold, name="gold"),
    path("projects/<int:project_id>/leaderboard/", views.leaderboard, name="leaderboard"),
    path(
        "projects/<int:project_id>/leaderboard/recompute/",
        views.leaderboard_recompute,
        name="leaderboard-recompute",
    ),
]
