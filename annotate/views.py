"""Labeler pages (thin: the rules live in annotate.services)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotate import keys
from annotate.models import Project
from annotate.permissions import is_manager
from annotate.screen_views import assignment_payload, guidelines_html, screen_stats_payload
from annotate.services import (
    SCREEN_COUNT_CAP,
    assignments_active,
    comparison_assign_next,
    labeler_stats,
    project_for_labeler,
)
from pairwise.errors import Forbidden, NotFound
from rewardmodel.jobs.workers import jobs_waiting

# The screen shows untrusted text. It is sanitized on the server; this policy is the second wall:
# no inline script, no foreign origin, no plugins, no framing.
SCREEN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    manager = is_manager(request.user)
    projects = Project.objects.all() if manager else request.user.labeling_projects.all()
    # What is left is counted up to the cap, as on the ranking screen: exact counts took half a
    # second per project of a million comparisons.
    rows = [
        (project, labeler_stats(labeler=request.user, project=project, cap=SCREEN_COUNT_CAP))
        for project in projects
    ]
    context = {
        "rows": rows,
        "is_manager": manager,
        # A manager labels only where they are a labeler: opening the screen leases pairs.
        "labels_in": set(request.user.labeling_projects.values_list("pk", flat=True)),
        # Managers also see the jobs no worker will pick up, and the latest demo loop, live
        # (rewardmodel's {% demo_loop_card %} tag).
        "waiting": jobs_waiting() if manager else [],
    }
    return render(request, "annotate/home.html", context)


@login_required
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    """The ranking screen: the labeler's leased pairs come with the page; the rest via screen_views."""
    try:
        project = project_for_labeler(labeler=request.user, project_id=project_id)
        comparison_assign_next(labeler=request.user, project=project)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:  # excluded: they know the project, so it may be named
        project = Project.objects.get(pk=project_id)
        return render(
            request, "annotate/blocked.html", {"project": project, "message": exc.message}, status=403
        )
    base = reverse("label", args=[project.pk])
    bootstrap = {
        "project": {
            "id": project.pk,
            "name": project.name,
            "require_rationale_for_tie": project.require_rationale_for_tie,
            "lease_seconds": project.lease_seconds,
        },
        "user": {"id": request.user.pk, "username": request.user.get_username()},
        "urls": {
            "lease": base + "lease",
            "judgment": base + "assignments/{id}/judgment",
            "skip": base + "assignments/{id}/skip",
            "undo": base + "undo",
            "home": reverse("home"),
            "login": reverse("login") + "?next=" + base,
        },
        "assignments": [
            assignment_payload(a) for a in assignments_active(labeler=request.user, project=project)
        ],
        "stats": screen_stats_payload(request.user, project),
    }
    response = render(
        request,
        "annotate/label.html",
        {
            "project": project,
            "bootstrap": bootstrap,
            "guidelines": guidelines_html(project),
            "key_legend": keys.legend(),  # the guidelines' key sentence comes from the same table
        },
    )
    response["Content-Security-Policy"] = SCREEN_CSP
    # The page carries leases: never show a stale copy from the back/forward cache.
    response["Cache-Control"] = "no-store"
    return response
