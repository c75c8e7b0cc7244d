"""Manager pages: model registry, generation jobs, training runs."""

from django.urls import path

from . import views, views_data_jobs, views_demo, views_generation, views_policy

urlpatterns = [
    # the demo loop (scripts/demo.sh): polled by the home page
    path("demo-loop/<int:pk>/status.json", views_demo.demo_loop_status_json, name="demo-loop-status"),
    # training runs (every kind: reward, SFT, PPO, GRPO)
    path("runs/", views.runs_list, name="runs"),
    path("runs/new/", views.run_new, name="run-new"),
    path("runs/new/sft/", views_policy.run_new_sft, name="run-new-sft"),
    path("runs/new/ppo/", views_policy.run_new_ppo, name="run-new-ppo"),
    path("runs/new/grpo/", views_policy.run_new_grpo, name="run-new-grpo"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/status.json", views.run_status_json, name="run-status"),
    path("runs/<int:pk>/cancel/", views.run_cancel_view, name="run-cancel"),
    # generation jobs (registry)
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
    # data jobs: imports, exports and quality recomputes started from the admin and quality pages
    path("data-jobs/<int:pk>/", views_data_jobs.data_job, name="data-job"),
    path("data-jobs/<int:pk>/status.json", views_data_jobs.data_job_status_json, name="data-job-status"),
    path("data-jobs/<int:pk>/cancel/", views_data_jobs.data_job_cancel_view, name="data-job-cancel"),
]
