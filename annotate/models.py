"""The annotation core: projects, prompts, responses, comparisons, assignments, judgments.

Invariants the services keep (see annotate/services.py):
- a comparison never holds more than `project.overlap_k` judgments by labelers, people and
  simulated ones alike (gold items excepted: every labeler may judge a gold item once);
- a labeler judges a comparison at most once (unique constraint);
- a client id is stored once: resubmitting it answers with the stored judgment.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, Subquery
from django.db.models.lookups import GreaterThan
from django.utils import timezone


def content_hash(*parts: Any) -> str:
    """A stable sha256 over JSON-serialisable parts (dedupes re-imports)."""
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class Choice(models.TextChoices):
    A = "A", "A is better"
    B = "B", "B is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both bad"


class SideOrder(models.TextChoices):
    """Which stored response was shown as A (left). AB: response_a left; BA: response_b left."""

    AB = "AB", "response_a shown as A"
    BA = "BA", "response_b shown as A"


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to labelers beside every pair.")
    guidelines_open_first = models.BooleanField(
        default=False,
        help_text="Open the guidelines beside the pair on a labeler's first visit to the ranking screen "
        "(on a wide enough window). Off: they open with g or the Guidelines button. Either way the screen "
        "then remembers whether the labeler left them open.",
    )
    overlap_k = models.PositiveSmallIntegerField(default=3, help_text="Judgments wanted per comparison.")
    lease_seconds = models.PositiveIntegerField(
        default=600, help_text="How long a labeler holds a comparison."
    )
    gold_rate = models.FloatField(default=0.0, help_text="Share of assignments served from gold items (0-1).")
    gold_min_items = models.PositiveSmallIntegerField(
        default=10, help_text="Gold items a labeler must answer before accuracy can flag them."
    )
    gold_accuracy_threshold = models.FloatField(
        default=0.7, help_text="Flag labelers below this gold accuracy."
    )
    labeler_hourly_rate = models.DecimalField(
        max_digits=8, decimal_places=2, default=0, help_text="Cost ledger: paid per labeler hour."
    )
    require_rationale_for_tie = models.BooleanField(
        default=False, help_text="Ask for a rationale when a labeler picks tie or both bad."
    )
    labelers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="labeling_projects")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A changed overlap_k opens or closes comparisons (Comparison.is_open): compared with the
        # stored value, not one remembered at load, so any way of loading the project is fine.
        with transaction.atomic():
            stored = Project.objects.filter(pk=self.pk).values_list("overlap_k", flat=True).first()
            super().save(*args, **kwargs)
            if stored is not None and stored != self.overlap_k:
                self.comparisons_reopen()

    def comparisons_reopen(self) -> int:
        """Set Comparison.is_open again for every comparison of the project (overlap_k changed).

        Every row, not only those whose flag flips: a filter on judgment_count or is_open would read
        this statement's snapshot and skip a row that a judgment being recorded right now moves
        across k. Without a filter on them, PostgreSQL waits for that judgment's row lock and then
        sets the flag from the row as committed.
        """
        return self.comparisons.update(is_open=Comparison.open_expression())


class Prompt(models.Model):
    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        HELDOUT = "heldout", "Held out"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    # [{"role": "system"|"user"|"assistant", "content": "..."}]; a plain-text prompt is one user turn.
    messages = models.JSONField()
    reference_answer = models.TextField(blank=True, help_text="For verifiable tasks (GRPO accuracy reward).")
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=10, choices=Split.choices, default=Split.TRAIN)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="prompt_unique_per_project"),
        ]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def text(self) -> str:
        """The last user turn: what a reader calls 'the prompt'."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return self.messages[-1].get("content", "") if self.messages else ""

    @property
    def is_conversation(self) -> bool:
        return len(self.messages) > 1


class Response(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    text = models.TextField()
    # A response of several turns (an imported HH side that parts from the other before its last
    # Assistant turn), as chat messages; then `text` is its transcript. Empty for one answer.
    messages = models.JSONField(default=list, blank=True)
    # Who produced it: a registered model's name, or a free label for imported data ("hh:chosen").
    model_name = models.CharField(max_length=200, blank=True)
    model = models.ForeignKey(
        "rewardmodel.ModelArtifact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
    )
    generation_params = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt", "content_hash"], name="response_unique_per_prompt"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name or 'response'}: {self.text[:60]}"


class Comparison(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comparisons")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="comparisons")
    response_a = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    response_b = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    priority = models.IntegerField(default=0, help_text="Higher is served first.")
    is_gold = models.BooleanField(default=False)
    gold_choice = models.CharField(max_length=10, choices=Choice.choices, blank=True)
    # Human judgments stored so far; kept in step by judgment_record under the row lock.
    judgment_count = models.PositiveIntegerField(default=0)
    # Still wants judgments: not gold and judgment_count < project.overlap_k. The pick walks only
    # these (cmp_open_pick_idx), so it costs the same on a fresh project and a nearly complete one.
    # Set with judgment_count wherever that changes (judgment_record, judgment_undo), and again when
    # is_gold (quality.gold) or the project's overlap_k (Project.save) changes; see open_expression.
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response_a", "response_b"], name="comparison_unique_pair"),
            models.CheckConstraint(
                condition=~Q(response_a=models.F("response_b")), name="comparison_distinct_responses"
            ),
        ]
        indexes = [
            # Serves comparison_assign_next: walks the open comparisons in (priority desc, id)
            # order and never steps over a complete or gold one. The former full index
            # (project, is_gold, -priority, id, judgment_count) walked past every complete
            # comparison ahead of the first open one: 0.1 ms on a fresh project, 2.7 ms with half
            # of 100k complete; this one stays flat (bench/pick_scaling.py). SQLite uses it too:
            # the query's `is_open` term is written exactly like the index's condition. And a
            # judgment that leaves is_open alone updates no index (a HOT update on PostgreSQL).
            models.Index(
                fields=["project", "-priority", "id"], condition=Q(is_open=True), name="cmp_open_pick_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Rows written one at a time (admin, tests, small scripts) get the flag from their own
        # fields; bulk writers set it themselves (the default, True, fits a new ordinary comparison).
        self.is_open = not self.is_gold and self.judgment_count < self.project.overlap_k
        super().save(*args, **kwargs)

    @staticmethod
    def open_expression(judgment_count: Any = None, *, is_gold: bool | None = None) -> ExpressionWrapper:
        """SQL for is_open in an UPDATE that also sets judgment_count or is_gold: pass their new
        values (an UPDATE's expressions read the row as it was); by default the stored ones.

        k is read by a subquery in the same statement, not passed in: a judgment recorded while
        overlap_k changes reads the committed k after waiting for the row lock.
        """
        k = Subquery(Project.objects.filter(pk=OuterRef("project_id")).values("overlap_k")[:1])
        count = models.F("judgment_count") if judgment_count is None else judgment_count
        wanted = Q(GreaterThan(k, count))
        if is_gold is None:
            wanted &= Q(is_gold=False)
        elif is_gold:
            wanted = Q(pk__in=[])
        return ExpressionWrapper(wanted, output_field=BooleanField())


# Active leases one labeler may hold in one project: the pair on screen, the pairs the ranking
# screen prefetched, and pairs whose judgments are still on their way from the browser
# (annotate.services.comparison_lease_ahead). Each lease takes a slot below this number; the
# database enforces the range and one lease per slot.
MAX_ACTIVE_LEASES = 8


class Assignment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"

    MAX_ACTIVE_LEASES = MAX_ACTIVE_LEASES

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    side_order = models.CharField(max_length=2, choices=SideOrder.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    leased_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    skip_reason = models.CharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    slot = models.PositiveSmallIntegerField(
        default=0, help_text="Which of the labeler's lease slots in the project this lease takes."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["labeler", "project", "slot"],
                condition=Q(state="active"),
                name="one_active_lease_per_slot",
            ),
            models.UniqueConstraint(
                fields=["labeler", "comparison"],
                condition=Q(state="active"),
                name="one_active_lease_per_comparison",
            ),
            models.CheckConstraint(condition=Q(slot__lt=MAX_ACTIVE_LEASES), name="lease_slot_in_range"),
        ]
        indexes = [
            models.Index(fields=["labeler", "project", "state"], name="asg_labeler_idx"),
            models.Index(fields=["comparison", "state", "expires_at"], name="asg_live_idx"),
            # The pick's "not seen by this labeler" test, per candidate comparison. Without it
            # SQLite (no statistics until someone runs ANALYZE) read that test through the
            # labeler_id index, every assignment the labeler ever had, for every candidate: 15 ms
            # per pick for a labeler 300 judgments in, 0.3 ms with it.
            models.Index(fields=["comparison", "labeler"], name="asg_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.labeler} ← #{self.comparison_id} ({self.state})"

    def is_live(self, now=None) -> bool:
        return self.state == self.State.ACTIVE and self.expires_at > (now or timezone.now())

    def shown(self) -> tuple[Response, Response]:
        """(A, B) as shown to the labeler: A on the left."""
        c = self.comparison
        return (
            (c.response_a, c.response_b) if self.side_order == SideOrder.AB else (c.response_b, c.response_a)
        )


# Accounts in this group are simulated labelers (manage.py simulate_labelers): their judgments are
# stored with source "simulated", count like a person's towards overlap_k and majority votes, and
# are reported apart (quality report, exports) and can be left out of exports and snapshots.
SIMULATED_GROUP = "simulated"


class Judgment(models.Model):
    class Source(models.TextChoices):
        HUMAN = "human", "Labeler"
        EXTERNAL = "external", "Imported"
        SIMULATED = "simulated", "Simulated labeler"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judgments")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HUMAN)
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgment"
    )
    choice = models.CharField(
        max_length=10, choices=Choice.choices, help_text="As shown: A is the left side."
    )
    strength = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1 slightly, 2 clearly, 3 much."
    )
    rationale = models.TextField(blank=True)
    seconds_on_task = models.FloatField(null=True, blank=True)
    side_order = models.CharField(max_length=2, choices=SideOrder.choices, default=SideOrder.AB)
    # The stored response the choice prefers (None for tie / both bad): order-independent.
    winner = models.ForeignKey(Response, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=64, unique=True)
    # Imported judgments only: derived from the preference's content, so a re-import finds it.
    # Its own column, so nothing a labeler sends (a client_id) can take an import's key.
    import_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "labeler"],
                condition=Q(labeler__isnull=False),
                name="judgment_once_per_labeler",
            ),
        ]
        indexes = [
            models.Index(fields=["labeler", "created_at"], name="jdg_labeler_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.labeler or self.source} on #{self.comparison_id}: {self.choice}"


class LabelerExclusion(models.Model):
    """A manager's decision to drop a labeler's judgments from a project's data. Reversible."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exclusions")
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exclusions")
    reason = models.TextField()
    excluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "labeler"],
                condition=Q(lifted_at__isnull=True),
                name="one_active_exclusion",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.labeler} excluded from {self.project}"


class ImportBatch(models.Model):
    """One imported file: what came in and what it created."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    format = models.CharField(max_length=20)
    filename = models.CharField(max_length=500)
    file_hash = models.CharField(max_length=64)
    lines = models.PositiveIntegerField(default=0)
    created_counts = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.filename} → {self.project}"


class QualitySnapshot(models.Model):
    """A computed quality report or leaderboard, stored so the manager pages render without
    recomputing (a report over a million judgments takes seconds; the page must take milliseconds).
    `data` is the JSON the compute function returned; pages show the newest of each kind."""

    class Kind(models.TextChoices):
        QUALITY = "quality", "Quality report"
        LEADERBOARD = "leaderboard", "Leaderboard"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quality_snapshots")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)
    data = models.JSONField()
    seconds = models.FloatField(default=0, help_text="How long the computation took.")
    computed_at = models.DateTimeField(default=timezone.now)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["project", "kind", "-computed_at"], name="qsnap_latest_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.project} at {self.computed_at:%Y-%m-%d %H:%M}"
