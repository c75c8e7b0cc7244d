"""Model registry (artifacts and their lineage) and the records of long jobs (training, generation).

Every long job shares one lifecycle (JobBase): queued → running → succeeded | failed | cancelled,
with a progress fraction the pages poll, a heartbeat that tells a live worker from a lost one, the
worker's task id, and the error and traceback when it failed. The rows are read here; every change
of state is a conditional update in rewardmodel.jobs.lifecycle, where the lifecycle is written down.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


class JobBase(models.Model):
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0-1, written by the worker while it runs.")
    status_message = models.CharField(max_length=500, blank=True)
    config = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=100, blank=True)
    task_id = models.CharField(max_length=100, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the task message was sent, and when the reaper sent it once more (its first was lost).
    sent_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def wall_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    @property
    def is_lost(self) -> bool:
        """Running, but the worker stopped writing heartbeats (killed, OOM, machine gone).
        The reaper's query (rewardmodel.jobs.lifecycle.lost_q) says the same in SQL."""
        if self.status != JobStatus.RUNNING or not self.heartbeat_at:
            return False
        timeout = timedelta(seconds=settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT)
        return timezone.now() - self.heartbeat_at > timeout


class DatasetSnapshot(models.Model):
    """A frozen export that a run trained on: the file, its hash, and what went into it."""

    class Kind(models.TextChoices):
        PREFERENCES = "preferences", "Preference pairs"
        PROMPTS = "prompts", "Prompts"
        DEMONSTRATIONS = "demonstrations", "Demonstrations (SFT)"

    project = models.ForeignKey("annotate.Project", on_delete=models.PROTECT, related_name="snapshots")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    path = models.CharField(max_length=1000)
    content_hash = models.CharField(max_length=64)
    n_examples = models.PositiveIntegerField(default=0)
    n_eval_examples = models.PositiveIntegerField(default=0)
    n_judgments = models.PositiveIntegerField(default=0)
    n_labelers = models.PositiveIntegerField(default=0)
    filters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.project} ({self.content_hash[:10]})"


class ModelArtifact(models.Model):
    class Kind(models.TextChoices):
        BASE = "base", "Base"
        REWARD = "reward", "Reward model"
        VALUE = "value", "Value model"
        POLICY = "policy", "Policy"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, unique=True)
    path = models.CharField(max_length=1000, help_text="Local directory with weights (safetensors).")
    tokenizer_path = models.CharField(max_length=1000, blank=True)
    source = models.CharField(
        max_length=500, blank=True, help_text="Where it came from (wheel, hub id, run)."
    )
    parameter_count = models.BigIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    weights_hash = models.CharField(max_length=64, blank=True)
    parents = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="children")
    dataset_snapshot = models.ForeignKey(
        DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="models"
    )
    training_run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="artifacts"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


# The kinds of model that write text: what generation, policy training, arenas and reports take.
GENERATIVE_KINDS = (ModelArtifact.Kind.BASE, ModelArtifact.Kind.POLICY)


class TrainingRun(JobBase):
    class Kind(models.TextChoices):
        REWARD = "reward", "Reward model"
        SFT = "sft", "SFT policy"
        PPO = "ppo", "PPO policy"
        GRPO = "grpo", "GRPO policy"
        DPO = "dpo", "DPO policy"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    project = models.ForeignKey("annotate.Project", on_delete=models.PROTECT, related_name="training_runs")
    base_model = models.ForeignKey(ModelArtifact, on_delete=models.PROTECT, related_name="runs_started")
    snapshot = models.ForeignKey(
        DatasetSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    output_model = models.ForeignKey(
        ModelArtifact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    examples_seen = models.BigIntegerField(default=0)
    tokens_seen = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="Final metrics (eval accuracy, ...).")
    # A linked run (cold-start SFT → GRPO): this run waits for `starts_after` to succeed and then
    # starts from its output model; if that run fails or is cancelled, so is this one.
    starts_after = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="followers"
    )

    class Meta(JobBase.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run #{self.pk} ({self.status})"


class RunMetric(models.Model):
    """One point of a run's metrics timeline: written while the run trains."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    values = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "step", "id"]
        indexes = [models.Index(fields=["run", "step"], name="runmetric_idx")]

    def __str__(self) -> str:
        return f"run {self.run_id} step {self.step}"


class GenerationJob(JobBase):
    project = models.ForeignKey("annotate.Project", on_delete=models.CASCADE, related_name="generation_jobs")
    model = models.ForeignKey(ModelArtifact, on_delete=models.PROTECT, related_name="generation_jobs")
    responses_created = models.PositiveIntegerField(default=0)

    class Meta(JobBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Generation #{self.pk} with {self.model} ({self.status})"


class DataJob(JobBase):
    """An import, export or quality recompute started from a manager page and run by a worker
    (annotate.data_jobs). `config` holds the form's values, `result` what the job produced
    (counts, export file names, the snapshot id); an import's upload waits at `upload_path` and is
    removed when the job ends."""

    class Kind(models.TextChoices):
        IMPORT = "import", "Import"
        EXPORT = "export", "Export"
        QUALITY = "quality", "Quality report"
        LEADERBOARD = "leaderboard", "Leaderboard"
        PAIRS = "pairs", "Make pairs"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    project = models.ForeignKey("annotate.Project", on_delete=models.CASCADE, related_name="data_jobs")
    upload_path = models.CharField(max_length=1000, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta(JobBase.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job #{self.pk} ({self.status})"


class RegisterJob(JobBase):
    """Registering a model from the web (the models page): the default base model, a folder or a
    .gguf file on the workers' disk, or a hub id. A job, because the default is converted from its
    GGUF once (minutes), and the request must not wait for it. `artifact` is what it registered."""

    source = models.CharField(max_length=1000, help_text="'default', a folder, a .gguf file or a hub id.")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=ModelArtifact.Kind.choices, blank=True)
    artifact = models.ForeignKey(
        ModelArtifact, null=True, blank=True, on_delete=models.SET_NULL, related_name="registrations"
    )

    class Meta(JobBase.Meta):
        constraints = [
            # Two clicks, or two managers, at once: one conversion of a source, not two into one folder.
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(status__in=["queued", "running"]),
                name="registerjob_one_pending_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"Registration #{self.pk} of {self.source} ({self.status})"


class ReportJob(JobBase):
    """A comparison report started from the web (/reports/new/): what `manage.py compare` does, on
    a worker, with its page. `config` holds the form's values (policies by name, the baseline
    first); `report` is the report it made."""

    project = models.ForeignKey("annotate.Project", on_delete=models.CASCADE, related_name="report_jobs")
    report = models.ForeignKey(
        "ComparisonReport", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )

    class Meta(JobBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Report job #{self.pk} ({self.status})"


class WorkerBeat(models.Model):
    """A Celery worker that is alive: the worker writes its row when it starts and every
    PAIRWISE_WORKER_BEAT_SECONDS after (rewardmodel.jobs.workers), and deletes it when it stops
    cleanly. A row older than a few beats is a worker that died without saying so."""

    hostname = models.CharField(max_length=200, unique=True)
    queues = models.JSONField(default=list, help_text="The queues it consumes from.")
    pid = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} ({', '.join(self.queues)})"


class DemoLoop(JobBase):
    """One run of the whole demo loop (rewardmodel.demo.loop): its steps, each with its status,
    times, the numbers it produced and a link to the job, run or report it made. The home page
    polls this row; the loop writes it at every step boundary and while a step trains."""

    project = models.ForeignKey(
        "annotate.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="demo_loops"
    )
    quick = models.BooleanField(default=False)
    seed = models.IntegerField(default=0)
    current_step = models.CharField(max_length=50, blank=True)
    # rewardmodel.demo.loop.DemoStep entries, in the order the steps run.
    steps = models.JSONField(default=list, blank=True)

    class Meta(JobBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Demo loop #{self.pk} ({self.status})"


class ComparisonReport(models.Model):
    """A comparison report (manage.py compare): its data, the self-contained HTML drawn from it,
    and the command that made it. Written once; the page /reports/<id>/ reads it."""

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="comparison_reports"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policies = models.JSONField(default=list, help_text="Names, the baseline first.")
    data = models.JSONField()
    html = models.TextField()
    command = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Report #{self.pk}: {', '.join(self.policies)} on {self.project}"
