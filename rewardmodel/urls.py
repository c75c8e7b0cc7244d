"""Manager pages: model registry, generation jobs, training runs."""

from django.urls import path

from . import views_generation

urlpatterns: list = [
    # --- generation jobs (owner: registry) ---
    path("generation/new/", views_generation.generation_new, name="generation-new"),
    path("generation/<int:pk>/", views_generation.generation_job, name="generation-job"),
    path(
        "generation/<int:pk>/status.json",
        views_generation.generation_job_status_json,
        name="generation-job-status",
    ),
    path(
        "generation/<int:pk>/cancel/",
        views_generation.generation_job_cancel_view,
        name="generation-job-cancel",
    ),
]
