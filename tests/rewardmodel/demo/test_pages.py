"""The home page shows the latest demo loop's steps to a manager, live through status.json.
No training: the DemoLoop row is built directly."""

from __future__ import annotations

from django.urls import reverse

from rewardmodel.demo.loop import STEPS
from rewardmodel.models import DemoLoop, JobStatus
from tests.factories import make_project


def _loop() -> DemoLoop:
    steps = [{"name": name, "title": title, "status": JobStatus.QUEUED} for name, title in STEPS]
    steps[0].update(status=JobStatus.SUCCEEDED, url="/generation/7/", job_id=7, numbers={"responses": 30})
    steps[1].update(status=JobStatus.RUNNING)
    return DemoLoop.objects.create(
        project=make_project("Demo"), status=JobStatus.RUNNING, current_step="label", steps=steps
    )


def test_it_shows_the_loop_steps_to_a_manager(client, manager):
    loop = _loop()
    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()
    assert f"Demo loop #{loop.pk}" in page
    for _, title in STEPS:
        assert title in page
    assert 'href="/generation/7/"' in page and "responses 30" in page
    assert reverse("job-status", args=["demo-loop", loop.pk]) in page


def test_its_status_json_has_every_step(client, manager):
    loop = _loop()
    client.force_login(manager)
    status = client.get(reverse("job-status", args=["demo-loop", loop.pk])).json()
    assert status["status"] == "running" and status["current_step"] == "label"
    assert [s["name"] for s in status["steps"]] == [name for name, _ in STEPS]
    assert status["steps"][0]["url"] == "/generation/7/"
    assert status["steps"][1]["status"] == "running"


def test_a_labeler_sees_no_loop(client, alice):
    loop = _loop()
    client.force_login(alice)
    assert "Demo loop" not in client.get(reverse("home")).content.decode()
    response = client.get(reverse("job-status", args=["demo-loop", loop.pk]))
    assert response.status_code == 403  # managers only


def test_demo_loop_queues_the_loop_once(db, monkeypatch, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    from rewardmodel import tasks
    from rewardmodel.demo.loop import DEMO_PROJECT

    sent = []
    monkeypatch.setattr(tasks.run_job, "apply_async", lambda **kw: sent.append(kw))
    make_project(DEMO_PROJECT)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_loop", stdout=out)
        call_command("demo_loop", stdout=out)
    [loop] = DemoLoop.objects.all()
    # The one job task, on the training queue (the loop's runs execute in its process).
    assert sent == [{"args": ["demo-loop", loop.pk], "task_id": loop.task_id, "queue": "training"}]
    assert "not queuing another" in out.getvalue()
    assert loop.status == JobStatus.QUEUED and loop.config["budget"] == "full"
