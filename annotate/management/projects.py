"""How a management command finds the project it is given (`--project NAME`): one lookup, one message."""

from __future__ import annotations

from django.core.management.base import CommandError

from annotate.models import Project


def project_named(name: str, *, create: bool = False, create_hint: str = "") -> Project:
    """The project called `name`; with `create`, a new one when there is none. Otherwise a
    CommandError that lists the projects there are (the first 20)."""
    project = Project.objects.filter(name=name).first()
    if project is None and create:
        return Project.objects.create(name=name)
    if project is None:
        known = ", ".join(Project.objects.order_by("name").values_list("name", flat=True)[:20]) or "none yet"
        hint = f" ({create_hint})" if create_hint else ""
        raise CommandError(f"No project named {name!r}{hint}. Projects: {known}.")
    return project
