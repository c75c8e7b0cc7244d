"""The pages that start SFT, PPO and GRPO runs, and what a PPO run page shows (server side; the
live page is tested in Chromium). No training: the runs stay queued, and the Celery send, made on
commit, is captured instead of reaching a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.models import Prompt
from rewardmodel.models import JobStatus, ModelArtifact, TrainingRun
from rewardmodel.registry.prompts import arithmetic_prompts_create
from tests.factories import make_project, make_prompt
from tests.rewardmodel.support.pages import add_metrics, fake_model, make_run

NEW_PAGES = ("/runs/new/sft/", "/runs/new/ppo/", "/runs/new/grpo/")
TOKENIZER = {"model": {"vocab": {"a": 0, "b": 1}}, "added_tokens": []}


@pytest.fixture
def policy(db, tmp_path) -> ModelArtifact:
    model = fake_model("policy-start", folder=tmp_path / "policy")
    Path(model.path, "tokenizer.json").write_text(json.dumps(TOKENIZER))
    return model


@pytest.fixture
def reward_model(db, tmp_path) -> ModelArtifact:
    model = fake_model("rm-helpful", kind=ModelArtifact.Kind.REWARD, folder=tmp_path / "rm")
    Path(model.path, "tokenizer.json").write_text(json.dumps(TOKENIZER))
    return model


@pytest.fixture
def chat_prompts(project):
    for i in range(18):
        make_prompt(
            project, f"Say a word {i}.", split=Prompt.Split.HELDOUT if i >= 16 else Prompt.Split.TRAIN
        )
    return project


@pytest.fixture
def arithmetic(db):
    project = make_project("Arithmetic")
    arithmetic_prompts_create(project=project, level="easy", n_train=12, n_heldout=2, seed=0)
    return project


PPO_FORM = {
    "episodes": "64",
    "batch_size": "8",
    "mini_batches": "2",
    "ppo_epochs": "2",
    "kl_coef": "0.1",
    "response_length": "32",
    "temperature": "0.9",
    "lr": "1e-5",
    "missing_eos_penalty": "0",
    "eval_every": "4",
    "heldout_limit": "",
    "name": "ppo-web",
}
GRPO_FORM = {
    "rewards": ["accuracy", "format_partial"],
    "num_generations": "4",
    "batch_size": "8",
    "steps": "3",
    "lr": "1e-5",
    "beta": "0",
    "max_completion_length": "48",
    "temperature": "0.8",
    "eval_every": "0",
    "heldout_limit": "2",
    "cold_start": "",
    "name": "",
}


def test_it_lets_only_managers_start_policy_runs(client, alice, project):
    for url in NEW_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    for url in NEW_PAGES:
        assert client.get(url).status_code == 403
        assert client.post(url, {"project": project.pk}).status_code == 403
    assert not TrainingRun.objects.exists()


def test_the_runs_list_links_to_every_kind_of_new_run(client, manager):
    client.force_login(manager)
    page = client.get("/runs/").content.decode()
    for url in ("/runs/new/", *NEW_PAGES):
        assert f'href="{url}"' in page


def test_the_ppo_form_offers_the_trainer_defaults_and_only_fitting_models(
    client, manager, project, policy, reward_model
):
    value = fake_model("value-head", kind=ModelArtifact.Kind.VALUE)
    client.force_login(manager)
    response = client.get("/runs/new/ppo/")
    assert response.status_code == 200
    form = response.context["form"]
    initial = {name: field.initial for name, field in form.fields.items()}
    assert initial | {"episodes": 256, "batch_size": 16, "kl_coef": 0.05} == initial
    assert (initial["response_length"], initial["temperature"], initial["lr"]) == (64, 0.7, 3e-6)
    assert list(form.fields["reward_model"].queryset) == [reward_model]
    assert set(form.fields["policy"].queryset) == {policy}  # no reward or value models
    page = response.content.decode()
    assert "PPO against a reward model" in page and 'href="/runs/new/grpo/"' in page
    assert value.name not in page


def test_managers_start_a_ppo_run_from_the_form(
    client, manager, chat_prompts, policy, reward_model, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    form = PPO_FORM | {"project": chat_prompts.pk, "policy": policy.pk, "reward_model": reward_model.pk}
    with django_capture_on_commit_callbacks(execute=False) as sends:
        response = client.post("/runs/new/ppo/", form)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.kind == TrainingRun.Kind.PPO and run.status == JobStatus.QUEUED
    assert run.base_model == policy and run.created_by == manager and len(run.task_id) == 32
    cfg = run.config
    assert (cfg["episodes"], cfg["batch_size"], cfg["mini_batches"], cfg["ppo_epochs"]) == (64, 8, 2, 2)
    assert (cfg["kl_coef"], cfg["response_length"], cfg["temperature"], cfg["lr"]) == (0.1, 32, 0.9, 1e-5)
    assert cfg["missing_eos_penalty"] == 0.0 and cfg["whiten_rewards"] is False and cfg["eval_every"] == 4
    assert cfg["reward_model"] == reward_model.pk and cfg["output_name"] == "ppo-web"
    assert "heldout_limit" not in cfg  # empty: all held-out prompts
    assert (run.snapshot.n_examples, run.snapshot.n_eval_examples) == (16, 2)
    assert len(sends) == 1  # the task is sent when the request's transaction commits, not before
    page = client.get(response["Location"]).content.decode()
    assert f"Run #{run.pk} (PPO policy) queued for a training worker." in page


def test_the_ppo_form_refuses_a_model_of_another_kind_and_explains_service_errors(
    client, manager, project, chat_prompts, policy, reward_model
):
    client.force_login(manager)
    form = PPO_FORM | {"project": project.pk, "policy": policy.pk, "reward_model": policy.pk}
    response = client.post("/runs/new/ppo/", form)
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["form"].errors["reward_model"])
    response = client.post(
        "/runs/new/ppo/", form | {"policy": reward_model.pk, "reward_model": reward_model.pk}
    )
    assert "policy" in response.context["form"].errors

    # The service's own checks come back as a form error: too few prompts for the batch.
    page = client.post("/runs/new/ppo/", form | {"reward_model": reward_model.pk, "batch_size": "32"})
    assert "has 16 training prompts; PPO needs at least batch_size (32)" in page.content.decode()
    assert not TrainingRun.objects.exists()


def test_managers_start_an_sft_run_from_the_form(
    client, manager, arithmetic, policy, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    assert client.get("/runs/new/sft/").context["form"].fields["source"].initial == "reference"
    form = {
        "project": arithmetic.pk,
        "policy": policy.pk,
        "source": "reference",
        "teacher": "",
        "epochs": "1",
        "lr": "3e-5",
        "batch_size": "4",
        "max_length": "256",
        "name": "",
    }
    with django_capture_on_commit_callbacks(execute=False) as sends:
        response = client.post("/runs/new/sft/", form)
    run = TrainingRun.objects.get()
    assert response["Location"] == f"/runs/{run.pk}/" and len(sends) == 1
    assert run.kind == TrainingRun.Kind.SFT and run.status == JobStatus.QUEUED
    assert (run.config["source"], run.config["epochs"], run.config["lr"]) == ("reference", 1.0, 3e-5)
    assert (run.config["batch_size"], run.config["max_length"]) == (4, 256)
    assert run.snapshot.n_examples == 12

    page = client.post("/runs/new/sft/", form | {"source": "responses"}).content.decode()
    assert "source responses needs a teacher" in page
    assert TrainingRun.objects.count() == 1


def test_a_grpo_run_with_a_cold_start_queues_sft_first_and_waits_for_it(
    client, manager, arithmetic, policy, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    assert client.get("/runs/new/grpo/").status_code == 200
    form = GRPO_FORM | {"project": arithmetic.pk, "policy": policy.pk, "cold_start": "4"}
    with django_capture_on_commit_callbacks(execute=False) as sends:
        response = client.post("/runs/new/grpo/", form)
    sft, grpo = TrainingRun.objects.order_by("pk")
    assert response["Location"] == f"/runs/{sft.pk}/"
    assert (sft.kind, grpo.kind) == (TrainingRun.Kind.SFT, TrainingRun.Kind.GRPO)
    assert sft.config["source"] == "reference" and sft.config["limit"] == 4
    assert sft.config["template"] == grpo.config["template"]  # the cold start sees GRPO's prompts
    assert grpo.starts_after == sft and grpo.base_model == policy
    assert grpo.config["rewards"] == ["accuracy", "format_partial"] and grpo.config["steps"] == 3
    assert grpo.config["heldout_limit"] == 2
    assert sft.task_id and grpo.task_id and len(sends) == 1  # GRPO is sent once SFT succeeds

    page = client.get(f"/runs/{sft.pk}/").content.decode()
    assert f"Run #{sft.pk} (SFT policy) and #{grpo.pk} (GRPO policy) queued" in page
    assert f'<a href="/runs/{grpo.pk}/">run #{grpo.pk}</a>' in page and "Followed by" in page
    page = client.get(f"/runs/{grpo.pk}/").content.decode()
    assert f'<a href="/runs/{sft.pk}/">run #{sft.pk}</a>' in page and "Starts after" in page


def test_a_refused_grpo_run_leaves_no_cold_start_run_behind(client, manager, arithmetic, policy):
    client.force_login(manager)
    form = GRPO_FORM | {"project": arithmetic.pk, "policy": policy.pk, "cold_start": "4", "batch_size": "10"}
    page = client.post("/runs/new/grpo/", form).content.decode()
    assert "must be a positive multiple of num_generations" in page
    assert not TrainingRun.objects.exists()  # the SFT run was created first, then rolled back
    plain = client.post("/runs/new/grpo/", GRPO_FORM | {"project": arithmetic.pk, "policy": policy.pk})
    assert plain.status_code == 302 and TrainingRun.objects.get().starts_after is None


def test_a_ppo_run_page_shows_its_charts_and_the_final_hacking_verdict(client, manager, project, policy):
    evidence = "the score rises with length while KL passes its threshold: held-out RM score +0.1 → +2.0"
    run = make_run(
        project,
        policy,
        kind=TrainingRun.Kind.PPO,
        status=JobStatus.SUCCEEDED,
        summary={"reward_hacking": {"flagged": True, "evidence": evidence}},
    )
    client.force_login(manager)
    response = client.get(f"/runs/{run.pk}/")
    titles = [c["title"] for c in response.context["charts"]]
    assert titles[:2] == ["Reward-model score", "KL to the start"] and len(titles) == 8
    assert {"heldout/score", "heldout/length_score_corr", "approx_kl"} <= {
        k for c in response.context["charts"] for k in c["keys"]
    }
    page = response.content.decode()
    assert '<div id="hacking-warning" class="rm-warning" role="alert" >' in page
    assert "Possible reward hacking" in page and "+0.1 → +2.0" in page and "(live check)" not in page

    TrainingRun.objects.filter(pk=run.pk).update(
        summary={"reward_hacking": {"flagged": False, "evidence": "x"}}
    )
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'class="rm-warning" role="alert" hidden>' in page


def test_a_running_ppo_run_shows_the_latest_live_hacking_check(client, manager, project, policy):
    run = make_run(project, policy, kind=TrainingRun.Kind.PPO)
    client.force_login(manager)
    assert client.get(f"/jobs/run/{run.pk}/status.json").json()["verdict"] is None
    before = {
        "heldout/score": 0.2,
        "heldout/length": 20.0,
        "heldout/kl": 0.0,
        "heldout/length_score_corr": None,
    }
    after = {
        "heldout/score": 1.5,
        "heldout/length": 41.5,
        "heldout/kl": 1.72,
        "heldout/length_score_corr": 0.81,
    }
    add_metrics(
        run,
        [
            (0, before | {"hacking/flagged": 0.0}),
            (4, {"score": 1.0, "kl": 0.5}),
            (8, after | {"hacking/flagged": 1.0}),
        ],
    )
    verdict = client.get(f"/jobs/run/{run.pk}/status.json").json()["verdict"]
    assert verdict["flagged"] is True and verdict["final"] is False
    assert verdict["evidence"] == (
        "at step 8: held-out RM score +1.500, mean length 41.5 tokens, length–score correlation 0.81, "
        "KL to the start 1.72"
    )
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "(live check)" in page and "mean length 41.5 tokens" in page

    # Reward-model runs have no such check.
    reward_run = make_run(project, policy)
    add_metrics(reward_run, [(1, {"hacking/flagged": 1.0})])
    assert client.get(f"/jobs/run/{reward_run.pk}/status.json").json()["verdict"] is None
