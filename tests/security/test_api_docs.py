"""The API docs load Swagger UI from our own static files (drf-spectacular-sidecar), not a public
CDN, and neither the docs nor the schema are open to anonymous visitors."""

from __future__ import annotations

import re

from django.urls import reverse
from rest_framework.test import APIClient


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
    assert schema.status_code in (401, 403)
