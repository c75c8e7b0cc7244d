"""How fast does import_data take 100k TRL preference lines?

    python bench/import_speed.py                 # SQLite in a temporary data dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_bench python bench/import_speed.py   # + PostgreSQL
    python bench/import_speed.py --lines 20000   # smaller

Each line is a distinct prompt with two responses, so one line creates 5 rows (prompt, 2 responses,
comparison, external judgment): 100k lines = 500k rows. Prints, per database: the time to validate
the file, to write it, the whole `manage.py import_data` command, and a second import of the same
file (which must create nothing). On PostgreSQL the benchmark project is deleted afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_file(path: Path, n: int) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        for i in range(n):
            row = {
                "prompt": f"Question {i}: how would you explain topic {i % 997} to a beginner?",
                "chosen": f"A clear answer number {i}, with an example and a short summary.",
                "rejected": f"Answer {i}: it depends.",
            }
            fh.write(json.dumps(row) + "\n")


def child(path: Path, n: int) -> None:
    """Runs inside one database configuration (set by the parent's environment)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from annotate.importing.parse import parse_records
    from annotate.importing.write import records_write
    from annotate.models import Project

    call_command("migrate", verbosity=0)
    name = f"bench-import-{os.getpid()}"
    project = Project.objects.create(name=name)
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        parsed = parse_records(path, fmt="trl")
        t1 = time.perf_counter()
        result = records_write(project=project, parsed=parsed, fmt="trl", filename=path.name)
        t2, c2 = time.perf_counter(), time.process_time()
        assert result.created["judgments"] == n, result.created
        t3 = time.perf_counter()
        call_command(
            "import_data",
            str(path),
            "--project",
            name,
            "--format",
            "trl",
            "--no-progress",
            stdout=open(os.devnull, "w"),
        )
        t4 = time.perf_counter()
        print(
            f"{connection.vendor:>10}  lines={n}  validate={t1 - t0:.1f}s  write={t2 - t1:.1f}s  "
            f"total={t2 - t0:.1f}s ({n / (t2 - t0):,.0f} lines/s, {5 * n / (t2 - t1):,.0f} rows/s written, "
            f"this process's CPU {c2 - c0:.1f}s)  "
            f"re-import (creates nothing)={t4 - t3:.1f}s"
        )
    finally:
        Project.objects.filter(pk=project.pk).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="Run on one database only.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.lines)
        return

    # Under ./var, not /tmp: other jobs on a shared machine may clean /tmp.
    (ROOT / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-bench-", dir=ROOT / "var") as tmp:
        path = Path(tmp) / "pairs.jsonl.gz"
        t = time.perf_counter()
        make_file(path, args.lines)
        print(
            f"generated {args.lines} TRL lines ({path.stat().st_size / 1e6:.1f} MB gzipped) in {time.perf_counter() - t:.1f}s"
        )
        targets = [("sqlite", {k: v for k, v in os.environ.items() if k != "DATABASE_URL"})]
        if os.environ.get("DATABASE_URL"):
            targets.append(("postgres", dict(os.environ)))
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for label, env in targets:
            if args.only and label != args.only:
                continue
            if label == "sqlite":
                env["PAIRWISE_DATA_DIR"] = str(Path(tmp) / "data")
            cmd = [sys.executable, __file__, "--lines", str(args.lines), "--child", str(path)]
            subprocess.run(cmd, env=env, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
