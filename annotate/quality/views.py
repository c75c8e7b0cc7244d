"""Manager pages for labeler quality and leaderboards (managers only: annotate.permissions).

Pages read the newest stored snapshot, so they render in milliseconds however many judgments a
project has; a "recompute" button (POST) starts a job (annotate.data_jobs) that a worker runs
to store a new one, and shows the job's page, which links back here when done. Exclusions
are read live, so the buttons always show the current state even when the figures are older.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotate.data_jobs import data_job_create
from annotate.models import Choice, Comparison, Project, QualitySnapshot
from annotate.permissions import manager_required
from annotate.quality import charts
from annotate.quality.exclusion import (
    exclusions_active,
    exclusions_changed_at,
    labeler_exclude,
    labeler_reinstate,
)
from annotate.quality.gold import comparisons_mark_gold, comparisons_unmark_gold, gold_comparison_for_manager
from annotate.quality.report import WINDOWS
from annotate.quality.stored import snapshot_latest
from pairwise.errors import PairwiseError
from rewardmodel.jobs.workers import job_waiting
from rewardmodel.models import DataJob, JobStatus

GOLD_LISTED = 200


def _int(value: str | None, default: int, *, lo: int, hi: int) -> int:
    try:
        return min(max(int(value), lo), hi)
    except (TypeError, ValueError):
        return default


@require_GET
@manager_required
def index(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.annotate(n_comparisons=Count("comparisons")).order_by("name")
    return render(request, "quality/index.html", {"projects": projects})


def _jobs_context(project: Project, kind: str) -> dict:
    """The recompute under way, if any, and why it has not started when no worker serves its queue."""
    pending = DataJob.objects.filter(
        project=project, kind=kind, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).first()
    why = job_waiting(pending) if pending is not None else ""
    waiting = [(pending, reverse("data-job", args=[pending.pk]), why)] if why else []
    return {"pending": pending, "waiting": waiting}


@require_GET
@manager_required
def project_quality(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    snapshot = snapshot_latest(project=project, kind=QualitySnapshot.Kind.QUALITY)
    exclusions = exclusions_active(project=project)
    changed = exclusions_changed_at(project=project)
    context = {
        "project": project,
        "snapshot": snapshot,
        "stale": bool(snapshot and changed and changed > snapshot.computed_at),
        "exclusions": exclusions,
        "windows": WINDOWS,
        **_jobs_context(project, DataJob.Kind.QUALITY),
    }
    if snapshot is not None:
        context.update(charts.quality_context(snapshot.data, exclusions))
        context["labeler_rows"] = charts.labeler_table_rows(
            context["rows"],
            csrf_token=get_token(request),
            # The exclude/reinstate URLs of every row share this prefix (one reverse, not 400).
            labelers_url=reverse("quality:project", args=[project.pk]) + "labelers/",
        )
    return render(request, "quality/project.html", context)


@require_POST
@manager_required
def recompute(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    config = {
        "window": request.POST.get("window", "auto"),
        "n_bootstrap": _int(request.POST.get("n_bootstrap"), 1000, lo=0, hi=5000),
    }
    job = data_job_create(project=project, kind=DataJob.Kind.QUALITY, config=config, user=request.user)
    return redirect("data-job", pk=job.pk)


def _labeler(project: Project, labeler_id: int):
    user = get_object_or_404(get_user_model(), pk=labeler_id)
    if not (
        project.labelers.filter(pk=user.pk).exists()
        or user.judgments.filter(comparison__project=project).exists()
    ):
        raise PermissionDenied(f"{user.get_username()} does not label {project.name}.")
    return user


@require_POST
@manager_required
def exclude(request: HttpRequest, project_id: int, labeler_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    labeler = _labeler(project, labeler_id)
    try:
        labeler_exclude(
            project=project, labeler=labeler, reason=request.POST.get("reason", ""), by=request.user
        )
    except PairwiseError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{labeler.get_username()} is excluded. Recompute to update the figures below."
        )
    return redirect(reverse("quality:project", args=[project.pk]) + f"#labeler-{labeler.pk}")


@require_POST
@manager_required
def reinstate(request: HttpRequest, project_id: int, labeler_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    labeler = _labeler(project, labeler_id)
    try:
        labeler_reinstate(project=project, labeler=labeler, by=request.user)
    except PairwiseError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{labeler.get_username()} is reinstated. Recompute to update the figures below."
        )
    return redirect(reverse("quality:project", args=[project.pk]) + f"#labeler-{labeler.pk}")


@require_http_methods(["GET", "POST"])
@manager_required
def gold(request: HttpRequest, project_id: int) -> HttpResponse:
    """List gold items; look a comparison up by id and mark it gold with its answer; unmark."""
    project = get_object_or_404(Project, pk=project_id)
    if request.method == "POST":
        try:
            comparison = gold_comparison_for_manager(
                project=project, comparison_id=request.POST.get("comparison")
            )
            one = Comparison.objects.filter(pk=comparison.pk)
            if request.POST.get("action") == "unmark":
                comparisons_unmark_gold(comparisons=one)
                messages.success(request, f"Comparison {comparison.pk} is an ordinary comparison again.")
            else:
                answer = request.POST.get("answer", "")
                comparisons_mark_gold(comparisons=one, answer=answer)
                messages.success(request, f"Comparison {comparison.pk} is gold: {Choice(answer).label}.")
        except PairwiseError as exc:
            messages.error(request, exc.message)
        return redirect("quality:gold", project_id=project.pk)
    candidate = None
    lookup = request.GET.get("comparison")
    if lookup:
        try:
            candidate = gold_comparison_for_manager(project=project, comparison_id=lookup)
        except PairwiseError as exc:
            messages.error(request, exc.message)
    items = (
        Comparison.objects.filter(project=project, is_gold=True)
        .select_related("prompt", "response_a", "response_b")
        .annotate(n_judged=Count("judgments"))
        .order_by("-id")[:GOLD_LISTED]
    )
    total = Comparison.objects.filter(project=project).aggregate(
        gold=Count("id", filter=Q(is_gold=True)), all=Count("id")
    )
    return render(
        request,
        "quality/gold.html",
        {
            "project": project,
            "items": items,
            "total": total,
            "candidate": candidate,
            "choices": Choice.choices,
            "listed": GOLD_LISTED,
        },
    )


@require_GET
@manager_required
def leaderboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    snapshot = snapshot_latest(project=project, kind=QualitySnapshot.Kind.LEADERBOARD)
    context = {"project": project, "snapshot": snapshot, **_jobs_context(project, DataJob.Kind.LEADERBOARD)}
    if snapshot is not None:
        context.update(charts.leaderboard_context(snapshot.data))
    return render(request, "quality/leaderboard.html", context)


@require_POST
@manager_required
def leaderboard_recompute(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    config = {
        "sources": [s for s in request.POST.getlist("sources") if s] or None,
        "n_bootstrap": _int(request.POST.get("n_bootstrap"), 200, lo=0, hi=2000),
    }
    job = data_job_create(project=project, kind=DataJob.Kind.LEADERBOARD, config=config, user=request.user)
    return redirect("data-job", pk=job.pk)
