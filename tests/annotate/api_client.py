"""Clients that authenticate the way real callers do (a DRF token), for the API tests."""

from __future__ import annotations

from typing import Any

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def walk_keys(data: Any) -> set[str]:
    """Every key anywhere in a JSON body."""
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in walk_keys(v)}
    if isinstance(data, list):
        return {k for item in data for k in walk_keys(item)}
    return set()
