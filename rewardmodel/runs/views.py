"""Manager pages for training runs of every kind: the list, the page that starts one (made from the
kind: rewardmodel.runs.forms), the run's own page (its kind's charts and warning), live.

Thin: the rules live in rewardmodel.runs.services. The run page polls the one job status view
(rewardmodel.jobs.views; this module adds a run's fields to it) every 2 s and draws its charts with a
few lines of plain JS (static/rewardmodel/run.js); cancel is the one job cancel view. Nothing here
imports torch: the web process only reads and writes rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.jobs.lifecycle import jobs_reap_lost
from rewardmodel.models import ModelArtifact, RunMetric, TrainingRun
from rewardmodel.runs.forms import run_form
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import run_enqueue, runs_start


def new_run_pages() -> list[tuple[str, str, str]]:
    """(kind, title, URL) of the page that starts each kind of run, in the kinds' order."""
    return [(kind.name, kind.title, reverse("run-new-kind", args=[kind.name])) for kind in KINDS.values()]


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------


@manager_required
def runs_list(request: HttpRequest) -> HttpResponse:
    reaped = jobs_reap_lost(TrainingRun)  # the page is where people look for stuck runs
    if reaped:
        messages.warning(request, f"Marked lost: run {', '.join(f'#{i}' for i in reaped)} (no heartbeat).")
    runs = TrainingRun.objects.select_related("project", "base_model", "output_model", "created_by")[:200]
    return render(request, "rewardmodel/runs_list.html", {"runs": runs, "new_run_pages": new_run_pages()})


@manager_required
def run_new_index(request: HttpRequest) -> HttpResponse:
    """/runs/new/: every kind of run, what it does, and its form."""
    kinds = [(kind, reverse("run-new-kind", args=[kind.name])) for kind in KINDS.values()]
    return render(request, "rewardmodel/run_new_index.html", {"kinds": kinds})


@manager_required
def run_new(request: HttpRequest, kind: str) -> HttpResponse:
    """GET: the kind's form. POST: the run(s) are checked and created (a cold start first), and all
    queued on commit; a PairwiseError becomes a form error and no run is left behind (a snapshot's
    files may stay: they are content-addressed, and the next try reuses them)."""
    if kind not in KINDS:
        raise Http404(f"No kind of run named {kind!r}.")
    run_kind = KINDS[kind]
    form = run_form(run_kind)(request.POST or None, initial={"project": request.GET.get("project")})
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # all the runs or none
                runs = runs_start(kind=run_kind, created_by=request.user, **form.start_arguments())
                for run in runs:
                    run_enqueue(run)
        except PairwiseError as exc:
            form.add_error(None, exc.message)
        else:
            queued = " and ".join(f"#{r.pk} ({r.get_kind_display()})" for r in runs)
            then = f"; run #{runs[-1].pk} waits for it" if len(runs) > 1 else ""
            messages.success(request, f"Run {queued} queued for a training worker{then}.")
            return redirect("run-detail", pk=runs[0].pk)
    context = {
        "form": form,
        "kind": run_kind,
        # an empty list of starting models: the page offers to register the default base model
        "has_models": form.fields[form.start_field].queryset.exists(),
        "next": request.get_full_path(),
        "other_run_pages": [(title, url) for name, title, url in new_run_pages() if name != kind],
    }
    return render(request, "rewardmodel/run_new.html", context)


@manager_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        TrainingRun.objects.select_related(
            "project", "base_model", "snapshot", "output_model", "created_by", "starts_after"
        ),
        pk=pk,
    )
    from rewardmodel.jobs.views import job_status

    initial = job_status(run)
    kind = KINDS.get(run.kind)
    return render(
        request,
        "rewardmodel/run_detail.html",
        {
            "run": run,
            "initial": initial,
            "hacking": initial["verdict"],
            "followers": run.followers.order_by("pk"),
            "config_json": json.dumps(run.config, sort_keys=True),
            "charts": [{"title": c.title, "keys": list(c.keys)} for c in (kind.charts if kind else ())],
        },
    )


# --------------------------------------------------------------------------------------------
# what a run's status adds to every job's (rewardmodel.jobs.views.job_status)
# --------------------------------------------------------------------------------------------


def _model(artifact: ModelArtifact | None) -> dict[str, Any] | None:
    if artifact is None:
        return None
    return {"id": artifact.pk, "name": artifact.name, "kind": artifact.kind, "path": artifact.path}


def run_status_fields(run: TrainingRun, query: Mapping[str, str]) -> dict[str, Any]:
    """A run's page polls these besides every job's fields: its metrics with id > ?after= (the page
    asks for new ones), its models, snapshot, counts and its kind's warning (PPO: reward hacking)."""
    try:
        after = max(int(query.get("after", 0)), 0)
    except (TypeError, ValueError):
        after = 0
    metrics = list(
        RunMetric.objects.filter(Q(run=run) & Q(pk__gt=after)).order_by("pk").values("pk", "step", "values")
    )
    snap = run.snapshot
    kind = KINDS.get(run.kind)
    return {
        "kind": run.kind,
        "examples_seen": run.examples_seen,
        "tokens_seen": run.tokens_seen,
        "summary": run.summary,
        "verdict": kind.verdict(run) if kind is not None and kind.verdict else None,
        "base_model": _model(run.base_model),
        "output_model": _model(run.output_model),
        "snapshot": None
        if snap is None
        else {
            "id": snap.pk,
            "content_hash": snap.content_hash,
            "train_pairs": snap.n_examples,
            "eval_pairs": snap.n_eval_examples,
            "judgments": snap.n_judgments,
            "labelers": snap.n_labelers,
            "filters": snap.filters,
            "path": snap.path,
        },
        "metrics": [{"id": m["pk"], "step": m["step"], **m["values"]} for m in metrics],
        "last_metric_id": metrics[-1]["pk"] if metrics else after,
    }
