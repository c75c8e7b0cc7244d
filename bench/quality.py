"""Benchmark: the quality report and the leaderboard over 1,000,000 judgments on PostgreSQL.

    /work/main/.venv/bin/python bench/quality.py                  # build pw_quality_bench, then time
    /work/main/.venv/bin/python bench/quality.py --reuse          # time again on the data already loaded
    /work/main/.venv/bin/python bench/quality.py --judgments 200000 --db pw_quality_bench_small

It creates (drops and recreates) its own database, migrates it, bulk-loads a project with COPY
(comparisons judged by 4 of 200 simulated labelers: accurate, random, always-left and too-fast
ones; 8 response sources with known Bradley-Terry strengths; 1 % gold items; half a year of
timestamps), then prints seconds for: the report computation, the computation plus storing the
snapshot, the leaderboard, and rendering both pages from the stored snapshots with Django's test
client. Targets: report under 5 s, page under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = {  # name -> true Bradley-Terry strength
    "policy-ppo-3": 0.8,
    "policy-grpo-3": 0.6,
    "policy-ppo-2": 0.3,
    "policy-grpo-2": 0.2,
    "sft": 0.0,
    "base-smollm2": -0.4,
    "hh:chosen": 0.1,
    "hh:rejected": -0.9,
}
K = 4  # judgments per comparison
N_LABELERS = 200
DAYS = 180
T0 = 1735689600  # 2025-01-01 UTC


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--db", default="pw_quality_bench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--reuse", action="store_true", help="Skip the load; time the data already there.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs of each computation.")
    return parser.parse_args()


def create_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _copy(cursor, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        step = 200_000
        for start in range(0, len(lines), step):
            copy.write("\n".join(lines[start : start + step]) + "\n")


def _timestamps(epoch: np.ndarray) -> list[str]:
    return [s + "+00" for s in np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s").tolist()]


def load(n_judgments: int) -> int:
    """Bulk-load the synthetic project; returns its id."""
    from django.contrib.auth.models import User
    from django.db import connection

    from annotate.models import Project

    rng = np.random.default_rng(2024)
    t = time.perf_counter()
    User.objects.create_user("bench-manager", password="bench", is_staff=True)
    users = User.objects.bulk_create(
        [User(username=f"labeler{i:03d}", password="!") for i in range(N_LABELERS)]
    )
    labeler_ids = np.array([u.pk for u in users])
    # Behaviours: 180 accurate, 10 random, 5 always-left, 5 too fast (accurate but hurried).
    kinds = np.array(["accurate"] * 180 + ["random"] * 10 + ["left"] * 5 + ["fast"] * 5)
    project = Project.objects.create(name="bench", overlap_k=K, gold_rate=0.01, gold_min_items=10)

    n_cmp = n_judgments // K
    names = list(SOURCES)
    strength = np.array([SOURCES[n] for n in names])
    src_a = rng.integers(0, len(names), n_cmp)
    src_b = (src_a + rng.integers(1, len(names), n_cmp)) % len(names)
    a_wins = rng.random(n_cmp) < 1 / (1 + np.exp(strength[src_b] - strength[src_a]))
    is_gold = rng.random(n_cmp) < 0.01
    created = T0 + np.sort(rng.random(n_cmp)) * DAYS * 86400

    cmp_ids = np.arange(1, n_cmp + 1)
    ts = _timestamps(created)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        _copy(
            raw,
            "annotate_prompt",
            (
                "id",
                "project_id",
                "messages",
                "reference_answer",
                "tags",
                "source",
                "split",
                "content_hash",
                "created_at",
            ),
            [
                f'{i}\t{project.pk}\t[{{"role": "user", "content": "Bench prompt {i}"}}]\t\t[]\tbench\ttrain\tp{i}\t{ts[i - 1]}'
                for i in cmp_ids.tolist()
            ],
        )
        _copy(
            raw,
            "annotate_response",
            ("id", "prompt_id", "text", "model_name", "generation_params", "content_hash", "created_at"),
            [
                f"{2 * i - 1 + side}\t{i}\tResponse {side} to prompt {i}\t{names[s]}\t{{}}\tr{side}\t{ts[i - 1]}"
                for i, sa, sb in zip(cmp_ids.tolist(), src_a.tolist(), src_b.tolist(), strict=True)
                for side, s in ((0, sa), (1, sb))
            ],
        )
        gold_choice = np.where(is_gold, np.where(a_wins, "A", "B"), "")
        _copy(
            raw,
            "annotate_comparison",
            (
                "id",
                "project_id",
                "prompt_id",
                "response_a_id",
                "response_b_id",
                "priority",
                "is_gold",
                "gold_choice",
                "judgment_count",
                "created_at",
            ),
            [
                f"{i}\t{project.pk}\t{i}\t{2 * i - 1}\t{2 * i}\t0\t{'t' if g else 'f'}\t{gc}\t{K}\t{ts[i - 1]}"
                for i, g, gc in zip(cmp_ids.tolist(), is_gold.tolist(), gold_choice.tolist(), strict=True)
            ],
        )
        print(f"  prompts, responses, comparisons: {time.perf_counter() - t:.1f} s", flush=True)

        # Judgments: each comparison by 4 distinct labelers (base + j * stride, stride < 50).
        base = rng.integers(0, N_LABELERS, n_cmp)
        stride = rng.integers(1, 50, n_cmp)
        who = (base[:, None] + np.arange(K)[None, :] * stride[:, None]) % N_LABELERS
        who = who.ravel()
        kind = kinds[who]
        cmp_of = np.repeat(cmp_ids, K)
        truth = np.repeat(np.where(a_wins, 0, 1), K)  # 0 response_a, 1 response_b
        n = len(who)
        noise = rng.integers(0, 4, n)
        outcome = np.where(rng.random(n) < 0.8, truth, noise)
        outcome = np.where(kind == "random", noise, outcome)
        side_ab = rng.random(n) < 0.5
        # Shown: A is response_a when AB, response_b when BA.
        shown = np.where(outcome >= 2, outcome, np.where((outcome == 0) == side_ab, 0, 1))
        shown = np.where(kind == "left", 0, shown)
        outcome = np.where(kind == "left", np.where(side_ab, 0, 1), outcome)
        winner = np.where(outcome == 0, 2 * cmp_of - 1, np.where(outcome == 1, 2 * cmp_of, 0))
        seconds = np.where(kind == "fast", rng.uniform(2, 6, n), rng.lognormal(np.log(40), 0.4, n))
        j_created = np.repeat(created, K) + rng.uniform(0, 3 * 86400, n)
        jts = _timestamps(j_created)
        choice_txt = np.array(["A", "B", "tie", "both_bad"])[shown].tolist()
        side_txt = np.where(side_ab, "AB", "BA").tolist()
        winner_txt = [str(w) if w else "\\N" for w in winner.tolist()]
        lines = [
            f"{k + 1}\t{c}\t{u}\thuman\t{ch}\t\t{s:.2f}\t{sd}\t{w}\tb{k + 1}\t{tt}"
            for k, (c, u, ch, s, sd, w, tt) in enumerate(
                zip(
                    cmp_of.tolist(),
                    labeler_ids[who].tolist(),
                    choice_txt,
                    seconds.tolist(),
                    side_txt,
                    winner_txt,
                    jts,
                    strict=True,
                )
            )
        ]
        _copy(
            raw,
            "annotate_judgment",
            (
                "id",
                "comparison_id",
                "labeler_id",
                "source",
                "choice",
                "rationale",
                "seconds_on_task",
                "side_order",
                "winner_id",
                "client_id",
                "created_at",
            ),
            lines,
        )
        for table in ("annotate_prompt", "annotate_response", "annotate_comparison", "annotate_judgment"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
            cursor.execute(f"ANALYZE {table}")
    print(f"  loaded {n} judgments in {time.perf_counter() - t:.1f} s", flush=True)
    return project.pk


CPU: dict[str, float] = {}


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median and best wall seconds over `repeat` runs (and this process's CPU seconds per run,
    kept in CPU by the caller's label: the database server's share is in wall time only)."""
    seconds, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU["last"] = statistics.median(cpu)
    return statistics.median(seconds), min(seconds), result


def main() -> None:
    args = parse()
    os.environ["DATABASE_URL"] = f"{args.server}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    os.environ.setdefault("PAIRWISE_DATA_DIR", str(ROOT / "var" / "bench"))
    if not args.reuse:
        print(f"creating database {args.db}", flush=True)
        create_database(args.server, args.db)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from annotate.models import Judgment, Project
    from annotate.quality.data import judgment_columns
    from annotate.quality.leaderboard import leaderboard_compute, leaderboard_refresh
    from annotate.quality.report import quality_report_compute, quality_report_refresh

    if not args.reuse:
        call_command("migrate", verbosity=0)
        load(args.judgments)
    project = Project.objects.get(name="bench")
    total = Judgment.objects.filter(comparison__project=project).count()
    print(f"\nproject 'bench': {total} judgments, PostgreSQL database {args.db}\n", flush=True)

    rows = []
    med, best, _ = timed(lambda: judgment_columns(project=project), args.repeat)
    rows.append(("fetch judgment columns (packed bytea -> numpy)", med, best, CPU["last"]))
    med, best, report = timed(lambda: quality_report_compute(project=project, n_bootstrap=1000), args.repeat)
    rows.append(("quality report (1000 bootstrap resamples)", med, best, CPU["last"]))
    med, best, _ = timed(lambda: quality_report_refresh(project=project, n_bootstrap=1000), args.repeat)
    rows.append(("quality report + store snapshot", med, best, CPU["last"]))
    med, best, board = timed(lambda: leaderboard_compute(project=project, n_bootstrap=200), args.repeat)
    rows.append(("leaderboard (200 bootstrap resamples)", med, best, CPU["last"]))
    leaderboard_refresh(project=project, n_bootstrap=200)

    setup_test_environment()
    client = Client()
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(username="bench-manager"))
    for name, url in (
        ("quality page from stored snapshot", f"/quality/projects/{project.pk}/"),
        ("leaderboard page from stored snapshot", f"/quality/projects/{project.pk}/leaderboard/"),
    ):
        client.get(url)  # first request compiles templates

        def get(url=url):
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            return response

        med, best, _ = timed(get, 10)
        rows.append((name, med, best, CPU["last"]))

    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(machine load average {load_avg:.1f} on {os.cpu_count()} CPUs; CPU s = this process only)")
    print(f"{'what':<52} {'median s':>9} {'best s':>9} {'CPU s':>7}")
    for what, med, best, cpu in rows:
        print(f"{what:<52} {med:>9.3f} {best:>9.3f} {cpu:>7.3f}")
    a = report["agreement"]
    flagged = {
        flag: sorted(r["username"] for r in report["labelers"] if flag in r["flags"])
        for flag in ("gold", "position", "streak", "speed")
    }
    print(
        f"\nalpha {a['alpha']:.4f} [{a['alpha_ci'][0]:.4f}, {a['alpha_ci'][1]:.4f}], raw {a['raw']:.4f}, "
        f"{a['units']} comparisons, {len(report['windows'])} {report['params']['window']} windows"
    )
    for flag, names in flagged.items():
        print(
            f"flagged {flag:<9} {len(names):>3}: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}"
        )
    print("leaderboard (generating strength, centred, in brackets; labeler noise shrinks fitted ones):")
    for row in board["sources"]:
        lo, hi = row["ci"]
        print(
            f"  {row['rank']}. {row['source']:<15} {row['strength']:+.3f} [{lo:+.3f}, {hi:+.3f}]  "
            f"(generating {SOURCES[row['source']] - np.mean(list(SOURCES.values())):+.3f})"
        )


if __name__ == "__main__":
    main()
