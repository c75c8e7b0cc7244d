"""{% demo_loop_card %}: the latest demo loop (scripts/demo.sh), live, for the managers' home page.

A template tag, so the home page (annotate) shows the loop without annotate importing it."""

from __future__ import annotations

from typing import Any

from django import template

from rewardmodel.jobs.views import job_status
from rewardmodel.models import DemoLoop

register = template.Library()


@register.inclusion_tag("rewardmodel/_demo_loop_card.html")
def demo_loop_card() -> dict[str, Any]:
    latest = DemoLoop.objects.select_related("project").first()
    return {"demo_loop": job_status(latest) if latest is not None else None}
