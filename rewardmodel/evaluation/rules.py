"""A policy measured by rules: accuracy and format rate on a project's verifiable prompts (those
with a reference answer), through the same generation and scoring code as a GRPO run's held-out
checks (rewardmodel/training/evaluate.py).

    result = policy_evaluate(model=m, project=p, split="heldout")   # an EvalResult
"""

from __future__ import annotations

from annotate.models import Project, Prompt
from pairwise.errors import PairwiseError
from rewardmodel.models import GENERATIVE_KINDS, ModelArtifact
from rewardmodel.registry.artifacts import artifact_files_check, artifact_kind_check
from rewardmodel.registry.prompts import prompt_record, verifiable_prompts


def policy_evaluate(
    *,
    model: ModelArtifact,
    project: Project,
    split: str | None = Prompt.Split.HELDOUT,
    tags: tuple[str, ...] = (),
    samples: int = 1,
    limit: int | None = None,
    template: dict[str, str] | None = None,
    max_new_tokens: int = 96,
    temperature: float = 0.8,
    batch_size: int = 16,
    seed: int = 0,
    on_batch=None,
):
    """Accuracy and format rate of a registered model on a project's verifiable prompts, through
    the same generation and scoring code as a GRPO run's held-out checks. Returns an EvalResult."""
    from rewardmodel.training.evaluate import evaluate_model_dir
    from rewardmodel.training.verifiable import PromptTemplate, build_examples

    artifact_kind_check(model, GENERATIVE_KINDS, doing="evaluate")
    if samples < 1:
        raise PairwiseError("samples must be at least 1.")
    if limit is not None and limit < 1:
        raise PairwiseError("limit must be at least 1.")
    prompts = verifiable_prompts(project=project, split=split, tags=tags)[:limit]
    if not prompts:
        where = f"{split} " if split else ""
        raise PairwiseError(f"Project {project.name!r} has no {where}prompts with a reference answer.")
    try:
        examples = build_examples(map(prompt_record, prompts), PromptTemplate.from_dict(template))
    except ValueError as exc:
        raise PairwiseError(str(exc)) from None
    artifact_files_check(model)
    return evaluate_model_dir(
        model.path,
        examples,
        tokenizer_dir=model.tokenizer_path or None,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        batch_size=batch_size,
        seed=seed,
        on_batch=on_batch,
    )
