"""A reward model on Anthropic HH-format data, end to end through the platform's commands:

  1. import_data --format hh       the training part of FILE into a fresh project
  2. train_reward_model --sync     snapshot, TRL RewardTrainer, registered reward model
  3. score_pairs --format hh       pairwise accuracy on the held-out part of FILE

    python bench/reward_hh.py FILE [--max-pairs N] [--heldout-fraction 0.2] [--base DIR_OR_NAME]
        [--epochs 1] [--lr 1e-5] [--batch-size 8] [--max-length 512] [--data-dir DIR]

FILE is any HH-format JSONL ({"chosen", "rejected"} transcripts), e.g. Anthropic's
harmless-base train.jsonl. The pairs are shuffled (seed 0); the first --heldout-fraction of them
are held out. On CPU --max-pairs defaults to 200 (about 20 minutes with SmolLM2-135M on two
cores); on a GPU the whole file. Prints the pair counts, the wall time of each step and the
held-out accuracy. Runs on a fresh SQLite data directory (--data-dir, default a temp dir).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_MAX_PAIRS = 200


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--max-pairs", type=int, help=f"cap (default {CPU_MAX_PAIRS} on CPU, all on GPU)")
    parser.add_argument("--heldout-fraction", type=float, default=0.2)
    parser.add_argument("--base", help="model folder or registered name (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--epochs", default="1")
    parser.add_argument("--lr", default="1e-5")
    parser.add_argument("--batch-size", default="8")
    parser.add_argument("--max-length", default="512", help="longer training pairs are left out (TRL)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.file.is_file():
        sys.exit(f"No such file: {args.file}")

    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="pairwise-hh-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PAIRWISE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)  # a private SQLite database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from rewardmodel.models import TrainingRun
    from rewardmodel.registry.artifacts import artifact_register
    from rewardmodel.training.base_model import ensure_smollm2

    call_command("migrate", verbosity=0)
    # ---- the data: shuffle, cap, split ----------------------------------------------------
    lines = [line for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(args.seed).shuffle(lines)
    cap = args.max_pairs or (None if torch.cuda.is_available() else CPU_MAX_PAIRS)
    used = lines[:cap] if cap else lines
    n_heldout = max(1, round(args.heldout_fraction * len(used)))
    heldout, train = used[:n_heldout], used[n_heldout:]
    (data_dir / "train.jsonl").write_text("\n".join(train) + "\n")
    (data_dir / "heldout.jsonl").write_text("\n".join(heldout) + "\n")
    print(
        f"{args.file}: {len(lines)} pairs; using {len(used)}: {len(train)} to train, {len(heldout)} held out"
    )

    # ---- the base model ---------------------------------------------------------------------
    if args.base and Path(args.base).is_dir():
        base = artifact_register(kind="base", name="hh-bench-base", path=args.base).name
    elif args.base:
        base = args.base
    else:
        path = ensure_smollm2(ROOT / "var" / "bench-cache" / "smollm2-135m-instruct")
        base = artifact_register(kind="base", name="hh-bench-base", path=path).name
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    config = {
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
    }
    print(f"base model {base} on {device}; config {json.dumps(config)}")

    def step(name: str, *command: str) -> str:
        out = io.StringIO()
        started = time.perf_counter()
        call_command(*command, stdout=out)
        seconds = time.perf_counter() - started
        print(f"  {name:<7} {seconds:8.1f} s   {out.getvalue().strip().splitlines()[-1][:200]}", flush=True)
        return out.getvalue()

    project = "hh-bench"
    step("import", "import_data", str(data_dir / "train.jsonl"), "--project", project, "--create", "--format", "hh",
         "--no-progress")  # fmt: skip
    step("train", "train_reward_model", "--project", project, "--base", base, "--epochs", args.epochs,
         "--lr", args.lr, "--batch-size", args.batch_size, "--max-length", args.max_length,
         "--eval-fraction", "0", "--sync")  # fmt: skip
    run = TrainingRun.objects.latest("pk")
    scored = json.loads(
        step(
            "score",
            "score_pairs",
            str(data_dir / "heldout.jsonl"),
            "--model",
            run.output_model.name,
            "--format",
            "hh",
            "--json",
        )  # fmt: skip
    )
    s = run.summary
    print(
        f"trained on {s['train_pairs']} pairs ({s['truncated_pairs']} cut to fit {args.max_length} tokens, none left out), "
        f"{run.snapshot.n_judgments} judgments; {run.tokens_seen} tokens in {s['train_seconds']:.0f} s "
        f"({run.tokens_seen / max(s['train_seconds'], 1e-9):.0f} tokens/s)"
    )
    print(
        f"held-out accuracy {scored['accuracy']:.3f}, mean margin {scored['mean_margin']:.3f} "
        f"on {scored['n_pairs']} pairs ({scored['n_truncated']} sequences cut to fit)"
    )


if __name__ == "__main__":
    main()
