"""The one status view and the one cancel view of every kind of job, and the page of a data job.

    GET  /jobs/<kind>/<id>/status.json   what the job's page polls: every job's fields, then its kind's
    POST /jobs/<kind>/<id>/cancel/       asks it to stop (a queued one stops at once), back to its page

<kind> is a slug of rewardmodel.jobs.kinds (run, generation, data, demo-loop). Managers only
(annotate.permissions). Thin: the lifecycle is rewardmodel.jobs.lifecycle's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotate.data_jobs import data_job_links
from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.jobs.kinds import BY_SLUG, KINDS
from rewardmodel.jobs.lifecycle import job_cancel
from rewardmodel.jobs.workers import job_waiting
from rewardmodel.models import DataJob, JobBase


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def job_status(job: JobBase, query: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What a job's page shows, as JSON: the fields every job has, then those of its kind."""
    kind = KINDS[type(job)]
    status = {
        "id": job.pk,
        "job": kind.slug,
        "status": job.status,
        "status_display": "lost" if job.is_lost else job.get_status_display(),
        "progress": round(job.progress, 4),
        "message": job.status_message,
        "error": job.error,
        "traceback": job.traceback,
        "device": job.device,
        "task_id": job.task_id,
        "is_finished": job.is_finished,
        "is_lost": job.is_lost,
        "cancel_requested": job.cancel_requested,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "heartbeat_at": _iso(job.heartbeat_at),
        "wall_seconds": round(job.wall_seconds, 1) if job.wall_seconds is not None else None,
        # queued long with no live worker on its queue: why, and the command that starts one
        "waiting": job_waiting(job, kind.queue),
    }
    fields = kind.hook("status")
    return {**status, **(fields(job, query or {}) if fields is not None else {})}


def _job(kind: str, pk: int) -> JobBase:
    model = BY_SLUG.get(kind)
    if model is None:
        raise Http404(f"No kind of job named {kind!r}.")
    return get_object_or_404(model.objects.select_related(*KINDS[model].select), pk=pk)


@require_GET
@manager_required
def job_status_json(request: HttpRequest, kind: str, pk: int) -> JsonResponse:
    return JsonResponse(job_status(_job(kind, pk), request.GET))


@require_POST
@manager_required
def job_cancel_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    job = _job(kind, pk)
    label = KINDS[type(job)].label
    try:
        job_cancel(job)
    except PairwiseError as exc:  # finished meanwhile: the page shows how it ended
        messages.info(request, exc.message)
    else:
        messages.info(request, f"{label} #{job.pk}: cancel requested; it stops at its next step.")
    page = KINDS[type(job)].page
    return redirect(reverse(page) if page == "home" else reverse(page, args=[job.pk]))


@require_GET
@manager_required
def data_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(DataJob.objects.select_related("project"), pk=pk)
    context = {"job": job, "status": job_status(job), "links": data_job_links(job)}
    return render(request, "rewardmodel/data_job.html", context)
