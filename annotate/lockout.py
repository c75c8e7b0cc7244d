"""What a locked-out login is told (settings.AXES_LOCKOUT_CALLABLE, and POST /api/token/): how long
until that username may try again from that address, read from django-axes' own attempt rows.

axes keeps one AccessAttempt row per username, address and user agent, stamped with its latest
failure. The pair is locked while the rows stamped within AXES_COOLOFF_TIME add up to
AXES_FAILURE_LIMIT failures, so it frees up one cool-off after the newest row that still makes
the limit. With AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT (axes' default, and ours) a try while
locked is a failure too, so each one starts the wait again; the page says so.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def _unlocked_at(rows: list[tuple[datetime, int]], *, limit: int, cool_off: timedelta) -> datetime | None:
    """When rows of (latest failure, failures) stop adding up to the limit within the cool-off."""
    total = 0
    for attempt_time, failures in sorted(rows, reverse=True):
        total += failures
        if total >= limit:
            return attempt_time + cool_off
    return None


def lockout_remaining(request: HttpRequest, credentials: dict | None = None) -> timedelta:
    """How long this request's username + address stays locked out (zero if it is not)."""
    cool_off = get_cool_off(request) or timedelta(0)
    limit = get_failure_limit(request, credentials)
    # One queryset per lockout parameter set; the pair is locked while any of them is.
    ends = [
        _unlocked_at(
            list(attempts.values_list("attempt_time", "failures_since_start")), limit=limit, cool_off=cool_off
        )
        for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials)
    ]
    until = max((end for end in ends if end is not None), default=None)
    return max(until - timezone.now(), timedelta(0)) if until is not None else timedelta(0)


def wait_text(wait: timedelta) -> str:
    """'15 minutes', '1 minute': rounded up, so a labeler who waits that long is let in."""
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def retry_after_seconds(wait: timedelta) -> str:
    """The Retry-After header's value: whole seconds, rounded up."""
    return str(max(1, math.ceil(wait.total_seconds())))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login form's and the admin login's answer to a locked-out try (429, with Retry-After)."""
    wait = lockout_remaining(request, credentials)
    context = {
        "wait": wait_text(wait),
        "each_try_restarts": settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT,
    }
    response = render(
        request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    response["Retry-After"] = retry_after_seconds(wait)
    return response
