"""PPO against a reward model trained on Anthropic HH-format data, end to end through the platform's
commands (the InstructGPT road), within a time budget:

  1. import_data --format hh                    the training part of FILE into a fresh project
  2. train_reward_model --sync                  a reward model from SmolLM2-135M-Instruct on those pairs
  3. import_data --format hh --split heldout    the held-out part, as held-out prompts
  4. score_pairs --format hh                    the reward model's accuracy on the held-out pairs
  5. train_policy --algo ppo --sync --max-minutes M
                                                PPO from SmolLM2-135M-Instruct against that reward model
                                                on the training prompts; greedy held-out checks before
                                                and after (rewardmodel/training/rm_eval.py)

    python bench/ppo_hh.py FILE [--pairs N] [--heldout-prompts N] [--minutes 30] [--rm-epochs 1]
        [--rm-lr 3e-5] [--batch-size 16] [--response-length 48] [--kl-coef 0.05] [--lr 3e-6]
        [--eval-every 0] [--device cpu|cuda] [--threads N] [--tiny] [--data-dir DIR]

FILE is any HH-format JSONL or JSONL.gz ({"chosen", "rejected"} transcripts), e.g. Anthropic's
harmless-base train.jsonl.gz. The pairs are shuffled (seed 0) and capped at --pairs (default: all
on a GPU, 200 on CPU, where reward training runs at about 0.2 pairs/s); the first
--heldout-prompts of them (default 32, at most a fifth) are held out, the rest train both the
reward model and PPO. The held-out part is imported after the reward model is trained: a
preference snapshot takes every judged pair whatever its prompt's split, so this keeps the
held-out pairs out of the reward model's training data.

--minutes is PPO's training budget (`train_policy --max-minutes`): training ends after the update
that passes it; loading and the held-out checks come on top. --episodes only caps it (TRL decays
the learning rate linearly over the cap, so with the default cap the rate is practically
constant). Prints the reward model's held-out accuracy, the held-out mean RM score, mean length
and KL to the start before and after, episodes/s, the score curve (every k-th update), the
reward-hacking verdict, the wall time of each stage and the exact commands, then one JSON line.
Runs on a fresh SQLite data directory (--data-dir, default a temp dir). --tiny: a 2-layer random
model with the SmolLM2 tokenizer instead of SmolLM2-135M (a smoke test; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PAIRWISE_DATA_DIR") or ROOT / "var") / "bench-cache"
CPU_MAX_PAIRS = 200


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="HH-format .jsonl or .jsonl.gz")
    p.add_argument(
        "--pairs", type=int, help=f"use at most N pairs (default: all on a GPU, {CPU_MAX_PAIRS} on CPU)"
    )
    p.add_argument("--heldout-prompts", type=int, help="pairs held out (default 32, at most a fifth)")
    p.add_argument("--minutes", type=float, default=30.0, help="PPO training budget (30)")
    p.add_argument("--rm-epochs", default="1")
    p.add_argument("--rm-lr", default="3e-5", help="(BASELINES.md: 1 epoch at 3e-5 gave 0.633 on HH)")
    p.add_argument("--rm-batch-size", default="8")
    p.add_argument("--rm-max-length", default="512", help="longer training pairs are left out")
    p.add_argument("--episodes", default="1000000", help="PPO episode cap; the time budget ends it first")
    p.add_argument("--batch-size", default="16", help="PPO responses per update (16)")
    p.add_argument("--response-length", default="48")
    p.add_argument("--kl-coef", default="0.05")
    p.add_argument("--lr", default="3e-6", help="PPO learning rate (3e-6)")
    p.add_argument("--ppo-epochs", default="4")
    p.add_argument("--temperature", default="0.7")
    p.add_argument("--eval-every", default="0", help="held-out checks every N updates (0: before and after)")
    p.add_argument("--curve-rows", type=int, default=20, help="rows of the score curve to print (20)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: a GPU if torch sees one)")
    p.add_argument("--threads", type=int, help="torch threads on CPU (default: torch's)")
    p.add_argument("--tiny", action="store_true", help="a tiny random model (smoke test)")
    p.add_argument("--tokenizer-dir", type=Path, help="--tiny: a saved SmolLM2 tokenizer (default: cached)")
    p.add_argument(
        "--base", type=Path, help="a converted SmolLM2 folder (default: converted once into the cache)"
    )
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip()]


def main() -> None:
    args = parse_args()
    if not args.file.is_file():
        sys.exit(f"No such file: {args.file}")
    if args.device == "cpu":  # before torch is imported: train_policy has no device option
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif args.device and args.device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = args.device.split(":", 1)[1]
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="pairwise-ppo-hh-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PAIRWISE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)  # a private SQLite database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from rewardmodel.models import ModelArtifact, RunMetric, TrainingRun
    from rewardmodel.registry.artifacts import artifact_register
    from rewardmodel.registry.prompts import prompts_snapshot_records
    from rewardmodel.training.base_model import (
        build_tiny_model,
        ensure_smollm2,
        ensure_smollm2_tokenizer,
        load_tokenizer,
    )
    from rewardmodel.training.ppo import PpoConfig, prompt_messages

    if args.threads:
        torch.set_num_threads(args.threads)
    call_command("migrate", verbosity=0)

    # ---- the data: shuffle, cap, split --------------------------------------------------------------
    lines = read_lines(args.file)
    random.Random(args.seed).shuffle(lines)
    cap = args.pairs or (None if torch.cuda.is_available() else CPU_MAX_PAIRS)
    used = lines[:cap] if cap else lines
    n_heldout = args.heldout_prompts if args.heldout_prompts is not None else min(32, len(used) // 5)
    heldout, train = used[:n_heldout], used[n_heldout:]
    if not train or not heldout:
        sys.exit(f"{len(used)} pairs give {len(train)} to train and {len(heldout)} to hold out; need both.")
    (data_dir / "train.jsonl").write_text("\n".join(train) + "\n")
    (data_dir / "heldout.jsonl").write_text("\n".join(heldout) + "\n")

    # ---- the starting model (policy, and the reward model's base) ----------------------------------
    if args.tiny:
        tokenizer_dir = args.tokenizer_dir or ensure_smollm2_tokenizer(CACHE / "smollm2-tokenizer")
        base_dir = build_tiny_model(tokenizer_dir, data_dir / "tiny-policy", head="causal")
    else:
        base_dir = args.base or ensure_smollm2(CACHE / "smollm2-135m-instruct")
    base = artifact_register(kind=ModelArtifact.Kind.BASE, name="hh-ppo-base", path=base_dir).name
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(
        f"{args.file}: {len(lines)} pairs; using {len(used)}: {len(train)} to train, {len(heldout)} held out"
    )
    print(f"model {'tiny random (2 layers, SmolLM2 tokenizer)' if args.tiny else base_dir} on {device}")

    # ---- the five commands --------------------------------------------------------------------------
    project, rm_name, policy_name = "hh-ppo", "hh-ppo-rm", "hh-ppo-policy"
    commands: list[list[str]] = []
    walls: dict[str, float] = {}

    def step(name: str, *command: str) -> str:
        commands.append(list(command))
        out = io.StringIO()
        started = time.perf_counter()
        call_command(*command, stdout=out)
        walls[name] = time.perf_counter() - started
        text = out.getvalue().strip()
        shown = next((s for s in text.splitlines() if s.startswith("Succeeded")), text.splitlines()[-1])
        print(f"  {name:<14} {walls[name]:8.1f} s   {shown[:200]}", flush=True)
        return text

    step("import train", "import_data", str(data_dir / "train.jsonl"), "--project", project, "--create",
         "--format", "hh", "--no-progress")  # fmt: skip
    step("reward model", "train_reward_model", "--project", project, "--base", base, "--epochs",
         args.rm_epochs, "--lr", args.rm_lr, "--batch-size", args.rm_batch_size, "--max-length",
         args.rm_max_length, "--eval-fraction", "0", "--name", rm_name, "--sync")  # fmt: skip
    step("import heldout", "import_data", str(data_dir / "heldout.jsonl"), "--project", project, "--format",
         "hh", "--split", "heldout", "--no-progress")  # fmt: skip
    scored_json = step("score heldout", "score_pairs", str(data_dir / "heldout.jsonl"), "--model", rm_name,
                       "--format", "hh", "--json")  # fmt: skip
    scored = json.loads(scored_json)
    step("ppo", "train_policy", "--algo", "ppo", "--project", project, "--policy", base, "--reward-model",
         rm_name, "--episodes", args.episodes, "--batch-size", args.batch_size, "--response-length",
         args.response_length, "--kl-coef", args.kl_coef, "--lr", args.lr, "--ppo-epochs", args.ppo_epochs,
         "--temperature", args.temperature, "--eval-every", args.eval_every, "--max-minutes",
         str(args.minutes), "--seed", str(args.seed), "--name", policy_name, "--sync")  # fmt: skip

    # ---- the report -----------------------------------------------------------------------------------
    rm_run = TrainingRun.objects.get(output_model__name=rm_name)
    run = TrainingRun.objects.get(output_model__name=policy_name)
    s, r = run.summary, rm_run.summary
    metrics = list(RunMetric.objects.filter(run=run).order_by("step", "id"))
    curve = [m for m in metrics if "score" in m.values]
    batch = int(args.batch_size)
    # The training loop alone: from the held-out check before training (logged just before the
    # first update starts) to the last logged update.
    t0 = next((m.created_at for m in metrics if "heldout/score" in m.values), None)
    seconds = (curve[-1].created_at - t0).total_seconds() if curve and t0 else 0
    loop_rate = curve[-1].step * batch / seconds if seconds > 0 else None
    max_prompt = PpoConfig.max_prompt_length
    stage_rate = s["episodes"] / walls["ppo"]
    # The trainer leaves out prompts over max_prompt_length from the held-out checks too; count
    # the ones it evaluated.
    tokenizer = load_tokenizer(base_dir)
    _, heldout_records = prompts_snapshot_records(run.snapshot)
    n_checked = sum(
        len(tokenizer.apply_chat_template(prompt_messages(h), add_generation_prompt=True, tokenize=True,
                                          return_dict=True)["input_ids"]) <= max_prompt
        for h in heldout_records
    )  # fmt: skip
    hacking = s.get("reward_hacking") or {}

    def num(value, fmt: str = ".3f") -> str:
        return "n/a" if value is None else format(value, fmt)

    print(
        f"reward model: {r['train_pairs']} training pairs ({r['truncated_pairs']} cut to fit {args.rm_max_length} "
        f"tokens, none left out), {r['train_seconds']:.0f} s; held-out accuracy {scored['accuracy']:.3f}, mean margin "
        f"{scored['mean_margin']:.3f} on {scored['n_pairs']} pairs"
    )
    print(
        f"PPO: {run.snapshot.n_examples} training prompts ({s.get('prompts_dropped', 0)} over {max_prompt} tokens left "
        f"out), {run.snapshot.n_eval_examples} held-out; {s['updates']} update(s), {s['episodes']} episodes in "
        f"{args.minutes:g} min of training (stopped by the budget: {s.get('stopped_by_time_budget')})"
    )
    print(
        f"held-out (greedy, {n_checked} of {len(heldout_records)} prompts): RM score {num(s.get('heldout/score_before'))} -> "
        f"{num(s.get('heldout/score_after'))}; mean length {num(s.get('heldout/length_before'), '.1f')} -> "
        f"{num(s.get('heldout/length_after'), '.1f')} tokens; KL to the start {num(s.get('heldout/kl_before'))} "
        f"-> {num(s.get('heldout/kl_after'))}; length-score correlation after "
        f"{num(s.get('heldout/length_score_corr_after'))}"
    )
    print(
        f"episodes/s: {num(loop_rate, '.2f')} in the training loop (from its start to the last logged update), "
        f"{stage_rate:.2f} over the whole PPO stage (loading and held-out checks included)"
    )
    every = max(1, math.ceil(len(curve) / max(1, args.curve_rows)))
    print(
        f"score curve (every {every} update{'s' if every > 1 else ''}; sampled responses, TRL's KL estimate):"
    )
    print(f"  {'update':>6} {'episodes':>8} {'score':>8} {'kl':>8} {'length':>7} {'seconds':>8}")
    for i, m in enumerate(curve):
        if i % every and i != len(curve) - 1:
            continue
        v = m.values
        t = (m.created_at - (t0 or curve[0].created_at)).total_seconds()
        print(f"  {m.step:>6} {m.step * batch:>8} {num(v.get('score')):>8} {num(v.get('kl')):>8} "
              f"{num(v.get('response_length'), '.1f'):>7} {t:>8.0f}")  # fmt: skip
    print(
        f"reward hacking: {'FLAGGED' if hacking.get('flagged') else 'not flagged'} ({hacking.get('evidence')})"
    )
    print(
        "wall: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in walls.items())
        + f"; total {sum(walls.values()):.1f} s"
    )
    print(f"commands (PAIRWISE_DATA_DIR={data_dir}):")
    for command in commands:
        print("  python manage.py " + shlex.join(command))
    print(
        json.dumps(
            {
                "rm_heldout_accuracy": scored["accuracy"],
                "rm_heldout_pairs": scored["n_pairs"],
                "heldout_score_before": s.get("heldout/score_before"),
                "heldout_score_after": s.get("heldout/score_after"),
                "heldout_length_before": s.get("heldout/length_before"),
                "heldout_length_after": s.get("heldout/length_after"),
                "heldout_kl_after": s.get("heldout/kl_after"),
                "heldout_prompts_checked": n_checked,
                "updates": s["updates"],
                "episodes": s["episodes"],
                "episodes_per_second_loop": loop_rate,
                "episodes_per_second_stage": stage_rate,
                "train_score_first_last": [s.get("first/score"), s.get("last/score")],
                "train_kl_first_last": [s.get("first/kl"), s.get("last/kl")],
                "reward_hacking_flagged": bool(hacking.get("flagged")),
                "wall_seconds": {k: round(v, 1) for k, v in walls.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
