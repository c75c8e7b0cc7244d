"""The whole loop on the demo project, as one recorded job: `bash scripts/demo.sh` queues it.

    loop = demo_loop_create(quick=False, seed=0)    # a queued DemoLoop row (demo_setup must have run)
    demo_loop_enqueue(loop)                         # the `train_demo_loop` task, on commit
    demo_loop_execute(loop_id=loop.pk)              # what that task (or `demo_loop --sync`) calls

The steps, in order; each calls the services the commands use and records what it made
(a generation job, training runs, the arena, the report) on the DemoLoop row's `steps`:

1. generate   SmolLM2 answers the helpfulness prompts (train split, no reference answer), then
              make_pairs pairs the new answers with the demo's (seeded sample per prompt).
2. label      Simulated labelers (marked: source "simulated") judge with the `length` oracle:
              the only oracle with an opinion on every helpfulness pair before a reward model
              exists (`rule` needs reference answers), and a known bias, so what PPO learns from
              it is easy to see in the report (longer answers). They fill the slots people have
              not taken: whoever judges on the ranking screen while SmolLM2 generates takes slots
              first, and the reward model reads every complete comparison when it starts, theirs
              included. Later human judgments count in the arena (step 6) and the report.
3. reward     A reward model from the base model on the project's judgments (human + simulated).
4. sft        SFT on the chosen side of the judgments, then
   ppo        PPO from its result against the reward model (linked runs: starts_after).
5. arithmetic make_arithmetic adds easy problems to the same project (the demo already holds 20:
              one project keeps both roads on the same base, prompts and report), then
   cold_start SFT on reference answers in the R1 template, then
   grpo       GRPO on rule-based rewards (accuracy, format) from its result (linked runs).
6. arena      base, PPO and GRPO answer the same held-out prompts (the held-out prompts are the
              arithmetic ones); every pair is a blind comparison served first (priority) to people,
              and simulated labelers with the `rule` oracle (right answer wins) give each one
              judgment, so the leaderboard has games at once and the other slot stays for people.
7. report     The `compare` command: base vs PPO vs GRPO, written as report.html + report.json.

Budgets (rewardmodel.demo.budgets) are sized for a 2-core CPU: the full loop in under 30 minutes, `quick` in
under 10; PPO, GRPO and SFT also carry a time budget (`max_seconds`), so a slow machine ends
their training early rather than the loop running long. The `tiny` budget (tests) has no time
budgets, so the same seed gives the same numbers.

Training runs execute here, in order, in the process that runs the loop (a worker busy with the
loop cannot take their tasks). A step that fails ends the loop failed, with the step's error; the
runs, jobs and judgments it made stay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from annotate.models import Project, Prompt
from pairwise.errors import PairwiseError
from pairwise.progress import Cancelled, Reporter
from rewardmodel.demo.budgets import BUDGETS, Budget
from rewardmodel.jobs.execute import Done, job_execute
from rewardmodel.jobs.lifecycle import (
    Claim,
    job_cancel_requested,
    job_enqueue,
)
from rewardmodel.models import DemoLoop, GenerationJob, JobStatus, ModelArtifact, TrainingRun
from rewardmodel.runs.services import run_start

log = logging.getLogger(__name__)

DEMO_PROJECT = "Demo: helpfulness"  # annotate/management/commands/demo_setup.py


STEPS: list[tuple[str, str]] = [
    ("generate", "SmolLM2 answers the helpfulness prompts; new pairs"),
    ("label", "Simulated labelers judge (length oracle, marked)"),
    ("reward", "Reward model on the judgments"),
    ("sft", "SFT on the chosen answers"),
    ("ppo", "PPO against the reward model"),
    ("arithmetic", "Arithmetic problems with reference answers"),
    ("cold_start", "Cold-start SFT on reference answers"),
    ("grpo", "GRPO on rule-based rewards"),
    ("arena", "Arena: base vs PPO vs GRPO, judged (rule oracle, marked)"),
    ("report", "The comparison report"),
]


class DemoStep(TypedDict, total=False):
    """One step's entry in DemoLoop.steps, as the loop writes it and the home page reads it."""

    name: str  # a key of STEPS
    title: str
    status: str  # JobStatus
    started_at: str  # ISO times
    finished_at: str
    seconds: float
    detail: str  # a line about it, or why it failed
    url: str  # the page of what it made (a run, a job, the leaderboard, the report)
    numbers: dict[str, float]  # what it measured or made: counts, accuracies, losses
    run_id: int  # the training run it executed
    job_id: int  # the generation job it ran
    job_ids: list[int]  # the arena's generation jobs
    model: str  # the model its run registered
    run_seconds: float
    report_id: int  # the comparison report it stored, and its HTML file
    path: str


# --------------------------------------------------------------------------------------------
# create, enqueue
# --------------------------------------------------------------------------------------------


def demo_loop_create(
    *,
    project: Project | None = None,
    quick: bool = False,
    seed: int = 0,
    budget: str | None = None,
    base_model: ModelArtifact | None = None,
    created_by=None,
) -> DemoLoop:
    """A queued loop over `project` (default: the demo project). `base_model` (default: the
    registry's default base, SmolLM2) starts every road; tests pass a tiny one."""
    if project is None:
        project = Project.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            raise PairwiseError(f"No project {DEMO_PROJECT!r}; run `python manage.py demo_setup` first.")
    budget = budget or ("quick" if quick else "full")
    if budget not in BUDGETS:
        raise PairwiseError(f"Unknown budget {budget!r}; choose from {', '.join(BUDGETS)}.")
    config = {"budget": budget, "base_model": base_model.pk if base_model else None}
    steps = [{"name": name, "title": title, "status": JobStatus.QUEUED} for name, title in STEPS]
    return DemoLoop.objects.create(
        project=project, quick=quick, seed=seed, config=config, steps=steps, created_by=created_by
    )


def demo_loop_enqueue(loop: DemoLoop) -> DemoLoop:
    """Send the loop to a worker (the `training` queue) once the row is committed."""
    return job_enqueue(loop)


# --------------------------------------------------------------------------------------------
# execute
# --------------------------------------------------------------------------------------------


@dataclass
class LoopListener:
    """What a person running the loop in a terminal (`demo_loop --sync`) sees: a progress bar for
    each training run (`bar`, given its title) and a line per step (`on_step`, given its name and
    what happened). Passed to job_execute as the loop's reporter; the loop's own progress is on
    its row."""

    bar: Callable[[str], Reporter] | None = None
    on_step: Callable[[str, str], None] | None = None

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        pass

    def progress(self, done: int, total: int, message: str = "") -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def step(self, name: str, what: str) -> None:
        if self.on_step is not None:
            self.on_step(name, what)


class _LoopReporter:
    """Passes a training run's reports on (to a progress bar with --sync) and stops the run when
    the loop is cancelled. (The loop's heartbeat thread beats meanwhile.)"""

    def __init__(self, claim: Claim, inner: Reporter | None) -> None:
        self.claim, self.inner = claim, inner

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner.log(step, metrics)

    def progress(self, done: int, total: int, message: str = "") -> None:
        if self.inner is not None:
            self.inner.progress(done, total, message)

    def should_stop(self) -> bool:
        return job_cancel_requested(self.claim)


@dataclass
class _Context:
    loop: DemoLoop
    claim: Claim
    project: Project
    base: ModelArtifact
    budget: Budget
    listener: LoopListener
    models: dict[str, ModelArtifact] = field(default_factory=dict)
    runs: dict[str, TrainingRun] = field(default_factory=dict)

    def name(self, what: str) -> str:
        return f"demo{self.loop.pk}-{what}"


def _execute_run(ctx: _Context, run: TrainingRun) -> DemoStep:
    inner = ctx.listener.bar(f"{run.get_kind_display()} run #{run.pk}") if ctx.listener.bar else None
    try:
        run = job_execute(TrainingRun, pk=run.pk, reporter=_LoopReporter(ctx.claim, inner))
    finally:
        if inner is not None and hasattr(inner, "close"):
            inner.close()
    if run.status != JobStatus.SUCCEEDED:
        raise PairwiseError(
            f"{run.get_kind_display()} run #{run.pk} {run.status}: {run.error or run.status_message}"
        )
    return {
        "run_id": run.pk,
        "url": reverse("run-detail", args=[run.pk]),
        "model": run.output_model.name,
        "run_seconds": round(run.wall_seconds or 0.0, 1),
    }


def _numbers(summary: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: summary[k] for k in keys if isinstance(summary.get(k), (int, float))}


def _helpfulness_prompts(project: Project) -> list[int]:
    prompts = project.prompts.filter(split=Prompt.Split.TRAIN).order_by("id")
    return [p.pk for p in prompts if not p.reference_answer]


# ---- the steps: each returns what to record on its row ----------------------------------------


def step_generate(ctx: _Context) -> DemoStep:
    from annotate.pair_strategies import comparisons_pair_sampled
    from rewardmodel.generation.responses import (
        GenerationOptions,
        generation_job_create,
    )

    b = ctx.budget
    options = GenerationOptions(
        per_prompt=b.per_prompt,
        max_new_tokens=b.max_new_tokens,
        seed=ctx.loop.seed,
        split=Prompt.Split.TRAIN,
        prompt_ids=tuple(_helpfulness_prompts(ctx.project)),
    )
    job = generation_job_create(
        project=ctx.project, model=ctx.base, options=options, enqueue=False, note={"demo_loop": ctx.loop.pk}
    )
    _record(ctx.loop, "generate", job_id=job.pk, url=reverse("generation-job", args=[job.pk]))
    job = job_execute(GenerationJob, pk=job.pk)
    if job.status != JobStatus.SUCCEEDED:
        raise PairwiseError(f"Generation job #{job.pk} {job.status}: {job.error or job.status_message}")
    # demo_setup paired every demo answer already, so each new pair has a SmolLM2 answer on a side.
    # (A sample counts the pairs a prompt already has against per_prompt.)
    pairs = comparisons_pair_sampled(
        project=ctx.project, per_prompt=b.pairs_per_prompt, seed=ctx.loop.seed, split=Prompt.Split.TRAIN
    )
    return {
        "numbers": {"responses": job.responses_created, "comparisons": pairs.created},
        "detail": job.status_message,
    }


def _simulate(ctx: _Context, *, oracle: str, judgments: int | None) -> dict[str, Any]:
    from rewardmodel.evaluation.simulated_labelers import labelers_simulate, oracle_for

    if judgments is not None and judgments < 1:
        return {"judgments": 0}
    result = labelers_simulate(
        project=ctx.project,
        oracle=oracle_for(oracle, project=ctx.project),
        judgments=judgments,
        seed=ctx.loop.seed,
    )
    return {"judgments": result.judgments, "flipped": result.flipped, "no_preference": result.no_preference}


def step_label(ctx: _Context) -> DemoStep:
    # Every slot people have not taken yet (the export reads complete comparisons only).
    numbers = _simulate(ctx, oracle="length", judgments=None)
    return {
        "numbers": numbers,
        "url": reverse("quality:project", args=[ctx.project.pk]),
        "detail": "oracle: length (longer answer wins), agreement 0.726",
    }


def step_reward(ctx: _Context) -> DemoStep:
    run = run_start(
        kind="reward",
        project=ctx.project,
        start=ctx.base,
        options={
            **ctx.budget.reward,
            "seed": ctx.loop.seed,
            "split_seed": ctx.loop.seed,
            "output_name": ctx.name("reward"),
        },
    )
    _record(ctx.loop, "reward", run_id=run.pk, url=reverse("run-detail", args=[run.pk]))
    out = _execute_run(ctx, run)
    run.refresh_from_db()
    ctx.models["reward"] = run.output_model
    snap = run.snapshot
    numbers = {"pairs": snap.n_examples, "eval_pairs": snap.n_eval_examples, "judgments": snap.n_judgments}
    numbers.update(_numbers(run.summary, "eval_accuracy", "eval_margin", "steps", "train_loss"))
    return {**out, "numbers": numbers}


def step_sft(ctx: _Context) -> DemoStep:
    # Both runs now (PPO starts from the SFT result: starts_after), the PPO step executes the second.
    with transaction.atomic():
        sft = run_start(
            kind="sft",
            project=ctx.project,
            start=ctx.base,
            options={
                **ctx.budget.sft,
                "source": "judgments",
                "seed": ctx.loop.seed,
                "output_name": ctx.name("sft"),
            },
        )
        ppo = run_start(
            kind="ppo",
            project=ctx.project,
            start=ctx.base,
            inputs={"reward_model": ctx.models["reward"]},
            options={**ctx.budget.ppo, "seed": ctx.loop.seed, "output_name": ctx.name("ppo")},
            starts_after=sft,
        )
    ctx.runs["ppo"] = ppo
    _record(ctx.loop, "sft", run_id=sft.pk, url=reverse("run-detail", args=[sft.pk]))
    _record(ctx.loop, "ppo", run_id=ppo.pk, url=reverse("run-detail", args=[ppo.pk]))
    out = _execute_run(ctx, sft)
    sft.refresh_from_db()
    ctx.models["sft"] = sft.output_model
    numbers = {"demonstrations": sft.snapshot.n_examples}
    numbers.update(_numbers(sft.summary, "heldout/loss_before", "heldout/loss_after", "last/loss"))
    return {**out, "numbers": numbers}


def step_ppo(ctx: _Context) -> DemoStep:
    run = ctx.runs["ppo"]
    out = _execute_run(ctx, run)
    run.refresh_from_db()
    ctx.models["ppo"] = run.output_model
    numbers = _numbers(
        run.summary,
        "updates",
        "heldout/score_before",
        "heldout/score_after",
        "heldout/length_before",
        "heldout/length_after",
        "heldout/kl_after",
    )
    return {**out, "numbers": numbers}


def step_arithmetic(ctx: _Context) -> DemoStep:
    from rewardmodel.registry.prompts import arithmetic_prompts_create

    n_train, n_heldout = ctx.budget.arithmetic
    created = arithmetic_prompts_create(
        project=ctx.project, level="easy", n_train=n_train, n_heldout=n_heldout, seed=ctx.loop.seed
    )
    tags = ["arithmetic"]
    with transaction.atomic():  # both runs or neither, as train_policy --cold-start
        cold = run_start(
            kind="sft",
            project=ctx.project,
            start=ctx.base,
            options={
                **ctx.budget.cold_sft,
                "source": "reference",
                "limit": ctx.budget.cold_start,
                "tags": tags,
                "seed": ctx.loop.seed,
                "output_name": ctx.name("cold-start"),
            },
        )
        grpo = run_start(
            kind="grpo",
            project=ctx.project,
            start=ctx.base,
            options={**ctx.budget.grpo, "tags": tags, "seed": ctx.loop.seed, "output_name": ctx.name("grpo")},
            starts_after=cold,
        )
    ctx.runs.update(cold_start=cold, grpo=grpo)
    _record(ctx.loop, "cold_start", run_id=cold.pk, url=reverse("run-detail", args=[cold.pk]))
    _record(ctx.loop, "grpo", run_id=grpo.pk, url=reverse("run-detail", args=[grpo.pk]))
    verifiable = ctx.project.prompts.exclude(reference_answer="")
    return {
        "numbers": {
            "new_prompts": created.created,
            "train": verifiable.filter(split=Prompt.Split.TRAIN).count(),
            "heldout": verifiable.filter(split=Prompt.Split.HELDOUT).count(),
        }
    }


def step_cold_start(ctx: _Context) -> DemoStep:
    run = ctx.runs["cold_start"]
    out = _execute_run(ctx, run)
    run.refresh_from_db()
    ctx.models["cold_start"] = run.output_model
    numbers = {"demonstrations": run.snapshot.n_examples}
    numbers.update(_numbers(run.summary, "heldout/loss_before", "heldout/loss_after", "last/loss"))
    return {**out, "numbers": numbers}


def step_grpo(ctx: _Context) -> DemoStep:
    run = ctx.runs["grpo"]
    out = _execute_run(ctx, run)
    run.refresh_from_db()
    ctx.models["grpo"] = run.output_model
    numbers = _numbers(
        run.summary,
        "steps",
        "heldout/accuracy_before",
        "heldout/accuracy_after",
        "heldout/format_rate_before",
        "heldout/format_rate_after",
    )
    return {**out, "numbers": numbers}


def _policies(ctx: _Context) -> list[ModelArtifact]:
    return [ctx.base, ctx.models["ppo"], ctx.models["grpo"]]


def step_arena(ctx: _Context) -> DemoStep:
    from rewardmodel.evaluation.arena import arena_create

    result = arena_create(
        project=ctx.project,
        policies=_policies(ctx),
        n_prompts=ctx.budget.arena_prompts,
        split=Prompt.Split.HELDOUT,
        seed=ctx.loop.seed,
        max_new_tokens=ctx.budget.arena_tokens,
        priority=10,  # served before what is left of the helpfulness pairs
        generate="sync",
    )
    created = result.pairs.created if result.pairs is not None else 0
    # The arena prompts are arithmetic (the only held-out ones), so the rule oracle can judge:
    # right answer first, then the R1 format. One judgment per new pair (the ratings count every
    # judgment): the other slot stays for people, whose votes the report counts too.
    numbers = _simulate(ctx, oracle="rule", judgments=created)
    numbers = {"prompts": result.prompts, "answers": result.answers, "comparisons": created, **numbers}
    return {
        "numbers": numbers,
        "job_ids": [j.pk for j in result.jobs],
        "url": reverse("quality:leaderboard", args=[ctx.project.pk]),
        "detail": "judged by the rule oracle (marked simulated)",
    }


def step_report(ctx: _Context) -> DemoStep:
    from rewardmodel.report.build import compare_command, report_build, report_files_write, report_save

    policies, reward_model = _policies(ctx), ctx.models["reward"]
    html = Path(settings.DATA_DIR) / "reports" / f"demo-loop-{ctx.loop.pk}" / "report.html"
    measure = {
        "heldout": ctx.budget.report_heldout,
        "seed": ctx.loop.seed,
        "max_new_tokens": ctx.budget.arena_tokens,
    }
    command = compare_command(
        project=ctx.project,
        policies=[p.name for p in policies],
        reward_model=reward_model.name,
        out=html,
        **measure,
    )
    data = report_build(
        project=ctx.project, policies=policies, reward_model=reward_model, compare_command=command, **measure
    )
    report = report_save(project=ctx.project, data=data, command=command)
    report_files_write(report, html)
    numbers = {  # the headline: each policy's held-out accuracy
        f"{row['name']} accuracy": row["rules"]["accuracy"]
        for row in data["policies"]
        if isinstance((row.get("rules") or {}).get("accuracy"), int | float)
    }
    return {"path": str(html), "report_id": report.pk, "url": f"/reports/{report.pk}/", "numbers": numbers}


STEP_FUNCTIONS: dict[str, Callable[[_Context], DemoStep]] = {
    "generate": step_generate,
    "label": step_label,
    "reward": step_reward,
    "sft": step_sft,
    "ppo": step_ppo,
    "arithmetic": step_arithmetic,
    "cold_start": step_cold_start,
    "grpo": step_grpo,
    "arena": step_arena,
    "report": step_report,
}


def _record(loop: DemoLoop, name: str, **values: Any) -> None:
    """Update one step's entry and save the row (the home page polls it)."""
    for step in loop.steps:
        if step["name"] == name:
            step.update(values)
    loop.heartbeat_at = timezone.now()
    loop.save(update_fields=["steps", "heartbeat_at", "current_step", "progress", "status_message"])


def demo_loop_execute(
    *,
    loop_id: int,
    task_id: str = "",
    reporter_factory: Callable[[str], Reporter] | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> DemoLoop:
    """Run a queued loop here, as the job task would (rewardmodel.jobs.execute), with a progress
    bar per training run and a line per step for a person watching (`demo_loop --sync`)."""
    return job_execute(
        DemoLoop, pk=loop_id, task_id=task_id, reporter=LoopListener(reporter_factory, on_step)
    )


def demo_loop_work(loop: DemoLoop, claim: Claim, outer: Reporter | None) -> Done:
    """The loop's steps in order, each recorded on the row as it starts and ends (the home page
    polls it). A step that fails ends the loop failed with its name and error, a cancel between
    steps or during one ends it cancelled; what the finished steps made stays."""
    from rewardmodel.registry.artifacts import default_base_model

    base_id = loop.config.get("base_model")
    ctx = _Context(
        loop=loop,
        claim=claim,
        project=loop.project,
        base=ModelArtifact.objects.get(pk=base_id) if base_id else default_base_model(),
        budget=BUDGETS[loop.config.get("budget", "full")],
        listener=outer if isinstance(outer, LoopListener) else LoopListener(),
    )
    names = [name for name, _ in STEPS]
    for i, name in enumerate(names):
        if job_cancel_requested(claim):
            raise Cancelled(f"cancelled before step {name}")
        loop.current_step, loop.progress = name, i / len(names)
        loop.status_message = dict(STEPS)[name]
        started = time.monotonic()
        _record(loop, name, status=JobStatus.RUNNING, started_at=timezone.now().isoformat())
        ctx.listener.step(name, "running")
        try:
            values = STEP_FUNCTIONS[name](ctx)
        except BaseException as exc:  # the row must say which step ended the loop, and why
            status = JobStatus.CANCELLED if isinstance(exc, Cancelled) else JobStatus.FAILED
            message = exc.message if isinstance(exc, PairwiseError) else f"{type(exc).__name__}: {exc}"
            _record(loop, name, status=status, finished_at=timezone.now().isoformat(), detail=message[:500])
            ctx.listener.step(name, f"{status}: {message}")
            if isinstance(exc, Exception) and not isinstance(exc, Cancelled):
                raise PairwiseError(f"step {name}: {message}") from exc
            raise
        values["seconds"] = round(time.monotonic() - started, 1)
        _record(loop, name, status=JobStatus.SUCCEEDED, finished_at=timezone.now().isoformat(), **values)
        ctx.listener.step(name, f"done in {values['seconds']:.0f} s {values.get('numbers', {})}")
    return Done(message=f"{len(names)} steps in {loop.wall_seconds or 0:.0f} s", fields={"current_step": ""})


def demo_loop_status_fields(loop: DemoLoop, query: Mapping[str, str]) -> dict[str, Any]:
    """What the home page polls beyond every job's fields (rewardmodel.jobs.views): each step,
    with its run's or generation job's live progress while it runs."""
    runs = {
        r.pk: r
        for r in TrainingRun.objects.filter(pk__in=[s["run_id"] for s in loop.steps if s.get("run_id")])
    }
    jobs = {
        j.pk: j
        for j in GenerationJob.objects.filter(pk__in=[s["job_id"] for s in loop.steps if s.get("job_id")])
    }
    steps = []
    for step in loop.steps:
        row = {k: step.get(k) for k in ("name", "title", "status", "url", "numbers", "detail", "seconds")}
        live = runs.get(step.get("run_id")) or jobs.get(step.get("job_id"))
        if live is not None and step.get("status") == JobStatus.RUNNING:
            row["progress"] = live.progress
            row["message"] = live.status_message
        steps.append(row)
    return {"quick": loop.quick, "current_step": loop.current_step, "steps": steps}
