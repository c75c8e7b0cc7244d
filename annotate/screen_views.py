"""The ranking screen's own small JSON endpoints (session auth + CSRF), thin over annotate.services.

The screen keeps a queue of leased pairs in the browser: `lease` adds one ahead of the pair on
screen, `judgment` and `skip` are sent in the background from a local outbox (retried with the same
client id until acknowledged), `undo` takes the last judgment back. Errors are JSON
{"error", "code"} with the HTTP status of pairwise.errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt

from annotate.markdown import render_markdown
from annotate.models import Assignment, Judgment, Project, Response
from annotate.services import (
    SCREEN_COUNT_CAP,
    LabelerStats,
    assignment_for_labeler,
    assignment_skip,
    comparison_lease_ahead,
    judgment_input_from,
    judgment_record,
    judgment_undo,
    labeler_stats,
    project_for_labeler,
)
from pairwise.errors import NotFound, PairwiseError

_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}

# --- what the browser gets for one leased pair ---------------------------------------------------


def _side(response: Response) -> dict[str, Any]:
    text = response.text
    # A response of several turns (an imported HH side) is shown as its turns.
    html = _conversation_html(response.messages) if response.messages else render_markdown(text)
    # No model name: the labeler judges blind.
    return {"html": html, "chars": len(text), "tokens": round(len(text) / 4)}


def _conversation_html(messages: list[dict[str, Any]]) -> str:
    turns = []
    for message in messages:
        role = str(message.get("role", ""))
        label = _ROLES.get(role, role.title() or "Message")
        css = role if role in _ROLES else "other"
        content = mark_safe(render_markdown(str(message.get("content", ""))))  # sanitized by nh3
        turns.append((css, label, content))
    return format_html_join(
        "",
        '<section class="turn turn-{}"><h3 class="role">{}</h3><div class="md">{}</div></section>',
        turns,
    )


def assignment_payload(assignment: Assignment) -> dict[str, Any]:
    """One pair as shown: A and B in the assignment's recorded side order, HTML sanitized here."""
    shown_a, shown_b = assignment.shown()
    messages = assignment.comparison.prompt.messages or []
    return {
        "id": assignment.pk,
        # Relative, so the browser's clock does not matter.
        "expires_in": max(0.0, (assignment.expires_at - timezone.now()).total_seconds()),
        "prompt_html": _conversation_html(messages),
        "turns": len(messages),
        "a": _side(shown_a),
        "b": _side(shown_b),
    }


def stats_payload(stats: LabelerStats) -> dict[str, int | None]:
    return {
        "today": stats.judged_today,
        "total": stats.judged_total,
        "remaining_for_me": stats.remaining_for_me,
        "project_remaining": stats.project_remaining,
        "capped_at": stats.capped_at,  # a count equal to it means "at least this many"
    }


def screen_stats_payload(labeler: AbstractBaseUser, project: Project) -> dict[str, int | None]:
    """The labeler's counts as the screen shows them: what is left, counted up to the cap."""
    return stats_payload(labeler_stats(labeler=labeler, project=project, cap=SCREEN_COUNT_CAP))


def guidelines_html(project: Project) -> str:
    """The project's guidelines as paragraphs: a single newline in the text does not break a line."""
    return format_html("{}", mark_safe(render_markdown(project.guidelines, paragraphs=True)))


# --- plumbing -------------------------------------------------------------------------------------


def _error(message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status)


def _csrf_failed(request: HttpRequest) -> bool:
    # Django's own check, answered as JSON instead of its HTML 403 page.
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None


def screen_endpoint(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """POST only, logged in, CSRF-checked, JSON object body in; domain errors out as JSON."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if request.method != "POST":
            return _error("Use POST.", "method_not_allowed", 405)
        if not request.user.is_authenticated:
            return _error(
                "You are logged out. Log in again; judgments not yet sent stay in this browser.",
                "not_authenticated",
                401,
            )
        expected = request.headers.get("X-Pairwise-User")
        if expected and expected != str(request.user.pk):
            # The page was opened by someone else than who is logged in now: keep their outbox.
            return _error(
                "Someone else is logged in in this browser now. Log in as the labeler who opened this "
                "page; their judgments not yet sent stay in this browser.",
                "wrong_user",
                403,
            )
        if _csrf_failed(request):
            return _error(
                "Your session changed (logged in elsewhere?). Reload the page; "
                "judgments not yet sent stay in this browser.",
                "csrf",
                403,
            )
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error("The request body is not valid JSON.", "invalid", 400)
        if not isinstance(body, dict):
            return _error("The request body must be a JSON object.", "invalid", 400)
        try:
            return view(request, body, *args, **kwargs)
        except PairwiseError as exc:
            return JsonResponse(exc.as_dict(), status=exc.status)

    wrapped.__name__ = view.__name__
    return csrf_exempt(wrapped)


def _own_assignment(labeler: AbstractBaseUser, project_id: int, assignment_id: int) -> None:
    # Membership and exclusion are the services' to check (labeler_access_check): a labeler removed
    # or excluded since the lease gets 403 there, and the lease goes back to the pool.
    if not Assignment.objects.filter(pk=assignment_id, labeler=labeler, project_id=project_id).exists():
        raise NotFound(f"No assignment {assignment_id} for you in this project.")


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key) or ""
    if not isinstance(value, str):
        raise PairwiseError(f"{key} must be text.")
    if len(value) > limit:
        raise PairwiseError(f"{key} is too long (at most {limit} characters).")
    return value


# --- endpoints ------------------------------------------------------------------------------------


def _lease_ahead(labeler: AbstractBaseUser, project: Project) -> dict[str, Any]:
    assignment = comparison_lease_ahead(labeler=labeler, project=project)
    return {
        "assignment": assignment_payload(assignment) if assignment else None,
        "stats": screen_stats_payload(labeler, project),
    }


@screen_endpoint
def lease(request: HttpRequest, body: dict[str, Any], project_id: int) -> JsonResponse:
    """Lease one more pair ahead of those on the labeler's screen."""
    project = project_for_labeler(labeler=request.user, project_id=project_id)
    return JsonResponse(_lease_ahead(request.user, project))


@screen_endpoint
def judgment(request: HttpRequest, body: dict[str, Any], project_id: int, assignment_id: int) -> JsonResponse:
    """Store a judgment. With `"next": true` the answer also carries `next`, what `lease` would
    answer (or its error), so the screen refills its queue in the same round trip."""
    _own_assignment(request.user, project_id, assignment_id)
    data = judgment_input_from(body)  # the API checks its bodies with the same function
    stored, created = judgment_record(labeler=request.user, assignment_id=assignment_id, data=data)
    answer: dict[str, Any] = {"client_id": stored.client_id, "judgment_id": stored.pk, "created": created}
    if body.get("next") is True:
        try:
            project = project_for_labeler(labeler=request.user, project_id=project_id)
            answer["next"] = _lease_ahead(request.user, project)
        except PairwiseError as exc:  # the judgment is stored; the screen handles this like `lease`
            answer["next"] = {**exc.as_dict(), "status": exc.status}
    return JsonResponse(answer, status=201 if created else 200)


@screen_endpoint
def skip(request: HttpRequest, body: dict[str, Any], project_id: int, assignment_id: int) -> JsonResponse:
    _own_assignment(request.user, project_id, assignment_id)
    assignment = assignment_skip(
        labeler=request.user, assignment_id=assignment_id, reason=_text(body, "reason", 500)
    )
    return JsonResponse({"assignment_id": assignment.pk, "state": assignment.state})


@screen_endpoint
def undo(request: HttpRequest, body: dict[str, Any], project_id: int) -> JsonResponse:
    """Take back a judgment while its lease lasts; the pair becomes the current one again.

    The labeler's other leases in the project are released (judgment_undo), so the screen drops
    the pairs it had prefetched and leases new ones.
    """
    project = project_for_labeler(labeler=request.user, project_id=project_id)
    client_id = _text(body, "client_id", 64)
    if not client_id:
        raise PairwiseError("client_id is required.")
    if not Judgment.objects.filter(
        client_id=client_id, labeler=request.user, comparison__project=project
    ).exists():
        raise NotFound("No judgment of yours with that client id in this project.")
    undone = judgment_undo(labeler=request.user, client_id=client_id)
    assignment = assignment_for_labeler(labeler=request.user, assignment_id=undone.pk)
    return JsonResponse(
        {
            "assignment": assignment_payload(assignment),
            "stats": screen_stats_payload(request.user, project),
        }
    )
