"""Manager pages that start policy runs: SFT, PPO against a reward model, GRPO (optionally after an
SFT cold start). The reward-model form is in views.py; the run page that follows them is too.

Thin: each form gathers options, the kind's service (`sft_run_start`, `ppo_run_start`,
`grpo_run_start`) checks them and creates the run(s), `run_enqueue` sends them on commit. The
initial values are the trainers' own defaults, read from their config dataclasses (no torch: those
modules import it inside functions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from annotate.models import Project
from annotate.permissions import manager_required
from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact, TrainingRun
from rewardmodel.runs.kinds.grpo import grpo_run_start
from rewardmodel.runs.kinds.ppo import POLICY_KINDS, ppo_run_start
from rewardmodel.runs.kinds.sft import SOURCES, sft_run_start
from rewardmodel.runs.services import run_enqueue
from rewardmodel.runs.views import new_run_context
from rewardmodel.training.grpo import GrpoConfig
from rewardmodel.training.ppo import PpoConfig
from rewardmodel.training.rule_rewards import REWARDS
from rewardmodel.training.sft import SftConfig


def _defaults(config: type) -> dict[str, Any]:
    """A trainer config dataclass's field defaults, by field name (the forms' initial values)."""
    out = {}
    for f in fields(config):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


PPO = _defaults(PpoConfig)
SFT = _defaults(SftConfig)
GRPO = _defaults(GrpoConfig)


class _PolicyRunForm(forms.Form):
    """Project, starting policy (base models and policies only) and the name of the result."""

    project = forms.ModelChoiceField(queryset=Project.objects.all())
    policy = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.filter(kind__in=POLICY_KINDS),
        label="Starting policy",
        help_text="A base model or a policy.",
    )
    KEYS: tuple[str, ...] = ()  # the fields that are the service's options, by the same names

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = ModelArtifact.objects.filter(
            name=settings.PAIRWISE_DEFAULT_BASE_MODEL, kind__in=POLICY_KINDS
        ).first()
        if default is not None:
            self.fields["policy"].initial = default.pk
        # The name goes last, after the kind's own fields.
        self.fields["name"] = forms.CharField(
            required=False, max_length=200, help_text="Name of the policy it produces (optional)."
        )

    def options(self) -> dict[str, Any]:
        """The options for the kind's service: the KEYS fields, empty ones left out (the trainer's
        default applies), and the output name."""
        data = self.cleaned_data
        out = {key: data[key] for key in self.KEYS if data.get(key) not in (None, "")}
        if data.get("name"):
            out["output_name"] = data["name"]
        return out


class PpoRunForm(_PolicyRunForm):
    reward_model = forms.ModelChoiceField(
        queryset=ModelArtifact.objects.filter(kind=ModelArtifact.Kind.REWARD),
        help_text="Trained from the same base model as the policy (the same tokenizer).",
    )
    episodes = forms.IntegerField(initial=PPO["episodes"], min_value=1, help_text="Sampled responses in all.")
    batch_size = forms.IntegerField(initial=PPO["batch_size"], min_value=1, help_text="Responses per update.")
    mini_batches = forms.IntegerField(initial=PPO["mini_batches"], min_value=1)
    ppo_epochs = forms.IntegerField(label="PPO epochs", initial=PPO["ppo_epochs"], min_value=1)
    kl_coef = forms.FloatField(
        label="KL coefficient", initial=PPO["kl_coef"], min_value=0.0, help_text="Penalty on KL to the start."
    )
    response_length = forms.IntegerField(initial=PPO["response_length"], min_value=1, max_value=4096)
    temperature = forms.FloatField(initial=PPO["temperature"], min_value=0.01)
    lr = forms.FloatField(label="Learning rate", initial=PPO["lr"], min_value=1e-9)
    missing_eos_penalty = forms.FloatField(
        initial=PPO["missing_eos_penalty"],
        min_value=0.0,
        help_text="Subtracted from the score of a response that never ends; 0: no penalty.",
    )
    whiten_rewards = forms.BooleanField(required=False, initial=PPO["whiten_rewards"])
    eval_every = forms.IntegerField(
        initial=PPO["eval_every"],
        min_value=0,
        help_text="Held-out check every N updates; 0: before and after only.",
    )
    heldout_limit = forms.IntegerField(
        label="Held-out limit",
        required=False,
        min_value=0,
        help_text="Check on at most N held-out prompts. Empty: all.",
    )

    KEYS = (
        "episodes",
        "batch_size",
        "mini_batches",
        "ppo_epochs",
        "kl_coef",
        "response_length",
        "temperature",
        "lr",
        "missing_eos_penalty",
        "whiten_rewards",
        "eval_every",
        "heldout_limit",
    )


class SftRunForm(_PolicyRunForm):
    source = forms.ChoiceField(
        choices=[(s, s) for s in SOURCES],
        initial="reference",
        help_text="reference: the prompts' reference answers in the R1 template; responses: a teacher's "
        "responses; judgments: the chosen side of each majority-vote comparison.",
    )
    teacher = forms.CharField(
        required=False,
        max_length=200,
        help_text="Source responses only: a registered model's name or a response label (hh:chosen).",
    )
    epochs = forms.FloatField(initial=SFT["epochs"], min_value=0.01)
    lr = forms.FloatField(label="Learning rate", initial=SFT["lr"], min_value=1e-9)
    batch_size = forms.IntegerField(
        initial=SFT["batch_size"], min_value=1, help_text="Demonstrations per step."
    )
    max_length = forms.IntegerField(
        initial=SFT["max_length"], min_value=16, help_text="Tokens, prompt and answer together."
    )

    KEYS = ("source", "teacher", "epochs", "lr", "batch_size", "max_length")


class GrpoRunForm(_PolicyRunForm):
    rewards = forms.MultipleChoiceField(
        choices=[(r, r) for r in REWARDS],
        initial=GRPO["rewards"],
        widget=forms.CheckboxSelectMultiple,
    )
    num_generations = forms.IntegerField(
        initial=GRPO["num_generations"], min_value=2, help_text="Completions per prompt."
    )
    batch_size = forms.IntegerField(
        initial=GRPO["batch_size"], min_value=2, help_text="Completions per step, a multiple of the above."
    )
    steps = forms.IntegerField(initial=GRPO["steps"], min_value=1)
    lr = forms.FloatField(label="Learning rate", initial=GRPO["lr"], min_value=1e-9)
    beta = forms.FloatField(label="KL coefficient (beta)", initial=GRPO["beta"], min_value=0.0)
    max_completion_length = forms.IntegerField(initial=GRPO["max_completion_length"], min_value=1)
    temperature = forms.FloatField(initial=GRPO["temperature"], min_value=0.01)
    eval_every = forms.IntegerField(
        initial=GRPO["eval_every"], min_value=0, help_text="Held-out accuracy every N steps; 0: ends only."
    )
    heldout_limit = forms.IntegerField(
        label="Held-out limit",
        required=False,
        min_value=0,
        help_text="Evaluate on at most N held-out prompts. Empty: all.",
    )
    cold_start = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="N: first an SFT run on up to N reference demonstrations (same template), then GRPO "
        "from its result. Empty: GRPO from the starting policy.",
    )

    KEYS = (
        "rewards",
        "num_generations",
        "batch_size",
        "steps",
        "lr",
        "beta",
        "max_completion_length",
        "temperature",
        "eval_every",
        "heldout_limit",
    )


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------


def _start_page(
    request: HttpRequest,
    form: _PolicyRunForm,
    kind: str,
    start: Callable[[dict[str, Any]], list[TrainingRun]],
) -> HttpResponse:
    """GET: the form. POST: `start` creates the run(s) (the first one runs first), all are queued;
    a PairwiseError becomes a form error and no run is left behind (a snapshot's files may stay:
    they are content-addressed, and the next try reuses them)."""
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # all the runs or none
                runs = start(form.cleaned_data)
                for run in runs:
                    run_enqueue(run)
        except PairwiseError as exc:
            form.add_error(None, exc.message)
        else:
            queued = " and ".join(f"#{r.pk} ({r.get_kind_display()})" for r in runs)
            then = f"; run #{runs[-1].pk} waits for it" if len(runs) > 1 else ""
            messages.success(request, f"Run {queued} queued for a training worker{then}.")
            return redirect("run-detail", pk=runs[0].pk)
    context = {"form": form, "has_models": ModelArtifact.objects.exists()}
    return render(request, "rewardmodel/run_new.html", context | new_run_context(kind))


@manager_required
def run_new_ppo(request: HttpRequest) -> HttpResponse:
    form = PpoRunForm(request.POST or None, initial={"project": request.GET.get("project")})

    def start(data: dict[str, Any]) -> list[TrainingRun]:
        return [
            ppo_run_start(
                project=data["project"],
                policy=data["policy"],
                reward_model=data["reward_model"],
                options=form.options(),
                created_by=request.user,
            )
        ]

    return _start_page(request, form, TrainingRun.Kind.PPO, start)


@manager_required
def run_new_sft(request: HttpRequest) -> HttpResponse:
    form = SftRunForm(request.POST or None, initial={"project": request.GET.get("project")})

    def start(data: dict[str, Any]) -> list[TrainingRun]:
        return [
            sft_run_start(
                project=data["project"],
                policy=data["policy"],
                options=form.options(),
                created_by=request.user,
            )
        ]

    return _start_page(request, form, TrainingRun.Kind.SFT, start)


@manager_required
def run_new_grpo(request: HttpRequest) -> HttpResponse:
    form = GrpoRunForm(request.POST or None, initial={"project": request.GET.get("project")})

    def start(data: dict[str, Any]) -> list[TrainingRun]:
        options = form.options()
        if not data["cold_start"]:
            return [
                grpo_run_start(
                    project=data["project"], policy=data["policy"], options=options, created_by=request.user
                )
            ]
        # As train_policy --cold-start: the SFT run sees the prompts as GRPO will (the default
        # template, all prompts), and the GRPO run starts from its result.
        sft_run = sft_run_start(
            project=data["project"],
            policy=data["policy"],
            options={"source": "reference", "limit": data["cold_start"]},
            created_by=request.user,
        )
        grpo_run = grpo_run_start(
            project=data["project"],
            policy=data["policy"],
            options=options,
            created_by=request.user,
            starts_after=sft_run,
        )
        return [sft_run, grpo_run]

    return _start_page(request, form, TrainingRun.Kind.GRPO, start)
