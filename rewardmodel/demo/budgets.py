"""How much the demo loop (rewardmodel.demo.loop) does at each size: "full" (what scripts/demo.sh
queues: under 30 minutes on a 2-core CPU), "quick" (the CI smoke test: under 10) and "tiny" (tests
on tiny random models: no time budgets, so a seed fixes every number). Each trainer's dict holds
options of its kind (rewardmodel.runs.kinds), checked as any run's are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Budget:
    per_prompt: int  # SmolLM2 samples per helpfulness prompt
    max_new_tokens: int
    pairs_per_prompt: int | None  # new pairs per helpfulness prompt (seeded sample); None: every pair
    reward: dict[str, Any]
    sft: dict[str, Any]
    ppo: dict[str, Any]
    arithmetic: tuple[int, int]  # new (train, held-out) problems
    cold_start: int  # reference demonstrations
    cold_sft: dict[str, Any]
    grpo: dict[str, Any]
    arena_prompts: int
    arena_tokens: int
    report_heldout: int


BUDGETS: dict[str, Budget] = {
    # Measured on a 2-core CPU shared with other jobs (README, "The demo loop"): a 135M-parameter
    # optimizer step on 8 pairs of 192 tokens takes about a minute there, so every trainer gets a
    # handful of steps and a time budget; the loop shows the machinery, not a converged model.
    "full": Budget(
        per_prompt=1,
        max_new_tokens=96,
        pairs_per_prompt=None,
        reward={"max_steps": 4, "batch_size": 8, "max_length": 192, "lr": 2e-5},
        sft={"epochs": 1.0, "batch_size": 8, "max_length": 192, "max_seconds": 120.0},
        ppo={
            "episodes": 32,
            "batch_size": 8,
            "response_length": 32,
            "ppo_epochs": 2,
            "eval_every": 0,
            "heldout_limit": 8,
            "eval_batch_size": 8,
            "max_seconds": 240.0,
        },
        arithmetic=(32, 16),
        cold_start=32,
        cold_sft={"epochs": 1.0, "max_length": 160, "max_seconds": 90.0},
        grpo={
            "steps": 8,
            "num_generations": 4,
            "batch_size": 8,
            "max_completion_length": 48,
            "eval_every": 0,
            "heldout_limit": 8,
            "eval_batch_size": 8,
            "max_seconds": 180.0,
        },
        arena_prompts=8,
        arena_tokens=64,
        report_heldout=8,
    ),
    "quick": Budget(
        per_prompt=1,
        max_new_tokens=32,
        pairs_per_prompt=2,
        reward={"max_steps": 1, "batch_size": 8, "max_length": 128, "lr": 2e-5},
        sft={"epochs": 1.0, "batch_size": 4, "max_length": 128, "max_seconds": 20.0},
        ppo={
            "episodes": 4,
            "batch_size": 4,
            "response_length": 16,
            "ppo_epochs": 1,
            "eval_every": 0,
            "heldout_limit": 4,
            "eval_batch_size": 4,
            "max_seconds": 30.0,
        },
        arithmetic=(8, 4),
        cold_start=8,
        cold_sft={"epochs": 1.0, "batch_size": 4, "max_length": 128, "max_seconds": 20.0},
        grpo={
            "steps": 1,
            "num_generations": 4,
            "batch_size": 4,
            "max_completion_length": 24,
            "eval_every": 0,
            "heldout_limit": 4,
            "eval_batch_size": 4,
            "max_seconds": 30.0,
        },
        arena_prompts=4,
        arena_tokens=24,
        report_heldout=4,
    ),
    # Tiny random models (tests): no time budgets, so a seed fixes every number.
    "tiny": Budget(
        per_prompt=1,
        max_new_tokens=8,
        pairs_per_prompt=1,
        reward={"epochs": 1.0, "batch_size": 8, "max_length": 128},
        sft={"epochs": 1.0, "batch_size": 8, "max_length": 128},
        ppo={
            "episodes": 16,
            "batch_size": 8,
            "response_length": 8,
            "eval_every": 0,
            "heldout_limit": 4,
            "eval_batch_size": 4,
        },
        arithmetic=(4, 2),
        cold_start=8,
        cold_sft={"epochs": 1.0, "max_length": 128},
        grpo={
            "steps": 2,
            "num_generations": 4,
            "batch_size": 8,
            "max_completion_length": 8,
            "eval_every": 0,
            "heldout_limit": 4,
        },
        arena_prompts=3,
        arena_tokens=8,
        report_heldout=3,
    ),
}
