"""Registering a model from the web: the models page queues a registration job (the default base
model in one click), a worker registers it, and the forms that had no model to offer say how."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pairwise.errors import PairwiseError
from rewardmodel.models import JobStatus, ModelArtifact, RegisterJob
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.registry.registration import registration_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_it_refuses_what_it_can_tell_at_once(tiny_policy_dir):
    with pytest.raises(PairwiseError, match="Say what to register"):
        registration_create(source="  ")
    artifact_register(kind=ModelArtifact.Kind.BASE, name="taken", path=tiny_policy_dir)
    with pytest.raises(PairwiseError, match="taken"):
        registration_create(source=str(tiny_policy_dir), name="taken")
    assert not RegisterJob.objects.exists()


def test_one_click_twice_is_one_registration_of_the_default(settings):
    first = registration_create(source="default")
    assert registration_create(source="default") == first
    assert first.name == settings.PAIRWISE_DEFAULT_BASE_MODEL


def test_the_models_page_registers_a_folder_on_a_worker(manager_client, run_jobs, tiny_policy_dir):
    with run_jobs():
        response = manager_client.post(
            reverse("model-register"), {"source": str(tiny_policy_dir), "name": "tiny", "kind": ""}
        )
    job = RegisterJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "model-register-job", args=[job.pk]
    )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.artifact.name == "tiny" and job.artifact.kind == ModelArtifact.Kind.BASE  # guessed
    page = manager_client.get(response["Location"]).content.decode()
    assert "Registered tiny (Base)" in page
    listing = manager_client.get(reverse("models")).content.decode()
    assert "<code>tiny</code>" in listing and f"#{job.pk}" in listing


def test_the_default_comes_from_the_configured_source(manager_client, run_jobs, settings, tiny_policy_dir):
    settings.PAIRWISE_DEFAULT_BASE_SOURCE = str(tiny_policy_dir)
    page = manager_client.get(reverse("models")).content.decode()
    assert 'id="default-missing"' in page and 'id="register-default"' in page
    back = reverse("run-new-kind", args=["reward"])
    with run_jobs():
        response = manager_client.post(reverse("model-register"), {"source": "default", "next": back})
    job = RegisterJob.objects.get()
    assert (
        response["Location"]
        == reverse("model-register-job", args=[job.pk]) + "?next=%2Fruns%2Fnew%2Freward%2F"
    )
    artifact = ModelArtifact.objects.get(name=settings.PAIRWISE_DEFAULT_BASE_MODEL)
    assert artifact.kind == ModelArtifact.Kind.BASE and RegisterJob.objects.get().artifact == artifact
    page = manager_client.get(response["Location"]).content.decode()
    assert f'href="{back}" id="job-next"' in page  # back to the form that had no model
    assert 'id="default-missing"' not in manager_client.get(reverse("models")).content.decode()


def test_a_bad_source_fails_the_job_with_its_reason(manager_client, run_jobs, tmp_path):
    with run_jobs():
        manager_client.post(reverse("model-register"), {"source": str(tmp_path / "nowhere")})
    job = RegisterJob.objects.get()
    assert job.status == JobStatus.FAILED and "neither an existing folder" in job.error
    assert job.traceback == ""  # a refusal, not a crash


def test_next_never_leaves_the_site(manager_client, run_jobs, tiny_policy_dir):
    with run_jobs():
        response = manager_client.post(
            reverse("model-register"), {"source": str(tiny_policy_dir), "next": "https://evil.example/"}
        )
    assert "next" not in response["Location"]
    page = manager_client.get(response["Location"] + "?next=//evil.example/").content.decode()
    assert "evil.example" not in page


@pytest.mark.parametrize("page", ["run-new-kind", "generation-new"])
def test_a_form_with_no_model_offers_to_register_the_default(manager_client, page, tiny_policy_dir):
    url = reverse(page, args=["reward"]) if page == "run-new-kind" else reverse(page)
    html = manager_client.get(url).content.decode()
    assert 'id="no-model-hint"' in html and 'name="source" value="default"' in html
    assert f'name="next" value="{url}"' in html
    assert "train_reward_model --project" not in html  # the old hint named the wrong command
    artifact_register(kind=ModelArtifact.Kind.BASE, name="base", path=tiny_policy_dir)
    assert 'id="no-model-hint"' not in manager_client.get(url).content.decode()


def test_labelers_cannot_register(client, alice):
    client.force_login(alice)
    assert client.post(reverse("model-register"), {"source": "default"}).status_code == 403
    assert client.get(reverse("models")).status_code == 403
    assert not RegisterJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_clicks_at_once_make_one_registration_of_a_source(monkeypatch, tiny_policy_dir):
    """Eight managers click at once (threads, each with its own connection): the partial unique
    constraint leaves one pending registration of the default, and every click gets it back;
    another source's second registration is refused with the pending one's number."""
    import threading

    from django.db import connection

    sent = []
    monkeypatch.setattr("rewardmodel.registry.registration.job_enqueue", sent.append)
    barrier = threading.Barrier(8)
    got, errors = [], []

    def click() -> None:
        try:
            barrier.wait(timeout=10)
            got.append(registration_create(source="default").pk)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(got) == 8
    assert RegisterJob.objects.count() == 1 and set(got) == {RegisterJob.objects.get().pk}
    assert len(sent) == 1  # one conversion queued

    first = registration_create(source=str(tiny_policy_dir), name="one")
    with pytest.raises(PairwiseError, match=f"being registered already: registration #{first.pk}"):
        registration_create(source=str(tiny_policy_dir), name="two")
    RegisterJob.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)
    assert registration_create(source=str(tiny_policy_dir), name="two").pk != first.pk  # ended: again
