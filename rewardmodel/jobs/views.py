"""The page of a data job (an import, export or quality recompute run by a worker): live status,
a cancel button, and where to go when it is done. Managers only (annotate.permissions).

Thin: annotate.data_jobs holds the rules.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotate.data_jobs import data_job_status
from annotate.exporting.store import export_file_url
from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.jobs.lifecycle import job_cancel
from rewardmodel.models import DataJob, JobStatus


def data_job_links(job: DataJob) -> list[dict[str, str]]:
    """Where the job page points: the files of a finished export (the export store's one download
    path, managers only), then back to the page that started the job (for a recompute, the
    report, which shows the new figures once the job has succeeded)."""
    links = []
    if job.kind == DataJob.Kind.EXPORT and job.status == JobStatus.SUCCEEDED:
        export_id = job.result.get("export", "")
        links += [
            {
                "label": name,
                "url": export_file_url(project_id=job.project_id, export_id=export_id, filename=name),
            }
            for name in job.result.get("files", [])
        ]
    back = {
        DataJob.Kind.IMPORT: ("admin:annotate_project_change", "The project"),
        DataJob.Kind.EXPORT: ("admin:annotate_project_export", "Export again"),
        DataJob.Kind.QUALITY: ("quality:project", "The quality report"),
        DataJob.Kind.LEADERBOARD: ("quality:leaderboard", "The leaderboard"),
    }
    name, label = back[DataJob.Kind(job.kind)]
    return [*links, {"label": label, "url": reverse(name, args=[job.project_id])}]


@require_GET
@manager_required
def data_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(DataJob.objects.select_related("project"), pk=pk)
    context = {"job": job, "status": data_job_status(job=job), "links": data_job_links(job)}
    return render(request, "rewardmodel/data_job.html", context)


@require_GET
@manager_required
def data_job_status_json(request: HttpRequest, pk: int) -> JsonResponse:
    job = get_object_or_404(DataJob, pk=pk)
    return JsonResponse({**data_job_status(job=job), "links": data_job_links(job)})


@require_POST
@manager_required
def data_job_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(DataJob, pk=pk)
    try:
        job_cancel(job)
    except PairwiseError:
        pass  # finished meanwhile: the page shows how it ended
    return redirect("data-job", pk=pk)
