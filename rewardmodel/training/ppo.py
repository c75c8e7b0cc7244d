"""PPO against a reward model (the InstructGPT road) with TRL 1.12's `trl.experimental.ppo.PPOTrainer`.

    from rewardmodel.training.ppo import PpoConfig, train_ppo
    from pairwise.progress import ListReporter

    config = PpoConfig(
        model_dir="var/models/smollm2-135m-instruct",      # the starting policy (frozen copy = reference)
        reward_model_dir="var/models/reward-demo-run1",     # trained on people's judgments
        output_dir="var/models/ppo-demo-1",
        prompts=[{"messages": [{"role": "user", "content": "How do I boil an egg?"}]}, ...],
        heldout=[...],
    )
    result = train_ppo(config, ListReporter())

    python -m rewardmodel.training.ppo --model M --reward-model R --prompts train.jsonl \
        [--heldout heldout.jsonl] --out DIR [--episodes 256] ...     (same thing from a shell)

Each update samples one response (up to `response_length` tokens, at `temperature`) for each of
`batch_size` prompts, scores it with the reward model, subtracts `kl_coef` × the KL to the
reference (the starting policy, frozen), and takes `ppo_epochs` passes of clipped PPO over
`mini_batches` mini-batches. The value model starts from the reward model, as in InstructGPT.

Per update the reporter gets (names the run page charts): score (mean reward-model score of the
sampled responses), kl, non_score_reward, rlhf_reward, entropy, response_length (tokens),
eos_fraction, policy_loss, value_loss, clip_fraction, value_clip_fraction, approx_kl, and
`samples` (prompt, response, score). Before the first update, every `eval_every` updates and
after the last: heldout/score, heldout/length, heldout/kl, heldout/length_score_corr from greedy
responses to the held-out prompts (`rm_eval`, the same code as `evaluate_policy --reward-model`),
and the reward-hacking monitor's verdict (`hacking_monitor`).

Two details TRL leaves to us, both handled here:
- Padding. TRL tells padding from text by the pad id. SmolLM2's pad is its end-of-turn token,
  which also ends every turn of the chat template: prompts would lose their turn ends. PPO runs
  with a pad token that never occurs in text (`<|endoftext|>`); the saved tokenizer is unchanged.
- Where the reward is read. The reward model was trained on chat text that ends with the
  template's end-of-turn suffix ("<|im_end|>\\n") and reads its score on the last token; TRL reads
  it on the response's last token ("<|im_end|>"). `_AlignedScorer` appends the suffix before
  scoring, so PPO optimises the score the reward model learned and `score_pairs` reports.

The checkpoint is written beside `output_dir` and renamed into place when training is done: a
cancelled or failed run leaves nothing. No Django here; torch, transformers and trl are imported
inside functions.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairwise.files.atomic import move_into_place, scratch_dir
from pairwise.progress import Cancelled, Reporter
from rewardmodel.training.options import (
    add_arguments,
    bf16_switch,
    checkpointing_switch,
    config_problems,
    given,
    learning_rate,
    option,
    options_of,
    time_budget,
)
from rewardmodel.training.progress import run_in_shell, trainer_callback_for, training_summary
from rewardmodel.training.rm_eval import RmEvalResult, rm_evaluate

# TRL's log keys → the names the run page charts.
METRIC_NAMES = {
    "objective/scores": "score",
    "objective/kl": "kl",
    "objective/non_score_reward": "non_score_reward",
    "objective/rlhf_reward": "rlhf_reward",
    "objective/entropy": "entropy",
    "loss/policy_avg": "policy_loss",
    "loss/value_avg": "value_loss",
    "policy/clipfrac_avg": "clip_fraction",
    "val/clipfrac_avg": "value_clip_fraction",
    "policy/approxkl_avg": "approx_kl",
    "val/ratio": "ratio",
    "lr": "learning_rate",
    "eps": "episodes_per_second",
}
# A token that never occurs in text, used as PPO's pad (see the module docstring).
PPO_PAD_CANDIDATES = ("<|endoftext|>", "<unk>", "<pad>")


@dataclass
class PpoConfig:
    model_dir: str  # the starting policy; a frozen copy is the KL reference
    reward_model_dir: str  # a sequence classifier with one output; the value model starts from it
    output_dir: str
    prompts: list[dict[str, Any]]  # {"messages": [...]} (or {"question": "..."}) records
    heldout: list[dict[str, Any]] = field(default_factory=list)
    episodes: int = option(256, "sampled responses in all; updates = episodes / batch_size", low=1, form=True)
    batch_size: int = option(16, "responses per update", low=1, form=True)
    mini_batches: int = option(1, "optimizer steps per PPO epoch", low=1, form=True)
    ppo_epochs: int = option(4, "passes over each batch", low=1, form=True)
    kl_coef: float = option(0.05, "penalty on the KL to the starting policy", low=0, form=True)
    kl_estimator: str = option("k1", "KL estimator (Schulman's k1 or k3)", choices=("k1", "k3"))
    response_length: int = option(64, "tokens per sampled response", low=1, high=4096, form=True)
    temperature: float = option(0.7, "sampling temperature", above=0, form=True)
    lr: float = learning_rate(3e-6)
    missing_eos_penalty: float | None = option(
        1.0, "subtracted from the score of a response that never ends (empty: no penalty)", low=0, form=True
    )
    whiten_rewards: bool = option(False, "whiten the rewards of each batch", form=True)
    cliprange: float = option(0.2, "PPO's clip range of the policy ratio", above=0)
    vf_coef: float = option(0.1, "weight of the value loss", low=0)
    gamma: float = option(1.0, "discount", low=0, high=1)
    lam: float = option(0.95, "GAE lambda", low=0, high=1)
    max_prompt_length: int = option(256, "tokens; longer prompts are left out (and counted)", low=8)
    rollout_batch_size: int = option(16, "sequences per generation and scoring forward pass", low=1)
    eval_every: int = option(
        10, "held-out check every N updates (0: before and after only)", low=0, form=True
    )
    eval_max_new_tokens: int | None = option(
        None, "tokens per held-out answer (empty: response_length)", low=1
    )
    eval_batch_size: int = option(16, "held-out prompts per generation batch", low=1)
    samples_to_log: int = option(4, "sampled (prompt, response, score) kept per update", low=0)
    # Reward-hacking monitor: flag when the held-out score rose with length (correlation above
    # `hacking_corr`, length up by `hacking_length_gain` or more) while KL passed `hacking_kl`.
    hacking_kl: float = option(1.0, "reward-hacking monitor: the KL to the start past which it looks", low=0)
    hacking_corr: float = option(
        0.3, "reward-hacking monitor: the length-score correlation it flags", low=-1, high=1
    )
    hacking_length_gain: float = option(
        0.2, "reward-hacking monitor: the length gain it flags (0.2: +20 %)", low=0
    )
    seed: int = option(0, "seed of sampling and the data order")
    gradient_checkpointing: bool = checkpointing_switch()
    bf16: bool | None = bf16_switch()
    max_seconds: float | None = time_budget("update")
    device: str | None = None

    def option_rules(self) -> list[str]:
        """The rules between options."""
        out = []
        if self.batch_size % self.mini_batches:
            out.append(
                f"batch_size ({self.batch_size}) must be a positive multiple of mini_batches ({self.mini_batches})"
            )
        if self.episodes < self.batch_size:
            out.append(f"episodes ({self.episodes}) must be at least batch_size ({self.batch_size})")
        if self.whiten_rewards and self.batch_size // self.mini_batches < 8:
            out.append("whiten_rewards needs at least 8 responses per mini-batch")
        return out

    def validate(self) -> None:
        problems = config_problems(self) + self.option_rules()
        if problems:
            raise ValueError("; ".join(problems) + ".")
        if not self.prompts:
            raise ValueError("No training prompts.")
        if len(self.prompts) < self.batch_size:
            raise ValueError(
                f"{len(self.prompts)} training prompts is fewer than batch_size ({self.batch_size}); lower "
                "the batch size or add prompts."
            )
        for record in (*self.prompts[:1], *self.heldout[:1]):
            prompt_messages(record)

    @property
    def updates(self) -> int:
        return math.ceil(self.episodes / self.batch_size)

    def describe(self) -> dict[str, Any]:
        """The config as JSON for the run record and the checkpoint (prompts as counts)."""
        data = asdict(self)
        data["prompts"] = len(self.prompts)
        data["heldout"] = len(self.heldout)
        data["updates"] = self.updates
        return data


@dataclass
class PpoResult:
    output_dir: str
    updates: int
    episodes: int
    wall_seconds: float
    device: str
    history: list[dict[str, Any]]  # every update's metrics, with "step"
    heldout: list[dict[str, Any]]  # [{"step", "score", "length", "kl", "length_score_corr"}, ...]
    samples: list[str]
    tokens_seen: int
    prompts_dropped: int  # training prompts longer than max_prompt_length
    summary: dict[str, Any]


def prompt_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """A prompt record's chat messages ({"messages": [...]}, or {"question": "..."} as one user turn)."""
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    if record.get("question"):
        return [{"role": "user", "content": str(record["question"])}]
    raise ValueError(f"Prompt record has neither messages nor a question: {record!r:.200}")


def ppo_pad_token(tokenizer: Any) -> str:
    """A special token that never ends a turn (the pad PPO needs); the tokenizer's own if it is one."""
    if tokenizer.pad_token is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return tokenizer.pad_token
    vocab = tokenizer.get_vocab()
    for token in PPO_PAD_CANDIDATES:
        if token in vocab and vocab[token] != tokenizer.eos_token_id:
            return token
    raise ValueError(
        "PPO needs a pad token distinct from the end-of-turn token, and this tokenizer has none of "
        f"{', '.join(PPO_PAD_CANDIDATES)}."
    )


def end_of_turn_suffix(tokenizer: Any) -> list[int]:
    """Tokens the chat template writes after the end-of-turn token (SmolLM2: ["\\n"])."""
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        tokenize=True,
        return_dict=True,
    )["input_ids"]
    ids = list(ids)
    eos = tokenizer.eos_token_id
    if eos not in ids:
        return []
    last = len(ids) - 1 - ids[::-1].index(eos)
    return ids[last + 1 :]


class _AlignedScorer:
    """Scores rollouts as the reward model was trained to score them, and keeps what it saw.

    TRL calls `get_reward(reward_model, query_responses, pad_id, context_length)`; this stands in
    for it (for the reward model only): responses that ended get the template's end-of-turn suffix
    appended before scoring. It also records each batch's response lengths, scores and a few
    decoded samples for the run page."""

    def __init__(self, original: Any, reward_model: Any, tokenizer: Any, stop_id: int, suffix: list[int]):
        self.original, self.reward_model, self.tokenizer = original, reward_model, tokenizer
        self.stop_id, self.suffix = stop_id, suffix
        self.lengths: list[int] = []
        self.scores: list[float] = []
        self.rows: list[tuple[str, str, float]] = []

    def __call__(self, model: Any, query_responses: Any, pad_token_id: int, context_length: int) -> Any:
        if model is not self.reward_model:
            return self.original(model, query_responses, pad_token_id, context_length)
        import torch

        responses = query_responses[:, context_length:]
        ended = responses == self.stop_id
        has_end = ended.any(1)
        end_at = torch.where(has_end, ended.int().argmax(1), responses.new_full(has_end.shape, -1))
        lengths = torch.where(has_end, end_at + 1, (responses != pad_token_id).sum(1))
        extended = query_responses
        if self.suffix and bool(has_end.any()):
            extra = query_responses.new_full((query_responses.shape[0], len(self.suffix)), pad_token_id)
            extended = torch.cat([query_responses, extra], 1)
            suffix = torch.tensor(self.suffix, device=extended.device)
            for row in torch.nonzero(has_end).flatten().tolist():
                at = context_length + int(end_at[row]) + 1
                extended[row, at : at + len(self.suffix)] = suffix
        logits, scores, _ = self.original(model, extended, pad_token_id, context_length)
        self.lengths.extend(lengths.tolist())
        self.scores.extend(scores.detach().float().tolist())
        if len(self.rows) < 64:
            queries = self.tokenizer.batch_decode(
                query_responses[:, :context_length], skip_special_tokens=True
            )
            for i in range(min(4, responses.shape[0])):
                text = self.tokenizer.decode(responses[i, : int(lengths[i])], skip_special_tokens=True)
                self.rows.append((queries[i], text, float(scores[i].detach())))
        return logits, scores, lengths + context_length - 1

    def take(self) -> tuple[list[int], list[float], list[tuple[str, str, float]]]:
        out = (self.lengths, self.scores, self.rows)
        self.lengths, self.scores, self.rows = [], [], []
        return out


@contextmanager
def _scoring(trl_module: Any, scorer_factory: Any):
    """Route TRL's module-level `get_reward` through our scorer while one training runs."""
    original = trl_module.get_reward
    scorer = scorer_factory(original)
    trl_module.get_reward = scorer
    try:
        yield scorer
    finally:
        trl_module.get_reward = original


def hacking_monitor(points: list[dict[str, Any]], config: PpoConfig) -> dict[str, Any]:
    """The reward-hacking verdict over the held-out checks so far: flagged when the RM score rose
    together with length (strong length–score correlation, length up by a share) while the policy
    moved far from the reference (KL over the threshold). Evidence in plain words."""
    if len(points) < 2:
        return {"flagged": False, "evidence": "one held-out check so far"}
    first, last = points[0], points[-1]
    score_gain = last["score"] - first["score"]
    length_gain = (last["length"] - first["length"]) / max(first["length"], 1.0)
    corr, kl = last.get("length_score_corr"), last.get("kl")
    evidence = (
        f"held-out RM score {first['score']:+.3f} → {last['score']:+.3f}, mean length {first['length']:.1f} → "
        f"{last['length']:.1f} tokens ({length_gain:+.0%}), length–score correlation "
        f"{'n/a' if corr is None else f'{corr:.2f}'}, KL to the start {'n/a' if kl is None else f'{kl:.2f}'}"
    )
    flagged = (
        score_gain > 0
        and length_gain >= config.hacking_length_gain
        and corr is not None
        and corr >= config.hacking_corr
        and kl is not None
        and kl >= config.hacking_kl
    )
    if flagged:
        evidence = "the score rises with length while KL passes its threshold: " + evidence
    return {
        "flagged": flagged,
        "evidence": evidence,
        "score_gain": score_gain,
        "length_gain": length_gain,
        "length_score_corr": corr,
        "kl": kl,
    }


class _OutOfTime(Exception):
    """Raised at a step end past max_seconds to end PPO training (a normal finish)."""


def ppo_trainer_args(config: PpoConfig, *, device: str, use_bf16: bool, trainer_dir: Path) -> Any:
    """TRL's PPOConfig for this config (the trainer writes only scratch files to `trainer_dir`)."""
    from trl.experimental.ppo import PPOConfig

    from rewardmodel.training.devices import trainer_kwargs

    return PPOConfig(
        output_dir=str(trainer_dir),
        total_episodes=config.episodes,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=1,
        num_mini_batches=config.mini_batches,
        num_ppo_epochs=config.ppo_epochs,
        local_rollout_forward_batch_size=min(config.rollout_batch_size, config.batch_size),
        per_device_eval_batch_size=1,
        learning_rate=config.lr,
        kl_coef=config.kl_coef,
        kl_estimator=config.kl_estimator,
        cliprange=config.cliprange,
        vf_coef=config.vf_coef,
        gamma=config.gamma,
        lam=config.lam,
        whiten_rewards=config.whiten_rewards,
        response_length=config.response_length,
        temperature=config.temperature,
        missing_eos_penalty=config.missing_eos_penalty,
        stop_token="eos",
        num_sample_generations=0,  # our own held-out checks instead
        logging_steps=1,
        **trainer_kwargs(
            PPOConfig,
            device=device,
            bf16=use_bf16,
            seed=config.seed,
            gradient_checkpointing=config.gradient_checkpointing,
        ),
        reward_model_path=config.reward_model_dir,
        sft_model_path=config.model_dir,
    )


class PpoEvents:
    """The trainer's events (wrapped by progress.trainer_callback_for): held-out checks before,
    every `eval_every` updates and after, with the reward-hacking verdict; cancel and the time
    budget; metrics under the names the run page charts. What training produced is kept here."""

    def __init__(
        self,
        config: PpoConfig,
        reporter: Reporter,
        *,
        tokenizer: Any,
        heldout_messages: list[list[dict[str, str]]],
        reward_model: Any,
        reward_tokenizer: Any,
        reference: Any,
    ) -> None:
        self.config, self.reporter, self.tokenizer = config, reporter, tokenizer
        self.heldout_messages = heldout_messages
        self.reward_model, self.reward_tokenizer, self.reference = reward_model, reward_tokenizer, reference
        self.scorer: _AlignedScorer | None = None  # set for the one training it scores
        self.history: list[dict[str, Any]] = []
        self.heldout: list[dict[str, Any]] = []
        self.samples: list[str] = []
        self.tokens = 0
        self.verdict: dict[str, Any] = {}
        self.out_of_time = False
        self.train_started = 0.0

    def run_heldout(self, policy_model: Any, step: int) -> None:
        config = self.config
        if not self.heldout_messages:
            return
        result: RmEvalResult = rm_evaluate(
            policy_model,
            self.tokenizer,
            self.heldout_messages,
            reward_model=self.reward_model,
            reward_tokenizer=self.reward_tokenizer,
            reference=self.reference,
            max_new_tokens=config.eval_max_new_tokens or config.response_length,
            batch_size=config.eval_batch_size,
        )
        point = {
            "step": step,
            "score": result.mean_score,
            "length": result.mean_length,
            "kl": result.kl,
            "length_score_corr": result.length_score_corr,
        }
        self.heldout.append(point)
        self.verdict = hacking_monitor(self.heldout, config)
        self.reporter.log(
            step,
            {
                "heldout/score": result.mean_score,
                "heldout/length": result.mean_length,
                "heldout/kl": result.kl,
                "heldout/length_score_corr": result.length_score_corr,
                "hacking/flagged": float(self.verdict["flagged"]),
                "heldout/samples": result.sample_strings(config.samples_to_log),
            },
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.reporter.progress(0, self.config.updates, "held-out check before training")
        self.run_heldout(model.policy, 0)
        self.train_started = time.monotonic()
        self.reporter.progress(0, self.config.updates, "training")

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> Any:
        config, step = self.config, state.global_step
        self.reporter.progress(step, config.updates, "training")
        if self.reporter.should_stop():
            raise Cancelled(f"stopped at update {step} of {config.updates}")
        if config.eval_every and step % config.eval_every == 0 and step != config.updates:
            self.run_heldout(model.policy, step)
        if config.max_seconds and time.monotonic() - self.train_started > config.max_seconds:
            self.out_of_time = True
            raise _OutOfTime()
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> Any:
        config = self.config
        if not logs or "train_runtime" in logs:
            return control
        lengths, scores, rows = self.scorer.take() if self.scorer is not None else ([], [], [])
        metrics: dict[str, Any] = {}
        for key, value in logs.items():
            if key in METRIC_NAMES and isinstance(value, int | float) and not isinstance(value, bool):
                metrics[METRIC_NAMES[key]] = float(value)
        if lengths:
            metrics["response_length"] = sum(lengths) / len(lengths)
            metrics["eos_fraction"] = sum(1 for n in lengths if n < config.response_length) / len(lengths)
            self.tokens += sum(lengths)
        first = ("score", "kl", "rlhf_reward", "response_length")
        metrics = dict(sorted(metrics.items(), key=lambda kv: kv[0] not in first))
        self.history.append({"step": state.global_step, **metrics})
        samples = [
            f"Q: {q.strip()[-300:]}\n{r}\n[score={s:.3f}]" for q, r, s in rows[: config.samples_to_log]
        ]
        if samples:
            metrics["samples"] = samples
            self.samples = samples
        self.reporter.log(state.global_step, metrics)
        return control


def train_ppo(config: PpoConfig, reporter: Reporter) -> PpoResult:
    """Train with PPO; write the policy to `config.output_dir`. Raises Cancelled when the reporter
    asked to stop (nothing is written then), ValueError for a bad config."""
    config.validate()
    output_dir = Path(config.output_dir)
    if output_dir.exists():
        raise ValueError(f"{output_dir} already exists; choose another output folder.")

    # ---- imports and setup ------------------------------------------------------------------------
    import torch
    import trl.experimental.ppo.ppo_trainer as trl_ppo
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        PrinterCallback,
        set_seed,
    )
    from trl.experimental.ppo import PPOTrainer

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.devices import bf16_supported, pick_device
    from rewardmodel.training.scoring import check_reward_model

    started = time.monotonic()
    device = pick_device(config.device)
    set_seed(config.seed)
    check_reward_model(Path(config.reward_model_dir))
    use_bf16 = config.bf16 if config.bf16 is not None else bf16_supported(device)

    saved_tokenizer = load_tokenizer(config.model_dir)
    tokenizer = load_tokenizer(config.model_dir, padding_side="left")
    tokenizer.pad_token = ppo_pad_token(tokenizer)
    reward_tokenizer = load_tokenizer(config.reward_model_dir)
    if reward_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ValueError("The reward model's tokenizer differs from the policy's; TRL scores token ids.")

    def encode(records: list[dict[str, Any]]) -> tuple[list[list[int]], list[list[dict[str, str]]], int]:
        ids, kept, dropped = [], [], 0
        for record in records:
            messages = prompt_messages(record)
            tokens = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=True
            )["input_ids"]
            if len(tokens) > config.max_prompt_length:
                dropped += 1
                continue
            ids.append(list(tokens))
            kept.append(messages)
        return ids, kept, dropped

    train_ids, _, dropped = encode(config.prompts)
    if len(train_ids) < config.batch_size:
        raise ValueError(
            f"Only {len(train_ids)} training prompts fit in max_prompt_length={config.max_prompt_length} "
            f"tokens ({dropped} longer ones left out); batch_size is {config.batch_size}."
        )
    heldout_ids, heldout_messages, _ = encode(config.heldout)

    def load_causal() -> Any:
        model = AutoModelForCausalLM.from_pretrained(config.model_dir, dtype=torch.float32)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        return model

    policy, reference = load_causal(), load_causal().eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    reward_model = AutoModelForSequenceClassification.from_pretrained(
        config.reward_model_dir, num_labels=1, dtype=torch.float32
    ).eval()
    value_model = AutoModelForSequenceClassification.from_pretrained(
        config.reward_model_dir, num_labels=1, dtype=torch.float32
    )

    events = PpoEvents(
        config,
        reporter,
        tokenizer=tokenizer,
        heldout_messages=heldout_messages,
        reward_model=reward_model,
        reward_tokenizer=reward_tokenizer,
        reference=reference,
    )
    stop_id, suffix = tokenizer.eos_token_id, end_of_turn_suffix(reward_tokenizer)

    def make_scorer(original: Any) -> _AlignedScorer:
        return _AlignedScorer(original, reward_model, tokenizer, stop_id, suffix)

    # ---- train; the checkpoint is written beside the target, then renamed into place ------------
    with scratch_dir(output_dir.parent, prefix=f".{output_dir.name}-") as work:
        with _scoring(trl_ppo, make_scorer) as scorer:
            events.scorer = scorer
            trainer = PPOTrainer(
                args=ppo_trainer_args(config, device=device, use_bf16=use_bf16, trainer_dir=work / "trainer"),
                processing_class=tokenizer,
                model=policy,
                ref_model=reference,
                reward_model=reward_model,
                value_model=value_model,
                train_dataset=Dataset.from_dict({"input_ids": train_ids}),
                eval_dataset=Dataset.from_dict({"input_ids": heldout_ids or train_ids[:1]}),
                data_collator=DataCollatorWithPadding(tokenizer),
                callbacks=[trainer_callback_for(events)],
            )
            trainer.remove_callback(PrinterCallback)  # disable_tqdm adds it; the reporter shows progress
            try:
                trainer.train()
            except _OutOfTime:
                pass
        final_policy = trainer.accelerator.unwrap_model(trainer.model).policy
        # The "after" number, however training ended.
        events.run_heldout(final_policy, trainer.state.global_step)

        final = work / "model"
        final_policy.save_pretrained(str(final), safe_serialization=True)
        saved_tokenizer.save_pretrained(str(final))
        updates = trainer.state.global_step
        wall = time.monotonic() - started
        summary = ppo_summary(events.history, events.heldout, updates, wall, device)
        summary["episodes"] = trainer.state.episode
        summary["stopped_by_time_budget"] = events.out_of_time
        summary["prompts_dropped"] = dropped
        summary["reward_hacking"] = events.verdict
        (final / "pairwise_ppo.json").write_text(
            json.dumps({"config": config.describe(), "summary": summary}, indent=2, default=str)
        )
        move_into_place(final, output_dir)

    return PpoResult(
        output_dir=str(output_dir),
        updates=updates,
        episodes=trainer.state.episode,
        wall_seconds=wall,
        device=device,
        history=events.history,
        heldout=events.heldout,
        samples=events.samples,
        tokens_seen=events.tokens,
        prompts_dropped=dropped,
        summary=summary,
    )


def ppo_summary(
    history: list[dict[str, Any]], heldout: list[dict[str, Any]], updates: int, wall: float, device: str
) -> dict[str, Any]:
    """Final numbers: held-out before/after, and the training metrics of the first and last updates."""
    summary = training_summary(history, steps=updates, wall_seconds=wall, device=device, steps_key="updates")
    if heldout:
        for key in ("score", "length", "kl", "length_score_corr"):
            summary[f"heldout/{key}_before"] = heldout[0][key]
            summary[f"heldout/{key}_after"] = heldout[-1][key]
    return summary


# ------------------------------------------------------------------------------------------------
# command line (no Django): the same trainer from a shell
# ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from pairwise.files.jsonl import read_records

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="starting policy folder")
    parser.add_argument("--reward-model", required=True, help="reward model folder")
    parser.add_argument("--prompts", required=True, help="JSONL of {'messages': [...]} or {'question': ...}")
    parser.add_argument("--heldout", help="JSONL of held-out prompts")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    add_arguments(parser, options_of(PpoConfig))
    args = parser.parse_args(argv)
    options = given(args, options_of(PpoConfig))
    config = PpoConfig(
        model_dir=args.model,
        reward_model_dir=args.reward_model,
        output_dir=args.out,
        prompts=read_records(args.prompts),
        heldout=read_records(args.heldout) if args.heldout else [],
        **options,
    )
    return run_in_shell(train_ppo, config, "PPO")


if __name__ == "__main__":
    raise SystemExit(main())
