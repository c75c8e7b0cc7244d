"""Manager pages for training runs: list, start (reward model; policy runs in views/policy.py),
watch live, cancel.

Thin: the rules live in rewardmodel.runs.services and rewardmodel.runs.kinds.reward. The run page polls
status.json every 2 s and draws its charts with a few lines of plain JS (static/rewardmodel/run.js).
Nothing here imports torch: the web process only reads and writes rows.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotate.models import Project
from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact, RunMetric, TrainingRun
from rewardmodel.runs.kinds.reward import reward_run_start
from rewardmodel.runs.services import run_cancel, run_enqueue, runs_reap_lost

# Charts on a run page, by kind: (title, metric keys drawn as lines). Kinds not listed get one
# chart per metric they log.
CHARTS: dict[str, list[tuple[str, list[str]]]] = {
    TrainingRun.Kind.REWARD: [
        ("Loss", ["loss", "eval_loss"]),
        ("Pairwise accuracy", ["accuracy", "eval_accuracy"]),
        ("Margin (chosen - rejected)", ["margin", "eval_margin"]),
    ],
    # rewardmodel/training/sft.py: loss and token accuracy per logged step, heldout/* before and after.
    TrainingRun.Kind.SFT: [
        ("Loss", ["loss", "heldout/loss"]),
        ("Token accuracy", ["mean_token_accuracy", "heldout/mean_token_accuracy"]),
    ],
    # rewardmodel/training/ppo.py: per update, and heldout/* from greedy held-out responses.
    TrainingRun.Kind.PPO: [
        ("Reward-model score", ["score", "heldout/score"]),
        ("KL to the start", ["kl", "heldout/kl"]),
        ("Non-score reward and total RLHF reward", ["non_score_reward", "rlhf_reward"]),
        ("Entropy", ["entropy"]),
        ("Response length (tokens)", ["response_length", "heldout/length"]),
        ("Losses", ["policy_loss", "value_loss"]),
        ("Clip fraction and approx KL", ["clip_fraction", "approx_kl"]),
        ("Length–score correlation (held out)", ["heldout/length_score_corr"]),
    ],
    TrainingRun.Kind.GRPO: [
        ("Rewards", ["reward/accuracy", "reward/format", "reward/format_partial", "reward/total"]),
        ("Format rate", ["format_rate", "heldout/format_rate"]),
        ("Held-out accuracy (greedy)", ["heldout/accuracy"]),
        ("KL to the start", ["kl"]),
        ("Completion length (tokens)", ["completion_length"]),
        ("Groups with equal rewards", ["zero_std_fraction"]),
    ],
}

# The page that starts each kind of run: (kind, title, URL name). Policy runs: views/policy.py.
NEW_RUN_PAGES = [
    (TrainingRun.Kind.REWARD, "Train a reward model", "run-new"),
    (TrainingRun.Kind.SFT, "Fine-tune a policy (SFT)", "run-new-sft"),
    (TrainingRun.Kind.PPO, "PPO against a reward model", "run-new-ppo"),
    (TrainingRun.Kind.GRPO, "GRPO on rule-based rewards", "run-new-grpo"),
]


def new_run_context(kind: str) -> dict[str, Any]:
    """The title of the page that starts runs of `kind`, and links to the other kinds' pages."""
    return {
        "kind": kind,
        "title": next(title for k, title, _ in NEW_RUN_PAGES if k == kind),
        "other_run_pages": [(title, reverse(url)) for k, title, url in NEW_RUN_PAGES if k != kind],
    }


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------


@manager_required
def runs_list(request: HttpRequest) -> HttpResponse:
    reaped = runs_reap_lost()  # the page is where people look for stuck runs
    if reaped:
        messages.warning(request, f"Marked lost: run {', '.join(f'#{i}' for i in reaped)} (no heartbeat).")
    runs = TrainingRun.objects.select_related("project", "base_model", "output_model", "created_by")[:200]
    return render(request, "rewardmodel/runs_list.html", {"runs": runs, "new_run_pages": NEW_RUN_PAGES})


class RewardRunForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    base_model = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.exclude(kind=ModelArtifact.Kind.VALUE),
        help_text="The reward model starts from this checkpoint (a new one-output head is added).",
    )
    epochs = forms.FloatField(initial=1.0, min_value=0.01)
    lr = forms.FloatField(label="Learning rate", initial=1e-5, min_value=1e-9)
    batch_size = forms.IntegerField(required=False, min_value=1, help_text="Empty: 4 on CPU, 16 on GPU.")
    max_length = forms.IntegerField(
        required=False, min_value=16, help_text="Tokens; longer pairs are left out. Empty: 256 CPU, 1024 GPU."
    )
    eval_fraction = forms.FloatField(
        initial=0.1, min_value=0.0, max_value=0.9, help_text="Share of prompts held out."
    )
    min_agreement = forms.FloatField(initial=0.0, min_value=0.0, max_value=1.0)
    name = forms.CharField(
        required=False, max_length=200, help_text="Name of the model it produces (optional)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = ModelArtifact.objects.filter(name=settings.PAIRWISE_DEFAULT_BASE_MODEL).first()
        if default is not None:
            self.fields["base_model"].initial = default.pk


@manager_required
def run_new(request: HttpRequest) -> HttpResponse:
    form = RewardRunForm(request.POST or None, initial={"project": request.GET.get("project")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = {
            "epochs": data["epochs"],
            "lr": data["lr"],
            "batch_size": data["batch_size"],
            "max_length": data["max_length"],
            "output_name": data["name"] or None,
        }
        try:
            run = reward_run_start(
                project=data["project"],
                base_model=data["base_model"],
                options=options,
                eval_fraction=data["eval_fraction"],
                min_agreement=data["min_agreement"],
                created_by=request.user,
            )
            run_enqueue(run)
        except PairwiseError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Run #{run.pk} queued for a training worker.")
            return redirect("run-detail", pk=run.pk)
    context = {"form": form, "has_models": ModelArtifact.objects.exists()}
    return render(request, "rewardmodel/run_new.html", context | new_run_context(TrainingRun.Kind.REWARD))


@manager_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        TrainingRun.objects.select_related(
            "project", "base_model", "snapshot", "output_model", "created_by", "starts_after"
        ),
        pk=pk,
    )
    initial = run_status_payload(run)
    return render(
        request,
        "rewardmodel/run_detail.html",
        {
            "run": run,
            "initial": initial,
            "hacking": initial["reward_hacking"],
            "followers": run.followers.order_by("pk"),
            "config_json": json.dumps(run.config, sort_keys=True),
            "charts": [{"title": t, "keys": k} for t, k in CHARTS.get(run.kind, [])],
        },
    )


@manager_required
@require_POST
def run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=pk)
    try:
        run_cancel(run)
    except PairwiseError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Run #{run.pk}: cancel requested; it stops at its next step.")
    return redirect("run-detail", pk=run.pk)


# --------------------------------------------------------------------------------------------
# status.json
# --------------------------------------------------------------------------------------------


def _model(artifact: ModelArtifact | None) -> dict[str, Any] | None:
    if artifact is None:
        return None
    return {"id": artifact.pk, "name": artifact.name, "kind": artifact.kind, "path": artifact.path}


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "n/a"


def reward_hacking(run: TrainingRun) -> dict[str, Any] | None:
    """The reward-hacking verdict of a PPO run (training/ppo.py's `hacking_monitor`), or None
    before its first held-out check: the final one from the summary once the run has finished,
    else the latest held-out row's flag with its numbers as the evidence."""
    if run.kind != TrainingRun.Kind.PPO:
        return None
    final = run.summary.get("reward_hacking") if isinstance(run.summary, dict) else None
    if isinstance(final, dict) and "flagged" in final:
        return {"flagged": bool(final["flagged"]), "evidence": str(final.get("evidence", "")), "final": True}
    row = (
        RunMetric.objects.filter(run=run, values__has_key="hacking/flagged")
        .order_by("-pk")
        .values("step", "values")
        .first()
    )
    if row is None:
        return None
    v = row["values"]
    evidence = (
        f"at step {row['step']}: held-out RM score {_number(v.get('heldout/score'), '+.3f')}, mean length "
        f"{_number(v.get('heldout/length'), '.1f')} tokens, length–score correlation "
        f"{_number(v.get('heldout/length_score_corr'), '.2f')}, KL to the start {_number(v.get('heldout/kl'), '.2f')}"
    )
    return {"flagged": v.get("hacking/flagged") == 1, "evidence": evidence, "final": False}


def run_status_payload(run: TrainingRun, *, after: int = 0) -> dict[str, Any]:
    """What the run page shows, as JSON. Metrics with id > after only (the page asks for new ones)."""
    metrics = list(
        RunMetric.objects.filter(Q(run=run) & Q(pk__gt=after)).order_by("pk").values("pk", "step", "values")
    )
    snap = run.snapshot
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "lost": run.is_lost,
        "finished": run.is_finished,
        "progress": run.progress,
        "message": run.status_message,
        "error": run.error,
        "traceback": run.traceback,
        "cancel_requested": run.cancel_requested,
        "device": run.device,
        "task_id": run.task_id,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
        "wall_seconds": run.wall_seconds,
        "examples_seen": run.examples_seen,
        "tokens_seen": run.tokens_seen,
        "summary": run.summary,
        "reward_hacking": reward_hacking(run),
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


@manager_required
def run_status_json(request: HttpRequest, pk: int) -> JsonResponse:
    run = TrainingRun.objects.select_related("base_model", "snapshot", "output_model").filter(pk=pk).first()
    if run is None:
        raise Http404
    try:
        after = max(int(request.GET.get("after", 0)), 0)
    except ValueError:
        after = 0
    return JsonResponse(run_status_payload(run, after=after))
