"""The rule-based rewards on tricky strings. Plain Python: no database, no torch."""

from __future__ import annotations

import doctest
import inspect

import pytest

from rewardmodel.training import rule_rewards as rewards
from rewardmodel.training.rule_rewards import (
    accuracy,
    answers_match,
    extract_answer,
    format,
    format_partial,
    length,
    reward_functions,
)

R1 = "<think>\n12 times 14 is 12*10 + 12*4 = 168\n</think>\n<answer>168</answer>"


def test_it_passes_its_own_docstring_examples():
    failed, tried = doctest.testmod(rewards, optionflags=doctest.ELLIPSIS)
    assert tried > 25
    assert failed == 0


@pytest.mark.parametrize(
    ("completion", "reference", "expected"),
    [
        (R1, "168", 1.0),
        ("<answer>1,200</answer>", "1200", 1.0),
        ("<answer>$1,200</answer>", "1200", 1.0),
        ("<answer>1200.00</answer>", "$1,200", 1.0),
        ("<answer>42 apples</answer>", "42", 1.0),
        ("<answer>-7</answer>", "-7", 1.0),
        ("<answer>−7</answer>", "-7", 1.0),  # Unicode minus
        ("<answer>7</answer>", "-7", 0.0),
        ("<answer>-7</answer>", "7", 0.0),
        ("<answer>0.5</answer>", "1/2", 1.0),
        ("<answer>3/4</answer>", "0.75", 1.0),
        (r"<answer>\frac{3}{4}</answer>", "0.75", 1.0),
        ("<answer>12 * 14 = 168</answer>", "168", 1.0),
        ("<answer>  168\n</answer>", "168", 1.0),
        ("<answer>168.</answer>", "168", 1.0),
        ("<answer>50%</answer>", "50", 1.0),
        ("<answer>1680</answer>", "168", 0.0),
        ("<answer>16.8</answer>", "168", 0.0),
        ("<answer></answer>", "0", 0.0),
        ("", "0", 0.0),
        ("   \n\t ", "0", 0.0),
        ("I do not know.", "5", 0.0),
    ],
)
def test_it_scores_answers_numerically(completion, reference, expected):
    assert accuracy([completion], answer=[reference]) == [expected]


def test_it_takes_the_last_of_several_answers():
    assert accuracy(["<answer>5</answer> hmm <answer>6</answer>"] * 2, answer=["6", "5"]) == [1.0, 0.0]


def test_it_prefers_answer_tags_over_numbers_elsewhere():
    text = "<think>maybe 10, maybe 12</think><answer>11</answer> (not 12)"
    assert accuracy([text, text], answer=["11", "12"]) == [1.0, 0.0]


def test_it_reads_an_answer_left_open_at_the_end():
    assert extract_answer("<think>6*7</think><answer>42") == "42"
    assert accuracy(["<think>6*7</think><answer>42"], answer=["42"]) == [1.0]


def test_it_falls_back_to_boxed_then_hashes_then_the_last_number():
    assert extract_answer(r"thus \boxed{\frac{1}{2}} and 7") == r"\frac{1}{2}"
    assert extract_answer("48/2 = 24 clips\n#### 72") == "72"
    assert extract_answer("first 3 then -12 then 8-5") == "5"
    assert extract_answer("a loss of -12") == "-12"
    assert accuracy([r"The result is \boxed{-4}."], answer=["-4"]) == [1.0]


def test_it_does_not_read_a_question_echo_as_a_fraction():
    # "12/4" echoed from the question must not count as the answer 3.
    assert accuracy(["What's 12/4?"], answer=["3"]) == [0.0]


def test_it_does_not_read_a_hyphen_as_a_minus_sign():
    assert extract_answer("the range 3-5") == "5"
    assert accuracy(["the range 3-5"], answer=["-5"]) == [0.0]


def test_it_compares_text_answers_normalized():
    assert accuracy(["<answer> \\text{Paris}. </answer>", "<answer>Lyon</answer>"], answer=["paris"] * 2) == [
        1.0,
        0.0,
    ]
    assert not answers_match("", "")


def test_it_accepts_a_gsm8k_answer_column_whole():
    assert accuracy(["<answer>72</answer>"], answer=["She sold 48/2 = 24 clips...\n#### 72"]) == [1.0]


def test_it_honours_a_tolerance():
    assert accuracy(["<answer>3.1416</answer>"], answer=["3.14159"]) == [0.0]
    assert accuracy(["<answer>3.1416</answer>"], answer=["3.14159"], tolerance=1e-4) == [1.0]


def test_it_reads_conversational_completions_and_trl_kwargs():
    completions = [[{"role": "assistant", "content": R1}], [{"role": "assistant", "content": "<answer>1"}]]
    kwargs = {"prompts": [[{"role": "user", "content": "q"}]] * 2, "completion_ids": [[1], [2]]}
    assert accuracy(completions, answer=["168", "168"], trainer_state=None, **kwargs) == [1.0, 0.0]
    assert format(completions, **kwargs) == [1.0, 0.0]


def test_it_refuses_missing_or_misaligned_answers():
    with pytest.raises(ValueError, match="answer"):
        accuracy(["1"])
    with pytest.raises(ValueError, match="2 completions but 1"):
        accuracy(["1", "2"], answer=["1"])
    assert accuracy(["<answer>4</answer>"], reference_answer=["4"]) == [1.0]


@pytest.mark.parametrize(
    ("completion", "strict", "partial"),
    [
        (R1, 1.0, 1.0),
        ("<think>x</think><answer>1</answer>", 1.0, 1.0),
        ("  <think>x</think>\n\n<answer>1</answer>\n", 1.0, 1.0),
        ("<think>x</think><answer>1</answer> Hope this helps!", 0.0, 0.8),  # text after the answer
        ("Sure! <think>x</think><answer>1</answer>", 0.0, 0.8),  # text before the think block
        ("<answer>1</answer><think>x</think>", 0.0, 0.8),  # wrong order
        ("<think>x</think><answer>1", 0.0, 0.6),  # unclosed answer
        ("<think>x<answer>1</answer>", 0.0, 0.6),  # unclosed think
        ("<think>x</think><answer> </answer>", 0.0, 0.8),  # empty answer
        ("<think><think>x</think></think><answer>1</answer>", 0.0, 0.4),  # nested think
        ("<think>x</think><answer>1</answer><answer>2</answer>", 0.0, 0.4),  # two answers
        ("<think>x</think><answer><answer>1</answer></answer>", 0.0, 0.4),  # nested answer
        ("The answer is 1.", 0.0, 0.0),
        ("", 0.0, 0.0),
        ("   ", 0.0, 0.0),
    ],
)
def test_it_checks_the_r1_format(completion, strict, partial):
    assert format([completion]) == [strict]
    assert format_partial([completion]) == [partial]


def test_it_gives_partial_format_credit_that_varies_within_a_group():
    group = ["<think>", "<think>a</think>", "<think>a</think><answer>", "<think>a</think><answer>b</answer>"]
    scores = format_partial(group)
    assert scores == sorted(scores) and len(set(scores)) == 4


def test_it_penalises_length_beyond_a_target():
    assert length(["x" * 100, "x" * 150, "x" * 300, ""], target_chars=100) == [0.0, -0.5, -1.0, 0.0]
    with pytest.raises(ValueError):
        length(["x"], target_chars=0)


def test_it_returns_one_float_per_completion_for_every_reward():
    completions = [R1, "", "<answer>3</answer>", [{"role": "assistant", "content": "4"}]]
    for fn in reward_functions(list(rewards.REWARDS)):
        scores = fn(completions, answer=["168", "0", "3", "4"])
        assert len(scores) == len(completions)
        assert all(isinstance(s, float) for s in scores)
        assert "completions" in inspect.signature(fn).parameters


def test_it_names_unknown_rewards():
    with pytest.raises(ValueError, match="Unknown reward.*bogus.*choose from accuracy"):
        reward_functions("accuracy,bogus")
    with pytest.raises(ValueError, match="at least one"):
        reward_functions(" , ")
    with pytest.raises(ValueError, match="once"):
        reward_functions("format,format")
