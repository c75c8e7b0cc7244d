"""A manager's first hour, on the web alone (issue 22's acceptance): a fresh database after
`demo_setup`, a real Celery worker, real Chromium, and no command line after that.

1. register the base model (first with no worker running: the page says so and names the command);
2. create a project;
3. import responses with pairs made in the same job;
4. a labeler, in a second browser context, judges 16 pairs from the keyboard;
5. start a reward-model run and watch it succeed;
6. see the reward model in the registry.

The default base model is a tiny model folder here (PAIRWISE_DEFAULT_BASE_SOURCE, as a team would
point it at its own): the flow is the same as with SmolLM2, in well under a minute of training.
A failure names its step, with the worker's log.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from annotate.models import Judgment, Project
from rewardmodel.models import ModelArtifact, TrainingRun
from tests.celery_worker import purge, start_worker, stop_worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery,
    pytest.mark.ml,
    pytest.mark.django_db(transaction=True),
]

# The README's pictures of the console. Rewritten only when asked:
# PAIRWISE_WRITE_SCREENSHOTS=1 bash scripts/test.sh -k first_hour
DOCS = Path(settings.BASE_DIR) / "docs"
WRITE_SCREENSHOTS = os.environ.get("PAIRWISE_WRITE_SCREENSHOTS") == "1"
PAIRS = 16


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.PAIRWISE_QUEUED_WARN_SECONDS = 0  # say at once that no worker serves the queue
    settings.PAIRWISE_DEFAULT_BASE_SOURCE = ""  # the web process never registers; the worker does


def responses_file(path: Path) -> Path:
    """16 prompts with two different answers each: 16 comparisons once paired."""
    with path.open("w") as f:
        for i in range(PAIRS):
            record = {
                "prompt": f"What is {i} plus {i}?",
                "reference_answer": str(2 * i),
                "responses": [
                    {"text": f"{i} plus {i} is {2 * i}.", "model": "careful"},
                    {"text": f"It is {2 * i + 1}.", "model": "hasty"},
                ],
            }
            f.write(json.dumps(record) + "\n")
    return path


class Walk:
    """The steps, each named when it fails, with the worker's log and a screenshot."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.log = tmp_path / "worker.log"
        self.page = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            shot = self.tmp_path / "failed-step.png"
            if self.page is not None:
                with contextlib.suppress(Exception):
                    self.page.screenshot(path=str(shot), full_page=True)
            worker = self.log.read_text()[-3000:] if self.log.exists() else "(no worker started)"
            raise AssertionError(
                f"the manager's first hour fails at step {name!r}: {exc}\n"
                f"screenshot: {shot}\nworker log:\n{worker}"
            ) from exc


def test_a_manager_gets_from_a_fresh_install_to_a_reward_model_on_the_web(
    browser, server, tiny_policy_dir, tmp_path
):
    call_command("demo_setup", stdout=open(os.devnull, "w"))  # the one command: users, demo project
    walk = Walk(tmp_path)
    purge("default", "training")
    manager = browser.new_context(viewport={"width": 1280, "height": 900})
    manager.set_default_timeout(20_000)
    page = walk.page = manager.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    worker = None
    try:
        with walk.step("0. log in as the manager"):
            page.goto(f"{server.url}/")
            page.fill("#id_username", "manager")
            page.fill("#id_password", "manager-demo")
            page.click("button[type=submit]")
            page.wait_for_selector("nav.topnav >> text=Models")
            for section in ("Projects", "Runs", "Models", "Quality", "Reports", "Admin"):
                assert page.locator(f"nav.topnav a:text-is('{section}')").count() == 1, section
            # The manager is no labeler of the demo project: no "Label" that would lease pairs.
            assert page.locator(".project-go a:text-is('Label')").count() == 0

        with walk.step("1. register the base model"):
            page.click("nav.topnav a:text-is('Models')")
            page.click("#register-default")
            page.wait_for_selector("#job-status")
            # No worker yet: the page says why nothing happens, and how to start one.
            waiting = page.wait_for_selector("#job-waiting:not([hidden])")
            assert "no worker serves the 'default' queue" in waiting.text_content()
            assert "celery -A pairwise worker -Q default" in waiting.text_content()
            worker = start_worker(
                walk.log,
                queues="default,training",
                name="first-hour",
                env={
                    "PAIRWISE_DEFAULT_BASE_SOURCE": str(tiny_policy_dir),
                    "PAIRWISE_WORKER_BEAT_SECONDS": "1",
                },
            )
            page.wait_for_selector("#job-status.job-status-succeeded", timeout=90_000)
            assert page.locator("#job-waiting").is_hidden()
            page.click("#job-links a:text-is('Every model')")
            assert page.locator(f"#models td code:text-is('{settings.PAIRWISE_DEFAULT_BASE_MODEL}')").count()

        with walk.step("2. create a project"):
            page.click("nav.topnav a:text-is('Projects')")
            page.click("#new-project")
            page.fill("#id_name", "Arithmetic helpfulness")
            page.fill("#id_overlap_k", "1")
            page.dblclick("#id_labelers_from option:text-is('labeler')")  # the admin's two-box widget
            page.click("input[name=_continue]")
            page.wait_for_selector("text=was added successfully")
            project = Project.objects.get(name="Arithmetic helpfulness")
            assert list(project.labelers.values_list("username", flat=True)) == ["labeler"]

        with walk.step("3. import responses with pairs made"):
            page.goto(f"{server.url}/projects/{project.pk}/")
            page.click("#step-import a:text-is('Import a file')")
            page.set_input_files("#id_file", str(responses_file(tmp_path / "answers.jsonl")))
            page.select_option("#id_format", "responses")
            page.select_option("#id_pairs", "all")
            page.click("input[type=submit][value=Import]")
            page.wait_for_selector("#job-status.job-status-succeeded", timeout=60_000)
            message = page.text_content("#job-message")
            assert f"created {PAIRS} comparisons over {PAIRS} prompts" in message, message
            assert page.locator("#job-no-pairs").count() == 0
            page.click("#job-links a:text-is('The project')")
            assert page.get_attribute("#step-pairs", "data-state") == "done"
            assert page.get_attribute("#step-judgments", "data-state") == "next"
            if WRITE_SCREENSHOTS:
                page.screenshot(path=str(DOCS / "screenshot-project.png"), full_page=True)

        with walk.step(f"4. a labeler judges {PAIRS} pairs"):
            labeler = browser.new_context(viewport={"width": 1280, "height": 900})
            labeler.set_default_timeout(20_000)
            screen = labeler.new_page()
            screen.goto(f"{server.url}/accounts/login/")
            screen.fill("#id_username", "labeler")
            screen.fill("#id_password", "labeler-demo")
            screen.click("button[type=submit]")
            screen.click(f".project h2 a:text-is('{project.name}')")
            for n in range(PAIRS):
                before = screen.wait_for_selector("#pair[data-assignment-id]").get_attribute(
                    "data-assignment-id"
                )
                screen.keyboard.press("1" if n % 4 else "2")  # mostly A, the careful answer's side or not
                screen.wait_for_function(
                    "id => { const pair = document.getElementById('pair');"
                    " return pair.dataset.assignmentId !== id || !document.getElementById('empty').hidden; }",
                    arg=before,
                )
            screen.wait_for_function("() => window.pairwise.pending() === 0")
            screen.wait_for_selector("#empty:not([hidden])")
            labeler.close()
            assert Judgment.objects.filter(comparison__project=project, source="human").count() == PAIRS

        with walk.step("5. start a reward-model run and watch it succeed"):
            page.goto(f"{server.url}/projects/{project.pk}/")
            assert page.get_attribute("#step-reward", "data-state") == "next"
            page.click("#step-reward a:text-is('Train a reward model')")
            assert page.locator("#no-model-hint").count() == 0  # the base model is there, chosen
            page.fill("#id_name", "first-reward-model")
            page.click("#run-form button[type=submit]")
            page.wait_for_selector("text=Succeeded", timeout=240_000)
            run = TrainingRun.objects.get(project=project, kind=TrainingRun.Kind.REWARD)
            assert run.status == "succeeded", (run.status, run.error)

        with walk.step("6. see it in the registry"):
            page.click("nav.topnav a:text-is('Models')")
            row = page.locator("#models tr", has=page.locator("code:text-is('first-reward-model')"))
            assert row.count() == 1 and "Reward model" in row.text_content()
            assert ModelArtifact.objects.get(name="first-reward-model").training_run == run
            page.goto(f"{server.url}/projects/{project.pk}/")
            assert page.get_attribute("#step-reward", "data-state") == "done"
            assert page.get_attribute("#step-policy", "data-state") == "next"
            if WRITE_SCREENSHOTS:
                page.goto(f"{server.url}/")
                page.screenshot(path=str(DOCS / "screenshot-console.png"), full_page=True)
        assert errors == []
    finally:
        if worker is not None:
            stop_worker(worker)
        manager.close()
        server.wait_idle()
