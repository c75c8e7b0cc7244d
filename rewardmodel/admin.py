from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from pairwise.errors import PairwiseError
from pairwise.humanize import human_bytes, human_count
from rewardmodel.generation.responses import generation_job_resume
from rewardmodel.jobs.lifecycle import job_cancel
from rewardmodel.jobs.workers import worker_is_live
from rewardmodel.models import (
    DataJob,
    DatasetSnapshot,
    GenerationJob,
    ModelArtifact,
    RegisterJob,
    ReportJob,
    RunMetric,
    TrainingRun,
    WorkerBeat,
)

# --- Model registry (owner: registry) ------------------------------------------------------


def _links(artifacts) -> str:
    rows = [(reverse("admin:rewardmodel_modelartifact_change", args=[a.pk]), a.name) for a in artifacts]
    return format_html_join(", ", '<a href="{}">{}</a>', rows) or "-"


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "params", "size", "hash_prefix", "parent_links", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "source", "weights_hash")
    readonly_fields = (
        "parameter_count",
        "size_bytes",
        "weights_hash",
        "parent_links",
        "child_links",
        "dataset_snapshot",
        "training_run",
        "created_at",
    )
    filter_horizontal = ("parents",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "path", "tokenizer_path", "source", "metadata")}),
        ("Weights", {"fields": ("parameter_count", "size_bytes", "weights_hash", "created_at")}),
        (
            "Lineage",
            {"fields": ("parents", "parent_links", "child_links", "dataset_snapshot", "training_run")},
        ),
    )
    actions = ("generate_responses",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("parents", "children")

    @admin.display(description="params", ordering="parameter_count")
    def params(self, obj: ModelArtifact) -> str:
        return human_count(obj.parameter_count)

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj: ModelArtifact) -> str:
        return human_bytes(obj.size_bytes)

    @admin.display(description="weights")
    def hash_prefix(self, obj: ModelArtifact) -> str:
        return obj.weights_hash[:12]

    @admin.display(description="parents")
    def parent_links(self, obj: ModelArtifact) -> str:
        return _links(obj.parents.all()) if obj.pk else "-"

    @admin.display(description="children")
    def child_links(self, obj: ModelArtifact) -> str:
        return _links(obj.children.all()) if obj.pk else "-"

    @admin.action(description="Generate responses with the selected model")
    def generate_responses(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model.", messages.WARNING)
            return None
        return redirect(f"{reverse('generation-new')}?model={queryset.get().pk}")


# --- Generation jobs (owner: registry) -----------------------------------------------------


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "model", "status", "percent", "responses_created", "created_at", "page")
    list_filter = ("status", "project")
    list_select_related = ("project", "model")
    readonly_fields = [f.name for f in GenerationJob._meta.fields] + ["page"]
    actions = ("cancel_jobs", "resume_jobs")

    def has_add_permission(self, request) -> bool:
        return False  # started from the generation form, which checks the request first

    @admin.display(description="progress")
    def percent(self, obj: GenerationJob) -> str:
        return f"{obj.progress:.0%}"

    @admin.display(description="live page")
    def page(self, obj: GenerationJob) -> str:
        return format_html('<a href="{}">open</a>', reverse("generation-job", args=[obj.pk]))

    @admin.action(description="Cancel the selected jobs (after the current batch)")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            try:
                job_cancel(job)
            except PairwiseError as exc:
                self.message_user(request, exc.message, messages.WARNING)

    @admin.action(description="Resume the selected jobs (new jobs that skip existing responses)")
    def resume_jobs(self, request, queryset):
        for job in queryset:
            try:
                new = generation_job_resume(job=job, user=request.user)
            except PairwiseError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                self.message_user(request, f"Job #{new.pk} queued (resumes #{job.pk}).", messages.SUCCESS)


@admin.register(DataJob)
class DataJobAdmin(admin.ModelAdmin):
    """Imports, exports and quality recomputes run by workers (annotate.data_jobs): a list to
    find one again; each is followed on its own page."""

    list_display = ("id", "kind", "project", "status", "status_message", "created_by", "created_at", "page")
    list_filter = ("kind", "status", "project")
    list_select_related = ("project", "created_by")
    readonly_fields = [f.name for f in DataJob._meta.fields] + ["page"]

    def has_add_permission(self, request) -> bool:
        return False  # started from the admin's import and export pages and the quality pages

    @admin.display(description="live page")
    def page(self, obj: DataJob) -> str:
        return format_html('<a href="{}">open</a>', reverse("data-job", args=[obj.pk]))


class _WebJobAdmin(admin.ModelAdmin):
    """Jobs started from the console's pages: a list to find one again, each followed on its page."""

    page_url = ""  # the URL name of its live page
    list_filter = ("status",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["page"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="live page")
    def page(self, obj) -> str:
        return format_html('<a href="{}">open</a>', reverse(self.page_url, args=[obj.pk]))


@admin.register(RegisterJob)
class RegisterJobAdmin(_WebJobAdmin):
    page_url = "model-register-job"
    list_display = ("id", "source", "status", "artifact", "created_by", "created_at", "page")
    list_select_related = ("artifact", "created_by")


@admin.register(ReportJob)
class ReportJobAdmin(_WebJobAdmin):
    page_url = "report-job"
    list_display = ("id", "project", "status", "report", "created_by", "created_at", "page")
    list_select_related = ("project", "report", "created_by")


@admin.register(WorkerBeat)
class WorkerBeatAdmin(admin.ModelAdmin):
    """The Celery workers that said they are alive (rewardmodel.jobs.workers); read-only."""

    list_display = ("hostname", "queues", "pid", "started_at", "seen_at", "live")
    readonly_fields = ("hostname", "queues", "pid", "started_at", "seen_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description="live")
    def live(self, obj: WorkerBeat) -> bool:
        return worker_is_live(obj)


# --- training runs, their metrics and dataset snapshots (reward) ------------------------------


class RunMetricInline(admin.TabularInline):
    model = RunMetric
    extra = 0
    can_delete = False
    fields = ("step", "values", "created_at")
    readonly_fields = fields
    ordering = ("-step", "-id")
    max_num = 0  # read-only timeline: no "add another"


@admin.action(description="Cancel the selected runs")
def cancel_runs(modeladmin, request, queryset):

    done = 0
    for run in queryset:
        try:
            job_cancel(run)
            done += 1
        except PairwiseError as exc:
            modeladmin.message_user(request, exc.message, level=messages.WARNING)
    if done:
        modeladmin.message_user(request, f"Cancel requested for {done} run(s).")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "project",
        "base_model",
        "status",
        "progress",
        "device",
        "output_model",
        "created_at",
    )
    list_filter = ("kind", "status", "project")
    search_fields = ("id", "task_id", "error")
    actions = [cancel_runs]
    inlines = [RunMetricInline]
    readonly_fields = (
        "status", "progress", "status_message", "device", "task_id", "error", "traceback", "heartbeat_at",
        "started_at", "finished_at", "examples_seen", "tokens_seen", "summary", "output_model",
    )  # fmt: skip
    raw_id_fields = ("base_model", "snapshot", "created_by")


@admin.register(RunMetric)
class RunMetricAdmin(admin.ModelAdmin):
    list_display = ("run", "step", "values", "created_at")
    list_filter = ("run__kind",)
    raw_id_fields = ("run",)


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "project",
        "kind",
        "n_examples",
        "n_eval_examples",
        "n_judgments",
        "n_labelers",
        "created_at",
    )
    list_filter = ("kind", "project")
    search_fields = ("content_hash", "path")
    readonly_fields = ("content_hash", "path", "filters")
