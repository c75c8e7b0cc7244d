"""What a comparison report holds, typed: the JSON that report_build makes, the ComparisonReport row
stores, `compare` writes as report.json and rewardmodel.report.html draws. Plain dicts at run time
(they go to JSON as they are); these say which keys are there and what they hold.

    data: ReportData = report_build(project=p, policies=[...])
    data["policies"][0]["rules"]["accuracy"]
"""

from __future__ import annotations

from typing import TypedDict

from rewardmodel.evaluation.ledger import LedgerData


class RulesScores(TypedDict, total=False):
    """A policy measured by rules on the verifiable held-out prompts (evaluation.rules), or why not."""

    accuracy: float
    format_rate: float
    mean_length: float
    n_prompts: int
    samples: list[str]
    error: str  # set instead of the numbers when it could not be measured


class RewardModelScores(TypedDict, total=False):
    """A policy measured by the report's reward model (evaluation.rm_scoring), or why not."""

    mean_score: float
    kl: float | None  # to `reference`, exact along each greedy answer
    mean_length: float
    length_score_corr: float | None
    n_prompts: int
    reference: str
    samples: list[str]
    error: str


class Rating(TypedDict):
    elo: float
    elo_ci: list[float] | None  # 95 % bootstrap interval
    games: int | None


class PolicyRating(TypedDict):
    raw: Rating | None
    style: Rating | None  # style-controlled (length and markdown as covariates)


class Gains(TypedDict, total=False):
    """Points gained over the baseline, and what each cost (None without a gain)."""

    accuracy_points: float
    elo_points: float
    usd_per_accuracy_point: float | None
    human_hours_per_accuracy_point: float | None
    compute_hours_per_accuracy_point: float | None
    usd_per_elo_point: float | None
    human_hours_per_elo_point: float | None
    compute_hours_per_elo_point: float | None


class PolicyRow(TypedDict):
    name: str
    kind: str  # ModelArtifact.Kind
    road: str  # runs.kind.ROADS
    parameter_count: int | None
    rules: RulesScores | None  # None: no verifiable held-out prompt
    rm: RewardModelScores | None  # None: no reward model to score with
    arena: PolicyRating | None  # None: no arena judgments between these policies
    ledger: LedgerData
    gains: Gains


class RoadRow(TypedDict):
    road: str
    policies: list[str]
    ledger: LedgerData  # the road's policies' ledgers added up, nothing counted twice
    best: str
    gains: Gains


class Arena(TypedDict, total=False):
    available: bool
    reason: str  # why not, when not available
    comparisons: int
    raw: dict[str, Rating]
    style: dict[str, Rating]
    style_note: str
    n_bootstrap: int


class Curve(TypedDict):
    """One training run's main metric (its kind's `curve`), step by step."""

    run_id: int
    kind: str
    model: str
    key: str
    label: str
    points: list[list[float]]  # [step, value], thinned to at most CURVE_POINTS


class Note(TypedDict):
    """Where a road stalled, in plain words; `subject` is the policy it is about."""

    subject: str
    text: str


class Scale(TypedDict):
    parameters: list[int]
    pairs: int
    judgments: int
    training_minutes: float
    devices: list[str]
    heldout_prompts: int
    verifiable_prompts: int
    runs: int


class Params(TypedDict):
    policies: list[str]  # the baseline first
    baseline: str
    reward_model: str | None
    reward_model_chosen: str | None  # "given", or how the report chose it
    heldout: int | None
    seed: int
    max_new_tokens: int
    n_bootstrap: int
    decoding: str


class ProjectRef(TypedDict):
    id: int
    name: str


class Rates(TypedDict):
    device_hourly_usd: dict[str, float]


class ReportData(TypedDict):
    version: int
    project: ProjectRef
    generated_at: str
    params: Params
    policies: list[PolicyRow]
    arena: Arena
    roads: list[RoadRow]
    curves: list[Curve]
    notes: list[Note]
    scale: Scale
    rates: Rates
    commands: list[str]  # shell lines that make the policies and the report again
