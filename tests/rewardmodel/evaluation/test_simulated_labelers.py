"""manage.py simulate_labelers: noise calibrated to the asked agreement, the services' rules held,
the oracles, determinism, and clear errors."""

from __future__ import annotations

import io
from collections import defaultdict

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from annotate.models import SIMULATED_GROUP, Choice, Comparison, Judgment
from annotate.quality.report import quality_report_compute
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from rewardmodel.evaluation.simulated_labelers import flip_probability
from tests.factories import make_project, make_user
from tests.rewardmodel.support.bulk import bulk_comparisons


def simulate(*args: str) -> str:
    out = io.StringIO()
    call_command("simulate_labelers", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def longer_wins(judgment: Judgment) -> bool:
    c = judgment.comparison
    longer = c.response_a if len(c.response_a.text) > len(c.response_b.text) else c.response_b
    return judgment.winner_id == longer.pk


def test_it_solves_the_noise_for_the_asked_agreement():
    assert flip_probability(1.0) == 0.0 and flip_probability(0.5) == 0.5
    for a in (0.6, 0.7, 0.726, 0.9):
        p = flip_probability(a)
        assert (1 - p) ** 2 + p**2 == pytest.approx(a)
    assert flip_probability(0.726) == pytest.approx(0.1638, abs=1e-4)


def test_it_reaches_the_asked_agreement_between_simulated_labelers(db):
    project = make_project("Lengths", overlap_k=2)
    bulk_comparisons(project, 1000, seed=3)
    args = ["--oracle", "length", "--agreement", "0.7", "--judgments", "2000", "--seed", "1"]
    printed = simulate("--project", "Lengths", *args)
    assert "Recorded 2000 simulated judgments in 'Lengths' with the length oracle" in printed

    judgments = list(Judgment.objects.select_related("comparison__response_a", "comparison__response_b"))
    assert len(judgments) == 2000 and {j.source for j in judgments} == {Judgment.Source.SIMULATED}
    by_comparison = defaultdict(list)
    for j in judgments:
        by_comparison[j.comparison_id].append(j)
    assert max(len(js) for js in by_comparison.values()) == 2  # never past overlap_k
    assert all(len({j.labeler_id for j in js}) == len(js) for js in by_comparison.values())
    pairs = [js for js in by_comparison.values() if len(js) == 2]
    agreement = sum(a.winner_id == b.winner_id for a, b in pairs) / len(pairs)
    assert len(pairs) == 1000 and 0.65 <= agreement <= 0.75, agreement
    # The noise is the flip probability: each judgment goes against the oracle with p = 0.184.
    against = sum(not longer_wins(j) for j in judgments) / len(judgments)
    assert against == pytest.approx(flip_probability(0.7), abs=0.03)
    # The quality report measures the same agreement and counts the judgments as simulated.
    report = quality_report_compute(project=project, n_bootstrap=0)
    assert report["agreement"]["raw"] == pytest.approx(agreement)
    assert report["agreement"]["simulated_judgments"] == report["totals"]["simulated_judgments"] == 2000
    assert report["totals"]["simulated_labelers"] == report["totals"]["labelers"] == 5
    print(
        f"measured agreement {agreement:.4f} over {len(pairs)} comparisons; against the oracle {against:.4f}"
    )


def test_it_uses_simulated_accounts_that_are_not_labelers(db):
    project = make_project("Demo: helpfulness", overlap_k=2)
    bulk_comparisons(project, 4)
    simulate("--project", project.name, "--oracle", "length", "--labelers", "3", "--judgments", "2")
    sims = Group.objects.get(name=SIMULATED_GROUP).user_set.order_by("username")
    assert [u.username for u in sims] == [
        "sim-demo-helpfulness-1",
        "sim-demo-helpfulness-2",
        "sim-demo-helpfulness-3",
    ]
    for user in sims:
        assert not user.has_usable_password() and not user.is_staff
        assert not user.groups.filter(name="labelers").exists()
    assert set(project.labelers.all()) == set(sims)
    # Again: the same accounts, no new ones.
    simulate("--project", project.name, "--oracle", "length", "--labelers", "3", "--judgments", "2")
    assert Group.objects.get(name=SIMULATED_GROUP).user_set.count() == 3


def test_it_stops_when_nothing_is_left_and_never_passes_overlap_k(alice, db):
    project = make_project("Small", labelers=(alice,), overlap_k=3)
    comparisons = bulk_comparisons(project, 10)
    printed = simulate("--project", "Small", "--oracle", "length", "--labelers", "5")
    assert "Recorded 30 simulated judgments" in printed and "nothing left" in printed
    assert (
        sorted(Comparison.objects.filter(project=project).values_list("judgment_count", flat=True))
        == [3] * 10
    )
    assert Judgment.objects.filter(comparison__in=comparisons).count() == 30
    assert "Recorded 0 simulated judgments" in simulate("--project", "Small", "--oracle", "length")


def test_it_is_deterministic_for_a_seed(db):
    def run(name: str, seed: int) -> list[tuple]:
        project = make_project(name, overlap_k=2)
        comparisons = bulk_comparisons(project, 30, seed=9)
        position = {c.pk: n for n, c in enumerate(comparisons)}
        simulate("--project", name, "--oracle", "length", "--agreement", "0.6", "--seed", str(seed))
        return [
            (
                position[j.comparison_id],
                j.labeler.username.rsplit("-", 1)[1],
                j.choice,
                j.side_order,
                j.seconds_on_task,
            )
            for j in Judgment.objects.filter(comparison__project=project)
            .select_related("labeler")
            .order_by("id")
        ]

    first, again, other = run("One", 5), run("Two", 5), run("Three", 6)
    assert len(first) == 60 and first == again and first != other


def test_it_resamples_seconds_from_the_projects_human_judgments(alice, bob, db):
    project = make_project("Timed", labelers=(alice, bob), overlap_k=3)
    bulk_comparisons(project, 6)
    for user, seconds in ((alice, 11.0), (bob, 47.5)):
        assignment = comparison_assign_next(labeler=user, project=project)
        data = JudgmentInput(choice="A", client_id=f"t-{user.pk}", seconds_on_task=seconds)
        judgment_record(labeler=user, assignment_id=assignment.pk, data=data)
    printed = simulate("--project", "Timed", "--oracle", "length", "--judgments", "10")
    assert "resampled from 2 timed human judgments" in printed
    sims = Judgment.objects.filter(source=Judgment.Source.SIMULATED)
    assert set(sims.values_list("seconds_on_task", flat=True)) <= {11.0, 47.5}
    untimed = make_project("Untimed", overlap_k=2)
    bulk_comparisons(untimed, 50)
    assert "median 20 s (a guess" in simulate("--project", "Untimed", "--oracle", "length")
    seconds = sorted(
        Judgment.objects.filter(comparison__project=untimed).values_list("seconds_on_task", flat=True)
    )
    assert 14 < seconds[len(seconds) // 2] < 28


def test_it_prefers_the_right_answer_then_the_format_with_the_rule_oracle(db):
    answers = [
        ("<think>7*6</think><answer>42</answer>", "<answer>41</answer>"),  # right beats wrong
        ("it is 42", "<think>7*6</think><answer>42</answer>"),  # both right: the R1 format wins
        ("41", "<answer>40</answer>"),  # both wrong, neither formatted: no preference
    ]
    project = make_project("Arithmetic", overlap_k=2, require_rationale_for_tie=True)
    comparisons = bulk_comparisons(project, 3, reference="42", texts=lambda i: answers[i])
    printed = simulate("--project", "Arithmetic", "--oracle", "rule", "--agreement", "1")
    assert "Recorded 6 simulated judgments" in printed and "2 without an oracle preference (ties)" in printed

    def outcome(c: Comparison) -> list[str]:
        return sorted(
            "a" if j.winner_id == c.response_a_id else "b" if j.winner_id == c.response_b_id else j.choice
            for j in c.judgments.all()
        )

    assert [outcome(c) for c in comparisons] == [["a", "a"], ["b", "b"], ["tie", "tie"]]
    assert all(j.rationale for j in Judgment.objects.filter(choice=Choice.TIE))  # the project asks for one

    coin = make_project("Coins", overlap_k=2)
    bulk_comparisons(coin, 3, reference="42", texts=lambda i: answers[i])
    simulate("--project", "Coins", "--oracle", "rule", "--ties", "coin")
    assert not Judgment.objects.filter(comparison__project=coin, choice=Choice.TIE).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "Nope"], "No project named 'Nope'. Projects: Helpfulness"),
        (["--oracle", "magic"], "Unknown oracle 'magic'; use one of: length, rule, reward:R"),
        (["--oracle", "reward:"], "Unknown oracle 'reward:'"),
        (["--oracle", "reward:no-such-model"], "No registered model 'no-such-model'"),
        (
            ["--oracle", "reward:a-base"],
            "Model 'a-base' is a base model; a reward-model oracle needs a reward model",
        ),
        (["--oracle", "rule"], "no comparisons whose prompt has a reference answer"),
        (["--agreement", "0.4"], "agreement must be between 0.5 and 1; got 0.4. Below 0.5 is out of reach"),
        (["--agreement", "1.2"], "agreement must be between 0.5 and 1; got 1.2"),
        (["--labelers", "0"], "labelers must be at least 1; got 0"),
        (["--judgments", "0"], "judgments must be at least 1; got 0"),
    ],
)
def test_it_explains_bad_input_and_judges_nothing(project, comparisons, args, message):
    from rewardmodel.models import ModelArtifact

    ModelArtifact.objects.create(kind="base", name="a-base", path="/nowhere", weights_hash="ab" * 32)
    base = ["--project", project.name, "--oracle", "length"]
    with pytest.raises(CommandError, match=message):
        simulate(*base, *args)
    assert not Judgment.objects.exists()


def test_it_refuses_to_take_over_a_persons_account(project, comparisons):
    make_user("sim-helpfulness-1")
    with pytest.raises(CommandError, match="'sim-helpfulness-1' exists and is not a simulated labeler"):
        simulate("--project", project.name, "--oracle", "length")
    assert not Judgment.objects.exists()


@pytest.mark.ml
def test_it_follows_a_reward_models_scores_with_the_reward_oracle(db, tiny_reward_dir):
    from rewardmodel.models import ModelArtifact
    from rewardmodel.registry.artifacts import artifact_register
    from rewardmodel.training.scoring import score_texts

    artifact_register(kind=ModelArtifact.Kind.REWARD, name="tiny-rm", path=tiny_reward_dir)
    project = make_project("Scored", overlap_k=2)
    comparisons = bulk_comparisons(project, 12, seed=4)
    printed = simulate(
        "--project", "Scored", "--oracle", "reward:tiny-rm", "--agreement", "1", "--batch-size", "4"
    )
    assert "Recorded 24 simulated judgments in 'Scored' with the reward:tiny-rm oracle" in printed
    assert "0 flipped, 0 without an oracle preference" in printed
    for c in Comparison.objects.filter(pk__in=[c.pk for c in comparisons]).select_related(
        "prompt", "response_a", "response_b"
    ):
        a, b = score_texts(
            tiny_reward_dir, [(c.prompt.messages, c.response_a.text), (c.prompt.messages, c.response_b.text)]
        )
        best = c.response_a_id if a > b else c.response_b_id
        assert set(c.judgments.values_list("winner_id", flat=True)) == {best}, (a, b)
