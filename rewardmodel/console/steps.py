"""What a manager does next on a project, step by step: import, make pairs, judgments, a reward
model, a policy, a report. Each step says how far it got, and either the action that moves it on
(a button on the project's page) or why that is not possible yet.

    steps = project_steps(project, user=request.user)   # list[Step], in the order they are done

Every figure is one aggregate query (ten in all). They count whole tables, so on a project of
millions of judgments they are this page's cost; the projects list calls project_next_step,
which asks only whether rows exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count
from django.urls import reverse

from annotate.models import Comparison, Judgment, Project, Prompt, Response
from rewardmodel.models import (
    GENERATIVE_KINDS,
    ComparisonReport,
    JobStatus,
    ModelArtifact,
    TrainingRun,
)

# States, as the page colours them.
DONE, NEXT, BLOCKED, LATER = "done", "next", "blocked", "later"


@dataclass
class Action:
    label: str
    url: str


@dataclass
class Step:
    key: str
    title: str
    summary: str  # how far it got, in words
    state: str = LATER
    actions: list[Action] = field(default_factory=list)
    reason: str = ""  # why its actions are not possible yet
    fix: Action | None = None  # what makes them possible, where one page does


@dataclass
class Figures:
    prompts: int
    responses: int
    pairable_prompts: int  # prompts with at least two answers
    comparisons: int
    complete: int  # comparisons with overlap_k judgments
    judgments: int  # by people (labelers and imported), not simulated
    labelers: int
    generative_models: int
    reward_runs: dict[str, int]  # status -> count
    policy_runs: dict[str, int]
    reward_models: int  # the project's reward models
    reports: int


def _by_status(runs) -> dict[str, int]:
    return dict(runs.values_list("status").annotate(n=Count("id")).order_by())


def project_figures(project: Project) -> Figures:
    responses = Response.objects.filter(prompt__project=project)
    comparisons = Comparison.objects.filter(project=project)
    runs = TrainingRun.objects.filter(project=project)
    return Figures(
        prompts=Prompt.objects.filter(project=project).count(),
        responses=responses.count(),
        pairable_prompts=responses.values("prompt").annotate(n=Count("id")).filter(n__gte=2).count(),
        comparisons=comparisons.count(),
        complete=comparisons.filter(is_gold=False, judgment_count__gte=project.overlap_k).count(),
        judgments=Judgment.objects.filter(comparison__project=project)
        .exclude(source=Judgment.Source.SIMULATED)
        .count(),
        labelers=project.labelers.count(),
        generative_models=ModelArtifact.objects.filter(kind__in=GENERATIVE_KINDS).count(),
        reward_runs=_by_status(runs.filter(kind=TrainingRun.Kind.REWARD)),
        policy_runs=_by_status(runs.exclude(kind=TrainingRun.Kind.REWARD)),
        reward_models=ModelArtifact.objects.filter(
            kind=ModelArtifact.Kind.REWARD, training_run__project=project
        ).count(),
        reports=ComparisonReport.objects.filter(project=project).count(),
    )


def _runs_words(by_status: dict[str, int]) -> str:
    if not by_status:
        return "none yet"
    order = [JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]
    return ", ".join(f"{by_status[s]} {JobStatus(s).label.lower()}" for s in order if by_status.get(s))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def project_steps(project: Project, *, user: AbstractBaseUser) -> list[Step]:
    f = project_figures(project)
    pk = project.pk
    import_url = reverse("admin:annotate_project_import", args=[pk])
    run_url = lambda kind: reverse("run-new-kind", args=[kind]) + f"?project={pk}"  # noqa: E731
    no_model = "" if f.generative_models else "No base model is registered yet: register one first."
    register = Action("Register a model", reverse("models")) if no_model else None

    data = Step(
        "import",
        "Import prompts and responses",
        f"{_plural(f.prompts, 'prompt')}, {_plural(f.responses, 'response')}",
        DONE if f.prompts else NEXT,
        [Action("Import a file", import_url)],
    )
    if f.prompts and not f.responses:
        data.state = NEXT
        data.actions.append(Action("Generate responses", reverse("generation-new") + f"?project={pk}"))
        data.reason, data.fix = no_model, register

    pairs = Step(
        "pairs",
        "Make pairs",
        f"{_plural(f.comparisons, 'comparison')} over {_plural(f.pairable_prompts, 'prompt')} with two answers or more",
    )
    if f.pairable_prompts:
        pairs.state = DONE if f.comparisons else NEXT  # its form is on the page (#make-pairs)
    else:
        pairs.state = BLOCKED if f.prompts else LATER
        pairs.reason = "No prompt has two answers yet: import responses, or generate them."

    judged = Step(
        "judgments",
        "Collect judgments",
        f"{_plural(f.judgments, 'judgment')} by people; {f.complete:,} of {f.comparisons:,} comparisons "
        f"have their {project.overlap_k}; {_plural(f.labelers, 'labeler')}",
    )
    if f.comparisons:
        judged.state = DONE if f.comparisons and f.complete == f.comparisons else NEXT
        judged.actions.append(Action("Add labelers", reverse("admin:annotate_project_change", args=[pk])))
        judged.actions.append(Action("Labeler quality", reverse("quality:project", args=[pk])))
        if project.labelers.filter(pk=user.pk).exists():
            judged.actions.append(Action("Label", reverse("label", args=[pk])))
        if not f.labelers:
            judged.reason = "No labeler is in this project yet: add some on the project's admin page."
    else:
        judged.reason = "No comparisons yet: make pairs first."

    reward = Step("reward", "Train a reward model", f"Runs: {_runs_words(f.reward_runs)}")
    if not f.judgments:
        reward.reason = "No judgments yet: a reward model learns from them."
    elif no_model:
        reward.reason, reward.fix, reward.state = no_model, register, BLOCKED
    else:
        reward.state = DONE if f.reward_models else NEXT
        reward.actions.append(Action("Train a reward model", run_url("reward")))

    policy = Step("policy", "Train a policy", f"Runs: {_runs_words(f.policy_runs)}")
    if no_model:
        policy.reason, policy.fix = no_model, register
    else:
        policy.state = DONE if f.policy_runs.get(JobStatus.SUCCEEDED) else LATER
        if f.reward_models:
            policy.state = policy.state if policy.state == DONE else NEXT
            policy.actions.append(Action("PPO on the reward model", run_url("ppo")))
        else:
            policy.reason = "PPO needs a reward model of this project; DPO and GRPO do not."
        if f.judgments:
            policy.actions.append(Action("DPO on the judgments", run_url("dpo")))
        policy.actions.append(Action("GRPO on rule rewards", run_url("grpo")))
        policy.actions.append(Action("SFT", run_url("sft")))

    report = Step("report", "Compare in a report", _plural(f.reports, "report"))
    if f.policy_runs.get(JobStatus.SUCCEEDED):
        report.state = DONE if f.reports else NEXT
        report.actions.append(Action("New report", reverse("report-new") + f"?project={pk}"))
    else:
        report.reason = "No trained policy yet: a report compares policies with the base model."
    if f.reports:
        report.actions.append(Action("Reports", reverse("reports")))
    return [data, pairs, judged, reward, policy, report]


def project_next_step(project: Project) -> str:
    """The title of the first step still to take, from existence checks only (the managers' home
    page lists every project; counting a project of a million comparisons took half a second)."""
    comparisons = Comparison.objects.filter(project=project)
    runs = TrainingRun.objects.filter(project=project, status=JobStatus.SUCCEEDED)
    checks = (
        ("Import prompts and responses", Prompt.objects.filter(project=project).exists()),
        ("Make pairs", comparisons.exists()),
        ("Collect judgments", not comparisons.filter(is_open=True).exists()),
        ("Train a reward model", runs.filter(kind=TrainingRun.Kind.REWARD).exists()),
        ("Train a policy", runs.exclude(kind=TrainingRun.Kind.REWARD).exists()),
        ("Compare in a report", ComparisonReport.objects.filter(project=project).exists()),
    )
    return next((title for title, done in checks if not done), "All done: compare again as you go")
