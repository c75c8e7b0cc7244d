"""One set of rules for a judgment (services.judgment_input_from), through the ranking screen and
through the API: the same bad body gets the same 400 naming the field, nothing is stored, and the
raw export stays JSON."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from annotate.exporting.build import judgments_export_raw
from annotate.models import Judgment
from annotate.services import JudgmentInput, comparison_assign_next, judgment_input_from
from pairwise.errors import InvalidInput
from tests.annotate.api_client import client_for

GOOD = {"choice": "A", "client_id": "c-1", "strength": 2, "rationale": "", "seconds_on_task": 7.5}

# (JSON text of the bad value, the field the answer names). Written as JSON text: the screen's
# body is parsed by Python's json module, which reads Infinity and NaN; 1e400 reads as inf anywhere.
BAD_VALUES = [
    ('"seconds_on_task": 1e400', "seconds_on_task"),
    ('"seconds_on_task": 1e300', "seconds_on_task"),
    ('"seconds_on_task": 86401', "seconds_on_task"),
    ('"seconds_on_task": -1', "seconds_on_task"),
    ('"seconds_on_task": "7.5"', "seconds_on_task"),
    ('"seconds_on_task": "NaN"', "seconds_on_task"),
    ('"seconds_on_task": "Infinity"', "seconds_on_task"),
    ('"seconds_on_task": true', "seconds_on_task"),
    ('"seconds_on_task": 1' + "0" * 400, "seconds_on_task"),  # an int too big for a float
    ('"strength": 4', "strength"),
    ('"strength": "2"', "strength"),
    ('"strength": true', "strength"),
    ('"strength": 1.5', "strength"),
    ('"choice": "a"', "choice"),
    ('"choice": ["A"]', "choice"),
    ('"choice": null', "choice"),
    ('"client_id": ""', "client_id"),
    ('"client_id": " c-1"', "client_id"),
    ('"client_id": "' + "x" * 65 + '"', "client_id"),
    ('"client_id": 12', "client_id"),
    ('"rationale": "' + "r" * 5001 + '"', "rationale"),
    ('"rationale": null', "rationale"),
]


def body_with(change: str) -> str:
    """GOOD as JSON text with one field replaced by the raw JSON text `change`."""
    field = json.loads("{" + change.replace("Infinity", "0").replace("NaN", "0") + "}").popitem()[0]
    rest = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in GOOD.items() if k != field)
    return "{" + rest + ", " + change + "}"


def body_without(field: str) -> str:
    return json.dumps({k: v for k, v in GOOD.items() if k != field})


@pytest.fixture
def leased(alice, project, comparisons):
    return comparison_assign_next(labeler=alice, project=project)


def via_screen(alice, project, assignment, body: str):
    client = Client()
    client.force_login(alice)
    url = reverse("label-judgment", args=[project.pk, assignment.pk])
    return client.post(url, data=body, content_type="application/json")


def via_api(alice, project, assignment, body: str):
    url = f"/api/assignments/{assignment.pk}/judgment/"
    return client_for(alice).post(url, data=body, content_type="application/json")


PATHS = [via_screen, via_api]


@pytest.mark.parametrize("change,field", BAD_VALUES, ids=[c[:40] for c, _ in BAD_VALUES])
def test_it_refuses_a_bad_value_the_same_way_on_the_screen_and_the_api(alice, project, leased, change, field):
    answers = [send(alice, project, leased, body_with(change)) for send in PATHS]
    for answer in answers:
        assert answer.status_code == 400, answer.content
        assert answer.json()["code"] == "invalid"
        assert list(answer.json()["fields"]) == [field]
        assert answer.json()["error"].startswith(f"{field}: ")
    assert answers[0].json() == answers[1].json()
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_it_refuses_non_json_numbers_on_both_paths(alice, project, leased, literal):
    body = body_with(f'"seconds_on_task": {literal}')
    screen = via_screen(alice, project, leased, body)
    # Python's json reads these; the screen's rules then refuse them, naming the field.
    assert screen.status_code == 400 and list(screen.json()["fields"]) == ["seconds_on_task"]
    # The API's parser is strict JSON and refuses the body before any field is read.
    api = via_api(alice, project, leased, body)
    assert api.status_code == 400 and api.json()["code"] == "parse_error"
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("field", ["choice", "client_id"])
def test_it_requires_choice_and_client_id_on_both_paths(alice, project, leased, field):
    answers = [send(alice, project, leased, body_without(field)) for send in PATHS]
    assert [a.status_code for a in answers] == [400, 400]
    assert (
        answers[0].json()
        == answers[1].json()
        == {
            "error": f"{field}: is required.",
            "code": "invalid",
            "fields": {field: ["is required."]},
        }
    )


@pytest.mark.parametrize("send", PATHS)
@pytest.mark.parametrize("optional", ["strength", "rationale", "seconds_on_task"])
def test_it_accepts_a_judgment_without_the_optional_fields(alice, project, leased, send, optional):
    answer = send(alice, project, leased, body_without(optional))
    assert answer.status_code == 201, answer.content
    assert Judgment.objects.get().seconds_on_task == (None if optional == "seconds_on_task" else 7.5)


@pytest.mark.parametrize("send", PATHS)
@pytest.mark.parametrize("seconds", ["0", "86400", "12", "0.25"])
def test_it_accepts_seconds_within_a_day_as_a_float(alice, project, leased, send, seconds):
    answer = send(alice, project, leased, body_with(f'"seconds_on_task": {seconds}'))
    assert answer.status_code == 201, answer.content
    stored = Judgment.objects.get().seconds_on_task
    assert stored == float(seconds) and isinstance(stored, float)


def test_a_judgment_input_cannot_be_made_invalid_from_python():
    with pytest.raises(InvalidInput) as caught:
        JudgmentInput(choice="A", client_id="c", seconds_on_task=float("inf"))
    assert caught.value.field == "seconds_on_task"
    with pytest.raises(InvalidInput):
        JudgmentInput(choice="A", client_id="c", seconds_on_task=float("nan"))
    assert judgment_input_from({"choice": "tie", "client_id": "c", "extra": 1}).seconds_on_task is None


def test_the_raw_export_holds_only_json_after_bad_and_good_submissions(alice, project, leased, tmp_path):
    for change, _ in BAD_VALUES:
        for send in PATHS:
            send(alice, project, leased, body_with(change))
    for literal in ("Infinity", "NaN"):
        via_screen(alice, project, leased, body_with(f'"seconds_on_task": {literal}'))
    assert via_screen(alice, project, leased, json.dumps(GOOD)).status_code == 201
    out = tmp_path / "raw.jsonl"
    assert judgments_export_raw(project=project, out_path=out) == 1

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    rows = [json.loads(line, parse_constant=refuse) for line in out.read_text().splitlines()]
    assert [row["seconds_on_task"] for row in rows] == [7.5]
