"""The manager's console: the top bar, the projects list, and a project's steps, each with the
button that moves it on or the reason it cannot be taken yet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from annotate.models import Comparison, Judgment
from rewardmodel.console.steps import BLOCKED, DONE, LATER, NEXT, project_next_step, project_steps
from rewardmodel.jobs.workers import worker_beat
from rewardmodel.models import DataJob, JobStatus, ModelArtifact, RegisterJob, TrainingRun, WorkerBeat
from rewardmodel.registry.artifacts import artifact_register
from tests.annotate.test_exports import vote
from tests.factories import make_comparison, make_project, make_prompt, make_response

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def states(project, user) -> dict[str, str]:
    return {step.key: step.state for step in project_steps(project, user=user)}


def step(project, user, key):
    return next(s for s in project_steps(project, user=user) if s.key == key)


def test_the_steps_follow_a_project_from_empty_to_a_reward_model(manager, alice, tiny_policy_dir):
    project = make_project("Steps", labelers=(alice,), overlap_k=1)
    assert states(project, manager) == {
        "import": NEXT,
        "pairs": LATER,
        "judgments": LATER,
        "reward": LATER,
        "policy": LATER,
        "report": LATER,
    }
    assert project_next_step(project) == "Import prompts and responses"

    prompt = make_prompt(project, "Two plus two?")
    assert step(project, manager, "pairs").state == BLOCKED
    assert "No prompt has two answers" in step(project, manager, "pairs").reason
    generate = step(project, manager, "import")
    assert [a.label for a in generate.actions] == ["Import a file", "Generate responses"]
    assert "No base model" in generate.reason and generate.fix.url == reverse("models")

    make_response(prompt, "Four."), make_response(prompt, "Five.")
    assert states(project, manager)["pairs"] == NEXT and project_next_step(project) == "Make pairs"

    comparison = make_comparison(project)
    assert states(project, manager)["judgments"] == NEXT
    assert "No judgments yet" in step(project, manager, "reward").reason
    assert project_next_step(project) == "Collect judgments"

    for c in Comparison.objects.filter(project=project):
        vote(c, alice, "A")
        Comparison.objects.filter(pk=c.pk).update(judgment_count=1, is_open=False)
    reward = step(project, manager, "reward")
    assert reward.state == BLOCKED and reward.fix.url == reverse("models")  # no model to start from

    base = artifact_register(kind=ModelArtifact.Kind.BASE, name="base", path=tiny_policy_dir)
    got = states(project, manager)
    assert got["judgments"] == DONE and got["reward"] == NEXT
    reward = step(project, manager, "reward")
    assert reward.actions[0].url == reverse("run-new-kind", args=["reward"]) + f"?project={project.pk}"
    policy = step(project, manager, "policy")
    assert [a.label for a in policy.actions] == ["DPO on the judgments", "GRPO on rule rewards", "SFT"]
    assert "PPO needs a reward model" in policy.reason

    run = TrainingRun.objects.create(
        kind=TrainingRun.Kind.REWARD, project=project, base_model=base, status=JobStatus.SUCCEEDED
    )
    ModelArtifact.objects.create(kind=ModelArtifact.Kind.REWARD, name="rm", path="/rm", training_run=run)
    got = states(project, manager)
    assert got["reward"] == DONE and got["policy"] == NEXT
    assert step(project, manager, "policy").actions[0].label == "PPO on the reward model"
    assert project_next_step(project) == "Train a policy"
    assert comparison.pk


def test_label_is_offered_only_where_the_manager_labels(manager, alice):
    project = make_project("Mine", labelers=(alice,))
    make_comparison(project)
    assert "Label" not in [a.label for a in step(project, manager, "judgments").actions]
    project.labelers.add(manager)
    assert "Label" in [a.label for a in step(project, manager, "judgments").actions]


def test_the_home_page_opens_the_console_and_never_leases_for_a_manager(manager_client, manager, alice):
    theirs = make_project("Theirs", labelers=(alice,))
    mine = make_project("Mine too", labelers=(alice, manager))
    for p in (theirs, mine):
        make_comparison(p)
    page = manager_client.get(reverse("home")).content.decode()
    for p in (theirs, mine):
        assert reverse("console-project", args=[p.pk]) in page
    assert reverse("label", args=[theirs.pk]) not in page  # opening it would lease a pair
    assert reverse("label", args=[mine.pk]) in page
    assert "Next: <strong>Collect judgments</strong>" in page
    assert reverse("admin:annotate_project_add") in page  # New project
    assert not Judgment.objects.exists()


def test_the_top_bar_is_the_managers_sections(manager_client, client, alice):
    page = manager_client.get(reverse("runs")).content.decode()
    nav = page[page.index('<nav class="topnav"') : page.index("</nav>")]
    for name in ("home", "runs", "models", "quality:index", "reports", "admin:index"):
        assert f'href="{reverse(name)}"' in nav, name
    assert f'href="{reverse("runs")}" aria-current="page"' in nav
    client.force_login(alice)
    nav = client.get(reverse("home")).content.decode()
    nav = nav[nav.index('<nav class="topnav"') : nav.index("</nav>")]
    assert reverse("runs") not in nav and reverse("models") not in nav


def test_the_admin_index_links_the_console(manager_client):
    page = manager_client.get(reverse("admin:index")).content.decode()
    for name in ("home", "runs", "models", "generation-new", "quality:index", "reports"):
        assert f'href="{reverse(name)}"' in page, name


def test_the_project_page_makes_pairs_as_a_job(manager_client, run_jobs, manager):
    project = make_project("Pairs")
    for i in range(3):
        prompt = make_prompt(project, f"q{i}")
        for j in range(3):
            make_response(prompt, f"a{i}.{j}", model_name=f"m{j}")
    page = manager_client.get(reverse("console-project", args=[project.pk])).content.decode()
    assert 'id="make-pairs" open' in page and 'data-state="next"' in page
    with run_jobs():
        response = manager_client.post(
            reverse("console-pairs", args=[project.pk]), {"pairs": "sample", "per_prompt": "1", "seed": "3"}
        )
    job = DataJob.objects.get()
    assert response["Location"] == reverse("data-job", args=[job.pk])
    job.refresh_from_db()
    assert job.kind == DataJob.Kind.PAIRS and job.status == JobStatus.SUCCEEDED, job.error
    assert (
        job.status_message
        == "Created 3 comparisons over 3 prompts (0 pairs existed, 0 identical-text pairs skipped)."
    )
    assert Comparison.objects.filter(project=project).count() == 3

    bad = manager_client.post(
        reverse("console-pairs", args=[project.pk]), {"pairs": "models", "models": "m0"}
    )
    assert bad.status_code == 400 and "exactly two names" in bad.content.decode()
    assert DataJob.objects.count() == 1


def test_the_console_is_for_managers(client, alice):
    project = make_project("Closed", labelers=(alice,))
    client.force_login(alice)
    assert client.get(reverse("console-project", args=[project.pk])).status_code == 403
    assert client.post(reverse("console-pairs", args=[project.pk]), {"pairs": "all"}).status_code == 403
    assert not DataJob.objects.exists()


def test_the_admin_lists_workers_registrations_and_report_jobs(admin_client, settings):
    settings.PAIRWISE_WORKER_LIVE_SECONDS = 45
    worker_beat(hostname="gpu-1", queues=["training"], pid=11)
    RegisterJob.objects.create(source="default")
    page = admin_client.get(reverse("admin:rewardmodel_workerbeat_changelist")).content.decode()
    assert "gpu-1" in page and "icon-yes.svg" in page  # live
    WorkerBeat.objects.update(seen_at=WorkerBeat.objects.get().seen_at - timedelta(minutes=5))
    assert (
        "icon-no.svg" in admin_client.get(reverse("admin:rewardmodel_workerbeat_changelist")).content.decode()
    )
    page = admin_client.get(reverse("admin:rewardmodel_registerjob_changelist")).content.decode()
    assert reverse("model-register-job", args=[RegisterJob.objects.get().pk]) in page
    assert admin_client.get(reverse("admin:rewardmodel_reportjob_changelist")).status_code == 200
