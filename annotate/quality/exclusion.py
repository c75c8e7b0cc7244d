"""Excluding a labeler from a project, and taking it back.

An exclusion is a LabelerExclusion row; it is active while lifted_at is null, and at most one is
active per (project, labeler) (a database constraint, so two managers clicking at once get one
exclusion and one clear error). Nothing is deleted: reinstating stamps lifted_at/lifted_by, and
the history of who excluded whom, when and why stays.

While active: the labeler gets no new assignments (comparison_assign_next refuses), their
judgments drop out of agreement figures (the quality report) and out of exports and training data
(the exporter filters on active exclusions).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotate.models import Assignment, LabelerExclusion, Project
from pairwise.errors import Conflict, PairwiseError


def labeler_exclude(
    *, project: Project, labeler: AbstractBaseUser, reason: str, by: AbstractBaseUser
) -> LabelerExclusion:
    """Exclude `labeler` from `project`, recording who and why; their open lease is released so
    the comparison goes back to the pool. Conflict if they are already excluded."""
    reason = (reason or "").strip()
    if not reason:
        raise PairwiseError("Give a reason for the exclusion; it is kept with the record.", code="reason")
    if labeler.pk == by.pk:
        raise PairwiseError("You cannot exclude yourself.", code="self")
    now = timezone.now()
    try:
        with transaction.atomic():
            exclusion = LabelerExclusion.objects.create(
                project=project, labeler=labeler, reason=reason[:2000], excluded_by=by, created_at=now
            )
            Assignment.objects.filter(project=project, labeler=labeler, state=Assignment.State.ACTIVE).update(
                state=Assignment.State.RELEASED, closed_at=now
            )
    except IntegrityError:
        raise Conflict(
            f"{labeler.get_username()} is already excluded from {project.name}.", code="already_excluded"
        ) from None
    return exclusion


def labeler_reinstate(
    *, project: Project, labeler: AbstractBaseUser, by: AbstractBaseUser
) -> LabelerExclusion:
    """Lift the active exclusion. Conflict if there is none (already reinstated, or never excluded)."""
    with transaction.atomic():
        exclusion = (
            LabelerExclusion.objects.select_for_update()
            .filter(project=project, labeler=labeler, lifted_at__isnull=True)
            .first()
        )
        if exclusion is None:
            raise Conflict(
                f"{labeler.get_username()} is not excluded from {project.name}.", code="not_excluded"
            )
        exclusion.lifted_at, exclusion.lifted_by = timezone.now(), by
        exclusion.save(update_fields=["lifted_at", "lifted_by"])
    return exclusion


def exclusions_active(*, project: Project) -> dict[int, LabelerExclusion]:
    """Active exclusions of a project by labeler id."""
    return {
        e.labeler_id: e
        for e in LabelerExclusion.objects.filter(project=project, lifted_at__isnull=True).select_related(
            "excluded_by"
        )
    }


def exclusions_changed_at(*, project: Project) -> datetime | None:
    """When the set of excluded labelers last changed (None if never): the page compares it with
    the stored report's time to say the figures are stale."""
    times = LabelerExclusion.objects.filter(project=project).aggregate(
        created=Max("created_at"), lifted=Max("lifted_at")
    )
    present = [t for t in times.values() if t is not None]
    return max(present) if present else None
