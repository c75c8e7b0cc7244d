"""Imports, exports and quality recomputes started from a page, run by a worker as DataJobs.

    job = data_job_create(project=p, kind=DataJob.Kind.EXPORT, config={"kind": "raw-csv"}, user=u)

The page that starts one (the admin's import and export pages, the quality pages' recompute
buttons) records a queued job, which is sent to a `default` worker once the request's transaction
commits, and redirects to the job's page (rewardmodel.jobs.views), which polls its status.
The lifecycle (claim, heartbeat, cancel, reap) is rewardmodel.jobs.lifecycle'; the work is done by the
services the commands call (annotate.importing.write, annotate.exporting.store, annotate.quality). An
export lands in the export store, DATA_DIR/exports/<project id>/<export id>/.

An import's file is saved first (upload_store: DATA_DIR/uploads/<uuid>.jsonl[.gz], refused past
PAIRWISE_IMPORT_MAX_FILE_BYTES) and removed when the job ends, however it ends: by the worker after
the job, or by data_job_ended when it was cancelled while queued or its worker was lost. An
import stays one transaction: a bad file writes nothing and fails the job with its bad lines.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from annotate.exporting.store import export_file_url
from annotate.models import Project
from annotate.pair_strategies import PairsOutcome, comparisons_make, pairs_options_check, pairs_summary
from pairwise.errors import PairwiseError
from pairwise.humanize import human_bytes
from pairwise.progress import Cancelled, FanoutReporter, Reporter
from rewardmodel.jobs.execute import Done
from rewardmodel.jobs.lifecycle import Claim, JobReporter, job_enqueue
from rewardmodel.models import DataJob, JobStatus

log = logging.getLogger(__name__)

# What an executor returns: the job's `result`, and the line its page shows when it is done.
Outcome = tuple[dict[str, Any], str]


def uploads_dir() -> Path:
    directory = Path(settings.DATA_DIR) / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def upload_store(*, upload: UploadedFile) -> Path:
    """Copy an uploaded import file, chunk by chunk, to DATA_DIR/uploads/<uuid>.jsonl[.gz], where a
    worker can read it. Refused (PairwiseError, nothing kept) past PAIRWISE_IMPORT_MAX_FILE_BYTES."""
    limit = settings.PAIRWISE_IMPORT_MAX_FILE_BYTES
    too_large = PairwiseError(
        f"{upload.name} is larger than {human_bytes(limit)} (PAIRWISE_IMPORT_MAX_FILE_BYTES = {limit} "
        "bytes). Gzip it, or split it into several files."
    )
    if upload.size is not None and upload.size > limit:
        raise too_large
    suffix = "jsonl.gz" if (upload.name or "").lower().endswith(".gz") else "jsonl"
    target = uploads_dir() / f"{uuid.uuid4().hex}.{suffix}"
    written = 0
    try:
        with target.open("xb") as fh:
            for chunk in upload.chunks():
                written += len(chunk)
                if written > limit:
                    raise too_large
                fh.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def upload_remove(job: DataJob) -> None:
    if job.upload_path:
        Path(job.upload_path).unlink(missing_ok=True)


def data_job_create(
    *,
    project: Project,
    kind: str,
    config: dict[str, Any],
    user: AbstractBaseUser | None = None,
    upload_path: Path | str = "",
    enqueue: bool = True,
) -> DataJob:
    """Record a queued job and send it to a worker once the row is committed."""
    if kind not in DataJob.Kind.values:
        raise PairwiseError(f"kind must be one of {', '.join(DataJob.Kind.values)}; got {kind!r}.")
    job = DataJob.objects.create(
        project=project,
        kind=kind,
        config=config,
        upload_path=str(upload_path),
        created_by=user if user and user.pk else None,
    )
    if enqueue:
        job_enqueue(job)
    return job


# --- executors: one per kind, each a thin call of the service its command calls ------------------


def _import(job: DataJob, reporter: JobReporter) -> Outcome:
    """Import the file; then, when the form asked for it (config["pairs"]: a strategy of
    annotate.pair_strategies), make comparisons from the project's responses. The strategy's
    options are checked before anything is written; the pairs are made in a transaction of their
    own, after the import's (whose progress the page shows while it runs)."""
    from annotate.importing.write import data_import

    def progress(done: int, total: int, message: str) -> None:
        reporter.progress(done, total, message)
        # Between checking the file and writing it is the last moment a cancel leaves nothing.
        if done < total and reporter.should_stop():
            raise Cancelled("cancelled before anything was written")

    config = job.config
    strategy = config.get("pairs") or ""
    if strategy:
        pairs_options_check(strategy=strategy, models=config.get("models") or ())
    result = data_import(
        project=job.project,
        source=Path(job.upload_path),
        fmt=config["format"],
        filename=config["filename"],
        created_by=job.created_by,
        default_split=config["split"],
        on_progress=progress,
    )
    pairs = _pairs_of(job, strategy) if strategy else None
    outcome = {"batch": result.batch.pk, "lines": result.lines, "created": result.created}
    summary = f"Imported {config['filename']}: {result.summary()}"
    if pairs is not None:
        outcome |= {"made_pairs": True, "pairs": dataclasses.asdict(pairs)}
        summary = f"{summary.rstrip('.')}; then made pairs: {pairs_summary(pairs)}."
    return outcome, summary


def _pairs_of(job: DataJob, strategy: str) -> PairsOutcome:
    config = job.config
    return comparisons_make(
        project=job.project,
        strategy=strategy,
        per_prompt=config.get("per_prompt"),
        models=config.get("models") or (),
        seed=config.get("seed") or 0,
    )


def _pairs(job: DataJob, reporter: JobReporter) -> Outcome:
    reporter.progress(0, 1, "Making pairs…")
    pairs = _pairs_of(job, job.config["pairs"])
    return {"pairs": dataclasses.asdict(pairs)}, pairs_summary(pairs).capitalize() + "."


def _export(job: DataJob, reporter: JobReporter) -> Outcome:
    from annotate.exporting.store import export_store_judgments, export_store_preferences

    config, project = job.config, job.project
    reporter.progress(0, 1, "writing the export")
    if config["kind"] == "preferences":
        stored, result = export_store_preferences(
            project=project,
            eval_fraction=config["eval_fraction"],
            min_agreement=config["min_agreement"],
            keep_ties=config["keep_ties"],
            seed=config["seed"],
        )
        summary = (
            f"{result.n_train} train + {result.n_eval} eval rows from {result.n_comparisons} "
            f"comparisons, {result.n_judgments} judgments, {result.n_labelers} labelers "
            f"(sha256 {result.content_hash[:12]}…)."
        )
    else:
        stored, n = export_store_judgments(project=project, fmt=config["kind"].removeprefix("raw-"))
        summary = f"{n} judgments, labelers pseudonymized."
    # Where the files lie in the export store (annotate.exporting.store); the job page links them.
    return {"export": stored.export_id, "files": list(stored.files), "summary": summary}, summary


def _quality(job: DataJob, reporter: JobReporter) -> Outcome:
    from annotate.quality.report import quality_report_refresh

    reporter.progress(0, 1, "computing the quality report")
    snapshot = quality_report_refresh(
        project=job.project,
        by=job.created_by,
        window=job.config.get("window", "auto"),
        n_bootstrap=job.config.get("n_bootstrap", 1000),
    )
    return {"snapshot": snapshot.pk, "seconds": snapshot.seconds}, f"Recomputed in {snapshot.seconds:.2f} s."


def _leaderboard(job: DataJob, reporter: JobReporter) -> Outcome:
    from annotate.quality.leaderboard import leaderboard_refresh

    reporter.progress(0, 1, "computing the leaderboard")
    snapshot = leaderboard_refresh(
        project=job.project,
        by=job.created_by,
        sources=job.config.get("sources"),
        n_bootstrap=job.config.get("n_bootstrap", 200),
    )
    return {"snapshot": snapshot.pk, "seconds": snapshot.seconds}, f"Recomputed in {snapshot.seconds:.2f} s."


EXECUTORS: dict[str, Callable[[DataJob, JobReporter], Outcome]] = {
    DataJob.Kind.IMPORT: _import,
    DataJob.Kind.EXPORT: _export,
    DataJob.Kind.QUALITY: _quality,
    DataJob.Kind.LEADERBOARD: _leaderboard,
    DataJob.Kind.PAIRS: _pairs,
}


def data_job_work(job: DataJob, claim: Claim, outer: Reporter | None) -> Done:
    """Run a claimed data job's executor (rewardmodel.jobs.execute runs it)."""
    db = JobReporter(claim)
    reporter = FanoutReporter(db, outer) if outer is not None else db
    result, summary = EXECUTORS[job.kind](job, reporter)
    return Done(message=summary, fields={"result": result})


def data_job_ended(job: DataJob, how: str) -> None:
    """However it ended (or was cancelled while queued, or lost), its upload is removed."""
    upload_remove(job)


def data_job_status_fields(job: DataJob, query: Mapping[str, str]) -> dict[str, Any]:
    """What a data job's page polls beyond every job's fields (rewardmodel.jobs.views)."""
    return {"kind": job.kind, "result": job.result, "links": data_job_links(job)}


def data_job_links(job: DataJob) -> list[dict[str, str]]:
    """Where the job page points: the files of a finished export (the export store's one download
    path, managers only), then back to the page that started the job (for a recompute, the
    report, which shows the new figures once the job has succeeded)."""
    links = []
    if job.kind == DataJob.Kind.EXPORT and job.status == JobStatus.SUCCEEDED:
        export_id = job.result.get("export", "")
        links += [
            {
                "label": name,
                "url": export_file_url(project_id=job.project_id, export_id=export_id, filename=name),
            }
            for name in job.result.get("files", [])
        ]
    back = {
        DataJob.Kind.IMPORT: ("console-project", "The project"),
        DataJob.Kind.PAIRS: ("console-project", "The project"),
        DataJob.Kind.EXPORT: ("admin:annotate_project_export", "Export again"),
        DataJob.Kind.QUALITY: ("quality:project", "The quality report"),
        DataJob.Kind.LEADERBOARD: ("quality:leaderboard", "The leaderboard"),
    }
    name, label = back[DataJob.Kind(job.kind)]
    return [*links, {"label": label, "url": reverse(name, args=[job.project_id])}]
