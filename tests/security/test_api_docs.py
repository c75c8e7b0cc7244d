"""The API docs load Swagger UI from our own static files (drf-spectacular-sidecar), not a public
CDN, and neither the docs nor the schema are open to anonymous visitors."""

from __future__ import annotations

import re

from django.urls import reverse
from rest_framework.test import APIClient

from tests.annotate.api_client import client_for


def test_it_serves_swagger_ui_from_our_static_files(client, alice):
    client.force_login(alice)
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    html = page.content.decode()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html) + re.findall(r"""["'](https?://[^"']+)""", html)
    scripts = re.findall(r"""<script[^>]*\ssrc=["']([^"']+)""", html)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
    assert not [u for u in urls if re.match(r"(https?:)?//", u)], urls
    bundle = next(src for src in scripts if "swagger-ui-bundle" in src)
    assert client.get(bundle).status_code == 200  # WhiteNoise serves it


def test_it_refuses_the_docs_and_the_schema_to_anonymous_visitors(client):
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 302 and docs["Location"].startswith("/accounts/login/")
    schema = APIClient().get(reverse("schema"))
    # As the README says of every API call: 401 naming the scheme, not a bare 403.
    assert schema.status_code == 401, schema.status_code
    assert schema["WWW-Authenticate"] == "Token"
    as_json = APIClient().get(reverse("schema"), {"format": "json"})
    assert as_json.status_code == 401 and as_json.json()["code"] == "not_authenticated"


def test_it_serves_the_schema_to_a_session_or_a_token(client, alice):
    client.force_login(alice)
    assert client.get(reverse("schema")).status_code == 200
    assert client_for(alice).get(reverse("schema")).status_code == 200
    bad_token = APIClient(HTTP_AUTHORIZATION="Token nope").get(reverse("schema"))
    assert bad_token.status_code == 401 and bad_token["WWW-Authenticate"] == "Token"
