"""Admin for managers: staff users with the annotate permissions, which the `managers` group
carries (migration 0004_user_groups; superusers have them anyway). Labelers are users in the
`labelers` group who are members of a project.

Rows whose state the services keep consistent (assignments, judgments, comparison.judgment_count)
are read-only here: editing them by hand would break the invariants in annotate/services.py.
Changes go through actions that call the services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from annotate import selectors, services
from annotate.admin_io import ProjectIOAdminMixin
from annotate.importing.write import ImportResult
from annotate.models import (
    Assignment,
    Comparison,
    ImportBatch,
    Judgment,
    LabelerExclusion,
    Project,
    Prompt,
    Response,
)
from annotate.quality.admin_actions import GOLD_ACTIONS, quality_links

LABELERS_GROUP = "labelers"


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only: no add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --- projects ------------------------------------------------------------------------------------


class ExclusionInline(ReadOnlyInline):
    model = LabelerExclusion
    fk_name = "project"
    fields = ("labeler", "reason", "excluded_by", "created_at", "lifted_at", "lifted_by")
    readonly_fields = fields
    verbose_name_plural = "Labeler exclusions (made and lifted on the quality pages)"


class ImportBatchInline(ReadOnlyInline):
    model = ImportBatch
    fields = ("filename", "format", "counts", "created_by", "created_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    @admin.display(description="lines and counts")
    def counts(self, batch: ImportBatch) -> str:
        return import_batch_summary(batch)


@admin.register(Project)
class ProjectAdmin(ProjectIOAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "overlap_k",
        "comparisons_progress",
        "judgments",
        "active_labelers",
        "live_leases",
        quality_links,
        "created_at",
    )
    search_fields = ("name",)
    filter_horizontal = ("labelers",)
    inlines = (ExclusionInline, ImportBatchInline)
    actions = ["release_leases"]  # + "Import a file…" and "Export…" from ProjectIOAdminMixin (core-io)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        # The progress columns: one query for the whole page (correlated subqueries, no N+1).
        return selectors.projects_with_progress(super().get_queryset(request))

    @admin.display(description="comparisons complete / total", ordering="comparisons_complete")
    def comparisons_progress(self, project: Project) -> str:
        return f"{project.comparisons_complete} / {project.comparisons_total}"

    @admin.display(description="judgments", ordering="judgments_human")
    def judgments(self, project: Project) -> int:
        return project.judgments_human

    @admin.display(description="active labelers (1 h)", ordering="active_labelers")
    def active_labelers(self, project: Project) -> int:
        return project.active_labelers

    @admin.display(description="live leases", ordering="live_leases")
    def live_leases(self, project: Project) -> int:
        return project.live_leases

    @admin.action(description="Release active leases", permissions=["change"])
    def release_leases(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        released = sum(services.leases_release(project=project) for project in queryset)
        self.message_user(
            request,
            f"Released {released} active lease(s) in {len(queryset)} project(s); "
            "those comparisons are back in the pool.",
            messages.SUCCESS,
        )

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "labelers":
            # Offer the labelers group (and staff, and anyone already on a project, so saving a
            # project never drops a member who is not in the group).
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(
                    Q(groups__name=LABELERS_GROUP) | Q(is_staff=True) | Q(labeling_projects__isnull=False)
                )
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# --- content -------------------------------------------------------------------------------------


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("id", "prompt_text", "project", "split", "source", "created_at")
    list_filter = ("project", "split")
    list_select_related = ("project",)
    search_fields = ("messages", "source", "=content_hash")
    readonly_fields = ("content_hash", "created_at")
    show_full_result_count = False  # projects hold 100k prompts: skip the second COUNT(*)

    @admin.display(description="prompt")
    def prompt_text(self, prompt: Prompt) -> str:
        return _short(prompt.text)


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ("id", "response_text", "model_name", "prompt_id", "created_at")
    list_filter = ("prompt__project", "model_name")
    search_fields = ("text", "model_name", "=content_hash")
    raw_id_fields = ("prompt", "model")
    readonly_fields = ("content_hash", "created_at")
    show_full_result_count = False

    @admin.display(description="text")
    def response_text(self, response: Response) -> str:
        return _short(response.text)


class JudgmentInline(ReadOnlyInline):
    model = Judgment
    fields = ("labeler", "source", "choice", "side_order", "winner", "strength", "created_at")
    readonly_fields = fields


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("id", "prompt_text", "project", "priority", "is_gold", "gold_choice", "judgment_count")
    list_filter = ("project", "is_gold")
    list_select_related = ("project", "prompt")
    search_fields = ("=id", "prompt__messages")
    raw_id_fields = ("prompt", "response_a", "response_b")
    # judgment_count is kept by judgment_record under the row lock.
    readonly_fields = ("judgment_count", "created_at")
    inlines = (JudgmentInline,)
    show_full_result_count = False
    actions = [*GOLD_ACTIONS]  # mark / unmark gold (annotate.quality)

    @admin.display(description="prompt")
    def prompt_text(self, comparison: Comparison) -> str:
        return _short(comparison.prompt.text)


# --- labeling records (read-only) ----------------------------------------------------------------


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "labeler",
        "project",
        "comparison_id",
        "state",
        "side_order",
        "leased_at",
        "expires_at",
    )
    list_filter = ("project", "state")
    list_select_related = ("labeler", "project")
    search_fields = ("labeler__username", "=comparison__id")
    show_full_result_count = False


@admin.register(Judgment)
class JudgmentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "comparison_id",
        "labeler",
        "source",
        "choice",
        "strength",
        "side_order",
        "created_at",
    )
    list_filter = ("comparison__project", "source", "choice")
    list_select_related = ("labeler",)
    search_fields = ("client_id", "labeler__username", "=comparison__id")
    show_full_result_count = False


@admin.register(LabelerExclusion)
class LabelerExclusionAdmin(ReadOnlyAdmin):
    """Exclusions are made and lifted on the quality pages (they release leases and keep history)."""

    list_display = ("labeler", "project", "reason", "excluded_by", "created_at", "lifted_at")
    list_filter = ("project", ("lifted_at", admin.EmptyFieldListFilter))
    list_select_related = ("labeler", "project", "excluded_by")


def import_batch_summary(batch: ImportBatch) -> str:
    """The batch's stored counts as import_data reported them (ImportResult.summary): "120 lines:
    created 12 prompts, ...; skipped 3 invalid lines." Keys an older batch lacks count as 0."""
    counts = batch.created_counts or {}
    return ImportResult(
        batch=batch,
        lines=batch.lines,
        created={kind: counts.get(kind, 0) for kind in ("prompts", "responses", "comparisons", "judgments")},
        existing=counts.get("existing") or {},
        skipped_identical=counts.get("skipped_identical", 0),
        duplicate_lines=counts.get("duplicate_lines", 0),
        skipped_invalid=counts.get("skipped_invalid", 0),
    ).summary()


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("filename", "project", "format", "counts", "created_by", "created_at")
    list_filter = ("project", "format")
    list_select_related = ("project", "created_by")
    # The counts as a sentence in place of the stored JSON (created_counts).
    fields = ("project", "format", "filename", "file_hash", "counts", "created_by", "created_at")
    readonly_fields = ("counts",)

    @admin.display(description="lines and counts", ordering="lines")
    def counts(self, batch: ImportBatch) -> str:
        return import_batch_summary(batch)
