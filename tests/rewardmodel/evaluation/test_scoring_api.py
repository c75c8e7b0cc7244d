"""POST /api/models/<id>/score/: the rules, and a score computed in eager mode (the real worker
path is in test_celery.py)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from tests.rewardmodel.support.pages import fake_model


@pytest.fixture
def eager(monkeypatch):
    from pairwise.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def tiny_rm(db, tiny_reward_dir) -> ModelArtifact:
    return artifact_register(kind=ModelArtifact.Kind.REWARD, name="tiny-rm", path=tiny_reward_dir)


def post(client, model_id, body, **headers):
    return client.post(f"/api/models/{model_id}/score/", body, content_type="application/json", **headers)


@pytest.mark.ml
def test_it_scores_text_and_conversations_for_managers_with_a_session_or_a_token(
    client, manager, tiny_rm, tiny_reward_dir, eager
):
    from rewardmodel.training.scoring import score_texts

    client.force_login(manager)
    response = post(client, tiny_rm.pk, {"prompt": "Say hi", "response": "hi thanks"})
    assert response.status_code == 200, response.content
    expected = score_texts(tiny_reward_dir, [("Say hi", "hi thanks")], cached=False)[0]
    assert response.json() == {"score": pytest.approx(expected, abs=1e-5), "model": tiny_rm.pk}

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}]
    client.logout()
    token = Token.objects.create(user=manager)
    response = post(
        client, tiny_rm.pk, {"prompt": messages, "response": "hi"}, HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 200
    assert response.json()["score"] == pytest.approx(
        score_texts(tiny_reward_dir, [(messages, "hi")])[0], abs=1e-5
    )


def test_it_refuses_labelers_other_models_and_bad_input(client, alice, manager, db):
    base = fake_model("base-135m")
    rm = fake_model("rm", kind=ModelArtifact.Kind.REWARD)
    assert post(client, rm.pk, {"prompt": "x", "response": "y"}).status_code in (401, 403)
    client.force_login(alice)
    assert post(client, rm.pk, {"prompt": "x", "response": "y"}).status_code == 403
    client.force_login(manager)
    response = post(client, base.pk, {"prompt": "x", "response": "y"})
    assert response.status_code == 400
    assert response.json()["error"] == "Model 'base-135m' is a base model; scoring needs a reward model."
    assert post(client, 999999, {"prompt": "x", "response": "y"}).status_code == 404
    response = post(client, rm.pk, {"prompt": [{"role": "user"}], "response": "y"})
    assert response.status_code == 400 and "prompt: Give text" in response.json()["error"]
    assert post(client, rm.pk, {"prompt": "x"}).status_code == 400
