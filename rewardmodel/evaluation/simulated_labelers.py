"""Simulated labelers: accounts that judge a project's comparisons with a known oracle and a known
amount of noise, for demos, for calibrating the quality figures, and for testing the loop end to
end before people have labeled anything.

    python manage.py simulate_labelers --project NAME --oracle length --agreement 0.7 --judgments 2000

They judge through the same services as people (comparison_assign_next, then judgment_record), so
leases, overlap_k, gold items and one judgment per labeler and comparison hold for them as well.

Who they are
- Accounts `sim-<project-slug>-1` ... `-N`, with an unusable password (nobody logs in as them),
  in the `simulated` group (annotate migration 0007) and not in `labelers`, added to the project.
- judgment_record stores their judgments with source "simulated" (annotate.services.
  labeler_access_check reads the group). They count like a person's towards overlap_k and the
  majority vote; the quality report, the exports and reward-model snapshots say how many there
  are, and export_preferences / train_reward_model --no-simulated leave them out.

The oracle says which STORED response is better (or that it cannot tell)
- `length`: the longer text. A known-biased judge (length is the classic reward-hacking target),
  for demos and for checking that the quality figures and reward models pick the bias up.
- `rule`: rewardmodel.training.rule_rewards.accuracy against the prompt's reference answer; when both
  responses are equally right (or wrong), the one in the R1 format (`format`); else no preference.
  A prompt without a reference answer gives no preference.
- `reward:R`: a registered reward model (name or id) scores both responses
  (rewardmodel.training.scoring.score_texts, in batches over the comparisons about to be served).

Noise
- Each judgment flips the oracle's preference with probability p, independently. Two simulated
  labelers then agree when both keep it or both flip it: a = (1 - p)^2 + p^2, so
  p = (1 - sqrt(2a - 1)) / 2. `agreement` is that a: the raw pairwise agreement the quality report
  should measure between simulated labelers on comparisons where the oracle has a preference.
  a < 0.5 is out of reach (two independent coin flips already agree half the time).
- The default a = 0.726 is the inter-annotator agreement InstructGPT reports for its training
  labelers, 72.6 +- 1.5 % (Ouyang et al. 2022, "Training language models to follow instructions
  with human feedback", arXiv:2203.02155); p is then about 0.164.
- No preference from the oracle (equal scores or lengths, both answers equally right): the
  labeler answers "tie" (`ties="tie"`, the default; noise does not apply, so ties raise the
  measured agreement), or picks a side by a fair coin (`ties="coin"`, agreement 0.5 on those).

Seconds on task
- Resampled from the project's human judgments that have one; without any, drawn from a lognormal
  with median DEFAULT_MEDIAN_SECONDS and sigma DEFAULT_SIGMA: a guess, not a measurement.

Deterministic for a seed on the same database state: one random.Random drives the side orders,
gold draws, flips, coin flips and seconds, and labelers take turns in a fixed order. (Except for
which gold item is served: assign_next picks those in the database's random order.)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db.models import F, Q, Sum
from django.utils.text import slugify

from annotate.models import SIMULATED_GROUP, Choice, Comparison, Judgment, Project, SideOrder
from annotate.services import JudgmentInput, assignment_skip, comparison_assign_next, judgment_record
from pairwise.errors import Conflict, Forbidden, NotFound, PairwiseError

DEFAULT_AGREEMENT = 0.726  # InstructGPT, see the module docstring
# A guess for projects without timed human judgments: a pair of short answers read in ~20 s,
# long ones in a minute or more.
DEFAULT_MEDIAN_SECONDS = 20.0
DEFAULT_SIGMA = 0.6
ORACLES = ("length", "rule", "reward:R")
TIES = ("tie", "coin")
TIE_RATIONALE = "Simulated labeler: the oracle had no preference between the two responses."

# Oracle preferences, in STORED order.
PREFER_A, NO_PREFERENCE, PREFER_B = 1, 0, -1


def flip_probability(agreement: float) -> float:
    """p such that two labelers who each flip a binary preference with probability p agree with
    probability `agreement`: (1 - p)^2 + p^2 = a, so p = (1 - sqrt(2a - 1)) / 2."""
    if not 0.5 <= agreement <= 1.0:
        raise PairwiseError(
            f"agreement must be between 0.5 and 1; got {agreement}. Below 0.5 is out of reach: two "
            "labelers answering at random already agree half the time."
        )
    return (1.0 - math.sqrt(2.0 * agreement - 1.0)) / 2.0


def _sign(x: float) -> int:
    return PREFER_A if x > 0 else PREFER_B if x < 0 else NO_PREFERENCE


# --- oracles -------------------------------------------------------------------------------------


class Oracle(Protocol):
    name: str

    def preference(self, comparison: Comparison) -> int:
        """PREFER_A (response_a), PREFER_B or NO_PREFERENCE; the comparison comes with its prompt
        and responses loaded."""
        ...


class LengthOracle:
    name = "length"

    def preference(self, comparison: Comparison) -> int:
        return _sign(len(comparison.response_a.text) - len(comparison.response_b.text))


class RuleOracle:
    name = "rule"

    def preference(self, comparison: Comparison) -> int:
        from rewardmodel.training import rule_rewards

        reference = comparison.prompt.reference_answer
        if not reference.strip():
            return NO_PREFERENCE
        texts = [comparison.response_a.text, comparison.response_b.text]
        right = rule_rewards.accuracy(texts, answer=[reference, reference])
        if right[0] != right[1]:
            return _sign(right[0] - right[1])
        shaped = rule_rewards.format(texts)
        return _sign(shaped[0] - shaped[1])


class RewardOracle:
    """Scores responses with a reward model, once each, in batches: on a miss it scores the missing
    comparison together with the next `chunk` comparisons in the order assign_next serves them
    (priority, then id), walked with a cursor so each is fetched once."""

    def __init__(self, *, project: Project, name: str, model_dir: str, batch_size: int = 16, chunk: int = 64):
        self.project, self.name, self.model_dir = project, f"reward:{name}", model_dir
        self.batch_size, self.chunk = batch_size, chunk
        self.scores: dict[int, float] = {}
        self._cursor: tuple[int, int] | None = None  # (priority, id) of the last comparison fetched

    def preference(self, comparison: Comparison) -> int:
        a, b = comparison.response_a_id, comparison.response_b_id
        if a not in self.scores or b not in self.scores:
            self._score([comparison, *self._upcoming()])
        return _sign(self.scores[a] - self.scores[b])

    def _upcoming(self) -> list[Comparison]:
        qs = Comparison.objects.filter(
            project=self.project, is_gold=False, judgment_count__lt=self.project.overlap_k
        )
        if self._cursor is not None:
            priority, pk = self._cursor
            qs = qs.filter(Q(priority__lt=priority) | Q(priority=priority, pk__gt=pk))
        batch = list(
            qs.select_related("prompt", "response_a", "response_b").order_by("-priority", "id")[: self.chunk]
        )
        if batch:
            self._cursor = (batch[-1].priority, batch[-1].pk)
        return batch

    def _score(self, comparisons: list[Comparison]) -> None:
        from rewardmodel.training.scoring import score_texts

        pending: dict[int, tuple] = {}  # response id -> (prompt messages, text), each response once
        for c in comparisons:
            for response in (c.response_a, c.response_b):
                if response.pk not in self.scores:
                    pending.setdefault(response.pk, (c.prompt.messages, response.text))
        scores = score_texts(self.model_dir, list(pending.values()), batch_size=self.batch_size)
        self.scores.update(zip(pending, scores, strict=True))


def oracle_for(spec: str, *, project: Project, batch_size: int = 16) -> Oracle:
    """The oracle named by `length`, `rule` or `reward:NAME_OR_ID`; PairwiseError if it cannot
    judge this project."""
    spec = (spec or "").strip()
    if spec == "length":
        return LengthOracle()
    if spec == "rule":
        with_reference = Comparison.objects.filter(project=project, is_gold=False).exclude(
            prompt__reference_answer=""
        )
        if not with_reference.exists():
            raise PairwiseError(
                f"Project {project.name!r} has no comparisons whose prompt has a reference answer; the "
                "rule oracle checks answers against it. Import prompts with reference_answer, or use "
                "--oracle length or reward:MODEL."
            )
        return RuleOracle()
    if spec.startswith("reward:") and spec.removeprefix("reward:").strip():
        from rewardmodel.models import ModelArtifact
        from rewardmodel.registry.artifacts import artifact_kind_check, artifact_resolve
        from rewardmodel.training.scoring import NotARewardModel, check_reward_model

        name = spec.removeprefix("reward:").strip()
        try:
            artifact = artifact_resolve(name)
        except NotFound as exc:
            raise PairwiseError(exc.message) from None
        artifact_kind_check(
            artifact,
            (ModelArtifact.Kind.REWARD,),
            doing="a reward-model oracle needs",
            hint="train one with train_reward_model, or register one with --kind reward",
        )
        try:
            check_reward_model(Path(artifact.path))
        except NotARewardModel as exc:
            raise PairwiseError(str(exc)) from None
        return RewardOracle(
            project=project, name=artifact.name, model_dir=artifact.path, batch_size=batch_size
        )
    raise PairwiseError(
        f"Unknown oracle {spec!r}; use one of: {', '.join(ORACLES)} (R: a reward model's name or id)."
    )


# --- accounts and seconds ------------------------------------------------------------------------


def simulated_labelers_ensure(*, project: Project, n: int) -> list[AbstractBaseUser]:
    """The project's simulated accounts sim-<slug>-1..n, created where missing and added to it."""
    if n < 1:
        raise PairwiseError(f"labelers must be at least 1; got {n}.")
    group, _ = Group.objects.get_or_create(name=SIMULATED_GROUP)
    slug = slugify(project.name)[:100] or f"project-{project.pk}"
    User = get_user_model()
    users = []
    for i in range(1, n + 1):
        username = f"sim-{slug}-{i}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username)
            user.set_unusable_password()
            user.save()
            user.groups.add(group)
        elif not user.groups.filter(pk=group.pk).exists():
            raise PairwiseError(
                f"An account named {username!r} exists and is not a simulated labeler; its judgments "
                "would be taken for a person's. Rename that account first."
            )
        users.append(user)
    project.labelers.add(*users)
    return users


def seconds_sampler(*, project: Project, rng: random.Random) -> tuple[Callable[[], float], str]:
    """(draw, where the numbers come from): resampling the project's timed human judgments, or the
    default lognormal."""
    observed = list(
        Judgment.objects.filter(
            comparison__project=project, source=Judgment.Source.HUMAN, seconds_on_task__isnull=False
        )
        .order_by("id")
        .values_list("seconds_on_task", flat=True)
    )
    if observed:
        return (lambda: rng.choice(observed)), f"resampled from {len(observed)} timed human judgments"
    mu = math.log(DEFAULT_MEDIAN_SECONDS)
    return (
        lambda: round(rng.lognormvariate(mu, DEFAULT_SIGMA), 1),
        f"lognormal, median {DEFAULT_MEDIAN_SECONDS:g} s (a guess: the project has no timed human judgments)",
    )


def open_slots(*, project: Project) -> int:
    """Judgments the project's ordinary comparisons still take (a progress bar's total)."""
    k = project.overlap_k
    left = Comparison.objects.filter(project=project, is_gold=False, judgment_count__lt=k).aggregate(
        n=Sum(k - F("judgment_count"))
    )["n"]
    return int(left or 0)


# --- the simulation ------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    judgments: int = 0
    by_labeler: dict[str, int] = field(default_factory=dict)
    no_preference: int = 0  # judgments where the oracle could not tell
    flipped: int = 0  # judgments where the noise turned the oracle's preference around
    flip_probability: float = 0.0
    seconds_from: str = ""
    exhausted: bool = False  # stopped because nothing was left for any simulated labeler


def _shown_choice(preference: int, side_order: str) -> str:
    """The choice as shown (A = left) that prefers the stored response `preference` names."""
    if preference == NO_PREFERENCE:
        return Choice.TIE
    a_on_left = side_order == SideOrder.AB
    return Choice.A if (preference == PREFER_A) == a_on_left else Choice.B


def labelers_simulate(
    *,
    project: Project,
    oracle: Oracle,
    agreement: float = DEFAULT_AGREEMENT,
    judgments: int | None = None,
    labelers: int = 5,
    seed: int = 0,
    ties: str = "tie",
    on_judgment: Callable[[], None] | None = None,
) -> SimulationResult:
    """Let `labelers` simulated accounts judge the project until `judgments` are recorded (None:
    until nothing is left). See the module docstring for the oracle, the noise and the ties."""
    p = flip_probability(agreement)
    if ties not in TIES:
        raise PairwiseError(f"ties must be one of {', '.join(TIES)}; got {ties!r}.")
    if judgments is not None and judgments < 1:
        raise PairwiseError(f"judgments must be at least 1; got {judgments}.")
    accounts = simulated_labelers_ensure(project=project, n=labelers)
    rng = random.Random(seed)
    draw_seconds, seconds_from = seconds_sampler(project=project, rng=rng)
    result = SimulationResult(flip_probability=p, seconds_from=seconds_from)
    result.by_labeler = {u.get_username(): 0 for u in accounts}

    active = list(accounts)
    while active and (judgments is None or result.judgments < judgments):
        for labeler in list(active):
            if judgments is not None and result.judgments >= judgments:
                break
            try:
                assignment = comparison_assign_next(labeler=labeler, project=project, rng=rng)
            except Forbidden:  # a manager excluded this simulated labeler
                assignment = None
            if assignment is None:
                active.remove(labeler)
                continue
            preference = oracle.preference(assignment.comparison)
            if preference == NO_PREFERENCE:
                result.no_preference += 1
                if ties == "coin":
                    preference = rng.choice((PREFER_A, PREFER_B))
            elif rng.random() < p:
                preference, result.flipped = -preference, result.flipped + 1
            choice = _shown_choice(preference, assignment.side_order)
            data = JudgmentInput(
                choice=choice,
                client_id=f"sim-{assignment.pk}",
                rationale=TIE_RATIONALE if choice == Choice.TIE else "",
                seconds_on_task=draw_seconds(),
            )
            try:
                judgment_record(labeler=labeler, assignment_id=assignment.pk, data=data)
            except Conflict:
                # The lease ran out and others filled the comparison meanwhile (a slow oracle, a
                # short lease): leave it, as a person would be told to.
                assignment_skip(labeler=labeler, assignment_id=assignment.pk, reason="simulated: lease lost")
                continue
            result.judgments += 1
            result.by_labeler[labeler.get_username()] += 1
            if on_judgment is not None:
                on_judgment()
    result.exhausted = not active
    return result
