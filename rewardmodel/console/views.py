"""The manager's console: a project's page (what is next, step by step, with a button for each
step or the reason it cannot be taken yet), and the make-pairs job it starts. Thin: the steps are
rewardmodel.console.steps', the jobs annotate.data_jobs'.

    GET  /projects/<id>/          the project's steps, its recent jobs and runs, waiting jobs
    POST /projects/<id>/pairs/    make pairs with a strategy (a data job), then its page
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotate.data_jobs import data_job_create
from annotate.forms import PairsFields
from annotate.models import Project
from annotate.permissions import manager_required
from rewardmodel.console.steps import project_steps
from rewardmodel.jobs.workers import jobs_waiting
from rewardmodel.models import DataJob, TrainingRun


def _page(
    request: HttpRequest, project: Project, pairs_form: PairsFields, *, status: int = 200
) -> HttpResponse:
    context = {
        "project": project,
        "steps": project_steps(project, user=request.user),
        "pairs_form": pairs_form,
        "waiting": jobs_waiting(project_id=project.pk),
        "data_jobs": DataJob.objects.filter(project=project)[:8],
        "runs": TrainingRun.objects.filter(project=project).select_related("output_model")[:8],
    }
    return render(request, "rewardmodel/console_project.html", context, status=status)


@manager_required
def console_project(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    return _page(request, project, PairsFields())


@require_POST
@manager_required
def console_pairs(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    form = PairsFields(request.POST)
    if not form.is_valid():
        return _page(request, project, form, status=400)
    job = data_job_create(
        project=project, kind=DataJob.Kind.PAIRS, config=form.pairs_config(), user=request.user
    )
    return redirect("data-job", pk=job.pk)
