"""Pairs longer than max_length are cut to fit, the same way on both sides, never left out."""

from __future__ import annotations

import pytest

from rewardmodel.training.truncation import pair_fit, shared_prefix

CONTEXT = list(range(100, 140))  # 40 tokens both sides share
A, B = list(range(1, 11)), list(range(20, 26))  # answers of 10 and 6 tokens


def test_a_pair_that_fits_is_left_as_it_is():
    chosen, rejected, cut = pair_fit(CONTEXT + A, CONTEXT + B, max_length=50)
    assert (chosen, rejected, cut) == (CONTEXT + A, CONTEXT + B, False)


def test_a_long_context_keeps_its_end_and_both_answers_whole():
    chosen, rejected, cut = pair_fit(CONTEXT + A, CONTEXT + B, max_length=30)
    assert cut and len(chosen) == 30 and len(rejected) == 26
    assert chosen == CONTEXT[-20:] + A and rejected == CONTEXT[-20:] + B  # the same context tail


def test_answers_too_long_to_fit_are_cut_at_their_end_after_a_quarter_of_context():
    long_a, long_b = list(range(1, 41)), list(range(50, 80))
    chosen, rejected, cut = pair_fit(CONTEXT + long_a, CONTEXT + long_b, max_length=32)
    assert cut and len(chosen) == len(rejected) == 32
    assert chosen == CONTEXT[-8:] + long_a[:24] and rejected == CONTEXT[-8:] + long_b[:24]


def test_sides_that_part_before_the_last_turn_share_the_turns_before():
    """HH-RLHF's quirk: both sides repeat the early turns and part later; those count as context."""
    early = [7, 7, 7, 7]
    chosen, rejected, cut = pair_fit(CONTEXT + early + A, CONTEXT + early + B, max_length=20)
    assert shared_prefix(CONTEXT + early + A, CONTEXT + early + B) == 44
    assert chosen == (CONTEXT + early)[-10:] + A and rejected == (CONTEXT + early)[-10:] + B


def test_one_side_that_extends_the_other_keeps_a_token_of_its_own():
    short = CONTEXT + [1]
    longer = CONTEXT + [1, 2, 3, 4]
    chosen, rejected, cut = pair_fit(longer, short, max_length=10)
    assert cut and len(chosen) <= 10 and len(rejected) <= 10 and chosen != rejected


def test_it_refuses_a_window_too_small():
    with pytest.raises(ValueError, match="max_length must be at least 2"):
        pair_fit([1, 2], [1, 3], max_length=1)
