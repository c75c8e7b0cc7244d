"""Which hardware a run uses, in words for the run page ("cpu (8 threads)", "cuda: 4 x NVIDIA H100")."""

from __future__ import annotations


def describe_device() -> str:
    import torch
    from accelerate import PartialState

    if torch.cuda.is_available():
        return f"cuda: {PartialState().num_processes} x {torch.cuda.get_device_name(0)}"
    return f"cpu ({torch.get_num_threads()} threads)"
