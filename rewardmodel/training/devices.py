"""Which hardware a run uses, decided here and nowhere else: the choice (`pick_device`), whether it
takes bfloat16 (`bf16_supported`, `default_dtype`), its description for the run page ("cpu (8 threads)",
"cuda: 4 x NVIDIA H100"), and the gradient-checkpointing switch of every trainer."""

from __future__ import annotations

from typing import Any


def describe_device() -> str:
    import torch
    from accelerate import PartialState

    if torch.cuda.is_available():
        return f"cuda: {PartialState().num_processes} x {torch.cuda.get_device_name(0)}"
    return f"cpu ({torch.get_num_threads()} threads)"


class DeviceUnavailable(ValueError):
    """A job asked for a GPU that torch cannot see."""


def has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def pick_device(device: str | None = None) -> str:
    """The device a job runs on: the one asked for (DeviceUnavailable if it is a GPU torch cannot
    see), else cuda when torch sees a GPU, else cpu."""
    if device:
        if device.startswith("cuda") and not has_gpu():
            raise DeviceUnavailable(f"device {device!r} asked for, but torch sees no CUDA GPU here.")
        return device
    return "cuda" if has_gpu() else "cpu"


def bf16_supported(device: str) -> bool:
    """Whether training or inference on `device` takes bfloat16 (a GPU that supports it)."""
    import torch

    return device.startswith("cuda") and has_gpu() and torch.cuda.is_bf16_supported()


def default_dtype(device: str) -> Any:
    """bfloat16 where the device supports it, float32 elsewhere (CPU)."""
    import torch

    return torch.bfloat16 if bf16_supported(device) else torch.float32


def checkpointing_kwargs(args_class: Any, enabled: bool) -> dict[str, bool]:
    """The training-arguments keyword that turns gradient checkpointing on or off: transformers 5.2x
    renamed gradient_checkpointing to activation_checkpointing (the old name warns). TRL defaults it
    to on, which costs 20-30 % speed that a small model does not need."""
    fields = getattr(args_class, "__dataclass_fields__", {})
    name = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    return {name: enabled}


def trainer_kwargs(
    args_class: Any, *, device: str, bf16: bool, seed: int, gradient_checkpointing: bool
) -> dict[str, Any]:
    """The training arguments the policy trainers (SFT, PPO, GRPO) share: no checkpoints or reports
    of TRL's own (the run saves once at the end, its reporter shows progress), one seed for the
    model and the data order, the device and its precision, gradient checkpointing on or off."""
    return {
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "seed": seed,
        "data_seed": seed,
        "bf16": bf16,
        "use_cpu": device == "cpu",
        **checkpointing_kwargs(args_class, gradient_checkpointing),
    }
