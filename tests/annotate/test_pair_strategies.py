"""Pair strategies: all pairs, sampled pairs, cross-model pairs; the make_pairs command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Comparison
from annotate.pair_strategies import comparisons_pair_all, comparisons_pair_models, comparisons_pair_sampled
from pairwise.errors import PairwiseError
from tests.factories import make_project, make_prompt, make_response

pytestmark = pytest.mark.django_db


@pytest.fixture
def arena():
    """3 prompts; each has 2 responses from model-x and 2 from model-y (4 responses, 6 pairs)."""
    project = make_project("Arena")
    prompts = [make_prompt(project, f"Question {i}?") for i in range(3)]
    for prompt in prompts:
        for model in ("model-x", "model-y"):
            for k in range(2):
                make_response(prompt, f"{model} answer {k} to {prompt.pk}", model_name=model)
    return project


def _pairs(project):
    return {(c.response_a_id, c.response_b_id) for c in Comparison.objects.filter(project=project)}


def test_it_pairs_every_response_of_a_prompt_once(arena):
    outcome = comparisons_pair_all(project=arena, priority=5)
    assert (outcome.prompts, outcome.created, outcome.existing) == (3, 18, 0)
    comparisons = list(Comparison.objects.filter(project=arena).select_related("response_a", "response_b"))
    assert all(c.response_a.content_hash < c.response_b.content_hash and c.priority == 5 for c in comparisons)
    assert all(c.response_a.prompt_id == c.response_b.prompt_id == c.prompt_id for c in comparisons)
    again = comparisons_pair_all(project=arena)
    assert (again.created, again.existing) == (0, 18)
    assert Comparison.objects.filter(project=arena).count() == 18


def test_it_never_pairs_identical_texts(db):
    project = make_project("Echo")
    prompt = make_prompt(project, "Say hi")
    make_response(prompt, "Hi!", model_name="m1")
    make_response(prompt, "  Hi!\n", model_name="m2")  # same text once trimmed
    make_response(prompt, "Hello.", model_name="m3")
    outcome = comparisons_pair_all(project=project)
    assert (outcome.created, outcome.identical_skipped) == (2, 1)


def test_it_treats_a_reversed_pair_as_the_same_comparison(arena):
    prompt = arena.prompts.first()
    a, b = prompt.responses.order_by("content_hash")[:2]
    Comparison.objects.create(project=arena, prompt=prompt, response_a=b, response_b=a)  # stored reversed
    outcome = comparisons_pair_all(project=arena)
    assert (outcome.created, outcome.existing) == (17, 1)
    assert not Comparison.objects.filter(response_a=a, response_b=b).exists()


def test_it_samples_up_to_n_pairs_per_prompt_reproducibly(arena):
    outcome = comparisons_pair_sampled(project=arena, per_prompt=2, seed=4)
    assert (outcome.prompts, outcome.created) == (3, 6)
    first = _pairs(arena)
    for prompt in arena.prompts.all():
        assert Comparison.objects.filter(prompt=prompt).count() == 2
    # Running again keeps the cap; the same seed on a copy of the data picks the same pairs.
    assert comparisons_pair_sampled(project=arena, per_prompt=2, seed=4).created == 0
    Comparison.objects.all().delete()
    comparisons_pair_sampled(project=arena, per_prompt=2, seed=4)
    assert _pairs(arena) == first
    Comparison.objects.all().delete()
    comparisons_pair_sampled(project=arena, per_prompt=2, seed=5)
    assert _pairs(arena) != first
    # Raising the cap tops prompts up to it.
    assert comparisons_pair_sampled(project=arena, per_prompt=3, seed=5).created == 3


def test_it_pairs_one_model_against_another_on_the_same_prompt(arena):
    outcome = comparisons_pair_models(project=arena, model_a="model-x", model_b="model-y", per_prompt=None)
    assert (outcome.prompts, outcome.created) == (3, 12)
    for c in Comparison.objects.filter(project=arena).select_related("response_a", "response_b"):
        assert {c.response_a.model_name, c.response_b.model_name} == {"model-x", "model-y"}
    Comparison.objects.all().delete()
    outcome = comparisons_pair_models(
        project=arena, model_a="model-x", model_b="model-y", per_prompt=1, priority=9
    )
    assert outcome.created == 3
    assert set(Comparison.objects.values_list("priority", flat=True)) == {9}


def test_it_leaves_out_prompts_that_lack_one_of_the_models(arena):
    lonely = make_prompt(arena, "Only x answered")
    make_response(lonely, "x alone", model_name="model-x")
    make_response(lonely, "x again", model_name="model-x")
    outcome = comparisons_pair_models(project=arena, model_a="model-x", model_b="model-y", per_prompt=None)
    assert outcome.prompts == 3
    assert not Comparison.objects.filter(prompt=lonely).exists()


def test_it_names_a_model_without_responses(arena):
    with pytest.raises(PairwiseError, match="no responses from model-z"):
        comparisons_pair_models(project=arena, model_a="model-x", model_b="model-z")
    with pytest.raises(PairwiseError, match="two different models"):
        comparisons_pair_models(project=arena, model_a="model-x", model_b="model-x")


def test_it_filters_all_pairs_by_model_and_split(arena):
    heldout = make_prompt(arena, "Held out?", split="heldout")
    make_response(heldout, "one", model_name="model-x")
    make_response(heldout, "two", model_name="model-x")
    outcome = comparisons_pair_all(project=arena, models=["model-x"], split="heldout")
    assert (outcome.prompts, outcome.created) == (1, 1)


def test_make_pairs_command_runs_each_strategy(arena):
    def run(*args):
        out = StringIO()
        call_command("make_pairs", "--project", "Arena", *args, stdout=out)
        return out.getvalue()

    assert "would create 9 comparisons" in run(
        "--strategy", "models", "--models", "model-x", "model-y", "--dry-run", "--per-prompt", "3"
    )
    assert not Comparison.objects.exists()
    assert "created 3 comparisons over 3 prompts" in run(
        "--strategy", "models", "--models", "model-x", "model-y", "--priority", "2"
    )
    assert "created 3 comparisons" in run("--strategy", "sample", "--per-prompt", "2")
    assert "created 12 comparisons" in run("--strategy", "all")
    assert "created 0 comparisons over 3 prompts (18 pairs existed" in run()
    with pytest.raises(CommandError, match="exactly two names"):
        run("--strategy", "models", "--models", "model-x")
    with pytest.raises(CommandError, match="No project named 'Nope'"):
        call_command("make_pairs", "--project", "Nope")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_stores_each_pair_once_when_two_runs_race():
    import threading

    from django.db import connection

    project = make_project("Race")
    for i in range(20):
        prompt = make_prompt(project, f"Race {i}?")
        for k in range(5):
            make_response(prompt, f"answer {k} to {i}", model_name=f"m{k}")
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def run():
        try:
            barrier.wait()
            outcomes.append(comparisons_pair_all(project=project))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Comparison.objects.filter(project=project).count() == 20 * 10
    assert len(_pairs(project)) == 200
