"""Who gets what, endpoint by endpoint: anonymous, a labeler of another project, a labeler removed
from the project, an excluded labeler, staff without permissions, and a manager (the `managers`
group). Manager pages and endpoints rest on annotate.permissions.is_manager, never the staff flag
alone; labeler endpoints on annotate.services' membership and exclusion checks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from rest_framework.test import APIClient

from annotate.exporting.store import export_store_judgments
from annotate.models import Assignment, LabelerExclusion, Project
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from rewardmodel.models import DemoLoop
from tests.annotate.api_client import client_for
from tests.factories import make_comparisons, make_project, make_user

PERSONAS = ["anonymous", "outsider", "removed", "excluded", "staff", "manager"]


@dataclass
class World:
    project: Project
    users: dict[str, AbstractBaseUser | None]
    lease: dict[str, Assignment]  # a live, unjudged lease per persona (someone else's for outsiders)
    judged: dict[str, str]  # the client id of a judgment to undo (someone else's for outsiders)
    demo_loop: DemoLoop
    export_file: tuple[str, str]  # (export id, file name) of a stored export


@pytest.fixture
def world(alice, db, settings, tmp_path) -> World:
    settings.DATA_DIR = tmp_path
    manager = make_user("boss", manager=True, labeler=False)
    removed, excluded = make_user("removed"), make_user("excluded")
    outsider = make_user("outsider")
    make_project("Elsewhere", labelers=(outsider,))
    project = make_project("Matrix", labelers=(alice, removed, excluded), overlap_k=5, lease_seconds=600)
    make_comparisons(project, 4)
    lease, judged = {}, {}
    for name, user in [("alice", alice), ("removed", removed), ("excluded", excluded), ("manager", manager)]:
        first = comparison_assign_next(labeler=user, project=project)
        judgment_record(labeler=user, assignment_id=first.pk, data=JudgmentInput(choice="A", client_id=name))
        lease[name], judged[name] = comparison_assign_next(labeler=user, project=project), name
    for name in ("anonymous", "outsider", "staff"):  # they hold nothing: they try alice's
        lease[name], judged[name] = lease["alice"], "alice"
    project.labelers.remove(removed)
    LabelerExclusion.objects.create(project=project, labeler=excluded, reason="spam", excluded_by=manager)
    stored, _ = export_store_judgments(project=project, fmt="csv")
    users = {
        "anonymous": None,
        "outsider": outsider,
        "removed": removed,
        "excluded": excluded,
        "staff": make_user("clerk", staff=True, labeler=False),
        "manager": manager,
    }
    return World(
        project, users, lease, judged, DemoLoop.objects.create(), (stored.export_id, "judgments.csv")
    )


def _api(world: World, persona: str) -> APIClient:
    user = world.users[persona]
    return client_for(user) if user is not None else APIClient()


def _browser(client, world: World, persona: str):
    if world.users[persona] is not None:
        client.force_login(world.users[persona])
    return client


# --- labeler API ---------------------------------------------------------------------------------

LABELER_API = {
    # endpoint: anonymous, outsider, removed, excluded, staff, manager
    "next": (401, 404, 404, 403, 404, 200),
    "judge": (401, 404, 403, 403, 404, 201),
    "skip": (401, 404, 403, 403, 404, 200),
    "undo": (401, 404, 403, 403, 404, 200),
    "assignment": (401, 404, 403, 403, 404, 200),
    "projects": (401, 200, 200, 200, 200, 200),  # each sees their own list
}


def _call_labeler_api(world: World, persona: str, endpoint: str):
    api, lease, project = _api(world, persona), world.lease[persona], world.project
    match endpoint:
        case "next":
            return api.get(reverse("api-next", args=[project.pk]))
        case "judge":
            body = {"choice": "A", "client_id": f"new-{persona}"}
            return api.post(reverse("api-judgment", args=[lease.pk]), body, format="json")
        case "skip":
            return api.post(reverse("api-skip", args=[lease.pk]), {}, format="json")
        case "undo":
            return api.post(reverse("api-undo"), {"client_id": world.judged[persona]}, format="json")
        case "assignment":
            return api.get(reverse("api-assignment", args=[lease.pk]))
        case "projects":
            return api.get(reverse("api-projects"))


@pytest.mark.parametrize("endpoint", LABELER_API)
@pytest.mark.parametrize("persona", PERSONAS)
def test_labeler_api(world, persona, endpoint):
    response = _call_labeler_api(world, persona, endpoint)
    assert response.status_code == LABELER_API[endpoint][PERSONAS.index(persona)], response.content
    assert response["Content-Type"].startswith("application/json")


def test_the_project_list_shows_each_only_their_own(world):
    names = {
        p: {row["name"] for row in _api(world, p).get(reverse("api-projects")).json()} for p in PERSONAS[1:]
    }
    assert names["outsider"] == {"Elsewhere"}
    assert names["removed"] == set() and names["staff"] == set()
    assert names["excluded"] == {"Matrix"}  # listed (their history), but working there is refused
    assert names["manager"] == {"Matrix", "Elsewhere"}


# --- manager API ---------------------------------------------------------------------------------

# Anonymous API calls answer 401 (token authentication first). Scoring a model that does not exist
# answers 404 to a manager: past the gate.
MANAGER_API = {
    "progress": (401, 403, 403, 403, 403, 200),
    "export": (401, 403, 403, 403, 403, 201),
    "export-file": (401, 403, 403, 403, 403, 200),  # the one download path of every export
    "export-missing": (401, 403, 403, 403, 403, 404),
    "score": (401, 403, 403, 403, 403, 404),
}


def _call_manager_api(world: World, persona: str, endpoint: str):
    api, pk = _api(world, persona), world.project.pk
    match endpoint:
        case "progress":
            return api.get(reverse("api-progress", args=[pk]))
        case "export":
            return api.post(reverse("api-export", args=[pk]), {}, format="json")
        case "export-file":
            return api.get(reverse("api-export-file", args=[pk, *world.export_file]))
        case "export-missing":
            return api.get(reverse("api-export-file", args=[pk, "nope", "train.jsonl"]))
        case "score":
            return api.post(reverse("api-score", args=[999]), {"prompt": "q", "response": "a"}, format="json")


@pytest.mark.parametrize("endpoint", MANAGER_API)
@pytest.mark.parametrize("persona", PERSONAS)
def test_manager_api(world, persona, endpoint):
    response = _call_manager_api(world, persona, endpoint)
    assert response.status_code == MANAGER_API[endpoint][PERSONAS.index(persona)], response.content


# --- HTML pages ----------------------------------------------------------------------------------

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def _manager_pages(world: World) -> dict[str, str]:
    pk = world.project.pk
    return {
        "runs": reverse("runs"),
        "run-new": reverse("run-new"),
        "run-new-sft": reverse("run-new-kind", args=["sft"]),
        "run-new-dpo": reverse("run-new-kind", args=["dpo"]),
        "generation-new": reverse("generation-new"),
        "demo-loop-status": reverse("job-status", args=["demo-loop", world.demo_loop.pk]),
        "quality": reverse("quality:index"),
        "quality-project": reverse("quality:project", args=[pk]),
        "quality-leaderboard": reverse("quality:leaderboard", args=[pk]),
        "reports": reverse("reports"),
        "report-new": reverse("report-new"),
        "models": reverse("models"),
        "console-project": reverse("console-project", args=[pk]),
    }


MANAGER_PAGES = [
    "runs",
    "run-new",
    "run-new-sft",
    "run-new-dpo",
    "generation-new",
    "demo-loop-status",
    "quality",
    "quality-project",
    "quality-leaderboard",
    "reports",
    "report-new",
    "models",
    "console-project",
]


@pytest.mark.parametrize("page", MANAGER_PAGES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_manager_pages(world, client, persona, page):
    url = _manager_pages(world)[page]
    response = _browser(client, world, persona).get(url)
    if persona == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    elif persona == "manager":
        assert response.status_code == 200
    else:
        assert response.status_code == 403  # staff included: the flag alone is not a manager


# the ranking screen: anonymous, outsider, removed, excluded, staff, manager
RANKING_SCREEN = (302, 404, 404, 403, 404, 200)


@pytest.mark.parametrize("persona", PERSONAS)
def test_ranking_screen(world, client, persona):
    response = _browser(client, world, persona).get(reverse("label", args=[world.project.pk]))
    assert response.status_code == RANKING_SCREEN[PERSONAS.index(persona)]
    if persona == "anonymous":
        assert response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_docs(world, client, persona):
    response = _browser(client, world, persona).get(reverse("api-docs"))
    if persona == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    else:
        assert response.status_code == 200  # every logged-in user: labelers use the API too


# The admin is Django's: non-staff go to the admin login; staff need the model permissions.
# Downloads of the admin's exports go through the API's export-file path (above).
ADMIN = {"export": (302, 302, 302, 302, 403, 200)}


@pytest.mark.parametrize("what", ADMIN)
@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_import_export(world, client, persona, what):
    url = reverse("admin:annotate_project_export", args=[world.project.pk])
    response = _browser(client, world, persona).get(url)
    assert response.status_code == ADMIN[what][PERSONAS.index(persona)]
    if response.status_code == 302:
        assert response["Location"].startswith(ADMIN_LOGIN)


def test_a_superuser_is_a_manager(world, admin_client):
    assert admin_client.get(reverse("runs")).status_code == 200


def test_an_inactive_manager_is_not(world, client):
    manager = world.users["manager"]
    client.force_login(manager)
    manager.is_active = False
    manager.save()
    response = client.get(reverse("runs"))
    assert response.status_code == 302  # logged out: an inactive user has no session
