"""A policy measured by a reward model: mean score, mean length and KL to a reference of its greedy
answers to a project's prompts, through the same code as a PPO run's held-out checks
(rewardmodel/training/rm_eval.py). Works on any project, verifiable or not.

    result, reference = policy_rm_evaluate(model=ppo_1, project=p, reward_model=rm_1)
"""

from __future__ import annotations

from annotate.models import Project, Prompt
from pairwise.errors import PairwiseError
from rewardmodel.models import GENERATIVE_KINDS, ModelArtifact
from rewardmodel.registry.artifacts import artifact_files_check, artifact_kind_check, same_tokenizer_check
from rewardmodel.registry.lineage import lineage_root
from rewardmodel.registry.prompts import project_prompts


def policy_rm_evaluate(
    *,
    model: ModelArtifact,
    project: Project,
    reward_model: ModelArtifact,
    reference: ModelArtifact | None = None,
    split: str | None = Prompt.Split.HELDOUT,
    tags: tuple[str, ...] = (),
    limit: int | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    on_batch=None,
):
    """Mean reward-model score, mean length and KL to `reference` (default: the base model at the
    root of `model`'s lineage) of greedy responses to the project's prompts. Returns (RmEvalResult,
    the reference used). Works on any project, verifiable or not."""
    from rewardmodel.registry.prompts import prompt_record
    from rewardmodel.training.ppo import prompt_messages
    from rewardmodel.training.rm_eval import rm_evaluate_dirs

    artifact_kind_check(model, GENERATIVE_KINDS, doing="the answers scored are those of")
    artifact_kind_check(reward_model, (ModelArtifact.Kind.REWARD,), doing="answers are scored with")
    reference = reference or lineage_root(model)
    for checked in (model, reward_model, reference):
        artifact_files_check(checked)
    same_tokenizer_check(policy=model, reward_model=reward_model)
    splits = [split] if split else list(Prompt.Split.values)
    prompts = [p for s in splits for p in project_prompts(project=project, split=s, tags=tags)][:limit]
    if not prompts:
        raise PairwiseError(f"Project {project.name!r} has no {split or ''} prompts to evaluate on.")
    messages = [prompt_messages(prompt_record(p)) for p in prompts]
    result = rm_evaluate_dirs(
        model.path,
        messages,
        reward_dir=reward_model.path,
        reference_dir=reference.path,
        tokenizer_dir=model.tokenizer_path or None,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        on_batch=on_batch,
    )
    return result, reference
