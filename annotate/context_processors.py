"""What every page's top bar needs: whether the user is a manager, and the manager's sections."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from annotate.permissions import is_manager

# (label, URL name, the path prefixes that belong to it): the manager's top bar, in this order.
MANAGER_SECTIONS = (
    ("Projects", "home", ("/projects/", "/data-jobs/")),
    ("Runs", "runs", ("/runs/",)),
    ("Models", "models", ("/models/", "/generation/")),
    ("Quality", "quality:index", ("/quality/",)),
    ("Reports", "reports", ("/reports/",)),
    ("Admin", "admin:index", ("/admin/",)),
)


def nav(request: HttpRequest) -> dict:
    manager = is_manager(getattr(request, "user", None))
    if not manager:
        return {"is_manager": False, "manager_nav": []}
    sections = []
    for label, name, prefixes in MANAGER_SECTIONS:
        url = reverse(name)
        current = request.path == url if url == "/" else request.path.startswith((url, *prefixes))
        sections.append({"label": label, "url": url, "current": current})
    return {"is_manager": True, "manager_nav": sections}
