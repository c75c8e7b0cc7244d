"""DPO as a kind of run, added through its trainer, one kind module and one choice: trained straight
from the project's judgments, with its lineage, charts, held-out loss, ledger row, reproduce command,
form, command line and place in the comparison report."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from annotate.models import Judgment, Prompt
from rewardmodel.evaluation.ledger import policy_ledger
from rewardmodel.jobs.execute import job_execute
from rewardmodel.models import DatasetSnapshot, JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.runs.reproduce import reproduce_commands
from rewardmodel.runs.services import run_start
from tests.factories import make_prompt
from tests.rewardmodel.support.synthetic import judge_marker_pairs

# A random tiny model: a large learning rate moves it in a few steps.
FAST = {"lr": 5e-3, "beta": 0.5, "epochs": 2.0, "batch_size": 8, "max_length": 64, "eval_fraction": 0.25}


@pytest.fixture
def judged(project, alice, bob):
    """40 comparisons whose answer with the marker word won, judged by two people in 30 s each."""
    judge_marker_pairs(project, 40, labelers=(alice, bob))
    Judgment.objects.update(seconds_on_task=30.0)
    return project


@pytest.fixture
def base(db, tiny_policy_dir) -> ModelArtifact:
    return artifact_register(kind=ModelArtifact.Kind.BASE, name="base", path=tiny_policy_dir)


@pytest.mark.ml
def test_it_trains_a_policy_from_the_judgments_with_lineage_charts_and_a_ledger_row(
    judged, base, client, manager
):
    run = run_start(kind="dpo", project=judged, start=base, options={**FAST, "output_name": "dpo-1"})
    snapshot = run.snapshot
    assert snapshot.kind == DatasetSnapshot.Kind.PREFERENCES and snapshot.n_judgments == 80
    assert (snapshot.n_examples, snapshot.n_eval_examples) == (30, 10)

    run = job_execute(TrainingRun, pk=run.pk)
    assert run.status == JobStatus.SUCCEEDED, run.traceback
    policy = run.output_model
    assert policy.name == "dpo-1" and policy.kind == ModelArtifact.Kind.POLICY
    assert list(policy.parents.all()) == [base] and policy.dataset_snapshot == snapshot
    assert policy.metadata["algo"] == "dpo" and policy.metadata["beta"] == 0.5
    assert run.examples_seen == 60 and run.tokens_seen > 0

    rows = [m.values for m in RunMetric.objects.filter(run=run).order_by("pk")]
    for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"):
        assert any(isinstance(v.get(key), float) for v in rows), key
    assert len([v for v in rows if "heldout/loss" in v]) == 2  # before and after
    s = run.summary
    assert s["heldout/loss_after"] < s["heldout/loss_before"], s
    assert s["heldout/accuracy_after"] > s["heldout/accuracy_before"], s

    # The people's hours of the judgments it used: 80 of them, 30 s each.
    ledger = policy_ledger(model=policy).as_dict()
    assert ledger["road"] == "human feedback"
    assert ledger["human"]["n"] == 80 and ledger["human"]["hours"] == pytest.approx(80 * 30 / 3600)
    assert [r["kind"] for r in ledger["runs"]] == ["dpo"]

    [command] = [line for line in reproduce_commands(policies=[policy]) if not line.startswith("#")]
    assert command.startswith(
        f"python manage.py train_policy --algo dpo --project {judged.name} --policy base"
    )
    assert "--beta 0.5" in command and "--eval-fraction 0.25" in command
    assert command.endswith("--name dpo-1 --sync")

    client.force_login(manager)
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200
    titles = [c["title"] for c in page.context["charts"]]
    assert titles[:2] == ["Loss", "Implicit rewards"]


@pytest.mark.ml
def test_train_policy_trains_dpo_in_process_and_compare_puts_it_on_the_people_road(judged, base, tmp_path):
    out = StringIO()
    args = ["--algo", "dpo", "--project", judged.name, "--policy", "base", "--name", "dpo-cli", "--sync"]
    call_command("train_policy", *args, *_flags(FAST), stdout=out)
    text = out.getvalue()
    assert "DPO on base with 30 training and 10 held-out pairs (80 judgments" in text
    assert "Succeeded in" in text and "held-out (10 pairs): loss" in text

    for k in range(2):
        make_prompt(judged, f"A held-out question {k}?", split=Prompt.Split.HELDOUT)
    report = tmp_path / "report.html"
    call_command(
        "compare",
        "--project",
        judged.name,
        "--policies",
        "base,dpo-cli",
        "--out",
        str(report),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    data = json.loads(report.with_suffix(".json").read_text())
    rows = {row["name"]: row for row in data["policies"]}
    assert rows["dpo-cli"]["road"] == "human feedback" and rows["base"]["road"] == "base"
    assert rows["dpo-cli"]["ledger"]["human"]["n"] == 80
    assert any(c["kind"] == "dpo" and c["key"] == "rewards/margins" for c in data["curves"])
    assert any("--algo dpo" in line for line in data["commands"])


def _flags(options: dict) -> list[str]:
    return [w for k, v in options.items() for w in (f"--{k.replace('_', '-')}", str(v))]


def test_managers_start_a_dpo_run_from_its_form(
    judged, base, client, manager, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    page = client.get("/runs/new/dpo/")
    assert page.status_code == 200 and "DPO on the judgments" in page.content.decode()
    form = {"project": judged.pk, "policy": base.pk, "beta": "0.2", "epochs": "1", "name": "dpo-web"}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/runs/new/dpo/", form)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.kind == "dpo" and run.status == JobStatus.QUEUED and len(run.task_id) == 32
    assert (run.config["beta"], run.config["epochs"], run.config["output_name"]) == (0.2, 1.0, "dpo-web")
    assert run.snapshot.n_judgments == 80 and run.created_by == manager
