from __future__ import annotations

import json
import math
import random
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from annotate.models import Choice, Comparison, Judgment, SideOrder
from annotate.quality.exclusion import labeler_exclude
from annotate.quality.leaderboard import leaderboard_compute, leaderboard_from_patterns, patterns_from_games
from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact
from tests.factories import make_prompt, make_response, make_user

TRUTH = np.array([-1.0, -0.4, 0.0, 0.5, 0.9])  # mean 0, like the fitted strengths


def _synthetic(seed: int, n: int):
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(TRUTH), n)
    j = (i + rng.integers(1, len(TRUTH), n)) % len(TRUTH)
    i_wins = rng.random(n) < 1 / (1 + np.exp(TRUTH[j] - TRUTH[i]))
    names = [f"m{k}" for k in range(len(TRUTH))]
    return patterns_from_games(names, i, j, i_wins, ~i_wins, np.zeros(n), np.ones(n)), rng


def test_it_recovers_the_order_of_known_strengths():
    patterns, rng = _synthetic(seed=100, n=6000)
    result = leaderboard_from_patterns(patterns, n_bootstrap=100, rng=rng)
    assert [row["source"] for row in result["sources"]] == ["m4", "m3", "m2", "m1", "m0"]
    fitted = {row["source"]: row["strength"] for row in result["sources"]}
    assert all(abs(fitted[f"m{k}"] - TRUTH[k]) < 0.15 for k in range(len(TRUTH)))
    assert result["comparisons"] == 6000


def test_its_intervals_cover_the_truth_at_about_the_nominal_rate():
    covered = total = 0
    for seed in range(20):
        patterns, rng = _synthetic(seed=seed, n=1200)
        for row in leaderboard_from_patterns(patterns, n_bootstrap=120, rng=rng)["sources"]:
            lo, hi = row["ci"]
            covered += lo <= TRUTH[int(row["source"][1:])] <= hi
            total += 1
    # 100 nominal-95 % intervals: a binomial standard deviation is about 2 points.
    assert 0.87 <= covered / total <= 0.995, covered / total


def test_it_counts_ties_as_half_wins():
    # 50 times m0 beats m1, 50 times they tie: 75 wins to 25, so exp(theta0 - theta1) = 3.
    patterns = patterns_from_games(["m0", "m1"], [0, 0], [1, 1], [1, 0], [0, 0], [0, 1], [50, 50])
    result = leaderboard_from_patterns(patterns, n_bootstrap=0, rng=np.random.default_rng(0))
    strength = {row["source"]: row["strength"] for row in result["sources"]}
    assert strength["m0"] - strength["m1"] == pytest.approx(math.log(3), abs=0.02)
    assert result["matrix"]["win_rate"][0][1] == pytest.approx(0.75)
    assert result["matrix"]["games"][0][1] == 100
    only_ties = patterns_from_games(["m0", "m1"], [0], [1], [0], [0], [4], [1])
    even = leaderboard_from_patterns(only_ties, n_bootstrap=0, rng=np.random.default_rng(0))
    assert [row["strength"] for row in even["sources"]] == pytest.approx([0.0, 0.0], abs=1e-9)


# --- from the database ----------------------------------------------------------------------------


def _pair(project, a_name, b_name, *, a_model=None, b_model=None, **fields):
    prompt = make_prompt(project)
    ra = make_response(prompt, model_name=a_name)
    rb = make_response(prompt, model_name=b_name)
    if a_model or b_model:
        type(ra).objects.filter(pk=ra.pk).update(model=a_model)
        type(rb).objects.filter(pk=rb.pk).update(model=b_model)
    return Comparison.objects.create(project=project, prompt=prompt, response_a=ra, response_b=rb, **fields)


def _judge(comparison, user, outcome, *, side=SideOrder.BA):
    """Store a judgment whose canonical outcome is `outcome`; shown on the given side order."""
    if outcome in ("tie", "both_bad"):
        choice, winner = outcome, None
    else:
        winner = comparison.response_a_id if outcome == "a" else comparison.response_b_id
        left_is_a = side == SideOrder.AB
        choice = Choice.A if (outcome == "a") == left_is_a else Choice.B
    return Judgment.objects.create(
        comparison=comparison,
        labeler=user,
        source=Judgment.Source.HUMAN if user else Judgment.Source.EXTERNAL,
        choice=choice,
        side_order=side,
        winner_id=winner,
        client_id=f"lb-{comparison.pk}-{user.pk if user else 'ext'}-{Judgment.objects.count()}",
    )


def test_it_ranks_sources_from_stored_judgments(alice, bob, carol, project):
    policy = ModelArtifact.objects.create(name="policy-v2", kind=ModelArtifact.Kind.POLICY)
    for n in range(6):
        strong_vs_weak = _pair(project, "strong", "weak")
        _judge(strong_vs_weak, alice, "a")
        _judge(strong_vs_weak, bob, "a" if n else "tie")
        # The registered model's name wins over the free label.
        policy_vs_weak = _pair(project, "label-ignored", "weak", a_model=policy)
        _judge(policy_vs_weak, alice, "b" if n < 2 else "a")
    same = _pair(project, "weak", "weak")
    _judge(same, alice, "a")  # same source on both sides: no information, skipped
    gold = _pair(project, "weak", "strong", is_gold=True, gold_choice="B")
    for user in (alice, bob, carol):
        _judge(gold, user, "a")  # gold items stay out of the leaderboard
    external = _pair(project, "weak", "strong")
    _judge(external, None, "b")  # imported judgments count
    result = leaderboard_compute(project=project, n_bootstrap=50)
    ranked = [row["source"] for row in result["sources"]]
    assert ranked == ["strong", "policy-v2", "weak"]
    assert result["sources_seen"] == ["policy-v2", "strong", "weak"]
    matrix = result["matrix"]
    k = {name: n for n, name in enumerate(matrix["sources"])}
    assert matrix["games"][k["strong"]][k["weak"]] == 13  # 12 judgments + 1 external
    assert matrix["win_rate"][k["strong"]][k["weak"]] == pytest.approx(12.5 / 13)
    assert matrix["games"][k["policy-v2"]][k["weak"]] == 6
    assert matrix["win_rate"][k["policy-v2"]][k["weak"]] == pytest.approx(4 / 6)
    assert (
        matrix["games"][k["strong"]][k["policy-v2"]] == 0
        and matrix["win_rate"][k["strong"]][k["policy-v2"]] is None
    )
    top = result["sources"][0]
    assert top["ci"][0] <= top["strength"] <= top["ci"][1] and top["games"] == 13

    # An excluded labeler's judgments leave the leaderboard; a subset of sources can be asked for.
    labeler_exclude(project=project, labeler=bob, reason="test", by=make_user("boss", staff=True))
    after = leaderboard_compute(project=project, sources=["strong", "weak"], n_bootstrap=0)
    assert [row["source"] for row in after["sources"]] == ["strong", "weak"]
    assert after["matrix"]["games"][0][1] == 7


def test_it_refuses_unknown_sources(project, alice):
    c = _pair(project, "x", "y")
    _judge(c, alice, "a")
    with pytest.raises(PairwiseError, match="nobody"):
        leaderboard_compute(project=project, sources=["x", "nobody"])
    with pytest.raises(PairwiseError, match="at least two"):
        leaderboard_compute(project=project, sources=["x"])


def test_it_returns_an_empty_board_without_games(project):
    result = leaderboard_compute(project=project)
    assert result["sources"] == [] and result["comparisons"] == 0


def test_it_adds_style_controlled_ratings_beside_the_raw_ones(alice, project):
    rng = random.Random(0)
    for n in range(40):
        prompt = make_prompt(project)
        ra = make_response(prompt, "word " * rng.randint(40, 120) + str(n), model_name="verbose")
        rb = make_response(prompt, "**Short.** " * rng.randint(2, 12) + str(n), model_name="terse")
        comparison = Comparison.objects.create(project=project, prompt=prompt, response_a=ra, response_b=rb)
        longer = "a" if len(ra.text) > len(rb.text) else "b"
        _judge(comparison, alice, longer if rng.random() < 0.8 else {"a": "b", "b": "a"}[longer])
    result = leaderboard_compute(project=project, n_bootstrap=50)
    assert [row["source"] for row in result["sources"]] == ["verbose", "terse"]
    styled = result["style_controlled"]
    assert styled["comparisons"] == 40 and styled["length_unit"] == "characters"
    assert {row["source"] for row in styled["sources"]} == {"verbose", "terse"}
    for row in styled["sources"]:
        assert row["elo_ci"][0] <= row["elo"] <= row["elo_ci"][1]
    assert styled["coefficients"]["length"]["value"] > 0  # the judges liked length, not the source
    assert styled["coefficients"]["headers"]["value"] is None  # no headers anywhere
    assert leaderboard_compute(project=project, n_bootstrap=0, style=False)["style_controlled"] is None

    table = StringIO()
    call_command("leaderboard", "--project", project.name, "--bootstrap", "20", stdout=table)
    assert "style-controlled" in table.getvalue() and "Style coefficients" in table.getvalue()
    plain = StringIO()
    call_command("leaderboard", "--project", project.name, "--no-style", stdout=plain)
    assert "style-controlled" not in plain.getvalue()
    as_json = StringIO()
    call_command("leaderboard", "--project", project.name, "--json", "--bootstrap", "0", stdout=as_json)
    assert json.loads(as_json.getvalue())["style_controlled"]["coefficients"]["length"]["ci"] is None
