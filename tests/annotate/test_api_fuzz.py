"""Fuzz every API operation from its OpenAPI schema (schemathesis), as a labeler and as a manager.

Each operation gets schema-valid and schema-invalid requests (random bodies, query strings and path
parameters such as /api/projects/abc/), sent in-process to the WSGI app with a token. Every answer
must be documented: no 500, a status code the schema lists, the content type and body it promises;
schema-valid input must not be refused with a 400 and schema-invalid input must be refused.

Bounded and deterministic: MAX_EXAMPLES per operation and persona, hypothesis derandomized, no
example database. The schema comes from drf-spectacular's generator in-process, so it is exactly
what /api/schema/ serves.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import schemathesis
from celery.exceptions import TimeoutError as CeleryTimeout
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from annotate.services import comparison_assign_next
from tests.annotate.api_client import client_for
from tests.factories import make_comparisons, make_project, make_user

MAX_EXAMPLES = 20


def _api_schema() -> dict:
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    # A view the generator cannot read is left out of the schema, and so out of this test.
    problems = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert not problems, problems
    return generated


API_SCHEMA = _api_schema()
# Every operation (the schema document itself is not one: SERVE_INCLUDE_SCHEMA is off).
OPERATIONS = {
    (method.upper(), path): operation
    for path, operations in API_SCHEMA["paths"].items()
    for method, operation in operations.items()
    if method in ("get", "post", "put", "patch", "delete")
}
assert "/api/schema/" not in API_SCHEMA["paths"]
schema = schemathesis.openapi.from_dict(copy.deepcopy(API_SCHEMA))
# Requests go in-process to the real WSGI app (schemathesis' own probes too, e.g. without auth).
schema.app = WSGIHandler()


@pytest.fixture
def in_test_transaction():
    """Let the WSGI app run inside the test's transaction.

    Django's WSGIHandler closes "old" connections at the start and end of each request, and a
    connection inside the test's atomic block looks old to it (autocommit is off), so it would be
    closed under the test. Django's own test Client unhooks the same two signals.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, monkeypatch):
    """A project with comparisons, a labeler holding a lease, a manager, and their tokens."""
    labeler = make_user("fuzz-labeler")
    manager = make_user("fuzz-manager", manager=True, labeler=False)
    project = make_project("Fuzzed", labelers=(labeler,), overlap_k=2)
    make_comparisons(project, 3)
    comparison_assign_next(labeler=labeler, project=project)

    # No Celery worker or result backend in this test: a polled score is always still pending
    # (the documented 202), instead of each call waiting a second on the result backend.
    class NeverReady:
        def __init__(self, task_id, app=None):
            self.id = task_id

        def get(self, *args, **kwargs):
            raise CeleryTimeout()

    monkeypatch.setattr("rewardmodel.evaluation.scoring_api.AsyncResult", NeverReady)
    return {
        "labeler": Token.objects.create(user=labeler).key,
        "manager": Token.objects.create(user=manager).key,
    }


@pytest.mark.parametrize("persona", ["labeler", "manager"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_it_answers_every_request_as_documented(case, persona, world, in_test_transaction):
    case.call_and_validate(headers={"Authorization": f"Token {world[persona]}"})


def test_it_fuzzes_every_api_operation():
    assert {path for _, path in OPERATIONS} >= {
        "/api/token/",
        "/api/projects/{project_id}/next/",
        "/api/assignments/{assignment_id}/judgment/",
        "/api/models/{id}/score/",
        "/api/models/score/{task_id}/",
    }


# --- bad input on every operation, spelled out ----------------------------------------------------

BAD_SEGMENTS = ["abc", "-1", "0", "9" * 30, "null,null", "%20", "x" * 2000]


def _body_schema(operation: dict) -> dict:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = API_SCHEMA["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return body


def _bad_bodies(operation: dict) -> list:
    """No body, the wrong JSON type, and every property blank, huge, or of the wrong type."""
    properties = _body_schema(operation).get("properties", {})
    return [
        None,
        [],
        {name: "" for name in properties},
        {name: "x" * 100_000 for name in properties},
        {name: {"nested": True} for name in properties},
        {name: 10**300 for name in properties},
    ]


@pytest.mark.parametrize("persona", ["labeler", "manager"])
@pytest.mark.parametrize("method,path", sorted(OPERATIONS), ids=" ".join)
def test_it_answers_bad_input_with_a_json_error(db, world, persona, method, path):
    """Bad path parameters, blank and huge strings, unknown ids: a JSON error, never HTML or 500."""
    client = client_for(Token.objects.get(key=world[persona]).user)
    urls = [re.sub(r"{[^}]+}", segment, path) for segment in BAD_SEGMENTS]
    for url in urls:
        for body in _bad_bodies(OPERATIONS[(method, path)]) if method != "GET" else [None]:
            response = client.generic(method, url, json.dumps(body), content_type="application/json")
            assert response.status_code < 500, (url, body, response.content[:300])
            assert response["Content-Type"] == "application/json", (url, response.content[:300])
            # Not every such request is wrong: GET /api/projects/ has nothing to get wrong, and any
            # task id is one a worker may not have finished (202).
            if response.status_code >= 400:
                assert set(response.json()) >= {"error", "code"}
