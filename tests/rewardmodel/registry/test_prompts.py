"""Arithmetic problems, the prompt template, and verifiable prompts in a project."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotate.models import Prompt
from pairwise.errors import PairwiseError
from rewardmodel.models import DatasetSnapshot
from rewardmodel.registry.prompts import (
    arithmetic_prompts_create,
    prompts_snapshot_create,
    prompts_snapshot_records,
    verifiable_prompts,
)
from rewardmodel.training import arithmetic, verifiable
from rewardmodel.training.arithmetic import LEVELS, generate_problems, problem_key, solve, split_of
from rewardmodel.training.rule_rewards import accuracy
from rewardmodel.training.verifiable import R1_SYSTEM, PromptTemplate, build_examples
from tests.factories import make_project, make_prompt


def test_it_passes_the_docstring_examples():
    for module in (arithmetic, verifiable):
        failed, tried = doctest.testmod(module)
        assert tried and not failed


@pytest.mark.parametrize("level", list(LEVELS))
def test_it_generates_correct_distinct_problems_per_level(level):
    problems = generate_problems(level=level, n_train=60, n_heldout=15, seed=3)
    assert len(problems) == 75 and len({p.key for p in problems}) == 75
    assert sum(p.split == "heldout" for p in problems) == 15
    for p in problems:
        assert p.answer == str(solve(p.a, p.op, p.b))
        assert p.op in LEVELS[level].operations
        assert accuracy([f"<answer>{p.answer}</answer>"], answer=[p.answer]) == [1.0]
        assert str(p.a) in p.question and str(p.b) in p.question


def test_it_keeps_easy_problems_in_the_baseline_range():
    for p in generate_problems(level="easy", n_train=200, n_heldout=40, seed=0):
        small, big = sorted((p.a, p.b))
        assert 1 <= small <= 9 and 1 <= big <= 20


def test_it_is_seeded():
    a = generate_problems(level="medium", n_train=20, n_heldout=5, seed=7)
    b = generate_problems(level="medium", n_train=20, n_heldout=5, seed=7)
    c = generate_problems(level="medium", n_train=20, n_heldout=5, seed=8)
    assert a == b and a != c


def test_it_fixes_the_held_out_split_by_content_not_by_draw():
    seen: dict[str, str] = {}
    for seed in range(5):
        for p in generate_problems(level="easy", n_train=80, n_heldout=20, seed=seed):
            assert seen.setdefault(p.key, p.split) == p.split  # same problem, same side, any seed
            assert p.split == split_of(problem_key(p.a, p.op, p.b))
    assert {"train", "heldout"} == set(seen.values())


def test_it_says_when_a_level_runs_out_of_problems():
    with pytest.raises(ValueError, match="too few distinct problems"):
        generate_problems(level="easy", n_train=10, n_heldout=500, seed=0)
    with pytest.raises(ValueError, match="Unknown level"):
        generate_problems(level="impossible", n_train=1, n_heldout=1)


def test_it_wraps_questions_in_the_r1_template_or_another():
    [example] = build_examples([{"question": "What's 2 plus 3?", "answer": "5"}], PromptTemplate())
    assert example["prompt"] == [
        {"role": "system", "content": R1_SYSTEM},
        {"role": "user", "content": "What's 2 plus 3?"},
    ]
    assert "<think>" in R1_SYSTEM and "<answer>" in R1_SYSTEM
    custom = PromptTemplate(system="", user="Solve {question} Put the number in <answer></answer>.")
    [example] = build_examples(
        [{"messages": [{"role": "user", "content": "2+3?"}], "reference_answer": "5"}], custom
    )
    assert example["prompt"] == [
        {"role": "user", "content": "Solve 2+3? Put the number in <answer></answer>."}
    ]
    with pytest.raises(ValueError, match=r"\{question\}"):
        PromptTemplate(user="no placeholder")
    with pytest.raises(ValueError, match="only"):
        PromptTemplate(user="{question} {other}")
    with pytest.raises(ValueError, match="no reference answer"):
        build_examples([{"question": "2+3?", "answer": " "}], custom)


@pytest.mark.django_db
def test_it_creates_arithmetic_prompts_once():
    project = make_project()
    first = arithmetic_prompts_create(project=project, level="easy", n_train=30, n_heldout=6, seed=1)
    again = arithmetic_prompts_create(project=project, level="easy", n_train=30, n_heldout=6, seed=1)
    assert (first.created, first.train, first.heldout, first.existing) == (36, 30, 6, 0)
    assert (again.created, again.existing) == (0, 36)
    prompts = Prompt.objects.filter(project=project)
    assert prompts.count() == 36
    heldout = prompts.filter(split=Prompt.Split.HELDOUT)
    assert heldout.count() == 6
    p = prompts.first()
    assert p.reference_answer and p.messages[0]["role"] == "user" and len(p.messages) == 1
    assert "arithmetic" in p.tags and "level:easy" in p.tags and any(t.startswith("op:") for t in p.tags)
    assert p.source == "arithmetic:easy:seed1"


@pytest.mark.django_db
def test_it_selects_verifiable_prompts_by_split_and_tags():
    project = make_project()
    arithmetic_prompts_create(project=project, level="easy", n_train=10, n_heldout=3, seed=0)
    arithmetic_prompts_create(project=project, level="medium", n_train=5, n_heldout=2, seed=0)
    make_prompt(project, "Write a poem.")  # no reference answer: not verifiable
    assert len(verifiable_prompts(project=project)) == 20
    assert len(verifiable_prompts(project=project, split="heldout")) == 5
    assert len(verifiable_prompts(project=project, split="train", tags=["level:medium"])) == 5
    assert verifiable_prompts(project=project, tags=["level:medium", "op:nothing"]) == []
    with pytest.raises(PairwiseError, match="split"):
        verifiable_prompts(project=project, split="test")


@pytest.mark.django_db
def test_it_freezes_prompts_into_a_snapshot():
    project = make_project()
    arithmetic_prompts_create(project=project, level="easy", n_train=12, n_heldout=3, seed=0)
    snapshot = prompts_snapshot_create(project=project)
    assert snapshot.kind == DatasetSnapshot.Kind.PROMPTS
    assert (snapshot.n_examples, snapshot.n_eval_examples) == (12, 3)
    assert len(snapshot.content_hash) == 64 and Path(snapshot.path).is_dir()
    train, heldout = prompts_snapshot_records(snapshot)
    assert len(train) == 12 and len(heldout) == 3
    assert {r["split"] for r in train} == {"train"} and {r["split"] for r in heldout} == {"heldout"}
    assert all(r["question"] and r["answer"] for r in train + heldout)
    manifest = json.loads((Path(snapshot.path) / "snapshot.json").read_text())
    assert manifest["files_hash"] == snapshot.content_hash
    # The same prompts give the same snapshot; a new prompt gives a new one.
    assert prompts_snapshot_create(project=project) == snapshot
    arithmetic_prompts_create(project=project, level="easy", n_train=13, n_heldout=3, seed=0)
    assert prompts_snapshot_create(project=project).content_hash != snapshot.content_hash


@pytest.mark.django_db
def test_it_refuses_a_snapshot_without_training_prompts():
    project = make_project("Empty")
    make_prompt(project, "Write a poem.")
    with pytest.raises(PairwiseError, match="no training prompts with a reference answer.*make_arithmetic"):
        prompts_snapshot_create(project=project)
    assert not DatasetSnapshot.objects.exists()


@pytest.mark.django_db
def test_it_makes_arithmetic_from_the_command_line(capsys):
    call_command("make_arithmetic", "--project", "Sums", "--create", "--train", "20", "--heldout", "5")
    assert "25 new easy problems (20 train, 5 held out); 0 were already there" in capsys.readouterr().out
    call_command("make_arithmetic", "--project", "Sums", "--train", "20", "--heldout", "5")
    assert "0 new easy problems" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No project named 'Nope' \\(add --create"):
        call_command("make_arithmetic", "--project", "Nope")
    with pytest.raises(CommandError, match="too few distinct problems"):
        call_command("make_arithmetic", "--project", "Sums", "--heldout", "5000")


@pytest.mark.django_db
def test_it_trains_on_gsm8k_imports_as_verifiable_prompts(tmp_path):
    lines = [
        {
            "question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
            "answer": "In May she sold 48/2 = 24 clips.\nIn all: 48+24 = 72.\n#### 72",
        },
        {
            "question": "A shirt costs $1,200 after a $300 discount. What was the price?",
            "answer": "1200 + 300 = 1500\n#### 1,500",
        },
        {
            "question": "The temperature fell from 3 to -4 degrees. By how much did it fall?",
            "answer": "3 - (-4) = 7\n#### 7",
            "split": "heldout",
        },
    ]
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    call_command("import_data", "--project", "GSM8K", "--create", "--format", "gsm8k", str(path))
    project = Prompt.objects.first().project

    snapshot = prompts_snapshot_create(project=project)
    train, heldout = prompts_snapshot_records(snapshot)
    assert [r["answer"] for r in train] == ["72", "1500"] and [r["answer"] for r in heldout] == ["7"]
    examples = build_examples(train + heldout, PromptTemplate())
    completions = [
        "<think>48+24</think><answer>72</answer>",
        "<answer>$1,500</answer>",
        "<answer>-7</answer>",
    ]
    assert accuracy(completions, answer=[e["answer"] for e in examples]) == [1.0, 1.0, 0.0]
