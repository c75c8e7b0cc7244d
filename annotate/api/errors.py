"""Every API error is JSON with a human message: {"error": "...", "code": "..."}."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from pairwise.errors import PairwiseError


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = f"{prefix}{key}" if key != "non_field_errors" else prefix.rstrip(".")
            out += _flatten(value, f"{name}." if name else "")
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    field = prefix.rstrip(".")
    return [f"{field}: {detail}" if field else str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, PairwiseError):
        return Response(exc.as_dict(), status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = {"error": "; ".join(_flatten(exc.detail)), "code": "invalid", "fields": exc.detail}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = (
            response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        )
        response.data = {"error": str(detail), "code": getattr(exc, "default_code", "error")}
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under /api/ a JSON error like every other API answer, elsewhere Django's page.

    Reached when no URL matches (/api/projects/abc/, /api/nope/); a 404 raised inside an API view
    is already JSON (exception_handler above).
    """
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"error": f"No such API endpoint: {request.path}", "code": "not_found"}, status=404
        )
    return page_not_found(request, exception)
