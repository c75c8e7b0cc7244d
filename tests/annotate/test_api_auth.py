"""Authentication: token endpoint, token and session auth, anonymous callers."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.annotate.api_client import client_for

LABELER_ENDPOINTS = [
    ("get", "/api/projects/"),
    ("get", "/api/projects/{p}/next/"),
    ("get", "/api/projects/{p}/me/"),
    ("get", "/api/assignments/1/"),
    ("post", "/api/assignments/1/judgment/"),
    ("post", "/api/assignments/1/skip/"),
    ("post", "/api/judgments/undo/"),
    ("get", "/api/projects/{p}/progress/"),
    ("post", "/api/projects/{p}/export/"),
]


def test_it_trades_username_and_password_for_a_working_token(alice, project):
    client = APIClient()
    first = client.post("/api/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    again = client.post("/api/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert first.status_code == 200
    assert first.json()["token"] == again.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {first.json()['token']}")
    assert [p["name"] for p in client.get("/api/projects/").json()] == ["Helpfulness"]


def test_it_refuses_bad_credentials_with_a_message(alice):
    response = APIClient().post("/api/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "Unable to log in with that username and password.",
        "code": "bad_credentials",
    }
    missing = APIClient().post("/api/token/", {"username": "alice"}, format="json")
    assert missing.status_code == 400 and "password" in missing.json()["error"]


@pytest.mark.parametrize("method,url", LABELER_ENDPOINTS)
def test_it_answers_401_to_anonymous_callers(project, method, url):
    response = getattr(APIClient(), method)(url.format(p=project.pk), {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_it_answers_401_to_a_made_up_token(project):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = client.get("/api/projects/")
    assert response.status_code == 401
    assert "token" in response.json()["error"].lower()


def test_it_accepts_a_browser_session_and_checks_csrf_on_writes(alice, project, comparisons):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    leased = client.get(f"/api/projects/{project.pk}/next/")
    assert leased.status_code == 200
    assignment_id = leased.json()["assignment"]["id"]
    refused = client.post(
        f"/api/assignments/{assignment_id}/judgment/", {"choice": "A", "client_id": "x"}, format="json"
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]


def test_it_uses_the_token_of_the_caller_only(alice, bob, project, comparisons):
    assignment = client_for(alice).get(f"/api/projects/{project.pk}/next/").json()["assignment"]
    assert client_for(bob).get(f"/api/assignments/{assignment['id']}/").status_code == 404
