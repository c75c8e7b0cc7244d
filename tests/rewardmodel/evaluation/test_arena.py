"""make_arena: greedy answers through generation jobs, one comparison per prompt per policy pair,
nothing on the labeler's side that names a policy, and clear errors for bad input."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotate.api.serializers import AssignmentSerializer
from annotate.models import Comparison, Prompt, Response
from annotate.screen_views import assignment_payload
from annotate.services import comparison_assign_next
from rewardmodel.jobs.execute import job_execute
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.training.generate import sample_responses
from tests.factories import make_project, make_prompt

pytestmark = pytest.mark.django_db

HELDOUT = ["Hi", "What is 2 + 2?", "Name a river.", "Write a haiku."]


@pytest.fixture
def arena_project(alice):
    project = make_project("Arena", labelers=(alice,), overlap_k=1)
    for text in HELDOUT:
        make_prompt(project, text, split=Prompt.Split.HELDOUT)
    make_prompt(project, "A training prompt, never in the arena.")
    return project


@pytest.fixture
def policies(arena_policy_dirs):
    alpha, beta = arena_policy_dirs
    return [
        artifact_register(kind=ModelArtifact.Kind.POLICY, name="policy-alpha", path=alpha),
        artifact_register(kind=ModelArtifact.Kind.BASE, name="policy-beta", path=beta),
    ]


def arena(project, *args):
    out = StringIO()
    call_command(
        "make_arena", "--project", project.name, "--prompts", "3", "--max-new-tokens", "8", *args, stdout=out
    )
    return out.getvalue()


@pytest.mark.ml
def test_it_generates_greedy_answers_and_pairs_every_policy_pair_per_prompt(
    arena_project, policies, arena_policy_dirs, alice
):
    out = arena(arena_project, "--policies", "policy-alpha,policy-beta", "--sync")
    assert "created 3 comparisons" in out, out
    jobs = GenerationJob.objects.filter(project=arena_project)
    assert jobs.count() == 2 and {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    assert all(j.config["temperature"] == 0 and len(j.config["prompt_ids"]) == 3 for j in jobs)

    comparisons = list(Comparison.objects.filter(project=arena_project).select_related("prompt"))
    assert len({c.prompt_id for c in comparisons}) == 3
    assert {c.prompt.split for c in comparisons} == {Prompt.Split.HELDOUT}
    answers = Response.objects.filter(prompt__project=arena_project)
    assert answers.count() == 6
    for c in comparisons:
        pair = Response.objects.filter(pk__in=[c.response_a_id, c.response_b_id])
        assert sorted(pair.values_list("model_name", flat=True)) == ["policy-alpha", "policy-beta"]
    for r in answers:
        assert r.generation_params["temperature"] == 0 and 1 <= r.generation_params["new_tokens"] <= 8

    # Greedy: generating again with any sampling seed gives the stored text.
    alpha = answers.filter(model_name="policy-alpha").select_related("prompt").first()
    again = sample_responses(
        arena_policy_dirs[0],
        [alpha.prompt.messages],
        per_prompt=1,
        temperature=0,
        top_p=1.0,
        max_new_tokens=8,
        seed=99,
    )
    assert again.samples[0].text == alpha.text

    # Resumable: the answers exist, so no new job and no new comparison.
    out = arena(arena_project, "--policies", "policy-alpha,policy-beta", "--sync")
    assert "created 0 comparisons (3 existed" in out
    assert GenerationJob.objects.filter(project=arena_project).count() == 2

    # Blind: what the labeler gets names no policy.
    assignment = comparison_assign_next(labeler=alice, project=arena_project)
    payload, data = assignment_payload(assignment), AssignmentSerializer(assignment).data
    assert set(payload["a"]) == set(payload["b"]) == {"html", "chars", "tokens"}
    assert set(data["response_a"]) == set(data["response_b"]) == {"text"}
    assert {data["response_a"]["text"], data["response_b"]["text"]} == {
        assignment.comparison.response_a.text,
        assignment.comparison.response_b.text,
    }
    shown = json.dumps(payload) + json.dumps(data)
    assert "policy-alpha" not in shown and "policy-beta" not in shown


@pytest.mark.ml
def test_it_queues_the_jobs_and_pairs_only_once_every_answer_exists(
    arena_project, policies, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as enqueued:
        out = arena(arena_project, "--policies", "policy-alpha,policy-beta")
    assert len(enqueued) == 2 and "--pairs-only" in out
    assert not Comparison.objects.filter(project=arena_project).exists()
    with pytest.raises(CommandError, match="missing: policy-alpha 3, policy-beta 3"):
        arena(arena_project, "--policies", "policy-alpha,policy-beta", "--pairs-only")

    for job in GenerationJob.objects.filter(project=arena_project):  # what the workers do
        assert job_execute(GenerationJob, pk=job.pk).status == JobStatus.SUCCEEDED
    out = arena(arena_project, "--policies", "policy-alpha,policy-beta", "--pairs-only")
    assert "created 3 comparisons" in out
    # A bigger arena reuses the answers there are: only the added prompt is answered and paired.
    out = arena(arena_project, "--policies", "policy-alpha,policy-beta", "--prompts", "4", "--sync")
    assert "created 1 comparisons" in out and out.count("1 new responses (3 existed)") == 2, out


def test_it_refuses_bad_input(arena_project):
    alpha = ModelArtifact.objects.create(name="alpha", kind=ModelArtifact.Kind.POLICY, path="/nowhere/alpha")
    ModelArtifact.objects.create(name="beta", kind=ModelArtifact.Kind.POLICY, path="/nowhere/beta")
    ModelArtifact.objects.create(name="judge-rm", kind=ModelArtifact.Kind.REWARD, path="/nowhere/rm")
    cases = [
        (["--policies", "alpha,ghost"], "No registered model 'ghost'"),
        (["--policies", "alpha"], "at least two different policies"),
        (["--policies", f"alpha,{alpha.pk}"], "at least two different policies"),  # the same one twice
        (["--policies", "alpha,judge-rm"], "'judge-rm' is a reward model"),
        (["--policies", "alpha,beta", "--prompts", "0"], "at least one prompt"),
        (["--policies", "alpha,beta", "--sync"], "'alpha' has no files at"),
        (["--policies", "alpha,beta", "--pairs-only"], "Not every policy has answered"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            arena(arena_project, *args)
    assert not GenerationJob.objects.exists()
    empty = make_project("No held-out prompts")
    make_prompt(empty, "train only")
    with pytest.raises(CommandError, match="no prompts in the heldout split"):
        arena(empty, "--policies", "alpha,beta", "--sync")
