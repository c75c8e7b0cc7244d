"""Which hardware a run uses: the choice (`pick_device`), its description for the run page
("cpu (8 threads)", "cuda: 4 x NVIDIA H100"), and the gradient-checkpointing switch of every trainer."""

from __future__ import annotations

from typing import Any


def describe_device() -> str:
    import torch
    from accelerate import PartialState

    if torch.cuda.is_available():
        return f"cuda: {PartialState().num_processes} x {torch.cuda.get_device_name(0)}"
    return f"cpu ({torch.get_num_threads()} threads)"


def pick_device(device: str | None = None) -> str:
    """The device a job runs on: the one asked for (an error if it is a GPU torch cannot see), else
    cuda when torch sees a GPU, else cpu."""
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU here.")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def checkpointing_kwargs(args_class: Any, enabled: bool) -> dict[str, bool]:
    """The training-arguments keyword that turns gradient checkpointing on or off: transformers 5.2x
    renamed gradient_checkpointing to activation_checkpointing (the old name warns). TRL defaults it
    to on, which costs 20-30 % speed that a small model does not need."""
    fields = getattr(args_class, "__dataclass_fields__", {})
    name = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    return {name: enabled}
