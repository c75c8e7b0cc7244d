"""The cost ledger: what a policy cost to make, added up through its lineage. No torch.

    ledger = policy_ledger(model=ppo_1)
    ledger.as_dict()["human"]["usd"], ledger.as_dict()["compute"]["hours"]
    road = ledger_union([ppo_1_ledger, ppo_2_ledger], policy="human feedback", road="human feedback")

What is counted:

- The lineage: the policy, its parents, theirs, and so on (ModelArtifact.parents). A PPO policy's
  parents are its starting policy and its reward model, so the reward model's lineage comes along.
- Compute: each artifact's training run, wall time (started_at to finished_at) × devices × the
  hourly rate of its device (settings.PAIRWISE_DEVICE_HOURLY_USD, see `device_rate`). Failed and
  cancelled runs made no artifact and are not counted; generation, scoring and evaluation are not
  counted either. Tokens: the runs' tokens_seen.
- People's time: the judgments behind every snapshot a run of the lineage trained on (preference
  pairs; SFT demonstrations made from judgments), plus arena judgments: those on comparisons
  between this policy's responses and another registered model's.
  A snapshot records a hash of its judgments' ids, not the ids. They are recovered from the
  comparisons its rows name, chosen as the export chose them then (not gold, made before the
  snapshot, not by a labeler excluded at the time, simulated ones only if the snapshot kept them),
  and checked against that hash; a mismatch (judgments deleted, exclusions changed since) is said
  in `notes`, and the recovered set is counted.
- A person's judgment costs its seconds on task at its project's labeler_hourly_rate; an untimed
  one is charged at the project's median human pace (an estimate, shown apart). A simulated
  labeler's judgment costs nothing; beside it stand the hours people would have needed at that
  median pace (an estimate). Imported (external) judgments are counted, not costed: whatever they
  cost was paid elsewhere and is not recorded here.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import F, Q

from annotate.models import Choice, Comparison, Judgment, LabelerExclusion, Project
from rewardmodel.evaluation.simulated_labelers import DEFAULT_MEDIAN_SECONDS
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.registry.lineage import lineage
from rewardmodel.registry.snapshots import EVAL_FILE, TRAIN_FILE
from rewardmodel.runs.kind import ROAD_BASE, ROAD_HUMAN_FEEDBACK, ROAD_RULES, ROAD_SUPERVISED
from rewardmodel.runs.kinds import KINDS

HUMAN, SIMULATED, IMPORTED = Judgment.Source.HUMAN, Judgment.Source.SIMULATED, Judgment.Source.EXTERNAL
# Keys of PAIRWISE_DEVICE_HOURLY_USD that name a kind of device; every other key is a GPU name fragment.
DEVICE_KINDS = ("cpu", "cuda", "mps", "xpu")
# SQLite allows a limited number of query parameters: comparison ids go to the database in chunks.
CHUNK = 500

Key = int | str  # a judgment's id, or "snapshot<pk>:<k>" for one known only by a snapshot's count


class HumanHours(TypedDict):
    n: int
    timed: int  # judgments with a recorded time on task
    hours: float
    estimated_hours: float  # of `hours`, those at the project's median pace
    usd: float


class JudgmentSums(TypedDict):
    human: HumanHours
    simulated: dict[str, float]  # n, hours_if_human
    imported: dict[str, int]  # n


class ComputeCost(TypedDict):
    hours: float
    usd: float
    unpriced_runs: list[int]


class LedgerData(TypedDict):
    """A Ledger as JSON (Ledger.as_dict), as the report stores it per policy and per road."""

    policy: str
    road: str
    runs: list[dict[str, Any]]  # RunCost.as_dict, oldest first
    training_judgments: JudgmentSums  # behind the snapshots its lineage trained on
    arena_judgments: JudgmentSums  # on its arena comparisons, those not trained on
    human: HumanHours
    simulated: dict[str, Any]  # n, hours_if_human, estimate
    imported: dict[str, int]
    compute: ComputeCost
    tokens: int
    total_usd: float
    total_hours: float
    paces: dict[str, dict[str, Any]]  # Pace by project id
    notes: list[str]


@dataclass(frozen=True)
class JudgmentRow:
    source: str
    seconds: float | None
    project_id: int


@dataclass(frozen=True)
class Pace:
    """What an hour of a project's labeling costs, and how long a judgment takes there."""

    project: str
    hourly_rate: float
    median_seconds: float
    measured: bool  # False: the project has no timed human judgment; DEFAULT_MEDIAN_SECONDS, a guess


@dataclass(frozen=True)
class RunCost:
    run_id: int
    kind: str
    model: str  # the artifact the run made
    device: str  # as the run recorded it
    devices: int
    rate_usd: float  # per device-hour
    rate_key: str | None  # the PAIRWISE_DEVICE_HOURLY_USD key that priced it; None: none did
    wall_seconds: float
    tokens: int
    examples: int

    @property
    def hours(self) -> float:
        return self.wall_seconds * self.devices / 3600

    @property
    def usd(self) -> float:
        return self.hours * self.rate_usd

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hours": self.hours, "usd": self.usd}


@dataclass
class Ledger:
    policy: str
    road: str
    runs: dict[int, RunCost] = field(default_factory=dict)
    training: dict[Key, JudgmentRow] = field(default_factory=dict)  # behind the snapshots trained on
    arena: dict[Key, JudgmentRow] = field(default_factory=dict)  # on its arena comparisons
    paces: dict[int, Pace] = field(default_factory=dict)  # by project id
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> LedgerData:
        """Every figure of the ledger (hours, US dollars, counts); "estimate" marks what is one."""
        training = judgment_sums(self.training.values(), self.paces)
        arena_only = (row for key, row in self.arena.items() if key not in self.training)
        arena = judgment_sums(arena_only, self.paces)
        runs = sorted(self.runs.values(), key=lambda r: r.run_id)
        compute_hours = sum(r.hours for r in runs)
        compute_usd = sum(r.usd for r in runs)
        human = {
            key: training["human"][key] + arena["human"][key]
            for key in ("n", "timed", "hours", "estimated_hours", "usd")
        }
        return {
            "policy": self.policy,
            "road": self.road,
            "runs": [r.as_dict() for r in runs],
            "training_judgments": training,
            "arena_judgments": arena,
            "human": human,
            "simulated": {
                "n": training["simulated"]["n"] + arena["simulated"]["n"],
                "hours_if_human": training["simulated"]["hours_if_human"]
                + arena["simulated"]["hours_if_human"],
                "estimate": True,
            },
            "imported": {"n": training["imported"]["n"] + arena["imported"]["n"]},
            "compute": {
                "hours": compute_hours,
                "usd": compute_usd,
                "unpriced_runs": [r.run_id for r in runs if r.rate_key is None],
            },
            "tokens": sum(r.tokens for r in runs),
            "total_usd": human["usd"] + compute_usd,
            "total_hours": human["hours"] + compute_hours,
            "paces": {str(pk): asdict(p) for pk, p in sorted(self.paces.items())},
            "notes": list(self.notes),
        }


def judgment_sums(rows: Iterable[JudgmentRow], paces: Mapping[int, Pace]) -> JudgmentSums:
    """Counts, hours and money of judgments by who made them (see the module docstring)."""
    human = {"n": 0, "timed": 0, "hours": 0.0, "estimated_hours": 0.0, "usd": 0.0}
    simulated = {"n": 0, "hours_if_human": 0.0}
    imported = {"n": 0}
    for row in rows:
        pace = paces[row.project_id]
        if row.source == SIMULATED:
            simulated["n"] += 1
            simulated["hours_if_human"] += pace.median_seconds / 3600
        elif row.source == IMPORTED:
            imported["n"] += 1
        else:
            human["n"] += 1
            if row.seconds is None:
                hours = pace.median_seconds / 3600
                human["estimated_hours"] += hours
            else:
                hours = row.seconds / 3600
                human["timed"] += 1
            human["hours"] += hours
            human["usd"] += hours * pace.hourly_rate
    return {"human": human, "simulated": simulated, "imported": imported}


# --------------------------------------------------------------------------------------------
# compute
# --------------------------------------------------------------------------------------------


def device_parse(device: str) -> tuple[str, int, str]:
    """(kind, how many, GPU name) of a run's recorded device: "cuda: 4 x NVIDIA H100 80GB HBM3" is
    ("cuda", 4, "NVIDIA H100 80GB HBM3"); "cpu (8 threads)" is ("cpu", 1, ""); "cuda" and
    "cuda:0" are ("cuda", 1, "") (the trainers of policy runs record only the kind)."""
    kind = re.match(r"\s*([A-Za-z]*)", device or "").group(1).lower()
    several = re.search(r"(\d+)\s*x\s+(.+?)\s*$", device or "")
    if several:
        return kind, max(int(several.group(1)), 1), several.group(2)
    return kind, 1, ""


def device_rate(device: str, rates: Mapping[str, float] | None = None) -> tuple[int, float, str | None]:
    """(devices, US dollars per device-hour, the rates key used; None when no key priced it) for a
    run's recorded device. A GPU name fragment ("H100") wins over its kind ("cuda"), the longest
    fragment first."""
    rates = settings.PAIRWISE_DEVICE_HOURLY_USD if rates is None else rates
    kind, count, name = device_parse(device)
    if name:
        fragments = sorted((k for k in rates if k.lower() not in DEVICE_KINDS), key=len, reverse=True)
        for key in fragments:
            if key.lower() in name.lower():
                return count, float(rates[key]), key
    if kind in rates:
        return count, float(rates[kind]), kind
    return count, 0.0, None


def run_cost(run: TrainingRun, model_name: str) -> RunCost:
    devices, rate, key = device_rate(run.device)
    return RunCost(
        run_id=run.pk,
        kind=run.kind,
        model=model_name,
        device=run.device,
        devices=devices,
        rate_usd=rate,
        rate_key=key,
        wall_seconds=run.wall_seconds or 0.0,
        tokens=run.tokens_seen,
        examples=run.examples_seen,
    )


# --------------------------------------------------------------------------------------------
# judgments
# --------------------------------------------------------------------------------------------


def project_pace(project: Project) -> Pace:
    """The project's hourly rate and median human seconds on task (else the default guess)."""
    seconds = list(
        Judgment.objects.filter(
            comparison__project=project, source=HUMAN, seconds_on_task__isnull=False
        ).values_list("seconds_on_task", flat=True)
    )
    return Pace(
        project=project.name,
        hourly_rate=float(project.labeler_hourly_rate),
        median_seconds=float(statistics.median(seconds)) if seconds else DEFAULT_MEDIAN_SECONDS,
        measured=bool(seconds),
    )


def _snapshot_comparison_ids(folder: Path) -> set[int]:
    ids: set[int] = set()
    for name in (TRAIN_FILE, EVAL_FILE):
        path = folder / name
        if not path.is_file():
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    cid = json.loads(line).get("comparison_id")
                    if cid is not None:
                        ids.add(int(cid))
    return ids


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def ids_hash(ids: Iterable[int]) -> str:
    """As annotate.exporting.build records judgment_ids_hash: sha256 over the sorted ids, comma-separated."""
    return hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode("ascii")).hexdigest()


def snapshot_judgments(snapshot: DatasetSnapshot) -> tuple[dict[Key, JudgmentRow], str | None]:
    """The judgments behind a snapshot's rows, and a note when they are not exactly known."""
    folder = Path(snapshot.path)
    if not (folder / TRAIN_FILE).is_file():
        if not snapshot.n_judgments:
            return {}, None
        # Only the counts are left: people's judgments at the median pace, simulated ones apart.
        n_simulated = int(snapshot.filters.get("simulated_judgments") or 0)
        rows: dict[Key, JudgmentRow] = {
            f"snapshot{snapshot.pk}:{k}": JudgmentRow(
                SIMULATED if k < n_simulated else HUMAN, None, snapshot.project_id
            )
            for k in range(snapshot.n_judgments)
        }
        return rows, (
            f"Snapshot #{snapshot.pk}'s files are gone from {folder}: its {snapshot.n_judgments} judgments "
            "are counted at the project's median pace (an estimate)."
        )
    comparison_ids = sorted(_snapshot_comparison_ids(folder))
    if not comparison_ids:
        return {}, None  # prompts, or demonstrations not made from judgments
    at = snapshot.created_at
    excluded = LabelerExclusion.objects.filter(project_id=snapshot.project_id, created_at__lte=at).filter(
        Q(lifted_at__isnull=True) | Q(lifted_at__gt=at)
    )
    rows = {}
    for chunk in _chunks(comparison_ids):
        query = (
            Judgment.objects.filter(comparison_id__in=chunk, comparison__is_gold=False, created_at__lte=at)
            .exclude(labeler_id__in=excluded.values("labeler_id"))
            .exclude(choice__in=[Choice.A, Choice.B], winner__isnull=True)  # the export skips these
        )
        if snapshot.filters.get("include_simulated") is False:
            query = query.exclude(source=SIMULATED)
        for pk, source, seconds in query.values_list("id", "source", "seconds_on_task"):
            rows[pk] = JudgmentRow(source, seconds, snapshot.project_id)
    expected = snapshot.filters.get("judgment_ids_hash")
    if expected and ids_hash(rows) != expected:
        return rows, (
            f"The {len(rows)} judgments found behind snapshot #{snapshot.pk} are not exactly the "
            f"{snapshot.n_judgments} it was made from (judgments deleted or exclusions changed since); "
            "they are counted as found."
        )
    return rows, None


def arena_judgments(model: ModelArtifact) -> dict[Key, JudgmentRow]:
    """Judgments on comparisons between this model's responses and another registered model's."""
    comparisons = (
        Comparison.objects.filter(
            is_gold=False, response_a__model__isnull=False, response_b__model__isnull=False
        )
        .filter(Q(response_a__model=model) | Q(response_b__model=model))
        .exclude(response_a__model=F("response_b__model"))
    )
    return {
        pk: JudgmentRow(source, seconds, project_id)
        for pk, source, seconds, project_id in Judgment.objects.filter(
            comparison__in=comparisons
        ).values_list("id", "source", "seconds_on_task", "comparison__project_id")
    }


# --------------------------------------------------------------------------------------------
# lineage
# --------------------------------------------------------------------------------------------


def road_of(artifacts: Sequence[ModelArtifact]) -> str:
    """Which road made a policy, by the kinds of run in its lineage (each kind names its road:
    rewardmodel.runs.kinds): human feedback (a reward model in its lineage, or a run on people's
    judgments: PPO, DPO), else rules (GRPO), else supervised (SFT only), else base (no training)."""
    roads = {
        KINDS[a.training_run.kind].road
        for a in artifacts
        if a.training_run_id and a.training_run.kind in KINDS
    }
    if any(a.kind == ModelArtifact.Kind.REWARD for a in artifacts):
        roads.add(ROAD_HUMAN_FEEDBACK)
    for road in (ROAD_HUMAN_FEEDBACK, ROAD_RULES, ROAD_SUPERVISED):
        if road in roads:
            return road
    return ROAD_BASE


def policy_ledger(*, model: ModelArtifact) -> Ledger:
    """The cost ledger of a model (usually a policy) through its lineage (see the module docstring)."""
    artifacts = lineage(model)
    ledger = Ledger(policy=model.name, road=road_of(artifacts))
    snapshots: dict[int, DatasetSnapshot] = {}
    for artifact in artifacts:
        run = artifact.training_run
        if run is not None:
            ledger.runs[run.pk] = run_cost(run, artifact.name)
            if run.snapshot_id:
                snapshots[run.snapshot_id] = run.snapshot
        if artifact.dataset_snapshot_id:
            snapshots[artifact.dataset_snapshot_id] = artifact.dataset_snapshot
    for snapshot in sorted(snapshots.values(), key=lambda s: s.pk):
        rows, note = snapshot_judgments(snapshot)
        ledger.training.update(rows)
        if note:
            ledger.notes.append(note)
    ledger.arena = arena_judgments(model)
    project_ids = {row.project_id for row in (*ledger.training.values(), *ledger.arena.values())}
    projects = Project.objects.in_bulk(sorted(project_ids))
    ledger.paces = {pk: project_pace(project) for pk, project in projects.items()}
    for pace in ledger.paces.values():
        if not pace.measured:
            ledger.notes.append(
                f"Project {pace.project!r} has no timed human judgment: a judgment is taken to need "
                f"{DEFAULT_MEDIAN_SECONDS:g} s (a guess) where a time is estimated."
            )
    return ledger


def ledger_union(ledgers: Sequence[Ledger], *, policy: str, road: str) -> Ledger:
    """Several ledgers as one, nothing counted twice (a run or a judgment shared by two policies)."""
    out = Ledger(policy=policy, road=road)
    for ledger in ledgers:
        out.runs.update(ledger.runs)
        out.training.update(ledger.training)
        out.arena.update(ledger.arena)
        out.paces.update(ledger.paces)
        out.notes.extend(n for n in ledger.notes if n not in out.notes)
    return out
