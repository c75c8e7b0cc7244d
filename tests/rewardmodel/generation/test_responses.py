"""Generating responses for a project: the command, the service, resuming, and bad input."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Response
from pairwise.errors import PairwiseError
from pairwise.progress import Cancelled
from rewardmodel.generation.responses import GenerationOptions, generation_job_create, responses_generate
from rewardmodel.jobs.execute import job_execute
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.training.generate import sample_seed
from tests.factories import make_project, make_prompt

pytestmark = [pytest.mark.ml, pytest.mark.django_db]

QUESTIONS = [
    "Hi",
    "Name three rivers of Europe, please.",
    "What is 2 + 2?",
    "Write a haiku.",
    "Why is the sky blue?",
]


@pytest.fixture
def policy(tiny_policy_dir):
    return artifact_register(kind=ModelArtifact.Kind.POLICY, name="tiny-policy", path=tiny_policy_dir)


def _project(name="Gen"):
    project = make_project(name)
    for q in QUESTIONS:
        make_prompt(project, q)
    return project


@pytest.fixture
def gen_project(db):
    return _project()


def generate(project, model="tiny-policy", *args):
    out = StringIO()
    call_command(
        "generate_responses", "--project", project.name, "--model", model, "--no-progress", *args, stdout=out
    )
    return out.getvalue()


def _texts(project):
    """{(prompt text, sample index): text} — comparable across projects with the same prompts."""
    return {
        (r.prompt.text, r.generation_params["sample"]): r.text
        for r in Response.objects.filter(prompt__project=project).select_related("prompt")
    }


def test_it_records_model_parameters_and_seed_on_every_response(gen_project, policy):
    out = generate(gen_project, "tiny-policy", "--per-prompt", "2", "--max-new-tokens", "6", "--seed", "3")
    assert "10 new responses" in out
    responses = list(Response.objects.filter(prompt__project=gen_project).select_related("prompt"))
    assert len(responses) == 10
    for r in responses:
        assert r.model == policy and r.model_name == "tiny-policy"
        sample = r.generation_params["sample"]
        assert {k: r.generation_params[k] for k in ("temperature", "top_p", "max_new_tokens", "seed")} == {
            "temperature": 0.8,
            "top_p": 0.95,
            "max_new_tokens": 6,
            "seed": 3,
        }
        assert 1 <= r.generation_params["new_tokens"] <= 6
        assert r.seed == sample_seed(3, r.prompt.messages, sample)
    assert sorted(r.generation_params["sample"] for r in responses) == [0] * 5 + [1] * 5


def test_it_skips_samples_that_exist_and_adds_only_new_ones(gen_project, policy):
    generate(gen_project, "tiny-policy", "--per-prompt", "2", "--max-new-tokens", "4")
    first = _texts(gen_project)
    out = generate(gen_project, "tiny-policy", "--per-prompt", "2", "--max-new-tokens", "4")
    assert "0 new responses" in out and "10 of 10 samples" in out
    out = generate(gen_project, "tiny-policy", "--per-prompt", "3", "--max-new-tokens", "4")
    assert "5 new responses" in out
    after = _texts(gen_project)
    assert len(after) == 15 and {k: after[k] for k in first} == first
    # Other parameters are other samples.
    out = generate(
        gen_project, "tiny-policy", "--per-prompt", "1", "--max-new-tokens", "4", "--temperature", "1.2"
    )
    assert "5 new responses" in out
    assert Response.objects.filter(prompt__project=gen_project).count() == 20


def test_it_resumes_an_interrupted_run_and_produces_each_response_once(policy):
    options = GenerationOptions(per_prompt=2, max_new_tokens=6, batch_size=4, seed=11)
    straight = _project("Straight through")
    responses_generate(project=straight, model=policy, options=options)

    interrupted = _project("Interrupted")
    batches = []
    with pytest.raises(Cancelled):
        responses_generate(
            project=interrupted,
            model=policy,
            options=options,
            on_progress=lambda done, total, message: batches.append(done),
            should_stop=lambda: len(batches) >= 2,  # the initial report + one stored batch
        )
    assert Response.objects.filter(prompt__project=interrupted).count() == 4  # one whole batch

    # Resume with another batch size: the rest is generated, nothing twice, same texts.
    resumed = responses_generate(
        project=interrupted,
        model=policy,
        options=GenerationOptions(**{**options.as_config(), "batch_size": 3}),
    )
    assert (resumed.already_done, resumed.created) == (4, 6)
    assert Response.objects.filter(prompt__project=interrupted).count() == 10
    assert _texts(interrupted) == _texts(straight)


def test_it_names_an_unknown_model(gen_project, policy):
    with pytest.raises(CommandError, match="No registered model 'nope'.*tiny-policy"):
        generate(gen_project, "nope")


def test_it_refuses_an_empty_project(policy, db):
    empty = make_project("Empty")
    with pytest.raises(CommandError, match="'Empty' has no prompts"):
        generate(empty)


def test_it_refuses_a_reward_model(gen_project, tiny_reward_dir):
    artifact_register(kind=ModelArtifact.Kind.REWARD, name="tiny-rm", path=tiny_reward_dir)
    with pytest.raises(
        CommandError, match="'tiny-rm' is a reward model; responses are generated by a base model"
    ):
        generate(gen_project, "tiny-rm")


def test_it_refuses_greedy_decoding_with_several_samples(gen_project, policy):
    with pytest.raises(CommandError, match="temperature 0 is greedy"):
        generate(gen_project, "tiny-policy", "--temperature", "0", "--per-prompt", "2")


def test_it_writes_nothing_when_the_weights_cannot_be_loaded(gen_project, tiny_policy_dir, tmp_path):
    broken = shutil.copytree(tiny_policy_dir, tmp_path / "broken")
    artifact_register(kind=ModelArtifact.Kind.POLICY, name="broken", path=broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # damaged after registration (disk, copy)
    with pytest.raises(
        CommandError, match="Generation with broken failed: cannot load a causal language model"
    ):
        generate(gen_project, "broken")
    assert not Response.objects.exists()


def test_it_says_when_the_weights_are_gone(gen_project, tiny_policy_dir, tmp_path):
    moved = shutil.copytree(tiny_policy_dir, tmp_path / "moved")
    artifact_register(kind=ModelArtifact.Kind.POLICY, name="moved", path=moved)
    shutil.rmtree(moved)
    with pytest.raises(PairwiseError, match="'moved' has no files at"):
        responses_generate(
            project=gen_project, model=ModelArtifact.objects.get(name="moved"), options=GenerationOptions()
        )


def test_it_runs_a_job_and_records_status_progress_and_counts(gen_project, policy, manager):
    job = generation_job_create(
        project=gen_project,
        model=policy,
        options=GenerationOptions(per_prompt=1, max_new_tokens=4, batch_size=2),
        user=manager,
        enqueue=False,
    )
    assert job.status == JobStatus.QUEUED and job.created_by == manager
    job = job_execute(GenerationJob, pk=job.pk, task_id="t-1")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.progress, job.responses_created, job.device, job.task_id) == (1.0, 5, "cpu", "t-1")
    assert job.heartbeat_at and job.finished_at and "5 new responses" in job.status_message
    # A redelivered message does not run a finished job again.
    assert job_execute(GenerationJob, pk=job.pk).responses_created == 5


def test_it_refuses_a_bad_job_before_queueing_it(policy, db):
    with pytest.raises(PairwiseError, match="no prompts"):
        generation_job_create(
            project=make_project("Nothing"), model=policy, options=GenerationOptions(), enqueue=False
        )


def test_it_records_a_failed_job_with_its_error(gen_project, tiny_policy_dir, tmp_path):
    broken = shutil.copytree(tiny_policy_dir, tmp_path / "broken")
    model = artifact_register(kind=ModelArtifact.Kind.POLICY, name="broken", path=broken)
    job = generation_job_create(project=gen_project, model=model, options=GenerationOptions(), enqueue=False)
    (broken / "model.safetensors").write_bytes(b"not weights")
    job = job_execute(GenerationJob, pk=job.pk)
    assert job.status == JobStatus.FAILED and "cannot load a causal language model" in job.error
    assert not Response.objects.exists()


def test_a_job_that_asks_for_a_missing_gpu_fails_with_the_reason(gen_project, policy, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    job = generation_job_create(
        project=gen_project, model=policy, options=GenerationOptions(device="cuda:0"), enqueue=False
    )
    job = job_execute(GenerationJob, pk=job.pk)
    assert job.status == JobStatus.FAILED and "torch sees no CUDA GPU" in job.error
    assert not Response.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_stores_each_sample_once_when_two_runs_race(tiny_policy_dir):
    import threading

    from django.db import connection

    model = artifact_register(kind=ModelArtifact.Kind.POLICY, name="tiny-policy", path=tiny_policy_dir)
    project = _project("Race")
    options = GenerationOptions(per_prompt=2, max_new_tokens=4, batch_size=2)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def run():
        try:
            barrier.wait()
            outcomes.append(responses_generate(project=project, model=model, options=options))
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
    assert Response.objects.filter(prompt__project=project).count() == 10
    assert sum(o.created for o in outcomes) == 10  # both generated, each sample stored by one of them
