"""Which hardware a run uses: the choice (`pick_device`) and its description for the run page
("cpu (8 threads)", "cuda: 4 x NVIDIA H100")."""

from __future__ import annotations


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
