"""The OpenAPI schema of the annotation API: generates cleanly, validates, lists every path."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests.annotate.api_client import client_for
from tests.factories import make_user

OUR_PATHS = {
    "/api/token/": {"post"},
    "/api/projects/": {"get"},
    "/api/projects/{project_id}/next/": {"get"},
    "/api/projects/{project_id}/me/": {"get"},
    "/api/projects/{project_id}/progress/": {"get"},
    "/api/projects/{project_id}/export/": {"post"},
    "/api/projects/{project_id}/exports/{name}/{filename}": {"get"},
    "/api/assignments/{assignment_id}/": {"get"},
    "/api/assignments/{assignment_id}/judgment/": {"post"},
    "/api/assignments/{assignment_id}/skip/": {"post"},
    "/api/judgments/undo/": {"post"},
}


def test_it_generates_the_api_schema_without_warnings_or_errors():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/", include("annotate.api.urls"))])
    schema = generator.get_schema(request=None, public=True)
    problems = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert not problems, problems
    validate_schema(schema)
    assert {p: set(ops) - {"parameters"} for p, ops in schema["paths"].items()} == OUR_PATHS
    judgment = schema["paths"]["/api/assignments/{assignment_id}/judgment/"]["post"]
    assert {"200", "201", "400", "404", "409"} <= set(judgment["responses"])
    assert [p["name"] for p in judgment["parameters"] if p["in"] == "query"] == ["next"]


def _annotate_schema() -> dict:
    return SchemaGenerator(patterns=[path("api/", include("annotate.api.urls"))]).get_schema(
        request=None, public=True
    )


def test_it_documents_the_token_endpoints_400_as_it_answers_it(db):
    """Both 400s the token endpoint gives, a bad body and a wrong password, are in the schema with
    the error body's shape, and the examples are what it really answers."""
    schema = _annotate_schema()
    bad = schema["paths"]["/api/token/"]["post"]["responses"]["400"]
    content = bad["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "error"]
    examples = {e["summary"]: e["value"] for e in content["examples"].values()}
    assert set(examples) == {"invalid", "bad_credentials"}
    assert "bad_credentials" in bad["description"]

    make_user("dana")
    client = APIClient()
    no_password = client.post("/api/token/", {"username": "dana"}, format="json")
    wrong_password = client.post("/api/token/", {"username": "dana", "password": "nope"}, format="json")
    assert (no_password.status_code, wrong_password.status_code) == (400, 400)
    assert no_password.json() == examples["invalid"]
    assert wrong_password.json() == examples["bad_credentials"]


def test_it_serves_the_schema_and_the_docs(alice):
    schema = client_for(alice).get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert OUR_PATHS.keys() <= schema.json()["paths"].keys()
    browser = APIClient()
    browser.force_login(alice)  # schema and docs are for logged-in users (tests/security)
    docs = browser.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
