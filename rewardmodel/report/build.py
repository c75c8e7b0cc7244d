"""The comparison report: the base policy and the policies of each road measured on the same
held-out prompts, side by side with what each cost, and where a road stalled.

    data = report_build(project=p, policies=[base, sft_1, ppo_1, grpo_1], heldout=50, seed=0)
    report = report_save(project=p, data=data, command="python manage.py compare ...", created_by=u)
    html = report.html   # one self-contained page: inline CSS and SVG (rewardmodel/report/html.py)

`data` is plain JSON (stored on the ComparisonReport row, written as report.json by `compare`,
drawn by rewardmodel/report/html.py), typed by rewardmodel.report.data.ReportData. Its parts:

- policies: per policy, measured on the project's held-out prompts (the first `heldout` of them in
  id order) with greedy decoding, so the same data and seed give the same numbers: accuracy and
  R1 format rate on the prompts with a reference answer (rewardmodel.evaluation.rules.policy_evaluate,
  the R1 template), the reward model's mean score, mean length and KL to the base policy of its
  lineage (rewardmodel.evaluation.rm_scoring.policy_rm_evaluate), its arena rating when the project holds
  judgments between the listed policies (raw and style-controlled Bradley-Terry with 95 %
  bootstrap intervals, annotate.quality.leaderboard), and its cost ledger (rewardmodel.evaluation.ledger).
- roads: the ledgers of each road's policies added up (nothing counted twice), and the money and
  hours per point gained over the baseline (the first policy listed) by the road's best policy.
- curves: each training run's main metric (GRPO reward/total, PPO score, SFT loss, reward-model
  accuracy) step by step, from its RunMetric rows.
- notes: where a road stalled, in plain words. scale: model size, pairs, minutes, devices.
- commands: the commands that make the policies again, then the compare command itself.

The reward model: the one given, else the first reward model in the policies' lineages (the PPO
policy's). Torch is imported only inside the evaluation functions.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from annotate.models import Project, Prompt
from pairwise.errors import PairwiseError
from pairwise.files.atomic import atomic_file
from rewardmodel.evaluation.ledger import Ledger, LedgerData, ledger_union, policy_ledger
from rewardmodel.evaluation.rm_scoring import policy_rm_evaluate
from rewardmodel.evaluation.rules import policy_evaluate
from rewardmodel.models import (
    GENERATIVE_KINDS,
    ComparisonReport,
    DatasetSnapshot,
    ModelArtifact,
    RunMetric,
    TrainingRun,
)
from rewardmodel.registry.artifacts import artifact_kind_check
from rewardmodel.registry.lineage import lineage
from rewardmodel.registry.prompts import project_prompts, verifiable_prompts
from rewardmodel.report.data import (
    Arena,
    Curve,
    Gains,
    Note,
    PolicyRow,
    ReportData,
    RewardModelScores,
    RoadRow,
    RulesScores,
    Scale,
)
from rewardmodel.runs.kind import ROADS
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.reproduce import reproduce_commands

REPORT_VERSION = 1
CURVE_POINTS = 200  # at most this many points per curve (evenly thinned): the HTML stays small
# Stall thresholds, each with its reason (those of one kind of run are in its kind module:
# rewardmodel.runs.kinds, RunKind.notes).
# A reward model whose score follows response length this closely (Pearson, over the held-out
# answers of one policy) is likely paying for length rather than quality.
LENGTH_CORR = 0.5

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------


def report_reward_model(policies: Sequence[ModelArtifact]) -> ModelArtifact | None:
    """The first reward model in the policies' lineages (the PPO policy's), or None."""
    for policy in policies:
        for artifact in lineage(policy):
            if artifact.kind == ModelArtifact.Kind.REWARD:
                return artifact
    return None


def _rules(policy, project, *, heldout, seed, max_new_tokens, batch_size) -> RulesScores:
    try:
        result = policy_evaluate(
            model=policy,
            project=project,
            split=Prompt.Split.HELDOUT,
            samples=1,  # greedy
            limit=heldout,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
        )
    except PairwiseError as exc:
        return {"error": exc.message}
    return {
        "accuracy": result.accuracy,
        "format_rate": result.format_rate,
        "mean_length": result.mean_length,
        "n_prompts": result.n_prompts,
        "samples": result.sample_strings(2),
    }


def _rm(policy, project, reward_model, *, heldout, max_new_tokens, batch_size) -> RewardModelScores:
    try:
        result, reference = policy_rm_evaluate(
            model=policy,
            project=project,
            reward_model=reward_model,
            split=Prompt.Split.HELDOUT,
            limit=heldout,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
        )
    except PairwiseError as exc:
        return {"error": exc.message}
    return {
        "mean_score": result.mean_score,
        "kl": result.kl,
        "mean_length": result.mean_length,
        "length_score_corr": result.length_score_corr,
        "n_prompts": result.n_prompts,
        "reference": reference.name,
        "samples": result.sample_strings(2),
    }


def _arena(project: Project, names: list[str], *, seed: int, n_bootstrap: int) -> Arena:
    """Ratings of the listed policies from the project's judgments between them, or why none."""
    from annotate.quality.leaderboard import game_patterns, leaderboard_compute

    _, seen = game_patterns(project=project)
    sources = [name for name in names if name in seen]
    if len(sources) < 2:
        return {"available": False, "reason": "no arena judgments between these policies in the project yet"}
    board = leaderboard_compute(project=project, sources=sources, n_bootstrap=n_bootstrap, seed=seed)
    if not board["sources"]:
        return {"available": False, "reason": "no judged comparisons between these policies yet"}
    styled = board.get("style_controlled") or {}

    def rows(items: list[dict]) -> dict[str, dict]:
        return {r["source"]: {"elo": r["elo"], "elo_ci": r["elo_ci"], "games": r.get("games")} for r in items}

    return {
        "available": True,
        "comparisons": board["comparisons"],
        "raw": rows(board["sources"]),
        "style": rows(styled.get("sources", [])),
        "style_note": styled.get("skipped", ""),
        "n_bootstrap": n_bootstrap,
    }


# --------------------------------------------------------------------------------------------
# runs: curves, stalls, scale
# --------------------------------------------------------------------------------------------


def _runs(policies: Sequence[ModelArtifact]) -> list[tuple[TrainingRun, ModelArtifact, str]]:
    """(run, the artifact it made, the listed policy it leads to) for every run of the lineages."""
    out: dict[int, tuple[TrainingRun, ModelArtifact, str]] = {}
    for policy in policies:
        for artifact in lineage(policy):
            if artifact.training_run_id and artifact.training_run_id not in out:
                out[artifact.training_run_id] = (artifact.training_run, artifact, policy.name)
    return [out[pk] for pk in sorted(out)]


def _thin(points: list[list[float]]) -> list[list[float]]:
    if len(points) <= CURVE_POINTS:
        return points
    step = (len(points) - 1) / (CURVE_POINTS - 1)
    return [points[round(k * step)] for k in range(CURVE_POINTS)]


def _metric(run: TrainingRun, key: str) -> list[list[float]]:
    rows = RunMetric.objects.filter(run=run).order_by("step", "id").values_list("step", "values")
    return [[step, float(values[key])] for step, values in rows if isinstance(values.get(key), int | float)]


def _curves(runs) -> list[Curve]:
    curves = []
    for run, artifact, _ in runs:
        kind = KINDS.get(run.kind)
        if kind is None or kind.curve is None:
            continue
        key, label = kind.curve
        points = _metric(run, key)
        if points:
            curves.append(
                {
                    "run_id": run.pk,
                    "kind": run.kind,
                    "model": artifact.name,
                    "key": key,
                    "label": label,
                    "points": _thin(points),
                }
            )
    return curves


def _stalls(runs, rows: list[PolicyRow], baseline: PolicyRow, reward_model) -> list[Note]:
    """Where a road stalled, in plain words (see the thresholds at the top of the module)."""
    notes: list[Note] = []

    def note(subject: str, text: str) -> None:
        if not any(n["text"] == text for n in notes):
            notes.append({"subject": subject, "text": text})

    for run, artifact, policy in runs:
        kind = KINDS.get(run.kind)
        for text in kind.notes(run, artifact) if kind is not None and kind.notes else []:
            note(policy, text)
    for row in rows:
        name, trained_on = row["name"], row["ledger"]["training_judgments"]
        simulated, others = (
            trained_on["simulated"]["n"],
            trained_on["human"]["n"] + trained_on["imported"]["n"],
        )
        if simulated > others:
            note(
                name,
                f"Most judgments {name} was trained from ({simulated} of {simulated + others}) came from "
                "simulated labelers: they cost nothing, and the hours shown beside them are what people "
                "would have needed (an estimate).",
            )
        rm = row.get("rm") or {}
        corr = rm.get("length_score_corr")
        if corr is not None and corr > LENGTH_CORR and row["road"] == "human feedback" and reward_model:
            note(
                name,
                f"{reward_model.name}'s score rises with the length of {name}'s answers (correlation {corr:.2f} "
                "over the held-out prompts): the reward model may be rewarding length rather than quality.",
            )
        if row is baseline or row["road"] == "base":
            continue
        rules, base_rules = row.get("rules") or {}, baseline.get("rules") or {}
        if "accuracy" in rules and "accuracy" in base_rules and rules["accuracy"] <= base_rules["accuracy"]:
            note(
                name,
                f"{name} ({row['road']}) is no more accurate than {baseline['name']} on the held-out prompts "
                f"({rules['accuracy'] * 100:.1f} % against {base_rules['accuracy'] * 100:.1f} %): no gain over the "
                "baseline.",
            )
        base_rm = baseline.get("rm") or {}
        if (
            row["road"] == "human feedback"
            and "mean_score" in rm
            and "mean_score" in base_rm
            and rm["mean_score"] <= base_rm["mean_score"]
        ):
            note(
                name,
                f"{name} scores no higher than {baseline['name']} under {reward_model.name} "
                f"({rm['mean_score']:.3f} against {base_rm['mean_score']:.3f}): PPO gained nothing even by "
                "its own reward model.",
            )
    return notes


def _scale(policies, runs, n_prompts: int, n_verifiable: int) -> Scale:
    params = sorted({p.parameter_count for p in policies if p.parameter_count})
    preference = {}  # the preference pairs trained on (a reward model's, DPO's), each snapshot once
    for run, _, _ in runs:
        if run.snapshot_id and run.snapshot.kind == DatasetSnapshot.Kind.PREFERENCES:
            preference[run.snapshot_id] = run.snapshot
    return {
        "parameters": params,
        "pairs": sum(s.n_examples + s.n_eval_examples for s in preference.values()),
        "judgments": sum(s.n_judgments for s in preference.values()),
        "training_minutes": sum((run.wall_seconds or 0) for run, _, _ in runs) / 60,
        "devices": sorted({run.device for run, _, _ in runs if run.device}),
        "heldout_prompts": n_prompts,
        "verifiable_prompts": n_verifiable,
        "runs": len(runs),
    }


# --------------------------------------------------------------------------------------------
# costs per point
# --------------------------------------------------------------------------------------------


def _gains(row: PolicyRow, baseline: PolicyRow, ledger: LedgerData) -> Gains:
    """Points gained over the baseline, and what each point cost (None without a gain)."""
    gains: Gains = {}
    acc, base_acc = (row.get("rules") or {}).get("accuracy"), (baseline.get("rules") or {}).get("accuracy")
    if acc is not None and base_acc is not None:
        gains["accuracy_points"] = (acc - base_acc) * 100
    elo = ((row.get("arena") or {}).get("raw") or {}).get("elo")
    base_elo = ((baseline.get("arena") or {}).get("raw") or {}).get("elo")
    if elo is not None and base_elo is not None:
        gains["elo_points"] = elo - base_elo
    for metric in ("accuracy_points", "elo_points"):
        points = gains.get(metric)
        per = metric.removesuffix("_points")
        useful = points is not None and points > 0
        gains[f"usd_per_{per}_point"] = ledger["total_usd"] / points if useful else None
        gains[f"human_hours_per_{per}_point"] = ledger["human"]["hours"] / points if useful else None
        gains[f"compute_hours_per_{per}_point"] = ledger["compute"]["hours"] / points if useful else None
    return gains


def _roads(rows: list[PolicyRow], ledgers: dict[str, Ledger], baseline: PolicyRow) -> list[RoadRow]:
    out = []
    for road in ROADS:
        members = [r for r in rows if r["road"] == road]
        if not members:
            continue
        union = ledger_union([ledgers[r["name"]] for r in members], policy=road, road=road).as_dict()

        def key(r: PolicyRow) -> tuple:
            g = r["gains"]
            return (
                g.get("accuracy_points") is not None,
                g.get("accuracy_points") or 0,
                g.get("elo_points") or 0,
            )

        best = max(members, key=key)
        out.append(
            {
                "road": road,
                "policies": [r["name"] for r in members],
                "ledger": union,
                "best": best["name"],
                # The baseline's own road gains nothing over itself.
                "gains": {} if best is baseline else _gains(best, baseline, union),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------


def report_build(
    *,
    project: Project,
    policies: Sequence[ModelArtifact],
    reward_model: ModelArtifact | None = None,
    heldout: int | None = None,
    seed: int = 0,
    max_new_tokens: int = 96,
    batch_size: int = 16,
    n_bootstrap: int = 200,
    compare_command: str = "",
    progress: Progress = _quiet,
) -> ReportData:
    """Measure the policies and gather everything the report shows (see the module docstring).
    The first policy is the baseline. Raises PairwiseError for input a person must fix."""
    policies = list({p.pk: p for p in policies}.values())
    if len(policies) < 2:
        raise PairwiseError("A comparison needs at least two different policies (the first is the baseline).")
    for policy in policies:
        artifact_kind_check(policy, GENERATIVE_KINDS, doing="a comparison measures")
    if heldout is not None and heldout < 1:
        raise PairwiseError("--heldout must be at least 1.")
    prompts = project_prompts(project=project, split=Prompt.Split.HELDOUT)[:heldout]
    if not prompts:
        raise PairwiseError(
            f"Project {project.name!r} has no held-out prompts to compare on; add some (make_arithmetic, or "
            "import_data --split heldout)."
        )
    n_verifiable = len(verifiable_prompts(project=project, split=Prompt.Split.HELDOUT)[:heldout])
    chosen_because = "given"
    if reward_model is None:
        reward_model = report_reward_model(policies)
        chosen_because = "the first reward model in the policies' lineages"
    if reward_model is not None:
        artifact_kind_check(reward_model, (ModelArtifact.Kind.REWARD,), doing="the answers are scored by")

    rows: list[PolicyRow] = []
    ledgers: dict[str, Ledger] = {}
    for k, policy in enumerate(policies, start=1):
        progress(f"[{k}/{len(policies)}] {policy.name}: ledger")
        ledgers[policy.name] = ledger = policy_ledger(model=policy)
        row: PolicyRow = {
            "name": policy.name,
            "kind": policy.kind,
            "road": ledger.road,
            "parameter_count": policy.parameter_count,
            "rules": None,
            "rm": None,
            "arena": None,
            "ledger": ledger.as_dict(),
        }
        if n_verifiable:
            progress(f"[{k}/{len(policies)}] {policy.name}: accuracy and format on {n_verifiable} prompts")
            row["rules"] = _rules(
                policy,
                project,
                heldout=heldout,
                seed=seed,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
        if reward_model is not None:
            progress(
                f"[{k}/{len(policies)}] {policy.name}: {reward_model.name} score and KL on {len(prompts)} prompts"
            )
            row["rm"] = _rm(
                policy,
                project,
                reward_model,
                heldout=heldout,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
        rows.append(row)

    progress("arena ratings")
    arena = _arena(project, [p.name for p in policies], seed=seed, n_bootstrap=n_bootstrap)
    if arena["available"]:
        for row in rows:
            raw, style = arena["raw"].get(row["name"]), arena["style"].get(row["name"])
            row["arena"] = {"raw": raw, "style": style} if raw else None
    baseline = rows[0]
    for row in rows:
        row["gains"] = _gains(row, baseline, row["ledger"])
    # The reward model that scores them is part of the story even when no policy descends from it.
    trained = [*policies, *([reward_model] if reward_model else [])]
    runs = _runs(trained)
    commands = reproduce_commands(policies=trained) + ([compare_command] if compare_command else [])
    return {
        "version": REPORT_VERSION,
        "project": {"id": project.pk, "name": project.name},
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "params": {
            "policies": [p.name for p in policies],
            "baseline": policies[0].name,
            "reward_model": reward_model.name if reward_model else None,
            "reward_model_chosen": chosen_because if reward_model else None,
            "heldout": heldout,
            "seed": seed,
            "max_new_tokens": max_new_tokens,
            "n_bootstrap": n_bootstrap,
            "decoding": "greedy",
        },
        "policies": rows,
        "arena": arena,
        "roads": _roads(rows, ledgers, baseline),
        "curves": _curves(runs),
        "notes": _stalls(runs, rows, baseline, reward_model),
        "scale": _scale(policies, runs, len(prompts), n_verifiable),
        "rates": {"device_hourly_usd": dict(settings.PAIRWISE_DEVICE_HOURLY_USD)},
        "commands": commands,
    }


def report_save(*, project: Project, data: ReportData, command: str, created_by=None) -> ComparisonReport:
    """Store a built report with its self-contained HTML (what `compare --out` writes)."""
    from rewardmodel.report.html import report_document

    return ComparisonReport.objects.create(
        project=project,
        created_by=created_by,
        policies=data["params"]["policies"],
        data=data,
        html=report_document(data),
        command=command,
    )


def compare_command(
    *,
    project: Project,
    policies: Sequence[str],
    reward_model: str | None = None,
    heldout: int | None = None,
    seed: int = 0,
    max_new_tokens: int = 96,
    n_bootstrap: int = 200,
    out: str | Path | None = None,
) -> str:
    """The `manage.py compare` line that builds this report again (it closes its reproduce commands)."""
    args = ["python", "manage.py", "compare", "--project", project.name, "--policies", ",".join(policies)]
    if reward_model:
        args += ["--reward-model", reward_model]
    if heldout is not None:
        args += ["--heldout", str(heldout)]
    args += ["--seed", str(seed), "--max-new-tokens", str(max_new_tokens)]
    if n_bootstrap != 200:
        args += ["--bootstrap", str(n_bootstrap)]
    if out:
        args += ["--out", str(out)]
    return shlex.join(args)


def report_files_write(report: ComparisonReport, out: Path | None = None) -> Path:
    """The report's self-contained HTML at `out` (default DATA_DIR/reports/<id>/report.html) and its
    data as report.json beside it, each whole or not at all; returns the HTML file's path."""
    out = Path(out) if out else settings.DATA_DIR / "reports" / str(report.pk) / "report.html"
    with atomic_file(out) as fh:
        fh.write(report.html)
    with atomic_file(out.with_suffix(".json")) as fh:
        fh.write(json.dumps(report.data, indent=2, sort_keys=True))
    return out
