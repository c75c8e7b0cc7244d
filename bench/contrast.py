"""Both roads on the real SmolLM2-135M within a fixed budget, and the report that sets them side by side.

    python bench/contrast.py [--quick] [--seed 0] [--data-dir DIR] [--base DIR_OR_NAME]

On a fresh SQLite data directory (default: a temp dir) it runs what `bash scripts/demo.sh` queues,
here in this process (`demo_loop --sync`): the demo project's helpfulness prompts → SmolLM2 answers →
simulated labelers (marked simulated; `length` oracle) → reward model → SFT → PPO against it;
arithmetic prompts → cold-start SFT → GRPO on rule-based rewards; an arena of base, PPO and GRPO on
the held-out prompts; then `compare`. The budgets are `rewardmodel.demo.budgets.BUDGETS` ("full" by
default, "quick" with --quick): a handful of optimizer steps per trainer on a 2-core CPU, so this
measures what the loop costs and where each road stands after it, not converged models.

Prints the step times, the report's table (per policy: rule accuracy and format rate on held-out
arithmetic, reward-model score, KL to the base, length, arena rating, people and compute hours and
money), its notes (where a road stalled), the commands that reproduce it, and where the HTML and
JSON were written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="the smaller budget (under 10 minutes on 2 cores)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--base", help="model folder or registered name (default: SmolLM2-135M-Instruct)")
    args = parser.parse_args()

    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="pairwise-contrast-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PAIRWISE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)  # a private SQLite database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from rewardmodel.models import ComparisonReport, DemoLoop
    from rewardmodel.registry.artifacts import artifact_register

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(
        f"data dir {data_dir}; device {device}; budget {'quick' if args.quick else 'full'}; seed {args.seed}"
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("demo_setup", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    command = ["demo_loop", "--sync", "--seed", str(args.seed)]
    if args.quick:
        command.append("--quick")
    if args.base:
        base = args.base
        if Path(args.base).is_dir():
            base = artifact_register(kind="base", name="contrast-base", path=args.base).name
        command += ["--base-model", base]
    call_command(*command)
    loop = DemoLoop.objects.latest("pk")
    report = ComparisonReport.objects.latest("pk")
    html = next((s.get("path") for s in loop.steps if s["name"] == "report"), None)
    print(f"\nloop and report in {time.perf_counter() - started:.0f} s; report #{report.pk}\n")
    print_table(report, html)


def print_table(report, html: str | None) -> None:
    from rewardmodel.management.commands.compare import Command as Compare

    Compare()._table(report.data)
    print()
    for note in report.data.get("notes", []):
        print(f"note: {note['subject']}: {note['text']}")
    print("\nreproduce:")
    for line in report.data.get("commands", []):
        print(f"  {line}")
    print(f"\nreport: {html} and its .json; in the app at /reports/{report.pk}/ (serve this data dir)")


if __name__ == "__main__":
    main()
