"""Booleans in the API mean what the schema says: a JSON body's boolean is true or false, nothing
DRF would read as one (0, 1, "0", "yes", "on"); a query flag (?next=) is true/false or the README's
1/0, and anything else is a 400 rather than a silent false."""

from __future__ import annotations

import pytest

from annotate.exporting.store import export_store_list
from annotate.models import Judgment
from annotate.services import comparison_assign_next
from tests.annotate.api_client import client_for
from tests.factories import make_comparison

NOT_BOOLEANS = [0, 1, "0", "1", "true", "false", "yes", "on", "", [], {}]


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def _export(manager, project, body: dict):
    return client_for(manager).post(f"/api/projects/{project.pk}/export/", body, format="json")


@pytest.mark.parametrize("field", ["keep_ties", "conversational"])
@pytest.mark.parametrize("value", NOT_BOOLEANS, ids=repr)
def test_export_flags_refuse_what_is_not_a_json_boolean(manager, project, field, value):
    make_comparison(project)
    response = _export(manager, project, {field: value})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == f"{field}: Must be true or false (a JSON boolean)."
    assert export_store_list(project=project) == []


@pytest.mark.parametrize("body", [{"keep_ties": True}, {"keep_ties": False}, {"conversational": None}, {}])
def test_export_flags_take_true_false_and_where_allowed_null(manager, project, body):
    make_comparison(project)
    assert _export(manager, project, body).status_code == 201


def test_keep_ties_may_not_be_null(manager, project):
    assert _export(manager, project, {"keep_ties": None}).status_code == 400


def _judge(user, project, query: str):
    assignment = comparison_assign_next(labeler=user, project=project)
    url = f"/api/assignments/{assignment.pk}/judgment/{query}"
    return client_for(user).post(url, {"choice": "A", "client_id": f"c-{assignment.pk}"}, format="json")


@pytest.mark.parametrize("query,with_next", [
    ("?next=1", True), ("?next=true", True), ("?next=True", True),
    ("?next=0", False), ("?next=false", False), ("", False),
])  # fmt: skip
def test_the_next_flag_takes_true_false_1_and_0(alice, project, comparisons, query, with_next):
    response = _judge(alice, project, query)
    assert response.status_code == 201, response.content
    assert ("next" in response.json()) is with_next


@pytest.mark.parametrize("value", ["yes", "on", "2", "", "nope"])
def test_the_next_flag_refuses_anything_else_before_storing_the_judgment(alice, project, comparisons, value):
    response = _judge(alice, project, f"?next={value}")
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"next": ["must be true or false (or 1 or 0)."]}
    assert not Judgment.objects.exists()
