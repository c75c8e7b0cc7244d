"""Manager pages: model registry, generation jobs, training runs."""

from django.urls import path

from rewardmodel.demo import views as demo
from rewardmodel.generation import views as generation
from rewardmodel.jobs import views as data_jobs
from rewardmodel.runs import policy_views as policy
from rewardmodel.runs import views as runs

urlpatterns = [
    # the demo loop (scripts/demo.sh): polled by the home page
    path("demo-loop/<int:pk>/status.json", demo.demo_loop_status_json, name="demo-loop-status"),
    # training runs (every kind: reward, SFT, PPO, GRPO)
    path("runs/", runs.runs_list, name="runs"),
    path("runs/new/", runs.run_new, name="run-new"),
    path("runs/new/sft/", policy.run_new_sft, name="run-new-sft"),
    path("runs/new/ppo/", policy.run_new_ppo, name="run-new-ppo"),
    path("runs/new/grpo/", policy.run_new_grpo, name="run-new-grpo"),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    path("runs/<int:pk>/status.json", runs.run_status_json, name="run-status"),
    path("runs/<int:pk>/cancel/", runs.run_cancel_view, name="run-cancel"),
    # generation jobs (registry)
    path("generation/new/", generation.generation_new, name="generation-new"),
    path("generation/<int:pk>/", generation.generation_job, name="generation-job"),
    path(
        "generation/<int:pk>/status.json",
        generation.generation_job_status_json,
        name="generation-job-status",
    ),
    path(
        "generation/<int:pk>/cancel/",
        generation.generation_job_cancel_view,
        name="generation-job-cancel",
    ),
    # data jobs: imports, exports and quality recomputes started from the admin and quality pages
    path("data-jobs/<int:pk>/", data_jobs.data_job, name="data-job"),
    path("data-jobs/<int:pk>/status.json", data_jobs.data_job_status_json, name="data-job-status"),
    path("data-jobs/<int:pk>/cancel/", data_jobs.data_job_cancel_view, name="data-job-cancel"),
]
