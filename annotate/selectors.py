"""Reads: aggregate views of projects for the API and the admin.

Every count is a correlated subquery on an indexed foreign key, so a list of projects costs one
query whatever its length (no N+1), and no join multiplies rows under another count.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotate.models import Assignment, Comparison, Judgment, Project
from annotate.permissions import is_manager
from pairwise.errors import NotFound

# "Active" labelers and the judgment rate look back this far.
ACTIVE_WINDOW = timedelta(hours=1)


def project_get(*, project_id: int) -> Project:
    """Any project (managers); NotFound with a message otherwise."""
    try:
        return Project.objects.get(pk=project_id)
    except (Project.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No project {project_id}.") from None


def judgment_for_assignment(*, assignment: Assignment) -> Judgment | None:
    """The judgment given through this assignment (the labeler's own), if any."""
    return Judgment.objects.filter(assignment=assignment, labeler_id=assignment.labeler_id).first()


def _count(qs: QuerySet, *, field: str = "pk", distinct: bool = False) -> Coalesce:
    """COUNT over a correlated subquery (no GROUP BY: Func is not an aggregate to Django)."""
    template = "COUNT(DISTINCT %(expressions)s)" if distinct else "COUNT(%(expressions)s)"
    counted = qs.order_by().annotate(n=Func(F(field), template=template, output_field=IntegerField()))
    return Coalesce(Subquery(counted.values("n")), 0)


def _progress_annotations(now: datetime) -> dict:
    cmp = Comparison.objects.filter(project=OuterRef("pk"), is_gold=False)
    live_lease = Assignment.objects.filter(
        comparison=OuterRef("pk"), state=Assignment.State.ACTIVE, expires_at__gt=now
    )
    judgments = Judgment.objects.filter(comparison__project=OuterRef("pk"))
    human = judgments.filter(source=Judgment.Source.HUMAN)
    since = now - ACTIVE_WINDOW
    return {
        "comparisons_total": _count(cmp),
        "comparisons_complete": _count(cmp.filter(judgment_count__gte=OuterRef("overlap_k"))),
        "comparisons_in_progress": _count(
            cmp.filter(judgment_count__lt=OuterRef("overlap_k")).filter(
                Q(judgment_count__gt=0) | Q(Exists(live_lease))
            )
        ),
        "gold_total": _count(Comparison.objects.filter(project=OuterRef("pk"), is_gold=True)),
        "judgments_human": _count(human),
        "judgments_external": _count(judgments.filter(source=Judgment.Source.EXTERNAL)),
        "judgments_simulated": _count(judgments.filter(source=Judgment.Source.SIMULATED)),
        "judgments_last_hour": _count(human.filter(created_at__gte=since)),
        "live_leases": _count(
            Assignment.objects.filter(
                project=OuterRef("pk"), state=Assignment.State.ACTIVE, expires_at__gt=now
            )
        ),
        # Someone holding a lease now, or who answered within the window.
        "active_labelers": _count(
            Assignment.objects.filter(project=OuterRef("pk")).filter(
                Q(state=Assignment.State.ACTIVE, expires_at__gt=now)
                | Q(state=Assignment.State.SUBMITTED, closed_at__gte=since)
            ),
            field="labeler_id",
            distinct=True,
        ),
    }


def projects_with_progress(qs: QuerySet[Project] | None = None, *, now: datetime | None = None) -> QuerySet:
    """Projects annotated with the progress columns (admin list, manager API). One query."""
    qs = Project.objects.all() if qs is None else qs
    return qs.annotate(**_progress_annotations(now or timezone.now()))


@dataclass(frozen=True)
class ProjectProgress:
    project_id: int
    overlap_k: int
    comparisons_total: int  # gold items excluded
    comparisons_complete: int  # reached overlap_k judgments
    comparisons_in_progress: int  # some judgments or a live lease, not complete
    gold_total: int
    judgments_human: int
    judgments_external: int
    judgments_simulated: int  # by simulated labelers (manage.py simulate_labelers)
    judgments_last_hour: int  # human judgments in the last ACTIVE_WINDOW: the hourly rate
    live_leases: int
    active_labelers: int  # distinct labelers with a live lease or a judgment in the last hour


def project_progress(*, project: Project, now: datetime | None = None) -> ProjectProgress:
    row = projects_with_progress(Project.objects.filter(pk=project.pk), now=now).get()
    counts = {f.name: getattr(row, f.name) for f in fields(ProjectProgress) if f.name not in ("project_id",)}
    return ProjectProgress(project_id=row.pk, **counts)


def projects_for_labeler(*, labeler: AbstractBaseUser, now: datetime | None = None) -> QuerySet[Project]:
    """The projects a labeler works on (managers: all) with their own progress. One query.

    Projects they are excluded from stay listed (with their progress); working there is refused.
    """
    now = now or timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    qs = Project.objects.all() if is_manager(labeler) else Project.objects.filter(labelers=labeler)
    mine = Judgment.objects.filter(comparison__project=OuterRef("pk"), labeler=labeler)
    cmp = Comparison.objects.filter(project=OuterRef("pk"), is_gold=False)
    return qs.annotate(
        my_judgments=_count(mine),
        my_judgments_today=_count(mine.filter(created_at__gte=start_of_day)),
        comparisons_total=_count(cmp),
        comparisons_open=_count(cmp.filter(judgment_count__lt=OuterRef("overlap_k"))),
    ).order_by("name")
