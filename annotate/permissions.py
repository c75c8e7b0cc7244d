"""Who is a manager: the one guard every manager page and API endpoint uses.

A manager is an active user who holds MANAGER_PERMISSION, which the `managers` group carries
(migration 0004_user_groups gives it every annotate permission); superusers hold every permission.
The staff flag alone is not enough: it only opens the admin, where Django's own model
permissions decide what a staff user sees. Everyone else gets 403 (anonymous pages: the login).

Labelers are checked elsewhere, per project (annotate.services.labeler_access_check).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission

# Changing a project is what running one takes (its pairs, exports, runs, quality pages).
MANAGER_PERMISSION = "annotate.change_project"


def is_manager(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Active and holding MANAGER_PERMISSION (superusers hold every permission)."""
    return bool(user is not None and user.is_active and user.has_perm(MANAGER_PERMISSION))


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages for managers: anonymous users go to the login page, everyone else gets 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_manager(request.user):
            raise PermissionDenied("Managers only.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


class IsManager(BasePermission):
    """DRF: managers only (anonymous calls answer 401 through the view's authenticators)."""

    message = "Managers only."

    def has_permission(self, request, view) -> bool:
        return is_manager(request.user)


def client_address_behind_proxy(request: HttpRequest) -> str | None:
    """The client's address as the one proxy in front of us (PAIRWISE_BEHIND_PROXY) saw it: the
    last entry of X-Forwarded-For, which that proxy appended; entries before it are the client's
    own claims. The same rule as DRF's throttles with NUM_PROXIES = 1."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.split(",")[-1].strip()
    return last or request.META.get("REMOTE_ADDR")
