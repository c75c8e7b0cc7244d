"""Stored reports: the manager pages read these instead of recomputing."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotate.models import Project, QualitySnapshot

# Keep this many stored snapshots per project and kind; older ones are deleted on store.
SNAPSHOTS_KEPT = 10


def snapshot_store(
    *, project: Project, kind: str, data: dict, params: dict, by: AbstractBaseUser | None = None
) -> QualitySnapshot:
    """Store a computed report; keep the newest SNAPSHOTS_KEPT of its kind."""
    with transaction.atomic():
        snapshot = QualitySnapshot.objects.create(
            project=project,
            kind=kind,
            params=params,
            data=data,
            seconds=float(data.get("seconds") or 0.0),
            computed_by=by if by is not None and by.is_authenticated else None,
        )
        old = QualitySnapshot.objects.filter(project=project, kind=kind).order_by("-computed_at", "-pk")
        stale = list(old.values_list("pk", flat=True)[SNAPSHOTS_KEPT:])
        if stale:
            QualitySnapshot.objects.filter(pk__in=stale).delete()
    return snapshot


def snapshot_latest(*, project: Project, kind: str) -> QualitySnapshot | None:
    return QualitySnapshot.objects.filter(project=project, kind=kind).order_by("-computed_at", "-pk").first()
