"""Admin pieces for core-api to register in annotate/admin.py (this package does not own it).

    from annotate.quality.admin_actions import GOLD_ACTIONS, quality_links

    @admin.register(Comparison)
    class ComparisonAdmin(admin.ModelAdmin):
        actions = [*GOLD_ACTIONS]

    @admin.register(Project)
    class ProjectAdmin(admin.ModelAdmin):
        list_display = ["name", ..., quality_links]

The answer is in STORED order: "response A is better" means the comparison's response_a.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from annotate.models import Choice
from annotate.quality.gold import comparisons_mark_gold, comparisons_unmark_gold

_ANSWERS = {
    Choice.A: "response A (stored first) is better",
    Choice.B: "response B (stored second) is better",
    Choice.TIE: "tie",
    Choice.BOTH_BAD: "both bad",
}


def _mark_action(answer: str):
    def action(modeladmin, request, queryset):
        n = comparisons_mark_gold(comparisons=queryset, answer=answer)
        modeladmin.message_user(
            request, f"{n} comparison(s) marked gold: {_ANSWERS[answer]}.", messages.SUCCESS
        )

    action.__name__ = f"mark_gold_{answer.lower()}"
    return admin.action(description=f"Mark gold: {_ANSWERS[answer]}", permissions=["change"])(action)


@admin.action(description="Unmark gold (make ordinary comparisons)", permissions=["change"])
def unmark_gold(modeladmin, request, queryset):
    n = comparisons_unmark_gold(comparisons=queryset)
    modeladmin.message_user(request, f"{n} comparison(s) are ordinary comparisons again.", messages.SUCCESS)


GOLD_ACTIONS = (*(_mark_action(answer) for answer in _ANSWERS), unmark_gold)


@admin.display(description="Quality")
def quality_links(project) -> str:
    return format_html(
        '<a href="{}">quality</a> · <a href="{}">leaderboard</a> · <a href="{}">gold</a>',
        reverse("quality:project", args=[project.pk]),
        reverse("quality:leaderboard", args=[project.pk]),
        reverse("quality:gold", args=[project.pk]),
    )
