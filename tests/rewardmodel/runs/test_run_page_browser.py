"""The live run page in real Chromium: it polls status.json, redraws its SVG charts, cancels."""

from __future__ import annotations

import pytest
from django.utils import timezone

from rewardmodel.jobs.workers import worker_beat
from rewardmodel.models import JobStatus, ModelArtifact, TrainingRun
from tests.browser_support import log_in
from tests.rewardmodel.support.pages import add_metrics, fake_model, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(context, server, manager):
    # The session's one Chromium (tests/browser_support.py): Playwright's sync API allows only one
    # running instance per thread.
    context.set_default_timeout(15_000)
    log_in(context, server, manager)
    return context.new_page()


def test_the_run_page_follows_a_run_live_and_cancels_it(page, live_server, project):
    base = fake_model("base-135m")
    run = make_run(project, base, progress=0.1)
    add_metrics(run, [(2, {"loss": 0.69, "accuracy": 0.5, "margin": 0.0})])
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/runs/{run.pk}/")
    assert page.text_content("#run-status") == "running"
    assert page.locator("svg.rm-chart").count() == 3  # loss, accuracy, margin from the first metric
    assert page.locator("#snapshot").text_content().strip().startswith("abc123def456")

    # The worker writes more metrics and progress; the page picks them up by polling.
    add_metrics(
        run,
        [
            (4, {"loss": 0.4, "accuracy": 0.8, "margin": 0.9}),
            (6, {"loss": 0.2, "accuracy": 0.95, "margin": 1.8}),
            (6, {"eval_loss": 0.25, "eval_accuracy": 0.9, "eval_margin": 1.6}),
        ],
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        progress=0.6, status_message="training", heartbeat_at=timezone.now()
    )
    page.wait_for_function("document.getElementById('run-progress').value > 0.59")
    page.wait_for_function("document.querySelectorAll('polyline[data-key=eval_accuracy]').length === 1")
    loss_points = page.get_attribute("svg.rm-chart polyline[data-key=loss]", "points")
    assert len(loss_points.split()) == 3
    assert page.text_content("#run-percent") == "60 %" and page.text_content("#run-message") == "training"

    # Cancel: the button posts, the run is asked to stop, the page says so.
    page.click("#cancel-button")
    page.wait_for_selector("#cancel-note:not([hidden])")
    assert TrainingRun.objects.get(pk=run.pk).cancel_requested

    # The worker finishes (here it succeeded before seeing the cancel): result and output model show.
    output = ModelArtifact.objects.create(kind="reward", name="rm-out", path="/models/rm-out")
    TrainingRun.objects.filter(pk=run.pk).update(
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        finished_at=timezone.now(),
        output_model=output,
        summary={"eval_accuracy": 0.925, "eval_margin": 1.61, "eval_pairs": 40},
    )
    page.wait_for_function("document.getElementById('run-status').textContent === 'succeeded'")
    assert page.text_content("#eval-accuracy") == "0.925" and page.text_content("#eval-pairs") == "40"
    assert "rm-out" in page.text_content("#output-model")
    assert page.locator("#cancel-form").count() == 0
    polls = page.get_attribute("#run", "data-polls")
    page.wait_for_timeout(4500)
    assert page.get_attribute("#run", "data-polls") == polls  # a finished run is not polled any more
    assert errors == []


def test_the_run_page_shows_a_failure_with_its_traceback(page, live_server, project):
    run = make_run(
        project,
        fake_model("base-135m"),
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        error="OSError: No space left on device",
        traceback="Traceback (most recent call last):\n  File trainer.py ...",
    )
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    assert page.is_visible("#run-error")
    assert page.text_content("#run-error-text") == "OSError: No space left on device"
    page.click("#run-error summary")
    assert "most recent call last" in page.text_content("#run-traceback")
    assert page.text_content("#charts") == "No metrics yet."


def test_a_grpo_run_page_groups_its_charts_and_shows_samples_as_text(page, live_server, project):
    run = make_run(project, fake_model("policy-start"), kind=TrainingRun.Kind.GRPO)
    add_metrics(
        run,
        [
            (1, {"reward/accuracy": 0.1, "reward/format": 0.0, "format_rate": 0.0, "kl": 0.0}),
            (1, {"samples": ["<think>7 times 3</think><answer>21</answer>", "<script>alert(1)</script>"]}),
            (2, {"reward/accuracy": 0.3, "reward/format": 0.2, "format_rate": 0.1, "kl": 0.01}),
        ],
    )
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    titles = page.locator("svg.rm-chart .rm-chart-title").all_text_contents()
    assert titles == ["Rewards", "Format rate", "KL to the start"]  # only groups with data
    page.wait_for_selector("#samples-box:not([hidden])")
    rows = page.locator("#samples pre").all_text_contents()
    assert rows == ["<think>7 times 3</think><answer>21</answer>", "<script>alert(1)</script>"]
    assert page.locator("#samples script").count() == 0 and dialogs == []


def test_a_queued_run_with_no_training_worker_says_how_to_start_one(page, live_server, project, settings):
    settings.PAIRWISE_QUEUED_WARN_SECONDS = 0
    run = make_run(project, fake_model("base-waits"), status=JobStatus.QUEUED)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    waiting = page.wait_for_selector("#job-waiting:not([hidden])")
    assert "no worker serves the 'training' queue" in waiting.text_content()
    assert "celery -A pairwise worker -Q training" in waiting.text_content()
    worker_beat(hostname="gpu-1", queues=["training"])  # a worker comes up: the next poll hides it
    page.wait_for_selector("#job-waiting", state="hidden")
