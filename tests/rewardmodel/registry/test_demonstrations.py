"""Where SFT demonstrations come from: reference answers in the R1 template, a teacher's responses,
the chosen sides of judgments; and the bad input refused before any run exists. No torch."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path

import pytest

from annotate.models import Choice, Comparison, Judgment, LabelerExclusion, Prompt
from pairwise.errors import PairwiseError
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.registry.demonstrations import (
    demonstrations_snapshot_create,
    demonstrations_snapshot_records,
)
from rewardmodel.runs.checks import options_clean
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import run_start
from rewardmodel.training.rule_rewards import is_formatted
from rewardmodel.training.verifiable import R1_SYSTEM
from tests.factories import make_comparison, make_project, make_prompt, make_response

_cid = count(1)


def vote(comparison: Comparison, labeler, winner: str) -> Judgment:
    """A judgment for response "a", "b", or a tie."""
    response = {"a": comparison.response_a, "b": comparison.response_b}.get(winner)
    return Judgment.objects.create(
        comparison=comparison,
        labeler=labeler,
        choice={"a": Choice.A, "b": Choice.B}.get(winner, Choice.TIE),
        winner=response,
        client_id=f"sft-{next(_cid)}",
    )


def test_it_builds_reference_demonstrations_in_the_r1_template(arithmetic_project):
    snapshot = demonstrations_snapshot_create(project=arithmetic_project, source="reference")
    assert snapshot.kind == DatasetSnapshot.Kind.DEMONSTRATIONS
    assert (snapshot.n_examples, snapshot.n_eval_examples) == (24, 4)
    assert snapshot.filters["template"] == {"system": R1_SYSTEM, "user": "{question}"}
    train, heldout = demonstrations_snapshot_records(snapshot)
    assert {d["split"] for d in train} == {"train"} and {d["split"] for d in heldout} == {"heldout"}

    prompts = Prompt.objects.in_bulk([d["prompt_id"] for d in train])
    for demo in train:
        prompt = prompts[demo["prompt_id"]]
        assert demo["prompt"] == [
            {"role": "system", "content": R1_SYSTEM},
            {"role": "user", "content": prompt.text},
        ]
        (turn,) = demo["completion"]
        assert turn["role"] == "assistant" and is_formatted(turn["content"])
        assert turn["content"].endswith(f"</think><answer>{prompt.reference_answer}</answer>")
        assert f" is {prompt.reference_answer}.</think>" in turn["content"]  # "12 times 4 is 48."

    again = demonstrations_snapshot_create(project=arithmetic_project, source="reference")
    assert again == snapshot  # same rows, same snapshot
    limited = demonstrations_snapshot_create(project=arithmetic_project, source="reference", limit=8)
    assert (limited.n_examples, limited.n_eval_examples) == (8, 4)


def test_it_reasons_with_a_gsm8k_worked_solution(db):
    project = make_project("Word problems")
    prompt = make_prompt(project, "How many clips did Natalia sell?", reference_answer="72")
    make_response(
        prompt,
        "She sold 48/2 = <<48/2=24>>24 in May.\nSo 48+24 = <<48+24=72>>72 in all.\n#### 72",
        model_name="gsm8k:reference",
    )
    snapshot = demonstrations_snapshot_create(project=project, source="reference")
    (demo,), _ = demonstrations_snapshot_records(snapshot)
    assert demo["completion"][0]["content"] == (
        "<think>She sold 48/2 = 24 in May.\nSo 48+24 = 72 in all.</think><answer>72</answer>"
    )


def test_it_distills_the_responses_of_a_teacher(db):
    project = make_project("Distill")
    teacher = ModelArtifact.objects.create(kind=ModelArtifact.Kind.POLICY, name="big-teacher", path="/x")
    p1, p2 = make_prompt(project, "Say hi."), make_prompt(project, "Say bye.", split=Prompt.Split.HELDOUT)
    make_response(p1, "Hi!", model_name="hh:chosen")
    make_response(p1, "Meh.", model_name="small-model")
    make_response(p2, "Bye!", model_name="hh:chosen")
    by_fk = make_response(p2, "Farewell.", model_name="")
    by_fk.model = teacher
    by_fk.save()

    snapshot = demonstrations_snapshot_create(project=project, source="responses", teacher="hh:chosen")
    train, heldout = demonstrations_snapshot_records(snapshot)
    assert [(d["prompt"], d["completion"]) for d in train] == [
        ([{"role": "user", "content": "Say hi."}], [{"role": "assistant", "content": "Hi!"}])
    ]
    assert [d["completion"][0]["content"] for d in heldout] == ["Bye!"]
    assert snapshot.filters["teacher"] == "hh:chosen"

    with pytest.raises(PairwiseError, match="answered no training prompts"):
        demonstrations_snapshot_create(project=project, source="responses", teacher="big-teacher")
    with pytest.raises(PairwiseError, match=r"No responses by 'ghost'.*hh:chosen, small-model"):
        demonstrations_snapshot_create(project=project, source="responses", teacher="ghost")


def test_it_learns_the_chosen_side_of_majority_judgments(project, alice, bob, carol, manager):
    won = make_comparison(project, prompt_text="Name a fruit.", a="apple", b="rock")
    vote(won, alice, "b"), vote(won, bob, "b"), vote(won, carol, "a")
    tie = make_comparison(project, prompt_text="Name a colour.", a="red", b="blue")
    vote(tie, alice, "tie"), vote(tie, bob, "tie")
    gold = make_comparison(project, prompt_text="Name a planet.", a="Mars", b="Moon", is_gold=True)
    vote(gold, alice, "a")
    excluded = make_comparison(project, prompt_text="Name a tree.", a="oak", b="fern")
    vote(excluded, carol, "a")
    LabelerExclusion.objects.create(project=project, labeler=carol, reason="spam", excluded_by=manager)
    held = make_comparison(project, prompt_text="Name a bird.", a="robin", b="trout")
    Prompt.objects.filter(pk=held.prompt_id).update(split=Prompt.Split.HELDOUT)
    vote(held, alice, "a")

    snapshot = demonstrations_snapshot_create(project=project, source="judgments")
    train, heldout = demonstrations_snapshot_records(snapshot)
    assert [(d["prompt"][0]["content"], d["completion"][0]["content"]) for d in train] == [
        ("Name a fruit.", "rock")
    ]
    assert [d["completion"][0]["content"] for d in heldout] == ["robin"]
    # alice's and bob's on the fruit, alice's on the bird: carol is excluded, the tie and gold left out
    assert snapshot.n_judgments == 3 and snapshot.filters["source"] == "judgments"

    with pytest.raises(PairwiseError, match="no comparisons with a clear winner"):
        demonstrations_snapshot_create(project=make_project("Unlabelled"), source="judgments")


def test_it_resolves_and_stores_the_whole_config(db):
    config = options_clean(KINDS["sft"], {"epochs": 3, "lr": 1e-4, "output_name": "p1", "tags": "a, b"})
    assert config["source"] == "reference" and config["epochs"] == 3 and config["lr"] == 1e-4
    assert config["template"] == {"system": R1_SYSTEM, "user": "{question}"}
    assert config["batch_size"] == 8 and config["tags"] == ["a", "b"] and config["output_name"] == "p1"
    assert "model_dir" not in config and "demonstrations" not in config
    json.dumps(config)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"source": "vibes"}, "source must be one of reference, responses, judgments; got 'vibes'"),
        ({"source": "responses"}, "needs a teacher"),
        ({"teacher": "x"}, "teacher is for source responses"),
        ({"source": "judgments", "template": {"user": "{question}"}}, "template is for source reference"),
        ({"epochs": 0}, "epochs must be positive"),
        ({"lr": -1}, "lr must be positive"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"limit": 0}, "limit must be at least 1"),
        ({"warp_speed": 9}, "Unknown SFT option.*warp_speed"),
        ({"template": {"user": "no question"}}, "must contain"),
    ],
)
def test_it_refuses_bad_options(db, options, message):
    with pytest.raises(PairwiseError, match=message):
        options_clean(KINDS["sft"], options)


def test_it_refuses_bad_input_before_any_run_exists(arithmetic_project, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    base = ModelArtifact.objects.create(kind=ModelArtifact.Kind.BASE, name="base", path=str(folder))
    reward = ModelArtifact.objects.create(kind=ModelArtifact.Kind.REWARD, name="rm", path=str(folder))
    gone = ModelArtifact.objects.create(kind=ModelArtifact.Kind.BASE, name="gone", path=str(tmp_path / "no"))

    with pytest.raises(PairwiseError, match="source must be one of"):
        run_start(kind="sft", project=arithmetic_project, start=base, options={"source": "magic"})
    with pytest.raises(PairwiseError, match="no training prompts with a reference answer"):
        run_start(kind="sft", project=make_project("Blank"), start=base)
    with pytest.raises(PairwiseError, match="SFT starts from a base model or a policy"):
        run_start(kind="sft", project=arithmetic_project, start=reward)
    with pytest.raises(PairwiseError, match="has no files"):
        run_start(kind="sft", project=arithmetic_project, start=gone)
    assert not TrainingRun.objects.exists()
    assert not DatasetSnapshot.objects.exists()

    run = run_start(kind="sft", project=arithmetic_project, start=base, options={"limit": 5})
    assert run.kind == TrainingRun.Kind.SFT and run.snapshot.n_examples == 5
    assert Path(run.snapshot.path, "train.jsonl").is_file()
