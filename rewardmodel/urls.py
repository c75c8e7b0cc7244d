"""Manager pages: jobs of every kind, training runs, generation jobs, data jobs."""

from django.urls import path

from rewardmodel.console import views as console
from rewardmodel.generation import views as generation
from rewardmodel.jobs import views as jobs
from rewardmodel.registry import views as registry
from rewardmodel.runs import views as runs

urlpatterns = [
    # the manager's console: a project's steps, and the make-pairs job
    path("projects/<int:pk>/", console.console_project, name="console-project"),
    path("projects/<int:pk>/pairs/", console.console_pairs, name="console-pairs"),
    # every kind of job (run, generation, data, demo-loop): the status its page polls, and cancel
    path("jobs/<slug:kind>/<int:pk>/status.json", jobs.job_status_json, name="job-status"),
    path("jobs/<slug:kind>/<int:pk>/cancel/", jobs.job_cancel_view, name="job-cancel"),
    # training runs (every kind: reward, SFT, PPO, GRPO, DPO)
    path("runs/", runs.runs_list, name="runs"),
    path("runs/new/", runs.run_new_index, name="run-new"),
    path("runs/new/<slug:kind>/", runs.run_new, name="run-new-kind"),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    # generation jobs (registry)
    path("generation/new/", generation.generation_new, name="generation-new"),
    path("generation/<int:pk>/", generation.generation_job, name="generation-job"),
    # the model registry, and registering a model as a job
    path("models/", registry.models_list, name="models"),
    path("models/register/", registry.model_register, name="model-register"),
    path("models/registrations/<int:pk>/", registry.model_register_job, name="model-register-job"),
    # data jobs: imports, exports and quality recomputes started from the admin and quality pages
    path("data-jobs/<int:pk>/", jobs.data_job, name="data-job"),
]
