"""{% project_next_step project %}: the next step of a project, for the managers' home page
(annotate's), which shows it without annotate importing the console; and `|human_count`."""

from __future__ import annotations

from django import template

from annotate.models import Project
from pairwise import humanize
from rewardmodel.console.steps import project_next_step as next_step

register = template.Library()


@register.simple_tag
def project_next_step(project: Project) -> str:
    return next_step(project)


@register.filter
def human_count(n: int | None) -> str:
    """134515008 -> "134.5M" (pairwise.humanize)."""
    return humanize.human_count(n)
