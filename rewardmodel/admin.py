from django.contrib import admin, messages

from annotate.errors import PairwiseError

from .models import DatasetSnapshot, GenerationJob, ModelArtifact, RunMetric, TrainingRun

# --- model registry and generation (registry) ------------------------------------------------

for model in (ModelArtifact, GenerationJob):
    admin.site.register(model)


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
    from .runs import run_cancel

    done = 0
    for run in queryset:
        try:
            run_cancel(run)
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
