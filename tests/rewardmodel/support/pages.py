"""Run rows for page tests, written directly (no training needed to test what a page shows)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from rewardmodel.models import DatasetSnapshot, JobStatus, ModelArtifact, RunMetric, TrainingRun


def fake_model(name: str, kind: str = ModelArtifact.Kind.BASE, folder: Path | None = None) -> ModelArtifact:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text("{}")
    return ModelArtifact.objects.create(kind=kind, name=name, path=str(folder or f"/models/{name}"))


def make_run(project, base: ModelArtifact, *, status: str = JobStatus.RUNNING, **fields) -> TrainingRun:
    now = timezone.now()
    snapshot = DatasetSnapshot.objects.create(
        project=project,
        kind=DatasetSnapshot.Kind.PREFERENCES,
        path="/snapshots/abc",
        content_hash="abc123def456" + "0" * 52,
        n_examples=160,
        n_eval_examples=40,
        n_judgments=400,
        n_labelers=2,
        filters={"min_agreement": 0.5, "eval_fraction": 0.2, "keep_ties": False, "gold": "excluded"},
    )
    values = {
        "kind": TrainingRun.Kind.REWARD,
        "project": project,
        "base_model": base,
        "snapshot": snapshot,
        "status": status,
        "config": {"lr": 2e-3, "epochs": 2},
        "device": "cpu (2 threads)",
        "started_at": now - timedelta(seconds=30) if status != JobStatus.QUEUED else None,
        "heartbeat_at": now if status != JobStatus.QUEUED else None,
        "progress": 0.25,
    } | fields
    return TrainingRun.objects.create(**values)


def add_metrics(run: TrainingRun, rows: list[tuple[int, dict]]) -> None:
    RunMetric.objects.bulk_create([RunMetric(run=run, step=step, values=values) for step, values in rows])
