"""The run pages and status.json (server side; the live page is tested in Chromium)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from rewardmodel.models import JobStatus, ModelArtifact, TrainingRun
from tests.rewardmodel.support.pages import add_metrics, fake_model, make_run
from tests.rewardmodel.support.synthetic import judge_marker_pairs


@pytest.fixture
def base(db):
    return fake_model("base-135m")


def test_it_lets_only_managers_see_runs(client, alice, project, base):
    run = make_run(project, base)
    for url in ("/runs/", f"/runs/{run.pk}/", f"/jobs/run/{run.pk}/status.json", "/runs/new/"):
        assert client.get(url).status_code == 302  # to the login page
    client.force_login(alice)
    for url in ("/runs/", f"/runs/{run.pk}/", f"/jobs/run/{run.pk}/status.json", "/runs/new/"):
        assert client.get(url).status_code == 403
    assert client.post(f"/jobs/run/{run.pk}/cancel/").status_code == 403
    assert not TrainingRun.objects.get(pk=run.pk).cancel_requested


def test_the_list_reaps_and_shows_lost_runs(client, manager, project, base, settings):
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 60
    alive = make_run(project, base)
    lost = make_run(project, base, heartbeat_at=timezone.now() - timedelta(minutes=5))
    client.force_login(manager)
    page = client.get("/runs/").content.decode()
    assert f"Marked lost: run #{lost.pk}" in page
    assert TrainingRun.objects.get(pk=lost.pk).status == JobStatus.FAILED
    assert TrainingRun.objects.get(pk=alive.pk).status == JobStatus.RUNNING
    assert page.count('class="rm-status rm-status-running"') == 1 and "rm-status-failed" in page


def test_the_run_page_shows_result_and_lineage(client, manager, project, base):
    output = fake_model("reward-helpfulness-run1", kind=ModelArtifact.Kind.REWARD)
    run = make_run(
        project,
        base,
        status=JobStatus.SUCCEEDED,
        finished_at=timezone.now(),
        progress=1.0,
        output_model=output,
        summary={"eval_accuracy": 0.925, "eval_margin": 1.5, "eval_pairs": 40},
        created_by=manager,
    )
    client.force_login(manager)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "base-135m" in page and "abc123def456" in page and "160 train / 40 eval pairs" in page
    assert "400 by 2 labelers" in page and "min agreement 0.5" in page
    assert "Cancel run" not in page  # finished
    status = client.get(f"/jobs/run/{run.pk}/status.json").json()
    assert status["summary"]["eval_accuracy"] == 0.925
    assert status["output_model"]["name"] == "reward-helpfulness-run1"
    assert status["snapshot"]["judgments"] == 400 and status["snapshot"]["labelers"] == 2


def test_status_json_sends_only_new_metrics_and_flags_lost_runs(client, manager, project, base, settings):
    run = make_run(project, base)
    add_metrics(run, [(2, {"loss": 0.69, "accuracy": 0.5}), (4, {"loss": 0.5, "accuracy": 0.8})])
    client.force_login(manager)
    first = client.get(f"/jobs/run/{run.pk}/status.json").json()
    assert [m["step"] for m in first["metrics"]] == [2, 4] and first["metrics"][1]["loss"] == 0.5
    assert first["status"] == "running" and first["is_lost"] is False and first["is_finished"] is False
    add_metrics(run, [(6, {"loss": 0.3})])
    later = client.get(f"/jobs/run/{run.pk}/status.json?after={first['last_metric_id']}").json()
    assert [m["step"] for m in later["metrics"]] == [6]
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 0
    assert client.get(f"/jobs/run/{run.pk}/status.json").json()["is_lost"] is True
    assert client.get("/jobs/run/999999/status.json").status_code == 404


def test_cancel_asks_a_running_run_to_stop_and_refuses_a_finished_one(client, manager, project, base):
    running = make_run(project, base)
    done = make_run(project, base, status=JobStatus.FAILED, finished_at=timezone.now())
    client.force_login(manager)
    response = client.post(f"/jobs/run/{running.pk}/cancel/", follow=True)
    assert "cancel requested" in response.content.decode()
    running.refresh_from_db()
    assert running.cancel_requested and running.status == JobStatus.RUNNING
    page = client.post(f"/jobs/run/{done.pk}/cancel/", follow=True).content.decode()
    assert "already failed; nothing to cancel" in page


def test_managers_start_a_reward_run_from_the_form(client, manager, project, alice, bob, tmp_path):
    base = fake_model("base-on-disk", folder=tmp_path / "base")
    judge_marker_pairs(project, 30, labelers=(alice, bob))
    client.force_login(manager)
    assert "Train a reward model" in client.get("/runs/new/").content.decode()  # every kind, one page
    assert "Start training" in client.get("/runs/new/reward/").content.decode()
    form = {
        "project": project.pk,
        "base": base.pk,
        "epochs": "2",
        "lr": "3e-5",
        "batch_size": "",
        "max_length": "128",
        "eval_fraction": "0.2",
        "min_agreement": "0",
        "name": "my-rm",
    }
    response = client.post("/runs/new/reward/", form)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.status == JobStatus.QUEUED and run.created_by == manager and len(run.task_id) == 32
    asked = {"epochs": 2.0, "lr": 3e-5, "max_length": 128, "eval_fraction": 0.2, "output_name": "my-rm"}
    assert run.config | asked == run.config and run.config["batch_size"] is None  # the rest at defaults
    assert run.snapshot.n_eval_examples == 6 and run.snapshot.n_examples == 24


def test_the_form_explains_why_it_cannot_start(client, manager, project, alice, tmp_path):
    base = fake_model("base-on-disk", folder=tmp_path / "base")
    judge_marker_pairs(project, 3, labelers=(alice,))
    client.force_login(manager)
    form = {"project": project.pk, "base": base.pk, "epochs": "1", "lr": "1e-5", "eval_fraction": "0.1"}
    form["min_agreement"] = "0"
    page = client.post("/runs/new/reward/", form).content.decode()
    assert "has 2 training pairs" in page and "at least 8 are needed" in page
    assert not TrainingRun.objects.exists()
    missing = fake_model("gone")
    page = client.post("/runs/new/reward/", form | {"base": missing.pk}).content.decode()
    assert "has no files at /models/gone" in page
