"""Manager pages: model registry, generation jobs, training runs."""

from django.urls import path

from . import views

urlpatterns = [
    # training runs (every kind: reward, PPO, GRPO)
    path("runs/", views.runs_list, name="runs"),
    path("runs/new/", views.run_new, name="run-new"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/status.json", views.run_status_json, name="run-status"),
    path("runs/<int:pk>/cancel/", views.run_cancel_view, name="run-cancel"),
]
