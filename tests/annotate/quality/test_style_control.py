"""Style control: a planted length bias moves the raw ratings, not the style-controlled ones."""

from __future__ import annotations

import numpy as np
import pytest

from annotate.quality.leaderboard import leaderboard_from_patterns, patterns_from_games
from annotate.quality.style_control import StyleGames, style_controlled_from_games, style_counts

LENGTH_BIAS = 3.0  # judges' log-odds per unit of (len_a - len_b) / (len_a + len_b)
SOURCES = ["long", "mid", "short"]
MEAN_LENGTH = np.array([1200.0, 600.0, 500.0])  # characters; true strengths are all equal


def _planted(seed: int, n: int):
    """n games between random pairs of sources; only length decides, through LENGTH_BIAS."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, 3, n)
    j = (i + rng.integers(1, 3, n)) % 3
    len_a = rng.lognormal(np.log(MEAN_LENGTH[i]), 0.4).round()
    len_b = rng.lognormal(np.log(MEAN_LENGTH[j]), 0.4).round()
    a_wins = rng.random(n) < 1 / (1 + np.exp(-LENGTH_BIAS * (len_a - len_b) / (len_a + len_b)))
    counts_a, counts_b = np.zeros((n, 4)), np.zeros((n, 4))
    counts_a[:, 0], counts_b[:, 0] = len_a, len_b
    counts_a[:, 2], counts_b[:, 2] = rng.poisson(2, n), rng.poisson(2, n)  # list items: no effect
    ties = np.zeros(n)
    games = StyleGames.build(SOURCES, i, j, a_wins, ~a_wins, ties, counts_a, counts_b)
    patterns = patterns_from_games(SOURCES, i, j, a_wins, ~a_wins, ties, np.ones(n))
    return games, patterns, rng


def test_it_recovers_a_planted_length_bias_and_rates_equal_sources_equal():
    games, patterns, rng = _planted(seed=0, n=4000)
    raw = leaderboard_from_patterns(patterns, n_bootstrap=100, rng=rng)["sources"]
    assert [row["source"] for row in raw] == ["long", "mid", "short"]
    assert raw[0]["ci"][0] > raw[1]["ci"][1]  # "long" clearly first when style is ignored

    styled = style_controlled_from_games(games, n_bootstrap=100, rng=rng)
    for row in styled["sources"]:  # the truth is 0 for all three (strengths have mean zero)
        assert row["ci"][0] <= 0 <= row["ci"][1], row
        assert abs(row["strength"]) < 0.1
    length = styled["coefficients"]["length"]
    per_unit = length["value"] / length["scale"]  # back from per standard deviation
    assert per_unit == pytest.approx(LENGTH_BIAS, abs=0.25)
    assert length["ci"][0] / length["scale"] <= LENGTH_BIAS <= length["ci"][1] / length["scale"]
    lists = styled["coefficients"]["list_items"]
    assert lists["ci"][0] <= 0 <= lists["ci"][1]
    assert styled["coefficients"]["headers"]["value"] is None  # never varies: nothing to fit


def test_it_counts_ties_as_half_wins_and_stays_finite_for_a_source_that_never_won():
    # Equal lengths, 30 ties between x and y: equal. z loses every game: finite, last.
    n = 60
    i = np.array([0] * 30 + [0] * 15 + [1] * 15)
    j = np.array([1] * 30 + [2] * 15 + [2] * 15)
    wins_i = np.array([0] * 30 + [1] * 30)
    ties = np.array([1] * 30 + [0] * 30)
    same = np.full((n, 4), 100.0)
    games = StyleGames.build(["x", "y", "z"], i, j, wins_i, np.zeros(n), ties, same, same)
    result = style_controlled_from_games(games, n_bootstrap=0, rng=np.random.default_rng(0))
    strength = {row["source"]: row["strength"] for row in result["sources"]}
    assert strength["x"] == pytest.approx(strength["y"], abs=1e-6)
    assert np.isfinite(strength["z"]) and strength["z"] < strength["x"] - 2
    assert all(c["value"] is None for c in result["coefficients"].values())


def test_it_counts_markdown_outside_code_blocks():
    text = (
        "# Title\n\nSome **bold** and __more__.\n\n- one\n- two\n1. three\n\n"
        "```\n# not a header\n- not an item\n**not bold**\n```\n"
    )
    assert style_counts(text) == (len(text), 1, 3, 2)
    assert style_counts("") == (0, 0, 0, 0)
